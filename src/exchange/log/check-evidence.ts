/**
 * Checks one message's evidence container (`truc log evidence`, or the security server's sealed export)
 * offline, as X-Road's asicverifier checks its message-log containers: for each record, that its frame is
 * what the header, signature and body files say, that its chain hash follows from the previous one, that the
 * hash-tree path leads to the root an approved TSA's token stamps, that the body (or its stored ciphertext)
 * has the hash the record holds, that record.json, chain.json and merkle.json say what the frame and the token
 * say (rebuilt and compared byte for byte), and that the sender's signature over the message verifies with a
 * signing certificate that chains to a trusted CA at the message's time; then, when the container is sealed,
 * the CAdES signature over `META-INF/ASiCManifest.xml` and every file's digest in it. A file an export does
 * not write is a problem, sealed or not.
 *
 * The container is read from its file through the ZIP central directory, entry by entry (a large body is
 * hashed as a stream, never held whole), each entry's local header and CRC-32 checked against the directory so
 * that the ZIP reads one way only. Stored and deflated entries are read; anything else is reported.
 */
import { createHash, X509Certificate } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { crc32, createInflateRaw, inflateRawSync } from 'node:zlib';
import { Readable } from 'node:stream';
import { readTimeStampToken } from '../../sign/timestamp/token.js';
import { parseCertificate, revocationTimeOf, validatePath } from '../../pki/path/index.js';
import { messageDigest, parseSignature } from '../server/message.js';
import { rootFromPath, verifyRoot } from '../server/batch-sign.js';
import { ASIC_MANIFEST, ASIC_SIGNATURE, ASICE_MIMETYPE, NOT_STAMPED_NOTE, chainJson, merkleJson, recordJson, type ChainJson, type MerkleJson } from './evidence.js';
import { BODY_FILE, BODY_INLINE, FRAME_HEAD, HASH_LEN, T_RECORD, chainHash, decodeRecord, genesisHash, recordDigest } from './format.js';
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
  /**
   * the next record in the log that chain.json names: 'checked' when the container holds it (it follows this
   * one in the chain), 'not checked' when it does not (only the exporting server says so); absent when none is named
   */
  next?: 'checked' | 'not checked';
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
  flags: number;
  crc: number;
  csize: number;
  size: number;
  offset: number;
  /** where its data starts, after the local header (read and compared with the directory when opened) */
  start: number;
}

/** the container is not a ZIP one reading can take in one way only: a problem of the evidence, not a failure to check */
class Damaged extends Error {}

const MAX_ENTRIES = 10_000;
const MAX_DIRECTORY = 16 * 1024 * 1024;
const MAX_SMALL = 64 * 1024 * 1024;

