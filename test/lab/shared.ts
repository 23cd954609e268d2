/** Where the shared Wycheproof vectors are, or why a test must skip. */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

export const SHARED = resolve(process.cwd(), '../shared');
export const VECTORS = resolve(SHARED, 'vectors/wycheproof/testvectors_v1');
export const SCHEMAS = resolve(SHARED, 'vectors/wycheproof/schemas');
export const sharedMissing = existsSync(VECTORS) && existsSync(SCHEMAS) ? undefined : `shared vectors not found at ${SHARED}`;
if (sharedMissing) console.warn(`[lab tests] skipping: ${sharedMissing}`);

/** The whole Wycheproof set (343 files): tests of families whose files are not in the core set read a few vectors from it. */
export const FULL = resolve(SHARED, 'vectors/wycheproof/full');
export const fullMissing = existsSync(FULL) && existsSync(SCHEMAS) ? undefined : `whole Wycheproof set not found at ${FULL}`;
if (fullMissing) console.warn(`[lab tests] skipping: ${fullMissing}`);
