/**
 * First start on the embedded default: a CA hierarchy and one API token per role, so that a fresh clone
 * runs with one command. The tokens are written once to the data folder (mode 0600) and never again.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Platform } from '../platform.js';
import { ROLES } from '../http/auth/roles.js';

export const DEFAULT_HIERARCHY = {
  root: { id: 'root', subject: 'C=VN, O=Trục, CN=Trục Root CA', keyAlgorithm: 'EC-P384' as const, validityDays: 7300 },
  issuing: [
    {
      id: 'issuing',
      subject: 'C=VN, O=Trục, CN=Trục Issuing CA 1',
      keyAlgorithm: 'EC-P256' as const,
      validityDays: 3650,
      pathLen: 0,
    },
  ],
};

export async function bootstrap(p: Platform): Promise<{ createdCa: boolean; tokensFile?: string }> {
  // loaded here, not at the top: the CLI imports DEFAULT_HIERARCHY for its help text (./lazy.ts)
  const [{ initHierarchy, listCas }, { createToken, listPrincipals }] = await Promise.all([import('../pki/index.js'), import('../http/auth/store.js')]);
  let createdCa = false;
  if ((await listCas(p.db)).length === 0) {
    await initHierarchy(p.pki, DEFAULT_HIERARCHY, 'bootstrap');
    createdCa = true;
  }
  if ((await listPrincipals(p.db)).length > 0) return { createdCa };
  const lines: string[] = [];
  for (const role of ROLES) {
    const { token } = await createToken(p.db, `bootstrap ${role}`, [role], 'bootstrap');
    lines.push(`${role}\t${token}`);
  }
  const tokensFile = join(p.config.dataDir, 'bootstrap-tokens.txt');
  writeFileSync(tokensFile, lines.join('\n') + '\n', { mode: 0o600 });
  return { createdCa, tokensFile };
}
