/**
 * The Node.js versions package.json claims (`engines.node`) must be ones every installed package accepts:
 * otherwise `npm ci` warns EBADENGINE on a version we say is supported (issue 18: cookie@2, through
 * fastify → light-my-request, wanted Node ≥ 22 while we said ≥ 20.19). Read from package-lock.json, which
 * records each package's own `engines`; platform packages that npm skips elsewhere are checked too.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import semver from 'semver';
import { describe, expect, it } from 'vitest';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string } };
const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as {
  packages: Record<string, { version?: string; engines?: Record<string, string> | string[] }>;
};

describe('engines', () => {
  it('package.json and package-lock.json claim the same Node.js versions', () => {
    expect(lock.packages[''].engines).toEqual(pkg.engines);
  });

  it('every package in the lock accepts every Node.js version package.json claims', () => {
    const claimed = pkg.engines.node;
    expect(semver.validRange(claimed)).not.toBeNull();
    const refusing: string[] = [];
    for (const [path, entry] of Object.entries(lock.packages)) {
      if (path === '' || !entry.engines || Array.isArray(entry.engines) || !entry.engines.node) continue;
      const wants = entry.engines.node;
      // a range npm cannot read is one npm does not check either
      if (semver.validRange(wants) === null) continue;
      if (!semver.subset(claimed, wants)) refusing.push(`${path.replace(/^.*node_modules\//, '')}@${entry.version}: node ${wants}`);
    }
    expect(refusing).toEqual([]);
  });

  it('the check itself refuses a dependency that wants a newer Node.js than claimed', () => {
    // what the lock held before the override: cookie@2.0.2 wants >=22
    expect(semver.subset(pkg.engines.node, '>=22')).toBe(false);
    expect(semver.subset('>=20.19', '^20.19.0 || ^22.13.0 || >=24')).toBe(false);
  });
});
