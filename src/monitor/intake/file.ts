/**
 * Reading event files: NDJSON (one JSON event a line; Windows-layout objects allowed), a JSON array, an
 * EVTX XML export, or a Windows event log file (`.evtx`, recognised by its signature whatever its name).
 * Yields events one at a time so a large file never sits in memory as objects.
 */
import { createReadStream } from 'node:fs';
import { open, readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { TrucError } from '../../errors.js';
import { WindowsXmlParser } from './windows.js';
import { isEvtx, readEvtxFileChunks, type EvtxSkip } from './evtx/index.js';

export type FileFormat = 'ndjson' | 'json' | 'xml' | 'evtx';

export function formatOf(path: string): FileFormat {
  if (/\.evtx$/i.test(path)) return 'evtx';
  if (/\.xml$/i.test(path)) return 'xml';
  if (/\.json$/i.test(path)) return 'json';
  return 'ndjson';
}

export interface FileRecord {
  line: number;
  value?: unknown;
  error?: string;
}

/**
 * The records of an EVTX file as `readEventFile` gives them, a chunk's worth at a time (one step of async
 * iteration a chunk rather than one a record). A chunk that cannot be read further ends its batch with what
 * came before, then the error.
 */
export async function* readEvtxBatches(path: string): AsyncGenerator<FileRecord[]> {
  const skipped: EvtxSkip[] = [];
  let last = 0;
  let out: FileRecord[] = [];
  const flush = () => {
    for (let i = 0; i < skipped.length; i++) out.push({ line: skipped[i]!.recordId ?? last, error: skipText(skipped[i]!) });
    skipped.length = 0;
  };
  try {
    for await (const chunk of readEvtxFileChunks(path, { onSkip: (s) => skipped.push(s) })) {
      for (const r of chunk) {
        flush();
        last = r.recordId;
        out.push({ line: r.recordId, value: r.event });
      }
      if (out.length) {
        yield out;
        out = [];
      }
    }
    flush();
  } catch (e) {
    // what was read before a failure is given before it
    if (out.length) yield out;
    throw e;
  }
  if (out.length) yield out;
}

/** True when the file starts with the EVTX signature. */
async function startsAsEvtx(path: string): Promise<boolean> {
  const fh = await open(path, 'r');
  try {
    const head = Buffer.alloc(8);
    const { bytesRead } = await fh.read(head, 0, 8, 0);
    return isEvtx(head.subarray(0, bytesRead));
  } catch {
    return false; // a folder or an unreadable file: the reader below says what is wrong
  } finally {
    await fh.close();
  }
}

/** Where a skipped part of an EVTX file was, for people. */
function skipText(s: EvtxSkip): string {
  const at = `offset 0x${s.offset.toString(16)}`;
  return `skipped: ${s.reason} [${s.chunk !== undefined ? `khối/chunk ${s.chunk}, ` : ''}${at}]`;
}

/**
 * The events of a file, one at a time. `format` defaults to the file name's; a file with the EVTX signature
 * is read as EVTX whatever its name. For EVTX, `line` is the record's number (EventRecordID from the record
 * header) and each part that could not be read comes as `{ line, error: 'skipped: …' }`, `line` being the
 * record's number when known, else that of the last record read.
 */
export async function* readEventFile(path: string, format?: FileFormat): AsyncGenerator<FileRecord> {
  if (!format) format = (await startsAsEvtx(path)) ? 'evtx' : formatOf(path);
  if (format === 'evtx') {
    for await (const batch of readEvtxBatches(path)) yield* batch;
    return;
  }
  if (format === 'xml') {
    // streamed: only the event being read is held as elements, and every bound is checked as it goes
    const parser = new WindowsXmlParser();
    let i = 0;
    for await (const chunk of createReadStream(path, { encoding: 'utf8', highWaterMark: 64 * 1024 }))
      for (const e of parser.write(chunk as string)) yield { line: ++i, value: e };
    for (const e of parser.close()) yield { line: ++i, value: e };
    return;
  }
  if (format === 'json') {
    const v = JSON.parse(await readFile(path, 'utf8')) as unknown;
    const list = Array.isArray(v) ? v : [v];
    let i = 0;
    for (const e of list) yield { line: ++i, value: e };
    return;
  }
  const rl = createInterface({ input: createReadStream(path, 'utf8'), crlfDelay: Infinity });
  let n = 0;
  for await (const line of rl) {
    n++;
    if (!line.trim()) continue;
    if (line.length > 1 << 20) {
      yield { line: n, error: 'line longer than 1 MiB' };
      continue;
    }
    try {
      yield { line: n, value: JSON.parse(line) };
    } catch (e) {
      yield { line: n, error: `not JSON: ${(e as Error).message}` };
    }
  }
  if (n === 0) throw new TrucError('bad_request', `${path} is empty`);
}
