/**
 * Checks one message's evidence container (`truc log evidence`, or the security server's sealed export)
 * offline, as X-Road's asicverifier checks its message-log containers: for each record, that its frame is
 * what the header, signature and body files say, that its chain hash follows from the previous one, that the
 * hash-tree path leads to the root an approved TSA's token stamps, that the body (or its stored ciphertext)
 * has the hash the record holds, and that the sender's signature over the message verifies with a signing
 * certificate that chains to a trusted CA at the message's time; then, when the container is sealed, the
 * CAdES signature over `META-INF/ASiCManifest.xml` and every file's digest in it.
 *
 * The container is read from its file through the ZIP central directory, entry by entry (a large body is
 * hashed as a stream, never held whole). Stored and deflated entries are read; anything else is reported.
 */
import { createHash, X509Certificate } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { createInflateRaw, inflateRawSync } from 'node:zlib';
import { Readable } from 'node:stream';
import { readTimeStampToken } from '../../sign/timestamp/token.js';
import { parseCertificate, revocationTimeOf, validatePath } from '../../pki/path/index.js';
import { messageDigest, parseSignature } from '../server/message.js';
import { rootFromPath, verifyRoot } from '../server/batch-sign.js';
import { ASIC_MANIFEST, ASIC_SIGNATURE, ASICE_MIMETYPE } from './evidence.js';
import { BODY_FILE, BODY_INLINE, FRAME_HEAD, HASH_LEN, T_RECORD, chainHash, decodeRecord } from './format.js';
import { rootFromAuditPath } from './merkle.js';
import { checkToken } from './verify.js';

export interface EvidenceRecordReport {
  folder: string;
  seq: number;
  kind: string;
  side: string;
  /** the message time the record holds */
  time: string;
  /** the time the TSA's token gives, when the record is stamped */
  stampedAt?: string;
  /** the signing certificate's subject */
  signer?: string;
  /** its status at the message's time, from the OCSP response the sender sent with it */
  signerStatus?: string;
  body: 'checked' | 'ciphertext checked' | 'not kept';
}

export interface EvidenceReport {
  messageId: string | null;
  records: EvidenceRecordReport[];
  /** the exporting server's seal, when the container has one */
  seal: { signer: string; signingTime: string | null; files: number } | null;
  /** what is wrong: the container does not prove what it claims */
  problems: string[];
  /** what could not be checked (no trust anchor for it, a record not yet stamped, …) */
  incomplete: string[];
}

interface Entry {
  name: string;
  method: number;
  csize: number;
  size: number;
  offset: number;
}

const MAX_ENTRIES = 10_000;
const MAX_DIRECTORY = 16 * 1024 * 1024;
const MAX_SMALL = 64 * 1024 * 1024;

/** The ZIP's entries from its central directory (ZIP64 is not read: the writer never makes it). */
async function readDirectory(fh: FileHandle, fileSize: number): Promise<Entry[]> {
  const tailLen = Math.min(fileSize, 65_557);
  const tail = Buffer.alloc(tailLen);
  await fh.read(tail, 0, tailLen, fileSize - tailLen);
  let eocd = -1;
  for (let i = tailLen - 22; i >= 0; i--)
    if (tail.readUInt32LE(i) === 0x06054b50) {
      eocd = i;
      break;
    }
  if (eocd < 0) throw new Error('not a ZIP file (no end of central directory)');
  const count = tail.readUInt16LE(eocd + 10);
  const cdSize = tail.readUInt32LE(eocd + 12);
  const cdOffset = tail.readUInt32LE(eocd + 16);
  if (count > MAX_ENTRIES) throw new Error(`more than ${MAX_ENTRIES} entries`);
  // an evidence container's directory is small (names of its records' files): a larger one is not read into memory
  if (cdSize > MAX_DIRECTORY) throw new Error(`the central directory is over ${MAX_DIRECTORY} bytes`);
  if (cdOffset + cdSize > fileSize) throw new Error('the central directory lies outside the file');
  const cd = Buffer.alloc(cdSize);
  await fh.read(cd, 0, cdSize, cdOffset);
  const out: Entry[] = [];
  let p = 0;
  for (let i = 0; i < count; i++) {
    if (p + 46 > cd.length || cd.readUInt32LE(p) !== 0x02014b50) throw new Error('a central directory entry is malformed');
    const method = cd.readUInt16LE(p + 10);
    const csize = cd.readUInt32LE(p + 20);
    const size = cd.readUInt32LE(p + 24);
    const nameLen = cd.readUInt16LE(p + 28);
    const extraLen = cd.readUInt16LE(p + 30);
    const commentLen = cd.readUInt16LE(p + 32);
    const offset = cd.readUInt32LE(p + 42);
    const name = cd.subarray(p + 46, p + 46 + nameLen).toString('utf8');
    if (offset + 30 > fileSize) throw new Error(`entry ${name} lies outside the file`);
    out.push({ name, method, csize, size, offset });
    p += 46 + nameLen + extraLen + commentLen;
  }
  // entries do not overlap and lie before the directory: a container cannot make one body count many times
  const sorted = [...out].sort((a, b) => a.offset - b.offset);
  for (let i = 0; i < sorted.length; i++) {
    const end = sorted[i]!.offset + 30 + sorted[i]!.csize;
    if (end > (i + 1 < sorted.length ? sorted[i + 1]!.offset : cdOffset)) throw new Error(`entry ${sorted[i]!.name} overlaps the next one`);
  }
  return out;
}

