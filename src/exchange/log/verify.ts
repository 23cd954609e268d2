/**
 * Offline verification of a log folder and its archives, with no database: every record's chain hash and
 * seq, segment to segment and archive to archive; every stored body against its hash; every time-stamp
 * batch's hash-tree root recomputed from the chain hashes it covers, its token's imprint equal to the root
 * and its signature verified against the trusted TSA certificates; the archives' own hash links and
 * manifests. Reading streams (memory bounded by one batch's chain hashes); it stops at the first break and
 * says where and why.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, mkdir, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, normalize, sep } from 'node:path';
import { TrucError, isTrucError } from '../../errors.js';
import { readTimeStampToken } from '../../sign/timestamp/token.js';
import { verifyTimeStamp } from '../../sign/timestamp/verify.js';
import { decodeArchiveHeader, fileSha256, listArchives, readLastArchive } from './archive.js';
import type { BodyCipher } from './cipher.js';
import { FrameReader } from './frames.js';
import { BODY_FILE, BODY_INLINE, genesisHash, Reader, recordDigest, sha256, T_ARCHIVE, T_ARCHIVE_END, T_ARCHIVE_FILE, type Batch, type RecordMeta } from './format.js';
import { merkleRoot } from './merkle.js';
import { ARCHIVES, bodyPath, listSegments, readIdentity, readStamps, scanSegment, segPath, SEGMENTS, STAMPS } from './reader.js';
import { decryptInline, decryptTransform } from './spool.js';
import { bodyAad } from './cipher.js';

export interface VerifyOptions {
  dir: string;
  /** folder of archive files; default the log's own archives/ */
  archives?: string;
  /** certificates the TSAs' certificates chain to (or the TSA certificates themselves), DER */
  trustedTsaCerts: Uint8Array[];
  /** CA certificates between the TSA and the trusted ones (like openssl's -untrusted), DER */
  intermediates?: Uint8Array[];
  /** to check protected bodies against their hashes; without it their stored hashes are checked */
  cipher?: BodyCipher;
  /**
   * Asked once for each cipher id met in the log that `cipher` is not (e.g. fetching the key from the
   * vault only when an encrypted body is found); undefined, or a throw, leaves those bodies not decrypted
   * (reported incomplete, with the reason).
   */
  cipherFor?: (id: string) => Promise<BodyCipher | undefined>;
  /** default true */
  checkBodies?: boolean;
  /** where archives are unpacked while checked; default the system's temporary folder */
  workDir?: string;
}

export interface VerifyProblem {
  where: { file?: string; segment?: number; seq?: number; batch?: number; archive?: number; offset?: number };
  why: string;
}

export interface VerifyReport {
  /** no break found and everything could be checked */
  ok: boolean;
  /** what could not be checked (no trusted TSA certificate, an encrypted body without its key…) */
  incomplete: string[];
  /** the first break, if any */
  problem?: VerifyProblem;
  warnings: string[];
  logId: string;
  records: number;
  firstSeq: number | null;
  lastSeq: number | null;
  segments: number;
  batches: number;
  archives: number;
  /** records after the last time-stamp batch */
  unstamped: number;
  bodies: number;
}

class Broken extends Error {
  constructor(readonly p: VerifyProblem) {
    super(p.why);
  }
}

/**
 * Runs a file-system step of the check: what the files cannot give (a folder where a file should be, a
 * symlink loop, a file where a folder should be) is damage to the log, reported as a break naming the file,
 * never an exception escaping the report.
 */
async function onFile<T>(where: VerifyProblem['where'], f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    if (e instanceof Broken) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw new Broken({ where, why: `không đọc được / cannot be read${code ? ` (${code})` : ''}: ${(e as Error).message}` });
  }
}

interface SegmentSource {
  no: number;
  /** folder holding segments/… of this source */
  root: string;
  archive?: number;
}

