/**
 * Shared pieces of the message log tests: records as a security server would log them, a real TSA of the
 * test platform (and its certificates as files for openssl), a cipher for the at-rest hook.
 */
import { spawn } from 'node:child_process';
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { toPem } from '../../../src/asn1/der.js';
import { listCas } from '../../../src/pki/index.js';
import { TimeStampAuthority } from '../../../src/pki/tsa/index.js';
import { localTimeStamper } from '../../../src/sign/timestamp/tsa-local.js';
import type { TimeStamper } from '../../../src/sign/signer.js';
import { MessageLog, type BodyCipher } from '../../../src/exchange/log/index.js';
import type { LogRecordInput } from '../../../src/exchange/log/types.js';
import { testPlatform, type TestPlatform } from '../../helpers/platform.js';
import { tmp, writePem } from '../../helpers/openssl.js';

export function record(i: number, body: Buffer | undefined = Buffer.from(`{"n":${i},"text":"Công văn số ${i}"}`), over: Partial<LogRecordInput> = {}): LogRecordInput {
  const b = body ?? Buffer.alloc(0);
  return {
    messageId: `msg-${i}`,
    kind: i % 2 ? 'response' : 'request',
    side: 'consumer',
    client: 'SUBSYSTEM:VN/GOV/000.00.00.G22/vanthu',
    service: 'SERVICE:VN/GOV/000.00.00.G09/noivu/getDocument',
    time: new Date(1_780_000_000_000 + i * 1000),
    header: Buffer.from(JSON.stringify({ id: `msg-${i}`, kind: 'request' })),
    signature: Buffer.from(JSON.stringify({ value: randomBytes(8).toString('hex') })),
    bodyHash: createHash('sha256').update(b).digest(),
    bodyLength: b.length,
    body,
    ...over,
  };
}

export interface TestTsa {
  p: TestPlatform;
  tsa: TimeStampAuthority;
  stamper: TimeStamper;
  root: Buffer;
  issuing: Buffer;
  dir: string;
  rootPath: string;
  /** TSA certificate then issuing CA, PEM, for openssl -untrusted */
  chainPath: string;
}

export async function testTsa(): Promise<TestTsa> {
  const p = await testPlatform('memory://');
  const tsa = new TimeStampAuthority(p.pki, p.issuer, { policy: '2.16.704.1.101.1.6.1', accuracyMs: 1000 });
  await tsa.start();
  const cas = await listCas(p.db);
  const root = Buffer.from(cas.find((c) => c.id === 'root')!.certificate);
  const issuing = Buffer.from(cas.find((c) => c.id === 'issuing')!.certificate);
  const dir = tmp('truc-logtsa-');
  const rootPath = writePem(dir, 'root.pem', toPem('CERTIFICATE', root));
  const chainPath = writePem(dir, 'tsa-chain.pem', toPem('CERTIFICATE', tsa.certificate()) + toPem('CERTIFICATE', issuing));
  return { p, tsa, stamper: localTimeStamper(tsa), root, issuing, dir, rootPath, chainPath };
}

/** AES-256-GCM with a random nonce before the ciphertext and the tag after it: a stand-in for the protection work's key. */
export function gcmCipher(key = randomBytes(32)): BodyCipher {
  return {
    id: 'test-aes-256-gcm',
    encryptor(aad) {
      const iv = randomBytes(12);
      const c = createCipheriv('aes-256-gcm', key, iv);
      c.setAAD(aad);
      let first = true;
      return {
        update(chunk) {
          const out = c.update(chunk);
          if (!first) return out;
          first = false;
          return Buffer.concat([iv, out]);
        },
        final() {
          const f = c.final();
          return Buffer.concat([first ? iv : Buffer.alloc(0), f, c.getAuthTag()]);
        },
      };
    },
    decryptor(aad) {
      let head = Buffer.alloc(0);
      let d: import('node:crypto').DecipherGCM | null = null;
      let tail = Buffer.alloc(0);
      const feed = (chunk: Buffer): Buffer => {
        if (!d) {
          head = Buffer.concat([head, chunk]);
          if (head.length < 12) return Buffer.alloc(0);
          d = createDecipheriv('aes-256-gcm', key, head.subarray(0, 12));
          d.setAAD(aad);
          chunk = head.subarray(12);
        }
        const all = Buffer.concat([tail, chunk]);
        tail = all.subarray(Math.max(0, all.length - 16));
        return d.update(all.subarray(0, Math.max(0, all.length - 16)));
      };
      return {
        update: feed,
        final() {
          if (!d || tail.length !== 16) throw new Error('ciphertext too short');
          d.setAuthTag(tail);
          return d.final();
        },
      };
    },
  };
}

export const logDir = (): string => join(tmp('truc-log-'), 'log');

/**
 * A log of one segment: records 1..13 time-stamped in two batches (1..7, 8..13; 13's body in a file of its
 * own), then `unstamped` more records no time-stamp covers yet. Its folder.
 */
export async function stampedLog(t: TestTsa, unstamped = 0): Promise<string> {
  const dir = logDir();
  const log = await MessageLog.open({ dir });
  for (let i = 1; i <= 12; i++) await log.append(record(i));
  const sp = log.spool();
  await sp.write(Buffer.alloc(100_000, 'x'));
  const b = await sp.finish();
  await log.append(record(13, undefined, { body: b, bodyHash: b.hash, bodyLength: b.length }));
  await log.timestampNow(t.stamper, 7);
  await log.timestampNow(t.stamper, 7);
  for (let i = 14; i < 14 + unstamped; i++) await log.append(record(i));
  await log.close();
  return dir;
}

/**
 * `truc ARGS` as a child (the log commands), its output and exit code; one that runs past `killMs` is killed,
 * so a hang shows as a kill (status -1), not as a test waiting for ever.
 */
export function runTruc(args: string[], killMs = 60_000): Promise<{ status: number; stdout: string; stderr: string; ms: number }> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const c = spawn(process.execPath, ['bin/truc.js', ...args], { env: { ...process.env, TRUC_LOG_LEVEL: 'warn' } });
    let stdout = '';
    let stderr = '';
    const kill = setTimeout(() => c.kill('SIGKILL'), killMs);
    c.stdout.on('data', (d) => (stdout += d));
    c.stderr.on('data', (d) => (stderr += d));
    c.on('close', (code) => {
      clearTimeout(kill);
      resolve({ status: code ?? -1, stdout, stderr, ms: Date.now() - t0 });
    });
  });
}
