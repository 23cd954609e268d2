/**
 * Sigma detection for the monitoring part. Rules in Sigma v2.1 YAML (single documents, collections,
 * correlations, filters) are parsed and validated against the specification's schemas, compiled once into
 * JavaScript closures, routed by logsource and pre-selected by a literal index, so that each event only meets
 * the few rules that could match it. Correlation rules aggregate the matches over sliding windows with state
 * that can be snapshotted and restored. Processing pipelines (pySigma's YAML shape) adapt rule field names to
 * our events, and fail loudly on fields they do not map when strict.
 */
export { parseRules, parseTimespan, type ParseResult } from './parse.js';
export { loadRules, loadRuleFiles, ruleFiles, type LoadResult, type RuleFile } from './load.js';
export { loadRulesCached, cacheDir, cacheKey, type CachedLoad } from './cache.js';
export {
  compileRule,
  compileDetection,
  type CompileOptions,
  type CompiledRule,
  type RoutingKey,
} from './compile.js';
export { Detector, type DetectorOptions, type MatchResult } from './detector.js';
export { parsePipeline, applyPipelines, type Pipeline, type Transformation } from './pipeline.js';
export { deriveLogsource, routes, WINDOWS_CHANNEL_SERVICES, type EventLogsource } from './logsource.js';
export { EventView, accessor } from './event-view.js';
export { parseCondition, type Condition } from './condition.js';
export { LiteralIndex } from './literal-index.js';
export type {
  SigmaRule,
  SigmaFilter,
  CorrelationRule,
  SigmaDocument,
  Rejection,
  Logsource,
  CorrelationType,
} from './types.js';
export {
  Correlator,
  type CorrelationMatch,
  type CorrelatorOptions,
  type CorrelatorState,
} from './correlate.js';
export { Engine, type EngineResult } from './engine.js';