/** Unpacks one archive into `into`, checking its frames, manifest and header. */
export async function unpackArchive(path: string, into: string, logId: Buffer): Promise<{ header: ReturnType<typeof decodeArchiveHeader> }> {
  const fr = await FrameReader.open(path);
  const written = new Map<string, { h: ReturnType<typeof createHash>; length: number; fh: Awaited<ReturnType<typeof open>> }>();
  try {
    const f = await fr.next();
    if (!f || f.type !== T_ARCHIVE || !recordDigest(f.type, f.payload).equals(f.hash)) throw new Error('bad archive header');
    const header = decodeArchiveHeader(f.payload);
    if (!header.logId.equals(logId)) throw new Error('archive of another log');
    let manifest = null as { files?: { name: string; length: number; sha256: string }[] } | null;
    for (;;) {
      const g = await fr.next();
      if (!g) break;
      if (!recordDigest(g.type, g.payload).equals(g.hash)) throw new Error(`frame at ${g.offset} does not match its hash`);
      if (g.type === T_ARCHIVE_END) {
        manifest = JSON.parse(g.payload.toString('utf8')) as typeof manifest;
        if (await fr.next()) throw new Error('frames after the manifest');
        break;
      }
      if (g.type !== T_ARCHIVE_FILE) throw new Error(`unexpected frame type ${g.type}`);
      const r = new Reader(g.payload);
      const name = r.str16() ?? '';
      const offset = r.u64();
      const data = g.payload.subarray(r.o);
      const norm = normalize(name);
      if (!name || norm.startsWith('..') || norm.startsWith(sep) || norm.includes(`..${sep}`) || !/^(segments\/\d{10}\.(seg|bodies\/\d+\.body)|stamps)$/.test(name))
        throw new Error(`archive names an unexpected file ${JSON.stringify(name.slice(0, 80))}`);
      let w = written.get(name);
      if (!w) {
        await mkdir(dirname(join(into, norm)), { recursive: true });
        w = { h: createHash('sha256'), length: 0, fh: await open(join(into, norm), 'wx') };
        written.set(name, w);
      }
      if (offset !== w.length) throw new Error(`${name}: chunk at ${offset}, expected ${w.length}`);
      await w.fh.write(data, 0, data.length, offset);
      w.h.update(data);
      w.length += data.length;
    }
    if (fr.problem) throw new Error(`archive ends with a ${fr.problem} frame`);
    if (!manifest?.files) throw new Error('archive has no manifest (incomplete)');
    if (manifest.files.length !== written.size) throw new Error('the manifest does not list the files the archive holds');
    for (const m of manifest.files) {
      const w = written.get(m.name);
      if (!w || w.length !== m.length || w.h.digest('hex') !== m.sha256) throw new Error(`${m.name}: does not match the manifest`);
    }
    return { header };
  } finally {
    for (const w of written.values()) await w.fh.close().catch(() => {});
    await fr.close();
  }
}

async function streamHash(stream: NodeJS.ReadableStream): Promise<{ hash: Buffer; length: number }> {
  const h = createHash('sha256');
  let length = 0;
  for await (const c of stream as AsyncIterable<Buffer>) {
    h.update(c);
    length += c.length;
  }
  return { hash: h.digest(), length };
}

type CipherOf = (id: string) => Promise<BodyCipher | undefined>;