class Container {
  private constructor(
    private readonly fh: FileHandle,
    private readonly path: string,
    readonly entries: Map<string, Entry>,
    readonly order: string[],
  ) {}

  static async open(path: string): Promise<Container> {
    const fh = await open(path, 'r');
    try {
      const { size } = await fh.stat();
      const list = await readDirectory(fh, size);
      return new Container(fh, path, new Map(list.map((e) => [e.name, e])), list.map((e) => e.name));
    } catch (e) {
      await fh.close();
      throw e;
    }
  }

  private async dataStart(e: Entry): Promise<number> {
    const h = Buffer.alloc(30);
    await this.fh.read(h, 0, 30, e.offset);
    if (h.readUInt32LE(0) !== 0x04034b50) throw new Error(`entry ${e.name}: no local header`);
    return e.offset + 30 + h.readUInt16LE(26) + h.readUInt16LE(28);
  }

  /** a small entry, whole */
  async read(name: string): Promise<Buffer | undefined> {
    const e = this.entries.get(name);
    if (!e) return undefined;
    if (e.size > MAX_SMALL || e.csize > MAX_SMALL) throw new Error(`${name} is over ${MAX_SMALL} bytes`);
    const raw = Buffer.alloc(e.csize);
    await this.fh.read(raw, 0, e.csize, await this.dataStart(e));
    if (e.method === 0) return raw;
    if (e.method === 8) return inflateRawSync(raw, { maxOutputLength: MAX_SMALL });
    throw new Error(`${name}: compression method ${e.method} is not read`);
  }

  /** SHA-256 and length of an entry, read as a stream */
  async hash(name: string): Promise<{ hash: Buffer; length: number }> {
    const e = this.entries.get(name)!;
    if (e.method !== 0 && e.method !== 8) throw new Error(`${name}: compression method ${e.method} is not read`);
    const start = await this.dataStart(e);
    const h = createHash('sha256');
    let length = 0;
    const raw = e.csize ? createReadStream(this.path, { start, end: start + e.csize - 1, highWaterMark: 256 * 1024 }) : Readable.from([]);
    const src = e.method === 8 ? raw.pipe(createInflateRaw()) : raw;
    for await (const c of src as AsyncIterable<Buffer>) {
      h.update(c);
      length += c.length;
    }
    return { hash: h.digest(), length };
  }

  close(): Promise<void> {
    return this.fh.close();
  }
}

const subjectOf = (der: Buffer): string => {
  try {
    return new X509Certificate(der).subject.replace(/\n/g, ', ');
  } catch {
    return '(unreadable certificate)';
  }
};

/**
 * Checks the container at `path`. `trust`: CA certificates (and TSA certificates pinned as such) that the
 * signing certificates, the TSA's certificate and the seal must chain to; `intermediates` beside them.
 */
