/**
 * Detection and correlation together: each event goes through the detector, every match feeds the
 * correlator, and the caller gets the alerts — matches of rules that stand on their own (`generate`) and
 * completed correlations.
 */
import { Correlator, type CorrelationMatch, type CorrelatorOptions } from './correlate.js';
import { Detector, type DetectorOptions, type MatchResult } from './detector.js';
import type { EventLogsource } from './logsource.js';
import type { Rejection, SigmaDocument } from './types.js';

export interface EngineResult {
  /** Every rule match, including rules that only feed correlations. */
  matches: MatchResult[];
  /** Matches to alert on by themselves. */
  alerts: MatchResult[];
  correlations: CorrelationMatch[];
}

export class Engine {
  readonly detector: Detector;
  readonly correlator: Correlator;

  constructor(documents: readonly SigmaDocument[], opts: DetectorOptions & CorrelatorOptions = {}) {
    this.detector = new Detector(documents, opts);
    this.correlator = new Correlator(documents, opts);
  }

  get rejected(): Rejection[] {
    return [...this.detector.rejected, ...this.correlator.rejected];
  }

  process(event: Record<string, unknown>, logsource?: EventLogsource): EngineResult {
    const matches = this.detector.match(event, logsource);
    const correlations = matches.flatMap((m) => this.correlator.process(m));
    return { matches, alerts: matches.filter((m) => m.generate), correlations };
  }
}
