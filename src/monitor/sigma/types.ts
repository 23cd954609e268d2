/**
 * The shapes of Sigma documents after parsing: detection rules, correlation rules and filters, each carrying
 * where it came from (file and line) so that every rejection can point at its source.
 */

export interface Logsource {
  product?: string;
  category?: string;
  service?: string;
  [k: string]: unknown;
}

export interface Origin {
  file: string;
  /** 1-based line of the YAML document (or of the offending node when known). */
  line: number;
}

interface DocumentBase {
  title: string;
  id?: string;
  name?: string;
  author?: string;
  level?: string;
  status?: string;
  tags: string[];
  description?: string;
  /** The whole document as read, for fields we do not interpret. */
  raw: Record<string, unknown>;
  origin: Origin;
}

export interface SigmaRule extends DocumentBase {
  kind: 'rule';
  logsource: Logsource;
  detection: Record<string, unknown>;
}

export type CorrelationType =
  | 'event_count'
  | 'value_count'
  | 'temporal'
  | 'temporal_ordered'
  | 'value_sum'
  | 'value_avg'
  | 'value_percentile';

export type Comparison = 'gt' | 'gte' | 'lt' | 'lte' | 'eq' | 'neq';

export interface CorrelationRule extends DocumentBase {
  kind: 'correlation';
  type: CorrelationType;
  rules: string[];
  groupBy: string[];
  /** Milliseconds. */
  timespan: number;
  condition: Partial<Record<Comparison, number>>;
  /** `condition.field` for value_* types; several fields form one compound value. */
  field: string[];
  aliases: Record<string, Record<string, string>>;
  generate: boolean;
}

export interface SigmaFilter extends DocumentBase {
  kind: 'filter';
  logsource: Logsource;
  /** Rule ids or names the filter applies to. */
  rules: string[];
  /** Search identifiers and the condition, in the shape of a rule's `detection`. */
  detection: Record<string, unknown>;
}

export type SigmaDocument = SigmaRule | CorrelationRule | SigmaFilter;

export interface Rejection {
  file: string;
  line: number;
  /** Rule id or title when known. */
  rule?: string;
  reason: string;
}
