/**
 * Probe: the exchange's command line (`truc ss …`, `truc central …`, `truc log …`) as an operator on an
 * agency server uses it, fed what operators and accidents produce — missing files, folders, empty or
 * garbage files, the wrong kind of file, malformed identifiers, unknown options, a URL that does not answer.
 * Each refusal must be a clear one-line message on stderr (Vietnamese with English beside), the documented
 * exit code (src/cli/output.ts: 2 usage, 3 bad input, 4 not found, 5 conflict; `truc log`: 0/1/3), no stack
 * trace, and nothing half-changed (the anchor installed before stays).
 */
import { describe, it, expect, beforeAll } from 'vitest';
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { freePort } from '../helpers/ports.js';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { openssl, tmp } from '../helpers/openssl.js';
import { trucDataDir, trucAsync, TrucLanes, type TrucResult } from '../helpers/truc-cli.js';

const SUB = 'SUBSYSTEM:VN/GOV/000.00.00.G22/vanthu';
const SVC = 'SERVICE:VN/GOV/000.00.00.G22/vanthu/thong-tin';
/** a stack trace line as Node prints it */
const STACK = /^\s+at .+(\(.*:\d+:\d+\)|:\d+:\d+)$/m;
/** a Vietnamese letter with its diacritics (every bilingual message of the CLI holds some) */
const VIETNAMESE = /[àáạảãâầấậẩẫăằắặẳẵèéẹẻẽêềếệểễìíịỉĩòóọỏõôồốộổỗơờớợởỡùúụủũưừứựửữỳýỵỷỹđ]/i;

function anchorJson(instance: string, certB64: string, url = `http://127.0.0.1:8080/conf/${instance}`): string {
  return JSON.stringify({ instance, generatedAt: new Date().toISOString(), sources: [{ url, verificationCerts: [certB64] }] });
}


