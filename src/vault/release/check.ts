/**
 * The release check that runs before a document is encrypted and sent: the document's label (a missing
 * label is refused), its own markings (a stamp above the label holds it back), the sender's right to
 * release that level, the recipient's clearance, the channel, and end-to-end encryption for classified
 * content. Every refusal is a `truc.vault.release.denied` event; a classified document refused for its
 * recipient, channel or markings is flagged as a leak attempt, which the built-in rules alert on.
 */
import { TrucError } from '../../errors.js';
import { makeEvent, type Bus } from '../../bus/index.js';
import { LEVEL_NAME, isClassified, rank, type Level } from '../labels/levels.js';
import type { ReleasePolicy } from './policy.js';

export interface ReleaseRequest {
  documentId: string;
  /** the document's label (ESS label or package confidentiality); undefined/null = missing */
  label?: Level | null;
  /** the highest stamp found in the document's text (`highestMarking`), null when none */
  markings?: Level | null;
  sender: string;
  recipient: string;
  channel: string;
  /** whether the content will travel encrypted to the recipient (CMS) */
  encrypted: boolean;
}

export type ReleaseReason =
  | 'label_missing'
  | 'marking_exceeds_label'
  | 'sender_not_allowed'
  | 'recipient_not_cleared'
  | 'channel_not_allowed'
  | 'not_encrypted';

export interface ReleaseDecision {
  allowed: boolean;
  /** the level the document is treated at: the higher of label and markings */
  level: Level;
  reasons: ReleaseReason[];
}

const lookup = (m: Record<string, Level>, k: string): Level => m[k] ?? m['*'] ?? 'unclassified';
export const higherLevel = (a: Level, b: Level): Level => (rank(a) >= rank(b) ? a : b);

export function decideRelease(req: ReleaseRequest, policy: ReleasePolicy): ReleaseDecision {
  const reasons: ReleaseReason[] = [];
  const marking = req.markings ?? null;
  if (!req.label) reasons.push('label_missing');
  const label = req.label ?? 'unclassified';
  if (marking && rank(marking) > rank(label)) reasons.push('marking_exceeds_label');
  const level = marking ? higherLevel(label, marking) : label;
  if (rank(lookup(policy.senders, req.sender)) < rank(level)) reasons.push('sender_not_allowed');
  if (rank(lookup(policy.recipients, req.recipient)) < rank(level)) reasons.push('recipient_not_cleared');
  if (rank(policy.channels[req.channel] ?? 'unclassified') < rank(level)) reasons.push('channel_not_allowed');
  if (rank(level) >= rank(policy.encryptFrom) && isClassified(level) && !req.encrypted) reasons.push('not_encrypted');
  return { allowed: reasons.length === 0, level, reasons };
}

/** Each reason as people read it (Vietnamese, English in brackets). */
export const REASON_TEXT: Record<ReleaseReason, string> = {
  label_missing: 'tài liệu chưa có nhãn độ mật (no classification label)',
  marking_exceeds_label: 'dấu độ mật trong tài liệu cao hơn nhãn (a stamp in the text is above the label)',
  sender_not_allowed: 'người gửi không có quyền phát hành độ mật này (sender may not release this level)',
  recipient_not_cleared: 'người nhận không được phép tiếp nhận độ mật này (recipient not cleared)',
  channel_not_allowed: 'kênh truyền không được phép cho độ mật này (channel not allowed for this level)',
  not_encrypted: 'tài liệu mật phải được mã hoá tới người nhận (classified content must be encrypted end to end)',
};

/**
 * Decides, publishes the event, and throws `release_denied` (or `label_missing` when that is the only
 * reason) with the reasons in the detail. Returns the decision when the release may go ahead.
 */
export async function enforceRelease(req: ReleaseRequest, policy: ReleasePolicy & { version?: number }, deps: { bus?: Bus; clock?: () => Date } = {}): Promise<ReleaseDecision> {
  const d = decideRelease(req, policy);
  const classified = isClassified(d.level);
  const leak = classified && d.reasons.some((r) => r === 'recipient_not_cleared' || r === 'channel_not_allowed' || r === 'marking_exceeds_label' || r === 'not_encrypted');
  const action = d.allowed ? 'release.allowed' : 'release.denied';
  const subject = `truc.vault.${action}`;
  if (deps.bus && (!d.allowed || classified)) {
    const event = makeEvent('vault', `vault.${action}`, d.allowed ? 'success' : 'failure', {
      category: ['file', 'configuration'],
      user: { name: req.sender },
      reason: d.reasons.join(',') || undefined,
      message: d.allowed ? `release of ${req.documentId} at ${d.level}` : `release of ${req.documentId} refused: ${d.reasons.join(', ')}`,
      truc: {
        release: {
          document: req.documentId,
          level: d.level,
          label: req.label ?? null,
          marking: req.markings ?? null,
          recipient: req.recipient,
          channel: req.channel,
          encrypted: req.encrypted,
          reasons: d.reasons,
          classified,
          leak_attempt: leak,
          policy_version: policy.version ?? null,
        },
      },
      at: deps.clock?.(),
    });
    // a refusal must reach the monitor: awaited, unlike ordinary events
    await deps.bus.publish(subject, event).catch(() => {});
  }
  if (!d.allowed) {
    const code = d.reasons.length === 1 && d.reasons[0] === 'label_missing' ? 'label_missing' : 'release_denied';
    throw new TrucError(code, `không được phát hành tài liệu ${LEVEL_NAME[d.level]}: ${d.reasons.map((r) => REASON_TEXT[r]).join('; ')}`, {
      document: req.documentId,
      level: d.level,
      reasons: d.reasons,
    });
  }
  return d;
}
