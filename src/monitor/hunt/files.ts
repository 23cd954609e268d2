/**
 * The files a hunt reads: those named, and below each folder named (recursively, symbolic links not
 * followed) every file whose name says it holds events — `.evtx`, `.xml`, `.json`, `.ndjson`, `.jsonl`.
 * Reading goes through the intake's own reader (readEventFile), except for one shape it does not take:
 * JSON files holding several documents one after the other (what `evtx_dump -o json` writes, and the
 * SigmaHQ regression data), which are split here.
 */
import { lstat, readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { TrucError } from '../../errors.js';
import { formatOf, readEventFile, readEvtxBatches, type FileRecord } from '../intake/file.js';

export const HUNT_FILE = /\.(evtx|xml|json|ndjson|jsonl)$/i;
export const FILE_LIMITS = { files: 100_000, depth: 32, jsonBytes: 512 * 1024 * 1024 } as const;

export interface HuntFile {
  path: string;
  /** when known (files named on the command line) */
  size?: number;
}

export interface PathProblem {
  path: string;
  error: string;
}

async function walk(dir: string, depth: number, out: HuntFile[], problems: PathProblem[]): Promise<void> {
  if (depth > FILE_LIMITS.depth) {
    problems.push({ path: dir, error: `thư mục lồng quá sâu / folder nested deeper than ${FILE_LIMITS.depth}` });
    return;
  }
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (e) {
    problems.push({ path: dir, error: (e as Error).message });
    return;
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    if (out.length >= FILE_LIMITS.files) return;
    const p = join(dir, e.name);
    if (e.isDirectory()) await walk(p, depth + 1, out, problems);
    else if (e.isFile() && HUNT_FILE.test(e.name)) out.push({ path: p });
  }
}

/** Expands the paths given into the files to read, in order; what cannot be read is said, not thrown. */
export async function collectFiles(paths: readonly string[]): Promise<{ files: HuntFile[]; problems: PathProblem[] }> {
  const files: HuntFile[] = [];
  const problems: PathProblem[] = [];
  for (const p of paths) {
    try {
      const st = await lstat(p);
      if (st.isDirectory()) await walk(p, 0, files, problems);
      else if (st.isFile()) files.push({ path: p, size: st.size });
      else if (st.isSymbolicLink()) {
        // named on the command line: the user chose it, so it is followed (unlike links met in folders)
        const t = await stat(p);
        if (t.isDirectory()) await walk(p, 0, files, problems);
        else files.push({ path: p, size: t.size });
      } else problems.push({ path: p, error: 'không phải tệp hay thư mục / not a file or a folder' });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      problems.push({ path: p, error: code === 'ENOENT' ? 'không có tệp này / no such file or folder' : (e as Error).message });
    }
  }
  return { files, problems };
}

/** Splits JSON documents written one after the other (`{…}{…}` or one a line), bounded in depth. */
export function* splitDocuments(text: string): Generator<FileRecord> {
  let depth = 0;
  let start = -1;
  let inString = false;
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (depth++ === 0) start = i;
      if (depth > 64) throw new TrucError('bad_request', 'JSON lồng quá sâu / JSON nested deeper than 64');
    } else if (c === 0x7d || c === 0x5d) {
      if (--depth === 0) {
        n++;
        try {
          yield { line: n, value: JSON.parse(text.slice(start, i + 1)) };
        } catch (e) {
          yield { line: n, error: `not JSON: ${(e as Error).message}` };
        }
      } else if (depth < 0) throw new TrucError('bad_request', `JSON không đúng dạng / not well-formed JSON at character ${i}`);
    } else if (depth === 0 && c > 0x20) throw new TrucError('bad_request', `JSON không đúng dạng / not well-formed JSON at character ${i}`);
  }
  if (depth !== 0) throw new TrucError('bad_request', 'JSON bị cắt cụt / JSON ends inside a document');
}

const EVTX_MAGIC = Buffer.from('ElfFile\0', 'latin1');

/** The events of one file, as `readEventFile` gives them. */
export async function* readHuntFile(path: string): AsyncGenerator<FileRecord> {
  for await (const batch of readHuntBatches(path)) yield* batch;
}

/** Records per batch from readers that give them one at a time. */
const BATCH = 256;

/**
 * Records gathered into batches; those read before a failure come before it. Synchronous sources go at their
 * own pace; the step of async iteration is paid once a batch by whoever reads the batches.
 */
async function* batched(records: AsyncIterable<FileRecord> | Iterable<FileRecord>): AsyncGenerator<FileRecord[]> {
  let out: FileRecord[] = [];
  try {
    for await (const r of records) {
      out.push(r);
      if (out.length >= BATCH) {
        yield out;
        out = [];
      }
    }
  } catch (e) {
    if (out.length) yield out;
    throw e;
  }
  if (out.length) yield out;
}

/**
 * The events of one file, as `readHuntFile` gives them, a batch at a time (an EVTX file: a chunk's records):
 * a hunt pays one step of async iteration a batch rather than three a record.
 */
export async function* readHuntBatches(path: string): AsyncGenerator<FileRecord[]> {
  const format: string = formatOf(path);
  // until the intake's reader knows EVTX, a binary log is said to be unreadable rather than read as lines
  if (format === 'evtx' || /\.evtx$/i.test(path)) {
    if (format !== 'evtx') throw new TrucError('bad_request', 'chưa đọc được EVTX / EVTX is not readable by this version');
    // named by its extension: no need for the reader to open the file once more to look at its signature
    yield* readEvtxBatches(path);
    return;
  }
  if (format !== 'json') {
    yield* batched(readEventFile(path));
    return;
  }
  const st = await stat(path);
  if (st.size > FILE_LIMITS.jsonBytes) throw new TrucError('too_large', `JSON lớn quá / JSON larger than ${FILE_LIMITS.jsonBytes} bytes`);
  const bytes = await readFile(path);
  if (bytes.subarray(0, EVTX_MAGIC.length).equals(EVTX_MAGIC)) {
    yield* readEvtxBatches(path);
    return;
  }
  const text = bytes.toString('utf8');
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    // not one document: several one after the other (evtx_dump), or broken — splitDocuments says which
    yield* batched(splitDocuments(text));
    return;
  }
  const list = Array.isArray(v) ? v : [v];
  yield* batched(list.map((e, i) => ({ line: i + 1, value: e })));
}
