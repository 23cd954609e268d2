/**
 * Secrecy stamps in a document's text: "MẬT", "TỐI MẬT", "TUYỆT MẬT" (any case; also without diacritics
 * when the whole line is written without them), and the field "Độ mật: …". The word "mật" is common in
 * Vietnamese — mật khẩu (password), bảo mật (security), mật mã (cipher), bí mật (secret), mật độ
 * (density), mật ong (honey) — and without diacritics "MAT" is also mặt, mắt, mất, mát. So a stamp counts
 * only where it stands alone: a whole line, or a column of its own in a laid-out page (three or more
 * spaces around it), or the value of the "Độ mật" field.
 */
import { execFile } from 'node:child_process';
import { TrucError } from '../../errors.js';
import { rank, type Level } from './levels.js';

const STAMPS: [string, Level][] = [
  ['TUYỆT MẬT', 'tuyet-mat'],
  ['TỐI MẬT', 'toi-mat'],
  ['MẬT', 'mat'],
];
const ASCII_STAMPS: [string, Level][] = [
  ['TUYET MAT', 'tuyet-mat'],
  ['TOI MAT', 'toi-mat'],
  ['MAT', 'mat'],
];

export interface Marking {
  level: Level;
  /** the text as found */
  text: string;
  line: number;
}

const TRIM = /^[\s"'“”‘’«»()[\]{}<>*_=~|•·.:;,!-]+|[\s"'“”‘’«»()[\]{}<>*_=~|•·.:;,!-]+$/gu;

function stampOf(segment: string): Level | null {
  const s = segment.normalize('NFC').replace(TRIM, '').replace(/\s+/gu, ' ').toUpperCase();
  for (const [t, l] of STAMPS) if (s === t) return l;
  // without diacritics only when the segment has none at all (a typed stamp), never "MẶT" stripped
  if (/^[\x20-\x7e]+$/.test(s)) for (const [t, l] of ASCII_STAMPS) if (s === t) return l;
  return null;
}

const FIELD = /(?:ĐỘ MẬT|DO MAT)\s*[:：]\s*(TUYỆT MẬT|TỐI MẬT|MẬT|TUYET MAT|TOI MAT|MAT)(?![\p{L}\p{N}])/gu;

/** Every stamp found in `text`, in order. Bounded: at most `maxChars` are read. */
export function findMarkings(text: string, maxChars = 5_000_000): Marking[] {
  const out: Marking[] = [];
  const lines = text.slice(0, maxChars).split(/\r\n|\r|\n|\f/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line.length > 10_000) continue;
    for (const seg of line.split(/\s{3,}|\t/)) {
      const l = stampOf(seg);
      if (l) out.push({ level: l, text: seg.trim(), line: i + 1 });
    }
    const upper = line.normalize('NFC').toUpperCase();
    for (const m of upper.matchAll(FIELD)) {
      const v = m[1].normalize('NFD').replace(/\p{M}/gu, '');
      const l: Level = v.startsWith('TUYET') ? 'tuyet-mat' : v.startsWith('TOI') ? 'toi-mat' : 'mat';
      out.push({ level: l, text: m[0], line: i + 1 });
    }
  }
  return out;
}

/** The highest level the stamps in `text` claim, or null when there is none. */
export function highestMarking(text: string): Level | null {
  let best: Level | null = null;
  for (const m of findMarkings(text)) if (!best || rank(m.level) > rank(best)) best = m.level;
  return best;
}

/**
 * The text layer of a PDF, by `pdftotext -layout` (poppler), with a time limit and an output bound: a
 * hostile PDF can make the tool slow, never make us hang. `source` is a file, or the bytes themselves
 * (given on standard input: a document kept encrypted at rest is never written out in clear to be read).
 */
export function pdfText(source: string | Uint8Array, opts: { timeoutMs?: number; maxBytes?: number; maxPages?: number } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      'pdftotext',
      ['-layout', '-enc', 'UTF-8', '-l', String(opts.maxPages ?? 500), typeof source === 'string' ? source : '-', '-'],
      { timeout: opts.timeoutMs ?? 20_000, maxBuffer: opts.maxBytes ?? 20 * 1024 * 1024, encoding: 'utf8', killSignal: 'SIGKILL' },
      (err, stdout) => {
        if (err) {
          const e = err as NodeJS.ErrnoException & { killed?: boolean };
          if (e.killed || e.code === 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER')
            return reject(new TrucError('too_large', 'the PDF text took too long or is too large to check for markings'));
          if (e.code === 'ENOENT') return reject(new TrucError('unsupported', 'pdftotext (poppler-utils) is not installed'));
          return reject(new TrucError('malformed_pdf', 'the PDF text could not be read to check for markings'));
        }
        resolve(stdout);
      },
    );
    if (typeof source !== 'string') {
      // the tool may stop reading early (a broken PDF): its verdict comes through the exit, not EPIPE
      child.stdin?.on('error', () => {});
      child.stdin?.end(source);
    }
  });
}
