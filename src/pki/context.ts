/**
 * What the CA's operations run against: the database, the key stores, the loaded profiles, the algorithm
 * policy, the public URLs written into certificates, the event bus and a clock. Passed explicitly; the PKI
 * holds no global state.
 */
import type { Db } from '../store/index.js';
import type { KeyStores } from '../crypto/keystore.js';
import type { AlgorithmPolicy } from '../crypto/algorithms.js';
import type { Bus } from '../bus/index.js';
import { makeEvent } from '../bus/index.js';
import type { Profile } from './profile.js';

export interface PkiContext {
  db: Db;
  keys: KeyStores;
  profiles: Map<string, Profile>;
  policy: AlgorithmPolicy;
  /** base URL relying parties reach us at; CDP and AIA URLs are built from it */
  publicUrl: string;
  bus: Bus;
  clock: () => Date;
  crl: { validityHours: number; deltaValidityHours: number; deltas: boolean };
}

export const urls = {
  caCert: (ctx: PkiContext, caId: string) => `${ctx.publicUrl}/pki/ca/${caId}.cer`,
  crl: (ctx: PkiContext, caId: string) => `${ctx.publicUrl}/pki/crl/${caId}.crl`,
  deltaCrl: (ctx: PkiContext, caId: string) => `${ctx.publicUrl}/pki/crl/${caId}-delta.crl`,
  ocsp: (ctx: PkiContext) => `${ctx.publicUrl}/ocsp`,
};

/** Publishes a PKI event; never lets a bus failure reach the operation that already committed. */
export function emit(
  ctx: PkiContext,
  action: string,
  outcome: 'success' | 'failure',
  actor: string,
  truc: Record<string, unknown>,
  reason?: string,
): void {
  const subject = `truc.pki.${action}`;
  if (!ctx.bus.listening(subject)) return;
  const event = makeEvent('pki', action, outcome, {
    category: ['configuration', 'iam'],
    user: { name: actor },
    truc,
    reason,
    at: ctx.clock(),
  });
  ctx.bus.publish(subject, event).catch(() => {});
}
