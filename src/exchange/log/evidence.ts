/**
 * Evidence for one message: an ASiC-E container (ETSI EN 319 162-1's ZIP layout: `mimetype` first and
 * stored, `META-INF/manifest.xml`) holding, for each record of the message on this server (request and
 * response), the message header and signature as they travelled, the body, the record's bytes, its place
 * in the hash chain (the previous and next chain hashes), the hash-tree path from its chain hash to the
 * batch root, and the RFC 3161 token over that root. Anyone can then check, with the TSA's certificate and
 * standard tools, that this exact record existed at the token's time. Written as a stream: a large body
 * is never held whole.
 *
 * Sealed (`seal`, the security server's API): the container is also an ASiC-E with a CAdES signature
 * (EN 319 162-1 §4.4.3): `META-INF/ASiCManifest.xml` lists every file with its SHA-256 and
 * `META-INF/signature001.p7s` is a detached CMS signature over that manifest by the member's signing key,
 * so that a generic ASiC validator (or `openssl cms -verify`) checks the container whole and names who
 * exported it. The log's own proof (chain, tree, time-stamp) does not depend on that signature.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { once } from 'node:events';
import { join } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { TrucError } from '../../errors.js';
import { readTimeStampToken } from '../../sign/timestamp/token.js';
import { bodyAad, type BodyCipher } from './cipher.js';
import { BODY_FILE, BODY_INLINE, frameBytes, recordDigest, recordSummary, type Batch, type RecordMeta } from './format.js';
import { auditPath, merkleRoot } from './merkle.js';
import { ARCHIVES, bodyPath, listSegments, readIdentity, readStamps, scanSegment, segPath, SEGMENTS, STAMPS } from './reader.js';
import { listArchives, readArchiveHeader } from './archive.js';
import { unpackArchive } from './verify.js';
import { decryptInline, decryptTransform } from './spool.js';
import { ZipWriter } from './zip.js';

export const ASICE_MIMETYPE = 'application/vnd.etsi.asic-e+zip';

interface Found {
  meta: RecordMeta;
  /** the log folder (live, or an unpacked archive) whose segment holds it */
  dir: string;
  segment: number;
  frame: Buffer;
  prev: Buffer;
  hash: Buffer;
  next?: { seq: number; hash: Buffer };
  /** the certificates and OCSP responses the record names, by SHA-256 hex */
  material: [string, Buffer | undefined][];
}

/**
 * The chain hashes of records from..to, in order, from the segments of `sources` (the folder the evidence is
 * written from first; for archived evidence also the live log and neighbouring archives, since a time-stamp
 * batch may cover records on both sides of an archive's boundary). Short when some record is in none.
 */
async function chainHashes(sources: { dir: string; segments: number[] }[], logId: Buffer, from: number, to: number): Promise<Buffer[]> {
  const found = new Map<number, Buffer>();
  for (const { dir, segments } of sources)
    for (const no of segments) {
      const scan = await scanSegment(segPath(dir, no), { logId });
      try {
        if (!scan.header || scan.header.firstSeq > to) continue;
        for await (const r of scan.records) {
          if (r.meta.seq < from) continue;
          if (r.meta.seq > to) break;
          found.set(r.meta.seq, r.frame.hash);
        }
      } finally {
        await scan.close();
      }
    }
  const out: Buffer[] = [];
  for (let seq = from; seq <= to; seq++) {
    const h = found.get(seq);
    if (!h) break;
    out.push(h);
  }
  return out;
}

const xmlEscape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/"/g, '&quot;');

// The JSON files of a record's folder, written here and rebuilt by `checkEvidence` from the frame and the
// token: one function for both, so that the check compares bytes and a changed field, key or space shows

/** record.json: what the record says of its message (`recordSummary`), with the log id and how the body was kept */
export function recordJson(log: string, m: RecordMeta): string {
  const b = m.body;
  return JSON.stringify(
    {
      log,
      ...recordSummary(m),
      body: b.store === BODY_FILE ? 'file' : b.store === BODY_INLINE ? 'inline' : 'not kept (metadata mode)',
      ...(b.cipher ? { protectedWith: b.cipher } : {}),
    },
    null,
    2,
  );
}

export interface ChainJson {
  seq: number;
  previous: string;
  recordDigest: string;
  chainHash: string;
  next?: { seq: number; chainHash: string };
}
export const chainJson = (c: ChainJson): string =>
  JSON.stringify({ seq: c.seq, previous: c.previous, recordDigest: c.recordDigest, chainHash: c.chainHash, ...(c.next ? { next: { seq: c.next.seq, chainHash: c.next.chainHash } } : {}) }, null, 2);