function refused(r: TrucResult, exit: number, mentions?: RegExp | string): void {
  const why = `exit ${r.status}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;
  expect(r.status, why).toBe(exit);
  expect(r.stderr.trim(), why).not.toBe('');
  expect(r.stderr, `stack trace on stderr:\n${r.stderr}`).not.toMatch(STACK);
  expect(r.stdout, `stack trace on stdout:\n${r.stdout}`).not.toMatch(STACK);
  if (mentions) expect(r.stderr, why).toMatch(mentions);
}

describe('exchange CLI probe (truc ss / central / log)', () => {
  const dir = tmp('truc-xprobe-');
  const ssDir = join(dir, 'ss');
  const files = {
    good: join(dir, 'anchor.json'),
    otherInstance: join(dir, 'anchor-EE.json'),
    truncated: join(dir, 'anchor-truncated.json'),
    cert: join(dir, 'cert.pem'),
    missing: join(dir, 'no-such', 'anchor.json'),
    folder: join(dir, 'a-folder'),
    garbage: join(dir, 'garbage.bin'),
    emptyLog: join(dir, 'empty-log'),
    notALog: join(dir, 'not-a-log'),
    evidenceOut: join(dir, 'out.asice'),
  };
  let goodAnchor: string;
  const r: Record<string, TrucResult> = {};
  const setup: TrucResult[] = [];

  beforeAll(async () => {
    mkdirSync(files.folder);
    mkdirSync(files.emptyLog);
    mkdirSync(join(files.notALog, 'segments'), { recursive: true });
    writeFileSync(join(files.notALog, 'LOG'), randomBytes(300));
    writeFileSync(join(files.notALog, 'segments', '0000000001.seg'), randomBytes(4096));
    openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, 'k.pem'), '-out', files.cert, '-days', '2', '-subj', '/CN=central-probe']);
    const certB64 = readFileSync(files.cert, 'latin1').replace(/-----[^-]+-----|\s+/g, '');
    goodAnchor = anchorJson('VN', certB64);
    writeFileSync(files.good, goodAnchor);
    writeFileSync(files.otherInstance, anchorJson('EE', certB64));
    writeFileSync(files.truncated, goodAnchor.slice(0, Math.floor(goodAnchor.length / 2)));
    writeFileSync(files.garbage, randomBytes(2048));
    const config = join(dir, 'ss.yaml');
    writeFileSync(config, `exchange:\n  server:\n    id: SERVER:VN/GOV/000.00.00.G22/ss1\n    memberName: Văn phòng Chính phủ\n    dir: ${ssDir}\n    encryptLog: false\n`);

    const env: NodeJS.ProcessEnv = { ...process.env, TRUC_DATA_DIR: await trucDataDir('truc-xprobe-data-'), TRUC_CONFIG: config, TRUC_KEY_PASSPHRASE: 'exchange cli probe passphrase', TRUC_LOG_LEVEL: 'warn' };
    delete env.TRUC_DATABASE_URL;
    // the agency's server as it stands before the accidents: a client, a service, an anchor
    for (const args of [
      ['ss', 'client', 'add', SUB],
      ['ss', 'service', 'add', SVC, 'http://127.0.0.1:9/api'],
      ['ss', 'anchor', 'import', files.good],
    ])
      setup.push(await trucAsync(env, args));
    if (setup.some((x) => x.status !== 0)) return;

    const lanes = new TrucLanes(env);
    const port = await freePort();
    const probes: Record<string, string[]> = {
      // anchors
      anchorOtherInstance: ['ss', 'anchor', 'import', files.otherInstance],
      anchorTruncated: ['ss', 'anchor', 'import', files.truncated],
      anchorIsCert: ['ss', 'anchor', 'import', files.cert],
      anchorMissing: ['ss', 'anchor', 'import', files.missing],
      anchorFolder: ['ss', 'anchor', 'import', files.folder],
      // identifiers and arguments
      clientDotDot: ['ss', 'client', 'add', 'SUBSYSTEM:VN/GOV/../vanthu'],
      serviceSpace: ['ss', 'service', 'add', 'SERVICE:VN/GOV/000.00.00.G22/van thu/x', 'http://127.0.0.1:9/x'],
      clientMissingArg: ['ss', 'client', 'add'],
      clientUnknownOption: ['ss', 'client', 'add', '--frobnicate', SUB],
      serviceBadTimeout: ['ss', 'service', 'add', SVC, 'http://127.0.0.1:9/api', '--timeout', 'abc'],
      // service descriptions
      describeMissing: ['ss', 'service', 'describe', SVC, files.missing],
      describeGarbage: ['ss', 'service', 'describe', SVC, files.garbage],
      describeNoAnswer: ['ss', 'service', 'describe', SVC, `http://127.0.0.1:${port}/openapi.json`],
      describeNothing: ['ss', 'service', 'describe', SVC],
      // central
      approveUnknown: ['--json', 'central', 'approve', 'no-such-request'],
      settingsBrokenJson: ['central', 'settings', '--set', 'monitoringClient={"memberClass":'],
      exportNoFolder: ['central', 'anchor', 'export', '--out', join(dir, 'no-such', 'anchor.json')],
      // log, offline
      logVerifyEmpty: ['log', 'verify', files.emptyLog],
      logVerifyNotALogJson: ['log', 'verify', files.notALog, '--json'],
      logExportEmpty: ['log', 'export', files.emptyLog],
      logEvidenceEmpty: ['log', 'evidence', files.emptyLog, 'msg-1', '--out', files.evidenceOut],
      checkEvidenceGarbageJson: ['log', 'check-evidence', files.garbage, '--json'],
    };
    await Promise.all(Object.entries(probes).map(async ([name, args]) => (r[name] = await lanes.run(...args))));
  }, 180_000);

  it('setup: client add, service add and anchor import of a good anchor succeed', () => {
    for (const s of setup) expect(s.status, s.stderr).toBe(0);
  });

  describe('truc ss anchor import', () => {
    it('refuses an anchor of another instance (EE) than the server’s (VN), keeping the anchor held', () => {
      refused(r.anchorOtherInstance, 3, /EE|instance/i);
    });
    it('refuses a truncated anchor (exit 3)', () => refused(r.anchorTruncated, 3, /anchor/i));
    it('refuses a certificate given where an anchor is expected (exit 3)', () => refused(r.anchorIsCert, 3, /anchor/i));
    it('refuses a file that does not exist: exit 3, names the file', () => refused(r.anchorMissing, 3, files.missing));
    it('refuses a folder given as the anchor: exit 3, names it', () => refused(r.anchorFolder, 3, files.folder));
    it('after every refused import the anchor installed before is still there, byte for byte as installed', () => {
      const held = JSON.parse(readFileSync(join(ssDir, 'anchor.json'), 'utf8'));
      expect(held.instance).toBe('VN');
      expect(held).toEqual(JSON.parse(goodAnchor));
    });
  });

  describe('truc ss identifiers and arguments', () => {
    it('a SUBSYSTEM with ".." is refused (exit 3, bad_identifier)', () => refused(r.clientDotDot, 3, /bad_identifier/));
    it('a SERVICE with a space is refused (exit 3, bad_identifier)', () => refused(r.serviceSpace, 3, /bad_identifier/));
    it('a missing argument is a usage error (exit 2)', () => refused(r.clientMissingArg, 2, /missing required argument|subsystem/i));
    it('an unknown option is a usage error (exit 2)', () => refused(r.clientUnknownOption, 2, /unknown option/i));
    it('--timeout abc is refused as bad input (exit 3), not stored', () => refused(r.serviceBadTimeout, 3, /timeout/i));
  });

  describe('truc ss service describe', () => {
    it('a file that does not exist: exit 3, names the file', () => refused(r.describeMissing, 3, files.missing));
    it('a binary garbage file: exit 3 (not an OpenAPI/WSDL description)', () => refused(r.describeGarbage, 3));
    it('a URL that does not answer: exit 3, names the URL', () => refused(r.describeNoAnswer, 3, /127\.0\.0\.1/));
    it('neither a file nor --remove: exit 3', () => refused(r.describeNothing, 3, /--remove/));
  });

  describe('truc central', () => {
    it('approve of an unknown id: exit 4, [not_found], nothing but JSON (or nothing) on stdout with --json', () => {
      refused(r.approveUnknown, 4, /\[not_found\]/);
      if (r.approveUnknown.stdout.trim()) expect(() => JSON.parse(r.approveUnknown.stdout)).not.toThrow();
    });
    it('settings --set with broken JSON is bad input (exit 3), not an unexpected error', () => refused(r.settingsBrokenJson, 3, /monitoringClient/));
    it('anchor export --out into a folder that does not exist: exit 3, names the file', () => refused(r.exportNoFolder, 3, /no-such/));
  });

  describe('truc log', () => {
    it('verify on an empty folder: exit 3 (cannot check), says so', () => refused(r.logVerifyEmpty, 3, /cannot check/));
    it('verify --json on a folder that is not a log: a JSON report on stdout, exit 1 or 3', () => {
      expect([1, 3], r.logVerifyNotALogJson.stderr).toContain(r.logVerifyNotALogJson.status);
      expect(() => JSON.parse(r.logVerifyNotALogJson.stdout), r.logVerifyNotALogJson.stdout).not.toThrow();
      expect(r.logVerifyNotALogJson.stderr).not.toMatch(STACK);
    });
    it('export of a folder that is not a log is refused (non-zero, a message), not an empty success', () => {
      expect(r.logExportEmpty.status, `stdout ${r.logExportEmpty.stdout} stderr ${r.logExportEmpty.stderr}`).not.toBe(0);
      refused(r.logExportEmpty, r.logExportEmpty.status);
    });
    it('evidence from a folder that is not a log: non-zero, a message, no .asice file left behind', () => {
      expect(r.logEvidenceEmpty.status).not.toBe(0);
      refused(r.logEvidenceEmpty, r.logEvidenceEmpty.status);
      expect(existsSync(files.evidenceOut)).toBe(false);
    });
    it('check-evidence --json on binary garbage: JSON on stdout, exit 1 or 3', () => {
      expect([1, 3], r.checkEvidenceGarbageJson.stderr).toContain(r.checkEvidenceGarbageJson.status);
      expect(() => JSON.parse(r.checkEvidenceGarbageJson.stdout), r.checkEvidenceGarbageJson.stdout).not.toThrow();
      expect(r.checkEvidenceGarbageJson.stderr).not.toMatch(STACK);
    });
  });

  it('every refusal (but commander’s usage errors) says it in Vietnamese with English beside', () => {
    const usage = new Set(['clientMissingArg', 'clientUnknownOption']);
    const english = Object.entries(r)
      .filter(([name, x]) => !usage.has(name) && x.status !== 0 && !VIETNAMESE.test(x.stderr))
      .map(([name, x]) => `${name}: ${x.stderr.trim().split('\n')[0]}`);
    expect(english).toEqual([]);
  });
});