/**
 * The ZIP's entries from its central directory (ZIP64 is not read: the writer never makes it), each checked
 * against its local header. Two readers of the file must see the same entries with the same bytes — one
 * walking the central directory (as here), one the local headers (a streaming unzip) — or a container could
 * show an auditor other files than the check saw: so a name appears once, the local header names the same
 * file with the same method, sizes and CRC-32 as the directory, and the entries follow one another from the
 * start of the file to the directory with nothing between them.
 */
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
  if (eocd < 0) throw new Damaged('not a ZIP file (no end of central directory)');
  if (eocd + 22 + tail.readUInt16LE(eocd + 20) !== tailLen) throw new Damaged('bytes after the end of central directory');
  if (tail.readUInt16LE(eocd + 4) !== 0 || tail.readUInt16LE(eocd + 6) !== 0 || tail.readUInt16LE(eocd + 8) !== tail.readUInt16LE(eocd + 10)) throw new Damaged('a ZIP split over several disks is not read');
  const count = tail.readUInt16LE(eocd + 10);
  const cdSize = tail.readUInt32LE(eocd + 12);
  const cdOffset = tail.readUInt32LE(eocd + 16);
  if (count > MAX_ENTRIES) throw new Damaged(`more than ${MAX_ENTRIES} entries`);
  // an evidence container's directory is small (names of its records' files): a larger one is not read into memory
  if (cdSize > MAX_DIRECTORY) throw new Damaged(`the central directory is over ${MAX_DIRECTORY} bytes`);
  if (cdOffset + cdSize !== fileSize - tailLen + eocd) throw new Damaged('the central directory does not end where the end record begins');
  const cd = Buffer.alloc(cdSize);
  await fh.read(cd, 0, cdSize, cdOffset);
  const out: Entry[] = [];
  const names = new Set<string>();
  let p = 0;
  for (let i = 0; i < count; i++) {
    if (p + 46 > cd.length || cd.readUInt32LE(p) !== 0x02014b50) throw new Damaged('a central directory entry is malformed');
    const flags = cd.readUInt16LE(p + 8);
    const method = cd.readUInt16LE(p + 10);
    const crc = cd.readUInt32LE(p + 16);
    const csize = cd.readUInt32LE(p + 20);
    const size = cd.readUInt32LE(p + 24);
    const nameLen = cd.readUInt16LE(p + 28);
    const extraLen = cd.readUInt16LE(p + 30);
    const commentLen = cd.readUInt16LE(p + 32);
    const offset = cd.readUInt32LE(p + 42);
    if (p + 46 + nameLen + extraLen + commentLen > cd.length) throw new Damaged('a central directory entry is malformed');
    const name = cd.subarray(p + 46, p + 46 + nameLen).toString('utf8');
    // a name given twice: one reader takes the first, another the last (the probe's altered copy before the genuine one)
    if (names.has(name)) throw new Damaged(`entry ${name} appears twice`);
    names.add(name);
    if (flags & 0x0001) throw new Damaged(`entry ${name} is encrypted`);
    if (method === 0 && csize !== size) throw new Damaged(`entry ${name} is stored, yet its sizes differ`);
    if (offset + 30 > fileSize) throw new Damaged(`entry ${name} lies outside the file`);
    out.push({ name, method, flags, crc, csize, size, offset, start: 0 });
    p += 46 + nameLen + extraLen + commentLen;
  }
  if (p !== cd.length) throw new Damaged('bytes in the central directory after its entries');
  // each local header against its directory entry; the extent each entry takes, data descriptor included
  const ends = new Map<Entry, number>();
  for (const e of out) {
    const nameBytes = Buffer.from(e.name, 'utf8');
    const h = Buffer.alloc(30 + nameBytes.length);
    const { bytesRead } = await fh.read(h, 0, h.length, e.offset);
    if (bytesRead !== h.length || h.readUInt32LE(0) !== 0x04034b50) throw new Damaged(`entry ${e.name}: no local header`);
    if (h.readUInt16LE(26) !== nameBytes.length || !h.subarray(30).equals(nameBytes)) throw new Damaged(`entry ${e.name}: its local header names another file (${h.subarray(30).toString('utf8')})`);
    const lflags = h.readUInt16LE(6);
    if (h.readUInt16LE(8) !== e.method || (lflags & 0x0009) !== (e.flags & 0x0009)) throw new Damaged(`entry ${e.name}: its local header and the central directory disagree on method or flags`);
    e.start = e.offset + 30 + nameBytes.length + h.readUInt16LE(28);
    let end = e.start + e.csize;
    if (lflags & 0x0008) {
      // sizes and CRC-32 in a data descriptor after the data (signature optional)
      const dd = Buffer.alloc(16);
      const { bytesRead: n } = await fh.read(dd, 0, 16, end);
      const at = n >= 4 && dd.readUInt32LE(0) === 0x08074b50 ? 4 : 0;
      if (n < at + 12 || dd.readUInt32LE(at) !== e.crc || dd.readUInt32LE(at + 4) !== e.csize || dd.readUInt32LE(at + 8) !== e.size) throw new Damaged(`entry ${e.name}: its data descriptor and the central directory disagree`);
      end += at + 12;
    } else if (h.readUInt32LE(14) !== e.crc || h.readUInt32LE(18) !== e.csize || h.readUInt32LE(22) !== e.size) throw new Damaged(`entry ${e.name}: its local header and the central directory disagree on CRC-32 or sizes`);
    ends.set(e, end);
  }
  // entries do not overlap and leave no gap (a hidden local header a streaming reader would take for a file),
  // from the file's start to the directory: a container cannot make one body count many times
  const sorted = [...out].sort((a, b) => a.offset - b.offset);
  let at = 0;
  for (const e of sorted) {
    if (e.offset !== at) throw new Damaged(e.offset < at ? `entry ${e.name} overlaps the one before` : `bytes before entry ${e.name} that no entry holds`);
    at = ends.get(e)!;
  }
  if (at !== cdOffset) throw new Damaged(at > cdOffset ? 'the last entry runs into the central directory' : 'bytes before the central directory that no entry holds');
  return out;
}

class Container {
  /** entries whose data was read whole, and checked against their CRC-32 and size */
  readonly read_ = new Set<string>();
  /** entries whose data is not what the directory says (CRC-32 or size) */
  readonly corrupt: string[] = [];

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

