/**
 * Forensic hunting over files (`truc hunt`): Windows event logs (EVTX, XML exports), JSON and NDJSON read
 * from disk and run through the Sigma rules and correlations, with no database and no server. The parsed
 * rule set comes from a cache on disk (../sigma/cache.ts), detectors are compiled per product of the events
 * met, and the detections come out as a table, CSV or JSON Lines with a summary by level, ATT&CK tactic and rule.
 */
export {
  huntFiles,
  HuntRules,
  Detectors,
  timeline,
  levelRank,
  tacticsOf,
  HUNT_LEVELS,
  TACTICS,
  type HuntDetection,
  type HuntFileReport,
  type HuntLevel,
  type HuntOptions,
  type HuntReport,
  type HuntSummary,
} from './hunt.js';
export { collectFiles, readHuntBatches, readHuntFile, splitDocuments, HUNT_FILE, type HuntFile } from './files.js';
export { MatchedFields } from './matched-fields.js';
export { csvHeader, csvRow, jsonLine, detectionTable, summaryText, problemsText, fieldsText, CSV_COLUMNS } from './format.js';