async function checkBody(root: string, segment: number, m: RecordMeta, logId: Buffer, cipherOf: CipherOf): Promise<string | null> {
  const b = m.body;
  if (b.store === BODY_INLINE) {
    const stored = b.inline!;
    if (!b.cipher) return stored.length === m.bodyLength && sha256(stored).equals(m.bodyHash) ? null : 'the inline body does not match the record\'s body hash';
    const cipher = await cipherOf(b.cipher);
    if (!cipher) return null;
    try {
      const plain = decryptInline(cipher, logId, b.bodyId!, stored);
      return plain.length === m.bodyLength && sha256(plain).equals(m.bodyHash) ? null : 'the decrypted body does not match the record\'s body hash';
    } catch (e) {
      return (e as Error).message;
    }
  }
  if (b.store !== BODY_FILE) return null;
  const path = bodyPath(root, segment, m.seq);
  let got: { hash: Buffer; length: number };
  try {
    got = await streamHash(createReadStream(path));
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'the body file is missing' : (e as Error).message;
  }
  if (got.length !== b.storedLength || !got.hash.equals(b.storedHash!)) return 'the body file does not match the record';
  if (!b.cipher) return got.hash.equals(m.bodyHash) && got.length === m.bodyLength ? null : 'the body file does not match the record\'s body hash';
  const cipher = await cipherOf(b.cipher);
  if (!cipher) return null;
  try {
    const plain = await streamHash(createReadStream(path).pipe(decryptTransform(cipher.decryptor(bodyAad(logId, b.bodyId!)))));
    return plain.length === m.bodyLength && plain.hash.equals(m.bodyHash) ? null : 'the decrypted body does not match the record\'s body hash';
  } catch (e) {
    return (e as Error).message;
  }
}

/** Checks one batch's token: imprint = root, TSA signature, TSA certificate trusted. Returns a problem or null. */
export async function checkToken(batch: Batch, root: Buffer, trusted: Uint8Array[], intermediates: Uint8Array[] = []): Promise<string | null> {
  if (!batch.root.equals(root)) return 'the batch root is not the hash-tree root of the records it covers';
  let token;
  try {
    token = readTimeStampToken(batch.token);
  } catch (e) {
    return `the time-stamp token is unreadable: ${(e as Error).message}`;
  }
  if (token.tstInfo.hash !== 'sha256' || !token.tstInfo.hashedMessage.equals(root)) return 'the time-stamp token does not stamp the batch root';
  const check = await verifyTimeStamp(batch.token, (h) => (h === 'sha256' ? root : Buffer.alloc(0)), {
    trustAnchors: trusted,
    intermediates: [...intermediates, ...trusted],
    at: new Date(token.tstInfo.genTime.getTime() + 1000),
    revocation: { mode: 'off' },
  });
  if (check.valid) return null;
  // a TSA certificate trusted as such (pinned), rather than through a CA
  const signer = token.signer.certificate?.der;
  const pinned = signer && trusted.some((t) => Buffer.from(t).equals(Buffer.from(signer)));
  if (pinned && token.signer.signatureValid && token.signer.digestMatches === true && /certificate is not valid/.test(check.problem ?? '')) return null;
  return `the time-stamp token does not verify: ${check.problem}`;
}

