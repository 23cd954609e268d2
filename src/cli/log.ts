/**
 * `truc log`: the message log of a security server, read offline from its folder (no database, no key
 * store, nothing written): `verify` checks records, chain, hash trees, time-stamps and archives (exit 0
 * intact, 1 broken, 3 cannot check fully); `export` prints the records' metadata as JSON lines; `evidence`
 * writes one message's ASiC-E container.
 */
import { createWriteStream, readFileSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import type * as LogApi from '../exchange/log/index.js';
import type { BodyCipher } from '../exchange/log/cipher.js';
import type { Platform } from '../platform.js';
import { loadBefore } from './lazy.js';

// the message log, behind `truc log`, loaded when one of its commands runs (./lazy.ts)
let listSegments: typeof LogApi.listSegments;
let readIdentity: typeof LogApi.readIdentity;
let scanSegment: typeof LogApi.scanSegment;
let recordSummary: typeof LogApi.recordSummary;
let verifyLog: typeof LogApi.verifyLog;
let writeLiveEvidence: typeof LogApi.writeLiveEvidence;
let checkEvidence: typeof LogApi.checkEvidence;
let writeArchivedEvidence: typeof LogApi.writeArchivedEvidence;

async function load(): Promise<void> {
  ({ listSegments, readIdentity, scanSegment, recordSummary, verifyLog, writeLiveEvidence, writeArchivedEvidence, checkEvidence } = await import('../exchange/log/index.js'));
}

export const LOG_EXIT = { intact: 0, broken: 1, cannotCheck: 3 } as const;

/** Certificates from PEM (one or many) or DER files. */
function readCerts(files: string[]): Buffer[] {
  const out: Buffer[] = [];
  for (const f of files) {
    const raw = readFileSync(f);
    const pems = [
      ...raw.toString('latin1').matchAll(/-----BEGIN CERTIFICATE-----([\s\S]+?)-----END CERTIFICATE-----/g),
    ];
    if (pems.length) for (const m of pems) out.push(Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64'));
    else out.push(raw);
  }
  return out;
}

const collect = (v: string, prev: string[]) => [...prev, v];

/**
 * The keys of encrypted bodies from this platform's vault (`--vault`): a cipher id `vault:xlog:<name>`
 * gives the log's existing data key (never a new one); each fetch is audited.
 */
function vaultCiphers(p: Platform): (id: string) => Promise<BodyCipher | undefined> {
  return async (id) => {
    const [{ Vault }, { logBodyCipher, logNameOfCipher }, { recordAudit }] = await Promise.all([
      import('../vault/index.js'),
      import('../vault/envelope/log-cipher.js'),
      import('../audit/index.js'),
    ]);
    const name = logNameOfCipher(id);
    if (!name) throw new Error(`${id} không phải khoá nhật ký của kho khoá / is not a vault log key`);
    const actor = `cli:${process.env.USER ?? 'operator'}`;
    try {
      const cipher = await logBodyCipher(new Vault({ db: p.db, keys: p.keys, bus: p.bus }), name, {
        create: false,
      });
      await recordAudit(p.db, {
        actor,
        action: 'log.verify.key',
        target: `xlog:${name}`,
        outcome: 'success',
      });
      return cipher;
    } catch (e) {
      await recordAudit(p.db, {
        actor,
        action: 'log.verify.key',
        target: `xlog:${name}`,
        outcome: 'failure',
        detail: { reason: (e as Error).message.slice(0, 300) },
      }).catch(() => {});
      throw e;
    }
  };
}

export function logCommands(
  program: Command,
  c?: { withPlatform: (fn: (p: Platform) => Promise<unknown>) => Promise<void> },
): void {
  const log = program
    .command('log')
    .description('nhật ký thông điệp (message log) of a security server, read offline from its folder');
  loadBefore(log, load);

  log
    .command('verify <dir>')
    .description(
      'Kiểm tra nhật ký / verify the log: records, hash chain, hash trees, time-stamps, archives. Exit 0 intact, 1 broken, 3 cannot check fully.',
    )
    .option('--archives <dir>', 'folder of archive files (default DIR/archives)')
    .option(
      '--trust <file>',
      'trusted certificate for the TSAs (root CA or the TSA certificate itself), PEM or DER; repeatable',
      collect,
      [],
    )
    .option('--untrusted <file>', 'intermediate CA certificates, PEM or DER; repeatable', collect, [])
    .option('--no-bodies', 'do not re-hash the stored bodies')
    .option(
      '--vault',
      "decrypt the bodies with the log's key from this platform's vault (opens its database and key store, as truc start does; the key is never created, each fetch is audited)",
    )
    .option('--json', 'print the report as JSON')
    .action(
      async (
        dir: string,
        o: {
          archives?: string;
          trust: string[];
          untrusted: string[];
          bodies: boolean;
          vault?: boolean;
          json?: boolean;
        },
      ) => {
        if (o.vault && !c) throw new Error('--vault needs the platform');
        if (o.vault) await c!.withPlatform((p) => verifyCommand(dir, o, vaultCiphers(p)));
        else await verifyCommand(dir, o);
      },
    );

  async function verifyCommand(
    dir: string,
    o: { archives?: string; trust: string[]; untrusted: string[]; bodies: boolean; json?: boolean },
    cipherFor?: (id: string) => Promise<BodyCipher | undefined>,
  ): Promise<void> {
    const write = (s: string, err = false) => (err ? process.stderr : process.stdout).write(s + '\n');
    o.json ||= !!program.opts().json; // also a global option of truc
    try {
      const r = await verifyLog({
        dir,
        ...(o.archives ? { archives: o.archives } : {}),
        trustedTsaCerts: readCerts(o.trust),
        intermediates: readCerts(o.untrusted),
        checkBodies: o.bodies,
        ...(cipherFor ? { cipherFor } : {}),
      });
      if (o.json) write(JSON.stringify(r));
      else if (r.problem) {
        write(`NHẬT KÝ BỊ PHÁ VỠ / LOG BROKEN at ${JSON.stringify(r.problem.where)}: ${r.problem.why}`);
      } else {
        write(
          `nhật ký nguyên vẹn / log intact: ${r.records} records (${r.firstSeq ?? '-'}..${r.lastSeq ?? '-'}), ${r.batches} time-stamp batches, ${r.archives} archives, ${r.unstamped} not yet time-stamped, ${r.bodies} bodies checked`,
        );
        for (const w of r.warnings) write(`  lưu ý / note: ${w}`);
        for (const i of r.incomplete) write(`  chưa kiểm tra / not checked: ${i}`, true);
      }
      process.exitCode = r.problem
        ? LOG_EXIT.broken
        : r.incomplete.length
          ? LOG_EXIT.cannotCheck
          : LOG_EXIT.intact;
    } catch (e) {
      if (o.json) write(JSON.stringify({ ok: null, error: (e as Error).message }));
      write(`không kiểm tra được / cannot check the log: ${(e as Error).message}`, true);
      process.exitCode = LOG_EXIT.cannotCheck;
    }
  }

  log
    .command('export <dir>')
    .description('Xuất siêu dữ liệu / print the records (metadata, hashes; no bodies) as JSON lines')
    .option('--from <seq>', 'first record', (v) => Number(v))
    .option('--to <seq>', 'last record', (v) => Number(v))
    .action(async (dir: string, o: { from?: number; to?: number }) => {
      // a folder that is not a log is said so, as verify and evidence say it, not exported as an empty one
      await readIdentity(dir);
      for (const no of await listSegments(join(dir, 'segments'))) {
        const s = await scanSegment(join(dir, 'segments', `${String(no).padStart(10, '0')}.seg`));
        try {
          if (s.header && o.to !== undefined && s.header.firstSeq > o.to) break;
          for await (const r of s.records) {
            const m = r.meta;
            if (o.from !== undefined && m.seq < o.from) continue;
            if (o.to !== undefined && m.seq > o.to) break;
            const line = {
              ...recordSummary(m),
              body: ['none', 'inline', 'file'][m.body.store],
              chainHash: r.frame.hash.toString('hex'),
              segment: no,
            };
            if (!process.stdout.write(JSON.stringify(line) + '\n'))
              await new Promise((res) => process.stdout.once('drain', res));
          }
        } finally {
          await s.close();
        }
      }
    });

  log
    .command('evidence <dir> <messageId>')
    .description(
      "Bằng chứng / write one message's evidence (ASiC-E container: records, bodies, chain, hash-tree path, time-stamp)",
    )
    .requiredOption('--out <file>', 'the .asice file to write')
    .action(async (dir: string, messageId: string, o: { out: string }) => {
      let stream;
      try {
        stream = await writeLiveEvidence({ dir, messageId });
      } catch (e) {
        if ((e as { code?: string }).code !== 'not_found') throw e;
        stream = await writeArchivedEvidence({ dir, messageId }); // archived since: from its archive
      }
      await pipeline(stream, createWriteStream(o.out));
      process.stdout.write(`đã ghi / written: ${o.out}\n`);
    });

  log
    .command('check-evidence <file>')
    .description(
      "Kiểm tra bằng chứng / check one message's evidence container offline: each record's frame, chain hash, hash-tree path and TSA token, its body, the sender's signature and certificate, and the exporting server's seal (CAdES over META-INF/ASiCManifest.xml). Exit 0 valid, 1 broken, 3 cannot check fully.",
    )
    .option('--trust <file>', 'trusted CA certificate (or a TSA certificate pinned as such), PEM or DER; repeatable', collect, [])
    .option('--untrusted <file>', 'intermediate CA certificates, PEM or DER; repeatable', collect, [])
    .option('--json', 'print the report as JSON')
    .action(async (file: string, o: { trust: string[]; untrusted: string[]; json?: boolean }) => {
      const write = (s: string, err = false) => (err ? process.stderr : process.stdout).write(s + '\n');
      const json = o.json || !!program.opts().json;
      try {
        const r = await checkEvidence(file, { trust: readCerts(o.trust), intermediates: readCerts(o.untrusted) });
        if (json) {
          write(JSON.stringify(r));
          // the verdict on stderr too, so that a script reading only the exit code and stderr is told why
          if (r.problems.length) write(`BẰNG CHỨNG KHÔNG HỢP LỆ / EVIDENCE BROKEN: ${r.problems[0]}${r.problems.length > 1 ? ` (+${r.problems.length - 1})` : ''}`, true);
          else if (r.incomplete.length) write(`bằng chứng nguyên vẹn, chưa kiểm tra hết / evidence intact, not fully checked: ${r.incomplete[0]}`, true);
        } else {
          write(`thông điệp / message ${r.messageId ?? '-'}`);
          for (const x of r.records)
            write(
              `  ${x.folder}: ${x.side} ${x.kind}, ${x.time}${x.stampedAt ? `, dấu thời gian / stamped ${x.stampedAt}` : ''}${x.signer ? `, ký bởi / signed by ${x.signer}` : ''}${x.signerStatus ? ` (${x.signerStatus})` : ''}, nội dung / body ${x.body}${x.next ? `, bản ghi kế tiếp / next ${x.next === 'checked' ? 'đã kiểm tra / checked' : 'chưa kiểm tra (không có trong gói) / not checked (not in the container)'}` : ''}`,
            );
          if (r.seal) write(`  niêm phong / sealed by ${r.seal.signer}${r.seal.signingTime ? ` at ${r.seal.signingTime}` : ''}, ${r.seal.files} files`);
          else write('  không niêm phong / not sealed');
          for (const p of r.problems) write(`  LỖI / BROKEN: ${p}`, true);
          for (const i of r.incomplete) write(`  chưa kiểm tra / not checked: ${i}`, true);
          write(
            r.problems.length
              ? 'BẰNG CHỨNG KHÔNG HỢP LỆ / EVIDENCE BROKEN'
              : r.incomplete.length
                ? 'bằng chứng nguyên vẹn, chưa kiểm tra hết / evidence intact, not fully checked'
                : 'bằng chứng hợp lệ / evidence valid',
          );
        }
        process.exitCode = r.problems.length ? LOG_EXIT.broken : r.incomplete.length ? LOG_EXIT.cannotCheck : LOG_EXIT.intact;
      } catch (e) {
        if (json) write(JSON.stringify({ ok: null, error: (e as Error).message }));
        write(`không kiểm tra được / cannot check the evidence: ${(e as Error).message}`, true);
        process.exitCode = LOG_EXIT.cannotCheck;
      }
    });
}
