/**
 * A progress bar on stderr for long work: redrawn in place on a terminal (at most ten times a second),
 * one line per finished step when stderr is a pipe or a file, so logs stay readable.
 */
export interface ProgressBar {
  update(done: number, note?: string): void;
  /** a line that stays (a finished step); the bar is redrawn below it */
  log(line: string): void;
  done(): void;
}

export function progressBar(total: number, o: { width?: number; stream?: NodeJS.WriteStream; enabled?: boolean } = {}): ProgressBar {
  const stream = o.stream ?? process.stderr;
  const tty = !!stream.isTTY && o.enabled !== false;
  const width = o.width ?? 30;
  let last = 0;
  let shown = '';
  const render = (done: number, note = '') => {
    const frac = total > 0 ? Math.min(1, done / total) : 1;
    const full = Math.round(frac * width);
    return `[${'#'.repeat(full)}${'.'.repeat(width - full)}] ${done}/${total}${note ? ` ${note}` : ''}`;
  };
  const clear = () => {
    if (shown) stream.write(`\r${' '.repeat(shown.length)}\r`);
    shown = '';
  };
  return {
    update(done, note) {
      if (!tty) return;
      const now = Date.now();
      if (now - last < 100 && done < total) return;
      last = now;
      const s = render(done, note);
      stream.write(`\r${s}${shown.length > s.length ? ' '.repeat(shown.length - s.length) : ''}`);
      shown = s;
    },
    log(line) {
      if (o.enabled === false) return;
      const keep = shown;
      clear();
      stream.write(`${line}\n`);
      if (tty && keep) {
        stream.write(keep);
        shown = keep;
      }
    },
    done() {
      clear();
    },
  };
}
