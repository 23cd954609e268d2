/** Trục's release, as package.json gives it (test/version.test.ts keeps the two the same). */
export const TRUC_VERSION = '0.1.0';
