/**
 * Reading event files: NDJSON (one JSON event a line; Windows-layout objects allowed), a JSON array, or an
 * EVTX XML export. Yields events one at a time so a large file never sits in memory as objects.
 */
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { TrucError } from '../../errors.js';
import { WindowsXmlParser } from './windows.js';

export type FileFormat = 'ndjson' | 'json' | 'xml';

export function formatOf(path: string): FileFormat {
  if (/\.xml$/i.test(path)) return 'xml';
  if (/\.json$/i.test(path)) return 'json';
  return 'ndjson';
}

export interface FileRecord {
  line: number;
  value?: unknown;
  error?: string;
}

export async function* readEventFile(path: string, format: FileFormat = formatOf(path)): AsyncGenerator<FileRecord> {
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