export interface MerkleJson {
  batch: number;
  firstSeq: number;
  lastSeq: number;
  index: number;
  size: number;
  leaf: string;
  path: string[];
  root: string;
  genTime: string;
}
export const merkleJson = (m: MerkleJson): string =>
  JSON.stringify({ batch: m.batch, firstSeq: m.firstSeq, lastSeq: m.lastSeq, index: m.index, size: m.size, leaf: m.leaf, path: m.path, root: m.root, genTime: m.genTime }, null, 2);

export const NOT_STAMPED_NOTE = 'Bản ghi chưa được gắn dấu thời gian (this record is not time-stamped yet)\n';

/** A detached CMS (CAdES) signature over the given bytes, DER. */
export type EvidenceSeal = (manifest: Buffer) => Promise<Buffer>;

export const ASIC_MANIFEST = 'META-INF/ASiCManifest.xml';
export const ASIC_SIGNATURE = 'META-INF/signature001.p7s';

/** EN 319 162-1's ASiCManifest: the signature file, then each data object with its SHA-256. */
export function asicManifest(objects: { name: string; type: string; sha256: Buffer }[]): Buffer {
  return Buffer.from(
    [
      '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>',
      '<asic:ASiCManifest xmlns:asic="http://uri.etsi.org/02918/v1.2.1#" xmlns:ds="http://www.w3.org/2000/09/xmldsig#">',
      ` <asic:SigReference URI="${ASIC_SIGNATURE}" MimeType="application/x-pkcs7-signature"/>`,
      ...objects.map(
        (d) =>
          ` <asic:DataObjectReference URI="${xmlEscape(encodeURI(d.name))}" MimeType="${xmlEscape(d.type)}">` +
          '<ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/>' +
          `<ds:DigestValue>${d.sha256.toString('base64')}</ds:DigestValue></asic:DataObjectReference>`,
      ),
      '</asic:ASiCManifest>',
      '',
    ].join('\n'),
    'utf8',
  );
}

