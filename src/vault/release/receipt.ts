/**
 * The check on the receiving side: a document that arrives declaring a classification (the package's
 * confidentiality field) — or whose own stamps claim one — above what the channel it came over may carry
 * is refused, and the refusal is an event the built-in rules alert on: the sender let a classified
 * document travel where it must not. A stamp above the declared label on a document the channel may carry
 * is accepted and flagged.
 */
import { TrucError } from '../../errors.js';
import { makeEvent, type Bus } from '../../bus/index.js';
import { LEVEL_NAME, isClassified, rank, type Level } from '../labels/levels.js';
import { higherLevel, REASON_TEXT } from './check.js';
import type { ReleasePolicy } from './policy.js';

export interface ReceiptRequest {
  documentId: string;
  /** the classification the package declares; undefined/null when it declares none (taken as unclassified) */
  label?: Level | null;
  /** the highest stamp found in the document's text, null when none or not read */
  markings?: Level | null;
  /** who sent it (agency code) */
  sender: string;
  /** the channel it arrived over (`axis`: the exchange, TLS between security servers) */
  channel: string;
  /**
   * whether it arrived encrypted end to end to this agency's own current encryption key; `false` refuses a
   * document at or above the policy's `encryptFrom` (`not_encrypted`), whatever the channel may carry
   */
  encrypted?: boolean;
}

export type ReceiptReason = 'channel_not_allowed' | 'marking_exceeds_label' | 'not_encrypted';

export interface ReceiptDecision {
  allowed: boolean;
  level: Level;
  reasons: ReceiptReason[];
}

export function decideReceipt(req: ReceiptRequest, policy: ReleasePolicy): ReceiptDecision {
  const label = req.label ?? 'unclassified';
  const marking = req.markings ?? null;
  const level = marking ? higherLevel(label, marking) : label;
  const reasons: ReceiptReason[] = [];
  if (rank(level) > rank(policy.channels[req.channel] ?? 'unclassified')) reasons.push('channel_not_allowed');
  if (marking && rank(marking) > rank(label)) reasons.push('marking_exceeds_label');
  if (req.encrypted === false && isClassified(level) && rank(level) >= rank(policy.encryptFrom)) reasons.push('not_encrypted');
  return { allowed: !reasons.includes('channel_not_allowed') && !reasons.includes('not_encrypted'), level, reasons };
}

/**
 * Decides and publishes `truc.vault.receipt.denied` (refused), `.flagged` (taken, with a reason) or
 * `.allowed` (a classified document taken); throws `encryption_required` when a document the policy
 * wants encrypted end to end came in clear, `classification_refused` on any other refusal.
 */
export async function enforceReceipt(
  req: ReceiptRequest,
  policy: ReleasePolicy & { version?: number },
  deps: { bus?: Bus; clock?: () => Date } = {},
): Promise<ReceiptDecision> {
  const d = decideReceipt(req, policy);
  const classified = isClassified(d.level);
  const action = !d.allowed ? 'receipt.denied' : d.reasons.length ? 'receipt.flagged' : 'receipt.allowed';
  if (deps.bus && (d.reasons.length || classified)) {
    const event = makeEvent('vault', `vault.${action}`, d.allowed ? 'success' : 'failure', {
      category: ['file', 'network'],
      user: { name: req.sender },
      reason: d.reasons.join(',') || undefined,
      message: `${req.documentId} from ${req.sender} at ${d.level} over ${req.channel}: ${d.allowed ? 'taken' : 'refused'}${d.reasons.length ? ` (${d.reasons.join(', ')})` : ''}`,
      truc: {
        receipt: {
          document: req.documentId,
          sender: req.sender,
          level: d.level,
          label: req.label ?? null,
          marking: req.markings ?? null,
          channel: req.channel,
          reasons: d.reasons,
          classified,
          policy_version: policy.version ?? null,
        },
      },
      at: deps.clock?.(),
    });
    // like a refused release, a refused receipt must reach the monitor
    await deps.bus.publish(`truc.vault.${action}`, event).catch(() => {});
  }
  if (!d.allowed)
    throw new TrucError(
      d.reasons.includes('not_encrypted') ? 'encryption_required' : 'classification_refused',
      `không nhận văn bản ${LEVEL_NAME[d.level]} qua kênh "${req.channel}": ${d.reasons.map((r) => REASON_TEXT[r]).join('; ')}`,
      {
        document: req.documentId,
        level: d.level,
        channel: req.channel,
        reasons: d.reasons,
      },
    );
  return d;
}
