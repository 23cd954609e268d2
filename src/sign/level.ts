/**
 * The baseline levels of EN 319 122-1 / 319 142-1 and what raising a signature to one needs: B-T a
 * time-stamper, B-LT also a source of revocation data and trust anchors to build the paths it covers,
 * B-LTA all of these again for the archive (document) time-stamp.
 */
import { TrucError } from '../errors.js';
import type { TrustAnchorInput } from '../pki/path/index.js';
import type { EvidenceSource } from './evidence/sources.js';
import type { TimeStamper } from './signer.js';

export const LEVELS = ['B-B', 'B-T', 'B-LT', 'B-LTA'] as const;
export type Level = (typeof LEVELS)[number];

export interface LevelContext {
  timeStamper?: TimeStamper;
  /** revocation data for B-LT */
  evidence?: EvidenceSource;
  /** the roots the covered paths end at (B-LT) */
  trustAnchors?: TrustAnchorInput[];
  intermediates?: Uint8Array[];
}

export const rank = (l: Level | 'unknown'): number => LEVELS.indexOf(l as Level);

export function parseLevel(s: string): Level {
  const l = s.toUpperCase().replace(/^(?!B-)/, 'B-') as Level;
  if (!LEVELS.includes(l)) throw new TrucError('bad_request', `unknown level "${s}"`, { allowed: LEVELS });
  return l;
}

export function needTimeStamper(ctx: LevelContext): TimeStamper {
  if (!ctx.timeStamper) throw new TrucError('bad_request', 'a time-stamper is needed for B-T and above');
  return ctx.timeStamper;
}

export function needEvidence(ctx: LevelContext): { source: EvidenceSource; trustAnchors: TrustAnchorInput[]; intermediates?: Uint8Array[] } {
  if (!ctx.evidence || !ctx.trustAnchors?.length) throw new TrucError('bad_request', 'a revocation data source and trust anchors are needed for B-LT and above');
  return { source: ctx.evidence, trustAnchors: ctx.trustAnchors, intermediates: ctx.intermediates };
}