export async function writeEvidence(o: {
  dir: string;
  messageId: string;
  segments?: number[];
  cipher?: BodyCipher;
  maxSeq?: number;
  seal?: EvidenceSeal;
  chainDirs?: string[];
  /**
   * more log folders to look in (an unpacked neighbouring archive, the live log's first segments), asked for
   * only when what `dir` holds is one side's request or response without the other: an exchange whose
   * records lie on both sides of an archive's boundary
   */
  more?: () => AsyncIterable<{ dir: string; segments?: number[] }>;
}): Promise<Readable> {
  const { logId } = await readIdentity(o.dir);
  const all = await listSegments(join(o.dir, SEGMENTS));
  const found: Found[] = [];
  const search = async (dir: string, look: number[]) => {
    for (const no of look) {
      const scan = await scanSegment(segPath(dir, no), { logId });
      try {
        let waiting: Found | null = null;
        for await (const r of scan.records) {
          if (o.maxSeq !== undefined && r.meta.seq > o.maxSeq) break;
          if (waiting) {
            waiting.next = { seq: r.meta.seq, hash: r.frame.hash };
            waiting = null;
          }
          if (r.meta.messageId === o.messageId && !found.some((f) => f.meta.seq === r.meta.seq)) {
            const material = (r.meta.material ?? []).map((h): [string, Buffer | undefined] => [h.toString('hex'), scan.material.get(h.toString('hex'))]);
            const f: Found = { meta: r.meta, dir, segment: no, frame: frameBytes(r.frame.type, r.frame.payload, r.frame.hash), prev: r.prev, hash: r.frame.hash, material };
            found.push(f);
            waiting = f;
            if (found.length > 64) throw new TrucError('too_large', `more than 64 records carry message id ${o.messageId}`);
          }
        }
      } finally {
        await scan.close();
      }
    }
  };
  await search(o.dir, o.segments ? all.filter((n) => o.segments!.includes(n)) : all);
  if (!found.length) throw new TrucError('not_found', `no logged message ${o.messageId} in the live log (archived messages are in the archives)`);
  const extra: { dir: string; segments: number[] }[] = [];
  const lonely = () => found.some((f) => !found.some((g) => g.meta.side === f.meta.side && g.meta.kind !== f.meta.kind));
  if (o.more && lonely())
    for await (const m of o.more()) {
      const segs = await listSegments(join(m.dir, SEGMENTS));
      extra.push({ dir: m.dir, segments: segs });
      await search(m.dir, m.segments ? segs.filter((n) => m.segments!.includes(n)) : segs);
      if (!lonely()) break;
    }
  found.sort((a, b) => a.meta.seq - b.meta.seq);
  // each record's time-stamp batch, from the stamps of the folder that holds it
  const stamps = new Map<string, Awaited<ReturnType<typeof readStamps>>>();
  for (const f of found) if (!stamps.has(f.dir)) stamps.set(f.dir, await readStamps(join(f.dir, STAMPS)));
  const batchOf = (f: Found): Batch | undefined => stamps.get(f.dir)!.batches.find((b) => b.batch.firstSeq <= f.meta.seq && b.batch.lastSeq >= f.meta.seq)?.batch;
  const proofs = new Map<number, { batch: Batch; index: number; path: Buffer[] }>();
  const sources = [{ dir: o.dir, segments: all }, ...extra];
  for (const d of o.chainDirs ?? []) if (!extra.some((x) => x.dir === d)) sources.push({ dir: d, segments: await listSegments(join(d, SEGMENTS)) });
  // a request and its response are often in one batch: its chain hashes are read once
  const batchHashes = new Map<number, Buffer[]>();
  for (const f of found) {
    const b = batchOf(f);
    if (!b) continue;
    let hashes = batchHashes.get(b.batch);
    if (!hashes) {
      hashes = await chainHashes(sources, logId, b.firstSeq, b.lastSeq);
      if (hashes.length !== b.lastSeq - b.firstSeq + 1 || !merkleRoot(hashes).equals(b.root)) throw new TrucError('log_failure', `batch ${b.batch} no longer matches the records it covers`);
      batchHashes.set(b.batch, hashes);
    }
    proofs.set(f.meta.seq, { batch: b, index: f.meta.seq - b.firstSeq, path: auditPath(hashes, f.meta.seq - b.firstSeq) });
  }

  const out = new PassThrough({ highWaterMark: 1024 * 1024 });
  const zip = new ZipWriter(async (b) => {
    if (!out.write(b)) await once(out, 'drain');
  });
  const objects: { name: string; type: string; sha256: Buffer }[] = [];
  const add = async (name: string, data: Buffer | string, type: string) => {
    const bytes = Buffer.isBuffer(data) ? data : Buffer.from(data, 'utf8');
    objects.push({ name, type, sha256: createHash('sha256').update(bytes).digest() });
    await zip.add(name, bytes);
  };
  /** a streamed entry, hashed as it passes */
  const addStream = async (name: string, type: string, src: AsyncIterable<Buffer>) => {
    const h = createHash('sha256');
    await zip.addStream(
      name,
      (async function* () {
        for await (const c of src) {
          h.update(c);
          yield c;
        }
      })(),
    );
    objects.push({ name, type, sha256: h.digest() });
  };
  void (async () => {
    try {
      await zip.add('mimetype', Buffer.from(ASICE_MIMETYPE));
      await add(
        'README.txt',
        [
          `Bằng chứng nhật ký thông điệp (message log evidence) — message ${o.messageId}`,
          '',
          'Mỗi thư mục records/<seq>-<kind>/ chứa / Each records/<seq>-<kind>/ folder holds:',
          '  header.json, signature.json — tiêu đề và chữ ký như đã truyền / header and signature as they travelled',
          '  material/<sha256>.der — chứng thư số và phản hồi OCSP mà tiêu đề nêu bằng giá trị băm /',
          '    certificates and OCSP responses the header names by hash (signCertHash, signOcspHash, authOcspHash)',
          '  body.bin (or body.enc when protected at rest) — nội dung / the body',
          '  record.bin — khung bản ghi / the record frame: u32 length | u8 type | payload | chain hash',
          '  chain.json — chain_n = SHA-256(chain_{n-1} || SHA-256(type || payload))',
          '  merkle.json — leaf = SHA-256(0x00 || chain_n), node = SHA-256(0x01 || left || right) (RFC 6962 shape)',
          '  timestamp.tst — RFC 3161 TimeStampToken whose SHA-256 imprint is the tree root:',
          '    openssl ts -verify -token_in -in timestamp.tst -digest <root hex> -CAfile <CA> -untrusted <TSA cert>',
          ...(o.seal
            ? [
                '',
                'META-INF/ASiCManifest.xml — SHA-256 của từng tệp / every file with its SHA-256 (ETSI EN 319 162-1);',
                'META-INF/signature001.p7s — chữ ký CAdES của máy chủ an ninh xuất tệp này lên ASiCManifest /',
                "  the exporting security server's CAdES signature over it (the member's signing certificate):",
                '    openssl cms -verify -binary -inform DER -in META-INF/signature001.p7s -content META-INF/ASiCManifest.xml -CAfile <CA> -purpose any',
              ]
            : []),
          '',
        ].join('\n'),
        'text/plain',
      );
      for (const f of found) {
        const m = f.meta;
        const base = `records/${m.seq}-${m.kind}`;
        await add(`${base}/header.json`, m.header, 'application/json');
        await add(`${base}/signature.json`, m.signature, 'application/json');
        for (const [hex, der] of f.material) {
          if (!der) throw new TrucError('log_failure', `record ${m.seq} names material ${hex} that its segment does not hold`);
          await add(`${base}/material/${hex}.der`, der, 'application/octet-stream');
        }
        await add(`${base}/record.bin`, f.frame, 'application/octet-stream');
        const b = m.body;
        const readable = !b.cipher || (o.cipher && o.cipher.id === b.cipher);
        if (b.store === BODY_INLINE) {
          const data = !b.cipher ? b.inline! : readable ? decryptInline(o.cipher!, logId, b.bodyId!, b.inline!) : b.inline!;
          await add(`${base}/${readable ? 'body.bin' : 'body.enc'}`, data, 'application/octet-stream');
        } else if (b.store === BODY_FILE) {
          const name = `${base}/${readable ? 'body.bin' : 'body.enc'}`;
          const src = createReadStream(bodyPath(f.dir, f.segment, m.seq), { highWaterMark: 256 * 1024 });
          await addStream(name, 'application/octet-stream', (b.cipher && readable ? src.pipe(decryptTransform(o.cipher!.decryptor(bodyAad(logId, b.bodyId!)))) : src) as AsyncIterable<Buffer>);
        }
        await add(`${base}/record.json`, recordJson(logId.toString('hex'), m), 'application/json');
        await add(
          `${base}/chain.json`,
          chainJson({
            seq: m.seq,
            previous: f.prev.toString('hex'),
            recordDigest: recordDigest(f.frame[4]!, f.frame.subarray(5, f.frame.length - 32)).toString('hex'),
            chainHash: f.hash.toString('hex'),
            ...(f.next ? { next: { seq: f.next.seq, chainHash: f.next.hash.toString('hex') } } : {}),
          }),
          'application/json',
        );
        const p = proofs.get(m.seq);
        if (p) {
          const t = readTimeStampToken(p.batch.token);
          await add(
            `${base}/merkle.json`,
            merkleJson({ batch: p.batch.batch, firstSeq: p.batch.firstSeq, lastSeq: p.batch.lastSeq, index: p.index, size: p.batch.lastSeq - p.batch.firstSeq + 1, leaf: f.hash.toString('hex'), path: p.path.map((x) => x.toString('hex')), root: p.batch.root.toString('hex'), genTime: t.tstInfo.genTime.toISOString() }),
            'application/json',
          );
          await add(`${base}/timestamp.tst`, p.batch.token, 'application/vnd.etsi.timestamp-token');
        } else await add(`${base}/NOT-YET-TIMESTAMPED.txt`, NOT_STAMPED_NOTE, 'text/plain');
      }
      const manifest = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">',
        ` <manifest:file-entry manifest:full-path="/" manifest:media-type="${ASICE_MIMETYPE}"/>`,
        ...objects.map((d) => ` <manifest:file-entry manifest:full-path="${xmlEscape(d.name)}" manifest:media-type="${d.type}"/>`),
        '</manifest:manifest>',
        '',
      ].join('\n');
      await zip.add('META-INF/manifest.xml', Buffer.from(manifest));
      if (o.seal) {
        const asic = asicManifest(objects);
        const signature = await o.seal(asic);
        await zip.add(ASIC_MANIFEST, asic);
        await zip.add(ASIC_SIGNATURE, signature);
      }
      await zip.finish();
      out.end();
    } catch (e) {
      out.destroy(e as Error);
    }
  })();
  return out;
}