export async function checkEvidence(path: string, o: { trust: Uint8Array[]; intermediates?: Uint8Array[] }): Promise<EvidenceReport> {
  const report: EvidenceReport = { messageId: null, records: [], seal: null, problems: [], incomplete: [] };
  // each text is Vietnamese first, English beside it (`vi / en`), after the record's folder when it is one's
  const problem = (vi: string, en: string, where?: string) => report.problems.push(`${where ? `${where}: ` : ''}${vi} / ${en}`);
  const notChecked = (vi: string, en: string, where?: string) => report.incomplete.push(`${where ? `${where}: ` : ''}${vi} / ${en}`);
  const z = await Container.open(path);
  try {
    if (z.order[0] !== 'mimetype' || (await z.read('mimetype'))?.toString() !== ASICE_MIMETYPE) problem(`mục đầu tiên không phải "mimetype" chứa ${ASICE_MIMETYPE}`, `the first entry is not "mimetype" holding ${ASICE_MIMETYPE}`);
    const folders = [...new Set(z.order.filter((n) => /^records\/\d+-(request|response)\//.test(n)).map((n) => n.split('/').slice(0, 2).join('/')))];
    if (!folders.length) problem('gói không chứa bản ghi nào', 'the container holds no records');
    // CA certificates the container carries (the seal's signature holds the exporting member's chain) help
    // build paths; they are never trusted as anchors
    const intermediates: Uint8Array[] = [...(o.intermediates ?? [])];
    const seal = await z.read(ASIC_SIGNATURE);
    if (seal)
      try {
        const { inspectCms } = await import('../../sign/cades/verify.js');
        intermediates.push(...inspectCms(seal).certificates);
      } catch {
        // an unreadable seal is reported below
      }
    for (const folder of folders) {
      const at = (f: string) => `${folder}/${f}`;
      const frame = await z.read(at('record.bin'));
      if (!frame) {
        problem('thiếu record.bin', 'no record.bin', folder);
        continue;
      }
      if (frame.length < FRAME_HEAD + HASH_LEN || frame.readUInt32BE(0) !== frame.length - FRAME_HEAD - HASH_LEN || frame[4] !== T_RECORD) {
        problem('record.bin không phải khung bản ghi', 'record.bin is not a record frame', folder);
        continue;
      }
      const payload = frame.subarray(FRAME_HEAD, frame.length - HASH_LEN);
      const stored = frame.subarray(frame.length - HASH_LEN);
      let meta;
      try {
        meta = decodeRecord(payload);
      } catch (e) {
        problem(`bản ghi không giải mã được: ${(e as Error).message}`, `the record does not decode: ${(e as Error).message}`, folder);
        continue;
      }
      const r: EvidenceRecordReport = { folder, seq: meta.seq, kind: meta.kind, side: meta.side, time: meta.time.toISOString(), body: 'not kept' };
      report.records.push(r);
      if (report.messageId === null) report.messageId = meta.messageId;
      else if (report.messageId !== meta.messageId) problem(`bản ghi thuộc thông điệp ${meta.messageId}, không phải ${report.messageId}`, `the record is of message ${meta.messageId}, not ${report.messageId}`, folder);
      if (folder !== `records/${meta.seq}-${meta.kind}`) problem(`bản ghi bên trong là ${meta.seq}-${meta.kind}`, `the record inside is ${meta.seq}-${meta.kind}`, folder);
      // the files beside the frame say what it holds
      for (const [file, bytes] of [
        ['header.json', meta.header],
        ['signature.json', meta.signature],
      ] as const) {
        const f = await z.read(at(file));
        if (!f || !f.equals(bytes)) problem(`${file} không khớp với bản ghi`, `${file} is not the record's ${file.replace('.json', '')}`, folder);
      }
      // the chain: chain_n = SHA-256(chain_{n-1} · SHA-256(type · payload)), the frame's stored hash
      let chain: { previous?: string; chainHash?: string } = {};
      try {
        chain = JSON.parse((await z.read(at('chain.json')))?.toString('utf8') ?? '{}');
      } catch {
        problem('chain.json không phải JSON', 'chain.json is not JSON', folder);
      }
      const prev = typeof chain.previous === 'string' && /^[0-9a-f]{64}$/.test(chain.previous) ? Buffer.from(chain.previous, 'hex') : null;
      if (!prev) problem('chain.json không nêu giá trị băm chuỗi trước đó', 'chain.json names no previous chain hash', folder);
      else if (!chainHash(prev, T_RECORD, payload).equals(stored)) problem('giá trị băm chuỗi của bản ghi không suy ra từ giá trị trước (bản ghi đã bị sửa)', "the record's chain hash does not follow from the previous one (the record was altered)", folder);
      else if (chain.chainHash !== stored.toString('hex')) problem('giá trị băm chuỗi trong chain.json không phải của bản ghi', "chain.json's chain hash is not the record's", folder);
      // the hash-tree path to the stamped root, and the TSA's token over it
      const merkleFile = await z.read(at('merkle.json'));
      const token = await z.read(at('timestamp.tst'));
      if (!merkleFile || !token) notChecked('chưa được gắn dấu thời gian khi xuất', 'not time-stamped yet when exported', folder);
      else {
        try {
          const m = JSON.parse(merkleFile.toString('utf8')) as { leaf: string; index: number; size: number; path: string[]; root: string };
          const root = Buffer.from(m.root, 'hex');
          if (m.leaf !== stored.toString('hex')) problem('lá trong merkle.json không phải giá trị băm chuỗi của bản ghi', "merkle.json's leaf is not the record's chain hash", folder);
          const computed = rootFromAuditPath(stored, m.index, m.size, m.path.map((x) => Buffer.from(x, 'hex')));
          if (!computed || !computed.equals(root)) problem('đường dẫn cây băm không dẫn tới gốc đã gắn dấu thời gian', 'the hash-tree path does not lead to the stamped root', folder);
          const why = await checkToken({ root, token } as Parameters<typeof checkToken>[0], root, o.trust, intermediates);
          if (why) problem('dấu thời gian không hợp lệ', why, folder);
          else r.stampedAt = readTimeStampToken(token).tstInfo.genTime.toISOString();
        } catch (e) {
          problem(`không đọc được merkle.json hoặc timestamp.tst: ${(e as Error).message}`, `merkle.json or timestamp.tst cannot be read: ${(e as Error).message}`, folder);
        }
      }
      // the body: the message's own bytes against its hash, or the stored ciphertext against the stored hash
      if (z.entries.has(at('body.bin'))) {
        const b = await z.hash(at('body.bin'));
        if (!b.hash.equals(meta.bodyHash) || b.length !== meta.bodyLength) problem('body.bin không phải nội dung bản ghi lưu (khác giá trị băm hoặc độ dài)', 'body.bin is not the body the record holds (hash or length differs)', folder);
        else r.body = 'checked';
      } else if (z.entries.has(at('body.enc'))) {
        const b = await z.hash(at('body.enc'));
        const want = meta.body.store === BODY_FILE ? meta.body.storedHash : meta.body.store === BODY_INLINE && meta.body.inline ? createHash('sha256').update(meta.body.inline).digest() : undefined;
        if (!want || !b.hash.equals(want)) problem('body.enc không phải nội dung đã lưu của bản ghi', 'body.enc is not the stored body of the record', folder);
        else r.body = 'ciphertext checked';
      } else if (meta.body.store !== 0) problem('bản ghi có lưu nội dung nhưng gói không chứa nội dung đó', 'the record kept a body that the container does not hold', folder);
      // the sender's signature over the message, with its signing certificate
      try {
        const h = JSON.parse(meta.header.toString('utf8')) as { signCertHash?: string; signCert?: string; signOcspHash?: string; signOcsp?: string };
        const cert = h.signCertHash ? await z.read(at(`material/${h.signCertHash}.der`)) : h.signCert ? Buffer.from(h.signCert, 'base64') : undefined;
        if (!cert) problem('gói không chứa chứng thư ký mà phần đầu nêu', 'the signing certificate the header names is not in the container', folder);
        else {
          if (h.signCertHash && createHash('sha256').update(cert).digest('hex') !== h.signCertHash) problem('chứng thư ký không phải chứng thư mà phần đầu nêu', 'the signing certificate is not the one the header names', folder);
          r.signer = subjectOf(cert);
          const sig = parseSignature(meta.signature);
          const root = rootFromPath(messageDigest(meta.header, meta.bodyHash, meta.bodyLength), sig.index, sig.count, sig.path);
          if (!root || !verifyRoot(new X509Certificate(cert).publicKey, sig.scheme, root, Buffer.from(sig.value, 'base64')))
            problem('chữ ký của bên gửi không khớp với chứng thư ký của nó', "the sender's signature does not verify with its signing certificate", folder);
          // its status at the message's time, as the sender proved it: the OCSP response the header names
          const ocsp = h.signOcspHash ? await z.read(at(`material/${h.signOcspHash}.der`)) : h.signOcsp ? Buffer.from(h.signOcsp, 'base64') : undefined;
          const path = await validatePath({
            target: cert,
            intermediates,
            trustAnchors: o.trust,
            time: meta.time,
            purpose: { keyUsage: ['digitalSignature'] },
            revocation: ocsp?.length ? { mode: 'hard-fail', ocspResponses: [ocsp], targetOnly: true } : { mode: 'off' },
          });
          if (!path.valid && path.reason === 'revoked') {
            // revoked (the response is the one the sender sent, so the revocation came before the record's
            // time-stamp): a message the sender dates after it is its own admission; one it dates before is a
            // claim nothing in the evidence proves (EN 319 102-1's REVOKED_NO_POE), not a broken record
            const rev = revocationTimeOf(parseCertificate(cert), { ocspResponses: ocsp?.length ? [ocsp] : [] });
            if (!rev || meta.time >= rev)
              problem(`chứng thư ký đã bị thu hồi vào thời điểm của thông điệp: ${path.message}`, `the signing certificate was revoked at the message's time: ${path.message}`, folder);
            else
              notChecked(
                `chứng thư ký bị thu hồi lúc ${rev.toISOString()}; thông điệp ghi thời điểm trước đó nhưng dấu thời gian của bản ghi muộn hơn: không chứng minh được chữ ký có trước khi thu hồi`,
                `the signing certificate was revoked at ${rev.toISOString()}; the message says it was made before, but the record's time-stamp is later: nothing proves it was signed before the revocation`,
                folder,
              );
          } else if (!path.valid) notChecked(
              `chứng thư ký không dẫn tới CA tin cậy với phản hồi OCSP tốt vào ${meta.time.toISOString()} (${path.reason})`,
              `the signing certificate does not chain to a trusted CA with a good OCSP response at ${meta.time.toISOString()} (${path.reason}): ${path.message}`,
              folder,
            );
          else if (!ocsp?.length) notChecked(
              'gói không có phản hồi OCSP của chứng thư ký: chưa chứng minh được trạng thái vào thời điểm của thông điệp',
              "no OCSP response of the signing certificate in the container: its status at the message's time is not shown",
              folder,
            );
          else r.signerStatus = 'good (OCSP)';
        }
      } catch (e) {
        problem(`không kiểm tra được chữ ký: ${(e as Error).message}`, `the signature cannot be checked: ${(e as Error).message}`, folder);
      }
    }
    // the exporting server's seal: CAdES over the ASiCManifest, and every file's digest in it
    const manifest = await z.read(ASIC_MANIFEST);
    if (manifest || seal) {
      if (!manifest || !seal) problem(`gói niêm phong phải chứa cả ${ASIC_MANIFEST} và ${ASIC_SIGNATURE}`, `a sealed container holds both ${ASIC_MANIFEST} and ${ASIC_SIGNATURE}`);
      else {
        const { validateCades } = await import('../../sign/validate/cades.js');
        const v = await validateCades(seal, { content: manifest, trustAnchors: o.trust, intermediates, revocation: { mode: 'off' } });
        const s = v.signatures[0];
        if (!s) problem('niêm phong không chứa chữ ký', 'the seal holds no signature');
        else {
          if (s.indication === 'TOTAL-FAILED') problem('niêm phong không hợp lệ', `the seal does not verify: ${s.message ?? s.subIndication ?? ''}`);
          else if (s.indication !== 'TOTAL-PASSED') notChecked(`niêm phong chưa kiểm tra hết: ${s.indication}`, `the seal: ${s.indication}${s.subIndication ? ` / ${s.subIndication}` : ''}: ${s.message ?? ''}`);
          const refs = [...manifest.toString('utf8').matchAll(/<asic:DataObjectReference URI="([^"]+)"[^>]*>\s*<ds:DigestMethod Algorithm="http:\/\/www\.w3\.org\/2001\/04\/xmlenc#sha256"\/>\s*<ds:DigestValue>([^<]+)<\/ds:DigestValue>/g)];
          const listed = new Set<string>();
          for (const [, uri, value] of refs) {
            let name: string;
            try {
              name = decodeURI(uri!.replace(/&amp;/g, '&').replace(/&quot;/g, '"').replace(/&lt;/g, '<'));
            } catch {
              problem(`niêm phong nêu URI sai dạng: ${uri}`, `the seal lists a malformed URI: ${uri}`);
              continue;
            }
            listed.add(name);
            if (!z.entries.has(name)) problem(`niêm phong nêu ${name} nhưng gói không chứa tệp này`, `the seal lists ${name}, which the container does not hold`);
            else if (!(await z.hash(name)).hash.equals(Buffer.from(value!, 'base64'))) problem(`${name} không phải tệp được niêm phong (khác giá trị băm)`, `${name} is not the file the seal covers (its digest differs)`);
          }
          for (const n of z.order) if (n !== 'mimetype' && !n.startsWith('META-INF/') && !n.endsWith('/') && !listed.has(n)) problem(`${n} không nằm trong niêm phong`, `${n} is not covered by the seal`);
          report.seal = { signer: s.signer?.subject ?? '(unknown)', signingTime: s.claimedSigningTime ?? null, files: listed.size };
        }
      }
    }
  } finally {
    await z.close();
  }
  return report;
}