  private checked(e: Entry, crc: number, length: number): void {
    if (this.read_.has(e.name)) return;
    this.read_.add(e.name);
    if (crc >>> 0 !== e.crc || length !== e.size) this.corrupt.push(e.name);
  }

  /** a small entry, whole */
  async read(name: string): Promise<Buffer | undefined> {
    const e = this.entries.get(name);
    if (!e) return undefined;
    if (e.size > MAX_SMALL || e.csize > MAX_SMALL) throw new Damaged(`${name} is over ${MAX_SMALL} bytes`);
    const raw = Buffer.alloc(e.csize);
    await this.fh.read(raw, 0, e.csize, e.start);
    let data: Buffer;
    if (e.method === 0) data = raw;
    else if (e.method === 8) {
      try {
        data = inflateRawSync(raw, { maxOutputLength: MAX_SMALL });
      } catch (x) {
        throw new Damaged(`${name} does not inflate: ${(x as Error).message}`);
      }
    } else throw new Damaged(`${name}: compression method ${e.method} is not read`);
    this.checked(e, crc32(data), data.length);
    return data;
  }

  /** SHA-256 and length of an entry, read as a stream */
  async hash(name: string): Promise<{ hash: Buffer; length: number }> {
    const e = this.entries.get(name)!;
    if (e.method !== 0 && e.method !== 8) throw new Damaged(`${name}: compression method ${e.method} is not read`);
    const start = e.start;
    const h = createHash('sha256');
    let length = 0;
    let crc = 0;
    const raw = e.csize ? createReadStream(this.path, { start, end: start + e.csize - 1, highWaterMark: 256 * 1024 }) : Readable.from([]);
    const src = e.method === 8 ? raw.pipe(createInflateRaw()) : raw;
    try {
      for await (const c of src as AsyncIterable<Buffer>) {
        h.update(c);
        crc = crc32(c, crc);
        length += c.length;
      }
    } catch (x) {
      throw new Damaged(`${name} cannot be read: ${(x as Error).message}`);
    }
    this.checked(e, crc, length);
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

const HEX32 = /^[0-9a-f]{64}$/;
const isCount = (x: unknown): x is number => Number.isSafeInteger(x) && (x as number) >= 0;

/** the names an export writes (`writeEvidence`): anything else in a container is something nobody sealed or logged */
const TOP_FILES = new Set(['mimetype', 'README.txt', 'META-INF/manifest.xml', ASIC_MANIFEST, ASIC_SIGNATURE]);
const RECORD_FILE = /^records\/\d+-(?:request|response)\/(?:header\.json|signature\.json|record\.bin|record\.json|chain\.json|merkle\.json|timestamp\.tst|NOT-YET-TIMESTAMPED\.txt|body\.bin|body\.enc|material\/[0-9a-f]{64}\.der)$/;
/** folder entries, which some ZIP tools add when they rewrite a container: empty, and only for folders an export has */
const FOLDER = /^(?:META-INF\/|records\/(?:\d+-(?:request|response)\/(?:material\/)?)?)$/;

/**
 * Checks the container at `path`. `trust`: CA certificates (and TSA certificates pinned as such) that the
 * signing certificates, the TSA's certificate and the seal must chain to; `intermediates` beside them.
 * A file that cannot be opened is an error (nothing was checked); a container that cannot be read to the
 * end — not a ZIP read one way only, an entry that does not inflate — is a problem of the evidence.
 */
export async function checkEvidence(path: string, o: { trust: Uint8Array[]; intermediates?: Uint8Array[] }): Promise<EvidenceReport> {
  const report: EvidenceReport = { messageId: null, records: [], seal: null, problems: [], incomplete: [] };
  // each text is Vietnamese first, English beside it (`vi / en`), after the record's folder when it is one's
  const problem = (vi: string, en: string, where?: string) => report.problems.push(`${where ? `${where}: ` : ''}${vi} / ${en}`);
  const notChecked = (vi: string, en: string, where?: string) => report.incomplete.push(`${where ? `${where}: ` : ''}${vi} / ${en}`);
  const damaged = (e: unknown, where?: string) => problem(`gói bị hỏng: ${(e as Error).message}`, `the container is damaged: ${(e as Error).message}`, where);
  let z: Container;
  try {
    z = await Container.open(path);
  } catch (e) {
    if (!(e instanceof Damaged)) throw e;
    damaged(e);
    return report;
  }
  try {
    await checkContainer(z, o, report, problem, notChecked, damaged);
  } catch (e) {
    // an error while reading the container is a damaged container, never "intact but not fully checked"
    damaged(e);
  } finally {
    await z.close();
  }
  return report;
}

type Say = (vi: string, en: string, where?: string) => void;

async function checkContainer(z: Container, o: { trust: Uint8Array[]; intermediates?: Uint8Array[] }, report: EvidenceReport, problem: Say, notChecked: Say, damaged: (e: unknown, where?: string) => void): Promise<void> {
  if (z.order[0] !== 'mimetype' || z.entries.get('mimetype')!.method !== 0 || (await z.read('mimetype'))?.toString() !== ASICE_MIMETYPE) problem(`mục đầu tiên không phải "mimetype" (không nén) chứa ${ASICE_MIMETYPE}`, `the first entry is not "mimetype" (stored) holding ${ASICE_MIMETYPE}`);
  for (const n of z.order) {
    if (TOP_FILES.has(n) || RECORD_FILE.test(n)) continue;
    if (FOLDER.test(n) && z.entries.get(n)!.size === 0) continue;
    problem(`${n}: không phải tệp mà bản xuất bằng chứng ghi`, `${n} is not a file an evidence export writes`);
  }
  const folders = [...new Set(z.order.filter((n) => RECORD_FILE.test(n)).map((n) => n.split('/').slice(0, 2).join('/')))];
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
  /** what each record's chain.json and merkle.json say, once checked against the record: compared across records below */
  const chained: { folder: string; seq: number; previous: string; chainHash: string; next?: { seq: number; chainHash: string }; r: EvidenceRecordReport }[] = [];
  const batches: { folder: string; batch: number; firstSeq: number; lastSeq: number; root: string; genTime: string; token: Buffer }[] = [];
  let logOf: { log: string; folder: string } | null = null;
  for (const folder of folders)
    try {
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
      if (report.records.some((x) => x.seq === meta.seq)) problem(`hai bản ghi mang cùng số thứ tự ${meta.seq}`, `two records carry seq ${meta.seq}`, folder);
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
      // record.json: rebuilt from the frame (the log id, which the frame does not hold, taken from the file) and
      // compared byte for byte, so that no field (client, time, message id…) can say other than the record
      const rj = await z.read(at('record.json'));
      let logHex: string | undefined;
      if (!rj) problem('thiếu record.json', 'no record.json', folder);
      else {
        let j: { log?: unknown } | null = null;
        try {
          j = JSON.parse(rj.toString('utf8')) as { log?: unknown } | null;
        } catch {
          // reported below: it cannot be what the writer wrote
        }
        logHex = typeof j?.log === 'string' && /^[0-9a-f]{32}$/.test(j.log) ? j.log : undefined;
        if (!logHex || !rj.equals(Buffer.from(recordJson(logHex, meta), 'utf8'))) problem('record.json không phải điều bản ghi ghi lại', 'record.json is not what the record holds', folder);
        else if (!logOf) logOf = { log: logHex, folder };
        else if (logOf.log !== logHex) problem(`record.json nêu nhật ký ${logHex}, ${logOf.folder} nêu ${logOf.log}`, `record.json names log ${logHex}, ${logOf.folder} names ${logOf.log}`, folder);
      }
      // the chain: chain_n = SHA-256(chain_{n-1} · SHA-256(type · payload)), the frame's stored hash; chain.json
      // rebuilt from the frame and compared byte for byte (its `next` is compared with the next record below)
      const cj = await z.read(at('chain.json'));
      let chain: Partial<ChainJson> = {};
      if (!cj) problem('thiếu chain.json', 'no chain.json', folder);
      else
        try {
          chain = (JSON.parse(cj.toString('utf8')) as Partial<ChainJson> | null) ?? {};
        } catch {
          problem('chain.json không phải JSON', 'chain.json is not JSON', folder);
        }
      const prev = typeof chain.previous === 'string' && HEX32.test(chain.previous) ? Buffer.from(chain.previous, 'hex') : null;
      if (!cj) {
        // said above
      } else if (!prev) problem('chain.json không nêu giá trị băm chuỗi trước đó', 'chain.json names no previous chain hash', folder);
      else if (!chainHash(prev, T_RECORD, payload).equals(stored)) problem('giá trị băm chuỗi của bản ghi không suy ra từ giá trị trước (bản ghi đã bị sửa)', "the record's chain hash does not follow from the previous one (the record was altered)", folder);
      else {
        const next = chain.next as { seq?: unknown; chainHash?: unknown } | undefined;
        const nextOk = next === undefined || (typeof next === 'object' && next !== null && next.seq === meta.seq + 1 && typeof next.chainHash === 'string' && HEX32.test(next.chainHash));
        if (!nextOk) problem(`chain.json nêu bản ghi kế tiếp không phải bản ghi số ${meta.seq + 1}`, `chain.json's next is not record ${meta.seq + 1}`, folder);
        else {
          const want: ChainJson = { seq: meta.seq, previous: chain.previous!, recordDigest: recordDigest(T_RECORD, payload).toString('hex'), chainHash: stored.toString('hex'), ...(next ? { next: next as ChainJson['next'] } : {}) };
          if (!cj.equals(Buffer.from(chainJson(want), 'utf8'))) problem('chain.json không phải của bản ghi (số thứ tự, giá trị băm bản ghi hoặc giá trị băm chuỗi khác)', "chain.json is not the record's (its seq, record digest or chain hash differs)", folder);
          else chained.push({ folder, seq: meta.seq, previous: want.previous, chainHash: want.chainHash, ...(want.next ? { next: want.next } : {}), r });
        }
        // the first record's previous hash is the log's genesis, bound to the log id record.json names
        if (meta.seq === 1 && logHex && !prev.equals(genesisHash(Buffer.from(logHex, 'hex'), 'records'))) problem('bản ghi đầu tiên không nối từ điểm khởi đầu của nhật ký mà record.json nêu', "the first record does not chain from the genesis of the log record.json names", folder);
      }
      // the hash-tree path to the stamped root, and the TSA's token over it; or the writer's note that the
      // record was not stamped yet — one or the other, whole
      const merkleFile = await z.read(at('merkle.json'));
      const token = await z.read(at('timestamp.tst'));
      const unstamped = await z.read(at('NOT-YET-TIMESTAMPED.txt'));
      if (unstamped && (merkleFile || token)) problem('gói vừa có dấu thời gian vừa ghi bản ghi chưa được gắn dấu thời gian', 'the container holds both a time-stamp and the note that the record is not time-stamped', folder);
      if (!merkleFile || !token) {
        if (merkleFile || token || !unstamped) problem('thiếu merkle.json hoặc timestamp.tst', 'merkle.json or timestamp.tst is missing', folder);
        else if (!unstamped.equals(Buffer.from(NOT_STAMPED_NOTE, 'utf8'))) problem('NOT-YET-TIMESTAMPED.txt không phải ghi chú mà bản xuất ghi', 'NOT-YET-TIMESTAMPED.txt is not the note an export writes', folder);
        else notChecked('chưa được gắn dấu thời gian khi xuất', 'not time-stamped yet when exported', folder);
      } else {
        try {
          const m = JSON.parse(merkleFile.toString('utf8')) as Partial<MerkleJson>;
          if (
            ![m.batch, m.firstSeq, m.lastSeq, m.index, m.size].every(isCount) ||
            typeof m.root !== 'string' ||
            !HEX32.test(m.root) ||
            typeof m.leaf !== 'string' ||
            typeof m.genTime !== 'string' ||
            !Array.isArray(m.path) ||
            !m.path.every((x) => typeof x === 'string' && HEX32.test(x))
          )
            problem('merkle.json sai dạng', 'merkle.json is malformed', folder);
          else {
            const root = Buffer.from(m.root, 'hex');
            if (m.leaf !== stored.toString('hex')) problem('lá trong merkle.json không phải giá trị băm chuỗi của bản ghi', "merkle.json's leaf is not the record's chain hash", folder);
            // the record's place: the batch's range holds its seq, the index is its offset in it, the size the range's
            if (m.batch! < 1 || m.firstSeq! > meta.seq || m.lastSeq! < meta.seq || m.index !== meta.seq - m.firstSeq! || m.size !== m.lastSeq! - m.firstSeq! + 1)
              problem('vị trí trong merkle.json (lô, chỉ số, kích thước) không khớp với số thứ tự của bản ghi', "merkle.json's place (batch range, index, size) does not agree with the record's seq", folder);
            const computed = rootFromAuditPath(stored, m.index!, m.size!, m.path.map((x) => Buffer.from(x, 'hex')));
            if (!computed || !computed.equals(root)) problem('đường dẫn cây băm không dẫn tới gốc đã gắn dấu thời gian', 'the hash-tree path does not lead to the stamped root', folder);
            const why = await checkToken({ root, token } as Parameters<typeof checkToken>[0], root, o.trust, intermediates);
            if (why) problem('dấu thời gian không hợp lệ', why, folder);
            else {
              const genTime = readTimeStampToken(token).tstInfo.genTime.toISOString();
              r.stampedAt = genTime;
              if (m.genTime !== genTime) problem(`genTime trong merkle.json (${m.genTime}) không phải thời điểm của dấu thời gian (${genTime})`, `merkle.json's genTime (${m.genTime}) is not the token's (${genTime})`, folder);
              else if (!merkleFile.equals(Buffer.from(merkleJson(m as MerkleJson), 'utf8'))) problem('merkle.json không phải tệp mà bản xuất ghi (thêm hoặc đổi trường)', 'merkle.json is not as an export writes it (a field added or changed)', folder);
              else batches.push({ folder, batch: m.batch!, firstSeq: m.firstSeq!, lastSeq: m.lastSeq!, root: m.root, genTime, token });
            }
          }
        } catch (e) {
          problem(`không đọc được merkle.json hoặc timestamp.tst: ${(e as Error).message}`, `merkle.json or timestamp.tst cannot be read: ${(e as Error).message}`, folder);
        }
      }
      // the body: the message's own bytes against its hash, or the stored ciphertext against the stored hash
      if (z.entries.has(at('body.bin')) && z.entries.has(at('body.enc'))) problem('gói chứa cả body.bin và body.enc', 'the container holds both body.bin and body.enc', folder);
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
      // the certificates and OCSP responses the record names, each under its SHA-256; no other
      const named = new Set((meta.material ?? []).map((h) => h.toString('hex')));
      for (const n of z.order.filter((x) => x.startsWith(at('material/')) && RECORD_FILE.test(x))) {
        const hex = n.slice(at('material/').length, -'.der'.length);
        if (!named.has(hex)) problem(`${n}: bản ghi không nêu tài liệu này`, `${n}: the record names no such material`, folder);
        else if (createHash('sha256').update((await z.read(n))!).digest('hex') !== hex) problem(`${n}: nội dung không có giá trị băm mà tên nêu`, `${n}: its content does not have the hash its name gives`, folder);
      }
      for (const hex of named) if (!z.entries.has(at(`material/${hex}.der`))) problem(`thiếu material/${hex}.der mà bản ghi nêu`, `material/${hex}.der, which the record names, is missing`, folder);
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
    } catch (e) {
      damaged(e, folder);
    }
  // across records: the record after one in the log, when the container holds it, follows it in the chain and is
  // the one its chain.json names as next; else `next` is only what the exporting server said
  for (const x of chained) {
    const after = chained.find((y) => y.seq === x.seq + 1);
    if (after && after.previous !== x.chainHash) problem(`bản ghi ${after.seq} trong gói không nối tiếp bản ghi này trong chuỗi`, `record ${after.seq} in the container does not follow this one in the chain`, x.folder);
    if (!x.next) continue;
    if (!after) x.r.next = 'not checked';
    else if (after.chainHash !== x.next.chainHash) problem('chain.json nêu giá trị băm chuỗi của bản ghi kế tiếp khác với bản ghi đó trong gói', "chain.json's next chain hash is not that of the next record in the container", x.folder);
    else x.r.next = 'checked';
  }
  // one batch, one root, one token: two records' merkle.json may not disagree on what their batch is
  for (const [k, a] of batches.entries())
    for (const b of batches.slice(k + 1))
      if ((a.batch === b.batch || a.root === b.root) && (a.batch !== b.batch || a.root !== b.root || a.firstSeq !== b.firstSeq || a.lastSeq !== b.lastSeq || !a.token.equals(b.token)))
        problem(`merkle.json của ${a.folder} và ${b.folder} không thống nhất về lô ${a.batch} (gốc, phạm vi hoặc dấu thời gian)`, `the merkle.json of ${a.folder} and of ${b.folder} disagree on batch ${a.batch} (root, range or token)`, b.folder);
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
// every entry's data against the CRC-32 and size the ZIP directory gives: those the checks above did not read
// (README.txt, META-INF/manifest.xml) too, so that no byte of the container passes unread
for (const n of z.order) if (!z.read_.has(n)) await z.hash(n);
for (const n of z.corrupt) problem(`${n}: dữ liệu không khớp CRC-32 hoặc độ dài mà thư mục ZIP ghi`, `${n}: its data does not match the CRC-32 or size the ZIP directory gives`);
}