/** An archive of the log at `dir` unpacked (checked as `truc log verify` checks it) into a new temporary folder. */
async function unpackToTemp(dir: string, archive: string, logId: Buffer): Promise<string> {
  const tmp = await mkdtemp(join(tmpdir(), 'truc-evidence-'));
  try {
    await copyFile(join(dir, 'LOG'), join(tmp, 'LOG'));
    await unpackArchive(archive, tmp, logId);
    return tmp;
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }
}

/**
 * Evidence of a message in the live log: `writeEvidence`, and when the live log holds only one of a side's
 * request and response (the other was archived since), the newest archives unpacked to temporary folders
 * for it until it is found, which go once the stream ends.
 */
export async function writeLiveEvidence(o: Parameters<typeof writeEvidence>[0] & { archives?: string }): Promise<Readable> {
  const tmps: string[] = [];
  const cleanup = () => Promise.all(tmps.map((d) => rm(d, { recursive: true, force: true })));
  // the newest archives first, two at most (an exchange takes seconds, an archive a day)
  const more = async function* () {
    const archives = (await listArchives(o.archives ?? join(o.dir, ARCHIVES))).slice(-2).reverse();
    const { logId } = await readIdentity(o.dir);
    for (const a of archives) {
      const tmp = await unpackToTemp(o.dir, a.path, logId);
      tmps.push(tmp);
      yield { dir: tmp };
    }
  };
  try {
    const stream = await writeEvidence({ ...o, more });
    stream.once('close', () => void cleanup());
    return stream;
  } catch (e) {
    await cleanup();
    throw e;
  }
}

