/**
 * `truc monitor ingest` takes a Windows event log (`.evtx`) as it takes JSON and XML: every record stored
 * and analysed, the parts of a damaged file that could not be read listed as rejected with the reason, and
 * a `.evtx` under another name recognised by its signature. Skipped, saying why, when ../shared is absent.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readEvtx } from '../../src/monitor/intake/evtx/index.js';
import { REGRESSION, sharedAbsent } from './sigma/regression.js';
import { buildEvtx, fillChunk } from './evtx-fixtures.js';
import { trucDataDir } from '../helpers/truc-cli.js';

const absent = sharedAbsent();
if (absent) console.log(`EVTX ingest test skipped: ${absent}`);

function firstEvtx(dir: string): string | undefined {
  for (const n of readdirSync(dir).sort()) {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) {
      const f = firstEvtx(p);
      if (f) return f;
    } else if (n.endsWith('.evtx')) return p;
  }
  return undefined;
}

describe.skipIf(absent !== undefined)('truc monitor ingest with .evtx', () => {
  it('stores every record, lists what was skipped, and knows an .evtx by its signature', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'truc-evtx-cli-'));
    // the data folder's database made beforehand (../helpers/truc-cli.ts)
    const env = { ...process.env, TRUC_DATA_DIR: await trucDataDir('truc-evtx-data-'), TRUC_KEY_PASSPHRASE: 'cli test passphrase', TRUC_LOG_LEVEL: 'warn' };
    delete (env as Record<string, string | undefined>).TRUC_DATABASE_URL;
    const source = readFileSync(firstEvtx(REGRESSION)!);
    const data = buildEvtx([fillChunk(source), fillChunk(source, 1000)]);
    data[4096 + 65536 + 100] ^= 0xff; // chunk 1's header checksum: read with care, reported
    const records = [...readEvtx(data)].length;
    writeFileSync(join(dir, 'security.evtx'), data);
    writeFileSync(join(dir, 'exported.dat'), data);

    for (const name of ['security.evtx', 'exported.dat']) {
      const r = spawnSync(process.execPath, ['bin/truc.js', '--json', 'monitor', 'ingest', join(dir, name)], { env, encoding: 'utf8', timeout: 150_000 });
      expect(r.status, r.stderr).toBe(0);
      const out = JSON.parse(r.stdout) as { accepted: number; rejected: { line: number; reason: string }[] };
      expect(out.accepted).toBe(records);
      expect(out.rejected).toHaveLength(1);
      expect(out.rejected[0]!.reason).toMatch(/^skipped: khối 1: tổng kiểm tra đầu khối sai.*\(chunk 1: bad header checksum, read with care\)/);
    }
  });
});
