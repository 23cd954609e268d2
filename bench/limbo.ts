/**
 * Path validation against the public x509-limbo corpus (C2SP/x509-limbo, `limbo.json`), with `openssl verify`
 * run on the same cases in the same process as the peer. Not part of `npm run bench` (it exports no `run`):
 * the corpus is not shipped with the project and is given on the command line.
 *
 *   npx tsx bench/limbo.ts /path/to/limbo.json [--only PREFIX] [--no-openssl] [--json out.json]
 *
 * Each case goes through `validatePath` the way a caller would: the trusted certificates as anchors, the
 * untrusted intermediates as the pool, the peer name asked for, the extended key usage the case names (or
 * serverAuth / clientAuth for a SERVER / CLIENT case that names none), the key usage it names, its
 * validation time (now when it gives none) and its maximum chain depth. The profile follows the family:
 * `webpki::` cases are web-PKI cases, checked with `strict`; `rfc5280::`, `pathlen::` and the others with
 * `rfc5280`. OpenSSL gets `-x509_strict`, `-purpose sslserver|sslclient`, `-verify_hostname` /
 * `-verify_ip` / `-verify_email`, `-attime` and `-verify_depth`.
 *
 * Output: one line per case (matched or not, expected, ours with our reason, openssl's verdict), then the
 * counts by family and in all. A case the corpus marks with a feature we do not claim (none today) would
 * still be counted: nothing is skipped.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, cpus } from 'node:os';
import { join } from 'node:path';
import { validatePath, type PeerName, type ProfileName } from '../src/pki/path/index.js';

interface LimboCase {
  id: string;
  features: string[] | null;
  validation_kind: 'SERVER' | 'CLIENT';
  trusted_certs: string[];
  untrusted_intermediates: string[];
  peer_certificate: string;
  validation_time: string | null;
  key_usage: string[] | null;
  extended_key_usage: string[] | null;
  expected_result: 'SUCCESS' | 'FAILURE';
  expected_peer_name: { kind: 'DNS' | 'IP' | 'RFC822'; value: string } | null;
  max_chain_depth: number | null;
}

function der(pem: string): Buffer {
  const b64 = pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');
  return Buffer.from(b64, 'base64');
}

function profileOf(id: string): ProfileName {
  return id.startsWith('webpki::') ? 'strict' : 'rfc5280';
}

function peerOf(c: LimboCase): PeerName | undefined {
  const p = c.expected_peer_name;
  if (!p) return undefined;
  return { type: p.kind === 'DNS' ? 'dns' : p.kind === 'IP' ? 'ip' : 'email', value: p.value };
}

function ekuOf(c: LimboCase): string[] {
  return c.extended_key_usage ?? [c.validation_kind === 'CLIENT' ? 'clientAuth' : 'serverAuth'];
}

async function ours(c: LimboCase): Promise<{ ok: boolean; why: string }> {
  const peerName = peerOf(c);
  try {
    const r = await validatePath({
      target: der(c.peer_certificate),
      intermediates: c.untrusted_intermediates.map(der),
      trustAnchors: c.trusted_certs.map(der),
      ...(c.validation_time ? { time: new Date(c.validation_time) } : {}),
      purpose: { extendedKeyUsage: ekuOf(c), ...(c.key_usage ? { keyUsage: c.key_usage } : {}) },
      profile: profileOf(c.id),
      ...(c.max_chain_depth !== null ? { maxDepth: c.max_chain_depth } : {}),
      ...(peerName ? { peerName } : {}),
    });
    return r.valid ? { ok: true, why: 'valid' } : { ok: false, why: `${r.reason}: ${r.message}` };
  } catch (e) {
    // a refusal of the input itself (an anchor we cannot read, a limit) is a refusal too
    return { ok: false, why: `error: ${(e as Error).message}` };
  }
}

function openssl(c: LimboCase, dir: string): { ok: boolean; why: string } {
  const write = (name: string, pems: string[]) => {
    const p = join(dir, name);
    writeFileSync(p, pems.join(''));
    return p;
  };
  const args = ['verify', '-x509_strict', '-purpose', c.validation_kind === 'CLIENT' ? 'sslclient' : 'sslserver'];
  args.push('-CAfile', write('ca.pem', c.trusted_certs));
  if (c.untrusted_intermediates.length) args.push('-untrusted', write('untrusted.pem', c.untrusted_intermediates));
  if (c.validation_time) args.push('-attime', String(Math.floor(new Date(c.validation_time).getTime() / 1000)));
  if (c.max_chain_depth !== null) args.push('-verify_depth', String(c.max_chain_depth));
  const p = c.expected_peer_name;
  if (p) args.push(p.kind === 'DNS' ? '-verify_hostname' : p.kind === 'IP' ? '-verify_ip' : '-verify_email', p.value);
  args.push(write('leaf.pem', [c.peer_certificate]));
  const r = spawnSync('openssl', args, { encoding: 'utf8' });
  const line = `${r.stdout}${r.stderr}`.split('\n').find((l) => /error|unable|invalid/i.test(l)) ?? '';
  return { ok: r.status === 0, why: r.status === 0 ? 'valid' : line.trim() || `exit ${r.status}` };
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const file = argv.find((a) => !a.startsWith('--'));
  if (!file) {
    console.error('usage: npx tsx bench/limbo.ts limbo.json [--only PREFIX] [--no-openssl] [--json out.json]');
    process.exit(2);
  }
  const only = argv.includes('--only') ? argv[argv.indexOf('--only') + 1] : undefined;
  const jsonOut = argv.includes('--json') ? argv[argv.indexOf('--json') + 1] : undefined;
  const withOpenssl = !argv.includes('--no-openssl') && spawnSync('openssl', ['version']).status === 0;
  const corpus = JSON.parse(readFileSync(file, 'utf8')) as { testcases: LimboCase[] };
  const cases = corpus.testcases.filter((c) => !only || c.id.startsWith(only));
  const dir = mkdtempSync(join(tmpdir(), 'truc-limbo-'));
  const rows: { id: string; expected: boolean; ours: boolean; oursWhy: string; openssl?: boolean; opensslWhy?: string }[] = [];
  try {
    for (const c of cases) {
      const o = await ours(c);
      const s = withOpenssl ? openssl(c, dir) : undefined;
      const expected = c.expected_result === 'SUCCESS';
      rows.push({ id: c.id, expected, ours: o.ok, oursWhy: o.why, ...(s ? { openssl: s.ok, opensslWhy: s.why } : {}) });
      const mark = o.ok === expected ? 'matched   ' : 'MISMATCHED';
      const so = s ? ` | openssl ${s.ok === expected ? 'ok ' : 'BAD'} ${s.ok ? 'valid' : s.why}` : '';
      console.log(`${mark} ${c.id} — expected ${expected ? 'valid' : 'invalid'}; ours ${o.why.slice(0, 160)}${so}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const fam = (id: string) => id.split('::')[0];
  const families = [...new Set(rows.map((r) => fam(r.id)))];
  console.log('\nfamily      cases  ours  openssl');
  for (const f of [...families, 'all']) {
    const rs = rows.filter((r) => f === 'all' || fam(r.id) === f);
    const o = rs.filter((r) => r.ours === r.expected).length;
    const s = rs.filter((r) => r.openssl === r.expected).length;
    console.log(`${f.padEnd(11)} ${String(rs.length).padStart(5)} ${String(o).padStart(5)} ${withOpenssl ? String(s).padStart(8) : '       -'}`);
  }
  const ossl = withOpenssl ? spawnSync('openssl', ['version'], { encoding: 'utf8' }).stdout.trim() : 'not run';
  console.log(`\n${new Date().toISOString()} · ${cpus()[0]?.model ?? '?'} ×${cpus().length} · node ${process.version} · ${ossl}`);
  if (jsonOut) writeFileSync(jsonOut, JSON.stringify(rows, null, 1));
}

await main();