/**
 * Evidence of a message whose records were archived (`archive()` moved their segments into an archive file):
 * the archives that may hold it (those covering `seqs`, when the index gave them; else all, newest first) are
 * unpacked one at a time into a temporary folder — frames, manifest and header checked as `truc log verify`
 * does — and the container is written from there, as from the live log; the folder goes once the stream ends.
 * When the archive holds one side's request or response without the other (an exchange across an archive's
 * boundary), the neighbouring archives — two either way at most, nearest first — and the start of the live
 * log are looked in for the rest.
 */
export async function writeArchivedEvidence(o: { dir: string; archives?: string; messageId: string; seqs?: number[]; cipher?: BodyCipher; seal?: EvidenceSeal }): Promise<Readable> {
  const { logId } = await readIdentity(o.dir);
  const all = await listArchives(o.archives ?? join(o.dir, ARCHIVES));
  const candidates: string[] = [];
  for (const a of [...all].reverse()) {
    if (o.seqs?.length) {
      const h = await readArchiveHeader(a.path).catch(() => null);
      if (!h || !o.seqs.some((s) => s >= h.firstSeq && s <= h.lastSeq)) continue;
    }
    candidates.push(a.path);
  }
  const unpack = (path: string) => unpackToTemp(o.dir, path, logId);
  const base = { messageId: o.messageId, ...(o.cipher ? { cipher: o.cipher } : {}), ...(o.seal ? { seal: o.seal } : {}) };
  for (const path of candidates) {
    const tmps = [await unpack(path)];
    const cleanup = () => Promise.all(tmps.map((d) => rm(d, { recursive: true, force: true })));
    const i = all.findIndex((a) => a.path === path);
    // an exchange that runs past the archive's boundary: its other records are in the archive before or
    // after, or at the start of the live log
    const unpacked = new Map<string, string>();
    const neighbour = async (p: string) => {
      let d = unpacked.get(p);
      if (!d) {
        d = await unpack(p);
        tmps.push(d);
        unpacked.set(p, d);
      }
      return d;
    };
    // (nearest first, two archives either way at most: an exchange takes seconds, an archive a day)
    const more = async function* () {
      for (let k = 1; k <= 2; k++) {
        if (all[i - k]) yield { dir: await neighbour(all[i - k]!.path) };
        if (all[i + k]) yield { dir: await neighbour(all[i + k]!.path) };
        else if (i + k === all.length) {
          const live = await listSegments(join(o.dir, SEGMENTS));
          if (live.length) yield { dir: o.dir, segments: live.slice(0, 2) };
        }
      }
    };
    try {
      let stream: Readable;
      try {
        // a batch that runs on past the archive's end is completed from the live log
        stream = await writeEvidence({ dir: tmps[0]!, ...base, chainDirs: [o.dir], more });
      } catch (e) {
        if (!(e instanceof TrucError && e.code === 'log_failure')) throw e;
        // or from the archives on either side
        for (const n of [all[i + 1], all[i - 1]]) if (n) await neighbour(n.path);
        stream = await writeEvidence({ dir: tmps[0]!, ...base, chainDirs: [...tmps.slice(1), o.dir], more });
      }
      stream.once('close', () => void cleanup());
      return stream;
    } catch (e) {
      await cleanup();
      if (!(e instanceof TrucError && e.code === 'not_found')) throw e;
    }
  }
  throw new TrucError('not_found', `no logged message ${o.messageId} in the live log or its archives`);
}