export async function verifyLog(o: VerifyOptions): Promise<VerifyReport> {
  let ident;
  try {
    ident = await readIdentity(o.dir);
  } catch (e) {
    throw isTrucError(e) ? e : new TrucError('not_found', `cannot read the log folder ${o.dir}: ${(e as Error).message}`);
  }
  const logId = ident.logId;
  const report: VerifyReport = { ok: false, incomplete: [], warnings: [], logId: logId.toString('hex'), records: 0, firstSeq: null, lastSeq: null, segments: 0, batches: 0, archives: 0, unstamped: 0, bodies: 0 };
  const incomplete = new Set<string>();
  // each cipher id resolved once: the one given, else asked of cipherFor, else the bodies stay not decrypted
  const ciphers = new Map<string, Promise<BodyCipher | undefined>>();
  const cipherOf: CipherOf = (id) => {
    let c = ciphers.get(id);
    if (!c) {
      c = (async () => {
        if (o.cipher?.id === id) return o.cipher;
        let why = 'no key given';
        if (o.cipherFor)
          try {
            const got = await o.cipherFor(id);
            if (got?.id === id) return got;
            if (got) why = `the key found is for ${got.id}`;
          } catch (e) {
            why = (e as Error).message;
          }
        incomplete.add(`bodies protected by cipher ${id} were not decrypted (${why})`);
        return undefined;
      })();
      ciphers.set(id, c);
    }
    return c;
  };
  if (!o.trustedTsaCerts.length) incomplete.add('no trusted TSA certificate given: time-stamp signatures not checked');
  const work = await mkdtemp(join(o.workDir ?? tmpdir(), 'truc-logverify-'));
  try {
    // archives: their own chain, their contents, unpacked for the record walk
    const sources: SegmentSource[] = [];
    const stampFiles: { path: string; archive?: number }[] = [];
    const archivesDir = o.archives ?? join(o.dir, ARCHIVES);
    const archives = await onFile({ file: archivesDir }, () => listArchives(archivesDir));
    // what the log wrote when it last archived (archives/LAST): the newest archive's number and hash, and the
    // last record it took — the live log starts right after it, whatever retention deleted
    let last;
    try {
      // (archives checked from elsewhere: the note stays in the log's own folder)
      last = (await readLastArchive(archivesDir)) ?? (o.archives ? await readLastArchive(join(o.dir, ARCHIVES)) : null);
    } catch (e) {
      throw new Broken({ where: { file: join(archivesDir, 'LAST') }, why: (e as Error).message });
    }
    if (last) {
      const newest = archives.find((a) => a.no === last.no);
      if (newest) {
        if (!(await onFile({ file: newest.path, archive: last.no }, () => fileSha256(newest.path))).equals(last.hash)) throw new Broken({ where: { file: newest.path, archive: last.no }, why: 'the newest archive is not the file the log recorded when it made it (its hash differs from archives/LAST)' });
      } else if (archives.some((a) => a.no < last.no)) throw new Broken({ where: { archive: last.no }, why: `archive ${last.no}, the newest the log made, is missing (retention deletes the oldest first)` });
      if (archives.some((a) => a.no > last.no)) report.warnings.push(`an archive after number ${last.no} is not in archives/LAST (a crash while archiving; set right when the log archives again)`);
    }
    let prevArchive: { no: number; hash: Buffer } | null = null;
    for (const a of archives) {
      const into = join(work, String(a.no));
      let header;
      try {
        header = (await unpackArchive(a.path, into, logId)).header;
      } catch (e) {
        throw new Broken({ where: { file: a.path, archive: a.no }, why: (e as Error).message });
      }
      if (header.archive !== a.no) throw new Broken({ where: { file: a.path, archive: a.no }, why: `the archive says it is number ${header.archive}` });
      if (prevArchive) {
        if (a.no !== prevArchive.no + 1) throw new Broken({ where: { archive: a.no }, why: `archive ${prevArchive.no + 1} is missing` });
        if (!header.prevHash.equals(prevArchive.hash)) throw new Broken({ where: { file: a.path, archive: a.no }, why: 'the archive does not link to the previous archive file (hash differs)' });
      } else if (a.no === 1) {
        if (!header.prevHash.equals(genesisHash(logId, 'archives'))) throw new Broken({ where: { file: a.path, archive: 1 }, why: 'the first archive does not start the archive chain' });
      } else report.warnings.push(`archives before ${a.no} are gone (retention); the check starts there`);
      prevArchive = { no: a.no, hash: await onFile({ file: a.path, archive: a.no }, () => fileSha256(a.path)) };
      for (const no of await onFile({ file: a.path, archive: a.no }, () => listSegments(join(into, SEGMENTS)))) sources.push({ no, root: into, archive: a.no });
      stampFiles.push({ path: join(into, STAMPS), archive: a.no });
      report.archives++;
    }
    const seen = new Map(sources.map((s) => [s.no, s]));
    for (const no of await onFile({ file: join(o.dir, SEGMENTS) }, () => listSegments(join(o.dir, SEGMENTS)))) {
      const had = seen.get(no);
      if (!had) {
        sources.push({ no, root: o.dir });
        continue;
      }
      // a live copy of an archived segment: a crash between archiving and removing it (removed when the log
      // archives next). Tools that read the live folder (export, evidence) read it, so it must be the archived
      // one byte for byte
      const livePath = segPath(o.dir, no);
      const archived = segPath(had.root, no);
      const [a, b] = [await onFile({ file: livePath, segment: no }, () => fileSha256(livePath)), await onFile({ file: archived, segment: no, archive: had.archive! }, () => fileSha256(archived))];
      if (!a.equals(b))
        throw new Broken({ where: { file: livePath, segment: no, archive: had.archive! }, why: `the live copy of segment ${no} differs from the one archive ${had.archive} holds` });
      report.warnings.push(`segment ${no} is still in the live folder after archive ${had.archive} took it (a crash before its removal; removed when the log archives next); the same bytes as the archived copy`);
    }
    stampFiles.push({ path: join(o.dir, STAMPS) });

    // batches from every stamp file, each file's chain checked, numbers contiguous, ranges back to back
    const batches = new Map<number, Batch>();
    // batches an archive holds, and the live stamp file's header and batches, to tell archiving from deletion
    const inArchives = new Set<number>();
    let live: { header: { firstBatch: number; prevHash: Buffer }; batches: Batch[]; path: string } | null = null;
    for (const sf of stampFiles) {
      let st;
      try {
        st = await readStamps(sf.path);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT' && sf.archive !== undefined) continue; // an archive before any batch
        throw new Broken({ where: { file: sf.path }, why: (e as Error).message });
      }
      if (!st.header || !st.header.logId.equals(logId)) throw new Broken({ where: { file: sf.path }, why: st.stop?.why ?? 'stamp file of another log' });
      if (st.stop) {
        // a crash mid-write leaves this, but so does cutting batches off: the records they stamped would then
        // read as "not yet stamped", and records rewritten after the last batch kept would pass — so the log
        // cannot be said whole until the log has opened (and cut the tail) or the batches are back
        if (sf.archive === undefined && st.stop.why.includes('torn'))
          incomplete.add(
            `tệp dấu thời gian ${sf.path} bị cắt dở ở byte ${st.stop.offset} / the stamp file ${sf.path} ends with a torn write at ${st.stop.offset}: batches after it cannot be checked and the records they stamped read as not yet stamped (a crash: cut when the log opens; or batches removed)`,
          );
        else throw new Broken({ where: { file: sf.path, offset: st.stop.offset }, why: st.stop.why });
      }
      if (sf.archive === undefined) live = { header: st.header, batches: st.batches.map((b) => b.batch), path: sf.path };
      for (const { batch } of st.batches) {
        if (sf.archive !== undefined) inArchives.add(batch.batch);
        const had = batches.get(batch.batch);
        if (had && !(had.root.equals(batch.root) && had.token.equals(batch.token) && had.firstSeq === batch.firstSeq && had.lastSeq === batch.lastSeq))
          throw new Broken({ where: { file: sf.path, batch: batch.batch }, why: 'two different batches carry this number' });
        batches.set(batch.batch, batch);
      }
    }
    const ordered = [...batches.values()].sort((a, b) => a.batch - b.batch);
    for (let i = 1; i < ordered.length; i++) {
      if (ordered[i]!.batch !== ordered[i - 1]!.batch + 1) throw new Broken({ where: { batch: ordered[i - 1]!.batch + 1 }, why: 'a time-stamp batch is missing' });
      if (ordered[i]!.firstSeq !== ordered[i - 1]!.lastSeq + 1) throw new Broken({ where: { batch: ordered[i]!.batch }, why: 'time-stamp batches do not follow each other' });
    }
    report.batches = ordered.length;
    if (live && !last) {
      // never archived (no archives/LAST): nothing took batches out of the live stamp file, so it holds them all
      if (live.header.firstBatch !== 1 || !live.header.prevHash.equals(genesisHash(logId, 'stamps')))
        throw new Broken({
          where: { file: live.path, batch: 1 },
          why: `the stamp file starts at batch ${live.header.firstBatch}, not at batch 1 from the start of its chain, but the log has never archived (no archives/LAST): time-stamp batches are missing`,
        });
    }
    if (live && last) {
      // archiving takes out of the live stamp file exactly the batches that cover only archived records (after
      // writing them into the archive): one still there that ends within what LAST says was archived, and that
      // no archive at hand holds, means records were deleted and LAST written to hide it. (After a crash
      // between writing LAST and rewriting the stamp file, the archive holds the same batches.)
      const stale = live.batches.find((b) => b.lastSeq <= last.lastSeq && !inArchives.has(b.batch));
      if (stale)
        throw new Broken({
          where: { file: live.path, batch: stale.batch },
          why: `the stamp file still holds batch ${stale.batch} (records ${stale.firstSeq}..${stale.lastSeq}), which archiving would have taken out with the records through ${last.lastSeq} that archives/LAST says were archived, and no archive holds it: records are missing`,
        });
    }

    // the record walk
    let bi = 0;
    let leaves: Buffer[] = [];
    let prev: Buffer | null = null;
    let nextSeq: number | null = null;
    let skipThrough = 0;
    const checkBodies = o.checkBodies !== false;
    for (let si = 0; si < sources.length; si++) {
      const src = sources[si]!;
      const path = segPath(src.root, src.no);
      const where = { file: path, segment: src.no, ...(src.archive ? { archive: src.archive } : {}) };
      const scan = await onFile(where, () => scanSegment(path, { logId, segment: src.no }));
      try {
        if (!scan.header) {
          const why = scan.stop()?.why ?? 'bad segment';
          // the last live segment with no header written, after others: a crash while rolling over (the writer
          // removes it when the log opens); anything else that holds no header is damage
          if (si === sources.length - 1 && !src.archive && si > 0 && (why === 'empty segment file' || /torn write/.test(why))) {
            report.warnings.push(`segment ${src.no} has no header yet (a crash while rolling over; removed when the log opens)`);
            continue;
          }
          throw new Broken({ where, why });
        }
        const h = scan.header;
        if (prev === null) {
          if (h.firstSeq === 1 && !h.prevHash.equals(genesisHash(logId, 'records'))) throw new Broken({ where, why: 'the first segment does not start the chain' });
          // records before the first one kept are explained only by archives (the log notes each in archives/LAST)
          if (!src.archive && h.firstSeq !== (last ? last.lastSeq + 1 : 1))
            throw new Broken({
              where,
              why: last
                ? `the live log starts at record ${h.firstSeq}, but the log archived records through ${last.lastSeq} (archives/LAST): records are missing`
                : `the log starts at record ${h.firstSeq}, but it has never archived (no archives/LAST): records 1..${h.firstSeq - 1} are missing`,
            });
          if (h.firstSeq !== 1) report.warnings.push(`the log starts at record ${h.firstSeq} (earlier records archived and deleted)`);
          while (bi < ordered.length && ordered[bi]!.lastSeq < h.firstSeq) bi++;
          if (bi < ordered.length && ordered[bi]!.firstSeq < h.firstSeq) {
            // a batch partly in records deleted by retention: its root cannot be recomputed
            skipThrough = ordered[bi]!.lastSeq;
            report.warnings.push(`batch ${ordered[bi]!.batch} starts before the oldest record kept; not checked`);
            bi++;
          }
          report.firstSeq = h.firstSeq;
        } else {
          if (h.firstSeq !== nextSeq) throw new Broken({ where, why: `segment starts at record ${h.firstSeq}, expected ${nextSeq}` });
          if (!h.prevHash.equals(prev)) throw new Broken({ where, why: 'segment does not continue the chain of the previous one' });
        }
        prev = h.prevHash;
        nextSeq = h.firstSeq;
        for await (const r of scan.records) {
          const m = r.meta;
          report.records++;
          // the certificates and OCSP responses the record names are in its segment, before it
          for (const mh of m.material ?? [])
            if (!scan.material.has(mh.toString('hex')))
              throw new Broken({ where: { ...where, seq: m.seq }, why: `the record names material ${mh.toString('hex')} that its segment does not hold` });
          if (checkBodies && m.body.store !== 0) {
            report.bodies++;
            const bad = await checkBody(src.root, src.no, m, logId, cipherOf);
            if (bad) throw new Broken({ where: { ...where, seq: m.seq }, why: bad });
          } else if (m.body.store !== 0)
            // the chain binds only the body's hash: a body altered on disk shows only when it is re-hashed, so a
            // check that skipped them cannot say the log is whole
            incomplete.add('chưa kiểm tra nội dung / bodies not checked (asked not to): a changed body would not show');
          const b = ordered[bi];
          if (b && m.seq >= b.firstSeq) {
            leaves.push(r.frame.hash);
            if (m.seq === b.lastSeq) {
              const root = merkleRoot(leaves);
              leaves = [];
              bi++;
              if (!o.trustedTsaCerts.length) {
                if (!b.root.equals(root)) throw new Broken({ where: { batch: b.batch, seq: m.seq }, why: 'the batch root is not the hash-tree root of the records it covers' });
                let t;
                try {
                  t = readTimeStampToken(b.token);
                } catch (e) {
                  throw new Broken({ where: { batch: b.batch, seq: m.seq }, why: `the time-stamp token does not read: ${(e as Error).message}` });
                }
                if (!t.tstInfo.hashedMessage.equals(root)) throw new Broken({ where: { batch: b.batch }, why: 'the time-stamp token does not stamp the batch root' });
              } else {
                const bad = await checkToken(b, root, o.trustedTsaCerts, o.intermediates);
                if (bad) throw new Broken({ where: { batch: b.batch, seq: m.seq }, why: bad });
              }
            }
          } else if (src.archive && m.seq > skipThrough) throw new Broken({ where: { ...where, seq: m.seq }, why: 'an archived record is not time-stamped' });
          else if (b && m.seq > skipThrough)
            // batches follow each other with no gap and the live stamp file keeps every batch a live record needs:
            // a record before the first batch at hand, with later records stamped, lost its batch
            throw new Broken({ where: { ...where, seq: m.seq }, why: `record ${m.seq} is covered by no time-stamp batch, though later records are (batch ${b.batch} starts at ${b.firstSeq}): a batch is missing` });
          prev = r.frame.hash;
          nextSeq = m.seq + 1;
          report.lastSeq = m.seq;
        }
        const stop = scan.stop();
        if (stop) {
          const lastLive = si === sources.length - 1 && !src.archive;
          if (lastLive && /torn write/.test(stop.why)) report.warnings.push(`segment ${src.no} ends with a torn write at ${stop.offset} (a crash; cut when the log opens)`);
          else throw new Broken({ where: { ...where, offset: stop.offset }, why: stop.why });
        }
        report.segments++;
      } catch (e) {
        if (e instanceof Broken) throw e;
        // a read failing half-way (an I/O error, a file replaced by a folder while read)
        throw new Broken({ where, why: `không đọc được / cannot be read: ${(e as Error).message}` });
      } finally {
        await scan.close().catch(() => {});
      }
    }
    if (bi < ordered.length) {
      const b = ordered[bi]!;
      throw new Broken({ where: { batch: b.batch }, why: `time-stamp batch ${b.batch} covers records ${b.firstSeq}..${b.lastSeq} that are not all in the log (deleted records?)` });
    }
    if (report.lastSeq !== null && report.firstSeq !== null) {
      const stampedTo = ordered.length ? ordered[ordered.length - 1]!.lastSeq : report.firstSeq - 1;
      report.unstamped = Math.max(0, report.lastSeq - Math.max(stampedTo, skipThrough));
    }
    report.incomplete = [...incomplete];
    report.ok = report.incomplete.length === 0;
    return report;
  } catch (e) {
    if (!(e instanceof Broken)) throw e;
    report.problem = e.p;
    report.incomplete = [...incomplete];
    report.ok = false;
    return report;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

