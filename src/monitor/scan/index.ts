/**
 * Malware scanning of files that reach the platform (uploads, attachments): YARA rules always (the EICAR
 * test file and our self-test marker built in, plus the operator's), and the ClamAV daemon when configured.
 * A file is infected when any engine says so. Sizes and times are bounded; an engine that fails makes the
 * scan fail rather than pass the file, and a hit is published as `truc.scan.malware.detected` so the rule
 * pack raises an alert.
 */
import { createHash } from 'node:crypto';
import { TrucError } from '../../errors.js';
import { makeEvent, type Bus } from '../../bus/index.js';
import { BUILTIN_YARA_DIR, type MonitorConfig } from '../config.js';
import { YaraScanner, type YaraMatch } from './yara.js';
import { clamdScan, type ClamdOptions } from './clamd.js';

export { YaraScanner, parseYaraOutput, type YaraMatch } from './yara.js';
export { clamdScan, clamdPing, type ClamdOptions, type ClamdResult } from './clamd.js';

export interface ScanMatch {
  engine: 'yara' | 'clamav';
  /** YARA rule name or ClamAV signature */
  name: string;
  strings?: YaraMatch['strings'];
}

export interface ScanResult {
  verdict: 'clean' | 'infected';
  name: string;
  size: number;
  sha256: string;
  matches: ScanMatch[];
  engines: string[];
  ms: number;
}

export interface ScannerOptions {
  yara?: YaraScanner;
  clamd?: ClamdOptions;
  maxBytes: number;
  timeoutMs: number;
  bus?: Bus;
}

export class Scanner {
  constructor(private readonly o: ScannerOptions) {}

  static async fromConfig(cfg: MonitorConfig['scan'], bus?: Bus): Promise<Scanner> {
    const yara = cfg.yara ? await YaraScanner.create([BUILTIN_YARA_DIR, ...cfg.yaraRules]) : undefined;
    return new Scanner({
      ...(yara ? { yara } : {}),
      ...(cfg.clamd ? { clamd: { ...cfg.clamd, timeoutMs: cfg.timeoutMs } } : {}),
      maxBytes: cfg.maxBytes,
      timeoutMs: cfg.timeoutMs,
      ...(bus ? { bus } : {}),
    });
  }

  get engines(): string[] {
    return [...(this.o.yara ? ['yara'] : []), ...(this.o.clamd ? ['clamav'] : [])];
  }

  async scanBuffer(bytes: Uint8Array, name = 'upload', context: { user?: string; ip?: string } = {}): Promise<ScanResult> {
    if (bytes.length > this.o.maxBytes) throw new TrucError('too_large', `file of ${bytes.length} bytes exceeds the scanning limit of ${this.o.maxBytes}`);
    if (this.engines.length === 0) throw new TrucError('invalid_config', 'no scanning engine is configured');
    const started = performance.now();
    const [y, c] = await Promise.all([
      this.o.yara?.scan(bytes, this.o.timeoutMs),
      // the scanner's time limit binds the daemon too, unless its options set a stricter one
      this.o.clamd ? clamdScan({ ...this.o.clamd, timeoutMs: Math.min(this.o.clamd.timeoutMs ?? Infinity, this.o.timeoutMs) }, bytes) : undefined,
    ]);
    const matches: ScanMatch[] = [
      ...(y ?? []).map((m): ScanMatch => ({ engine: 'yara', name: m.rule, strings: m.strings })),
      ...(c?.infected ? [{ engine: 'clamav' as const, name: c.signature }] : []),
    ];
    const result: ScanResult = {
      verdict: matches.length ? 'infected' : 'clean',
      name: name.slice(0, 255),
      size: bytes.length,
      sha256: createHash('sha256').update(bytes).digest('hex'),
      matches,
      engines: this.engines,
      ms: Math.round(performance.now() - started),
    };
    if (matches.length && this.o.bus) {
      const event = makeEvent('scan', 'malware.detected', 'failure', {
        category: ['malware', 'file'],
        file: { name: result.name, size: result.size, hash: { sha256: result.sha256 } },
        ...(context.user ? { user: { name: context.user } } : {}),
        ...(context.ip ? { source: { ip: context.ip } } : {}),
        truc: { matches: matches.map((m) => `${m.engine}:${m.name}`), engines: result.engines },
        reason: matches.map((m) => m.name).join(', '),
      });
      await this.o.bus.publish('truc.scan.malware.detected', event).catch(() => {});
    }
    return result;
  }
}
