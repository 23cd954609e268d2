import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import net from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { InProcessBus, type SecurityEvent } from '../../src/bus/index.js';
import { BUILTIN_YARA_DIR, Scanner, YaraScanner, clamdPing, clamdScan, parseYaraOutput } from '../../src/monitor/index.js';
import { tmp } from '../helpers/openssl.js';
import { eicar, MARKER } from './helpers.js';

describe('YARA scanning', () => {
  let yara: YaraScanner;
  beforeAll(async () => {
    yara = await YaraScanner.create([BUILTIN_YARA_DIR]);
  });

  it('compiles the rules once with yarac', () => {
    expect(yara.compiled).toBe(true);
    expect(yara.rules.map((r) => r.split('/').pop()).sort()).toEqual(['eicar.yar', 'truc-test.yar']);
  });

  it('finds the EICAR test file and the self-test marker; passes clean files', async () => {
    const bus = new InProcessBus();
    const seen: SecurityEvent[] = [];
    bus.subscribe('truc.scan.>', (_s, e) => void seen.push(e));
    const s = new Scanner({ yara, maxBytes: 1 << 20, timeoutMs: 10_000, bus });
    const a = await s.scanBuffer(eicar(), 'eicar.com', { user: 'tester', ip: '127.0.0.1' });
    expect(a.verdict).toBe('infected');
    expect(a.matches).toMatchObject([{ engine: 'yara', name: 'EICAR_Test_File', strings: [{ offset: 0, id: '$eicar' }] }]);
    expect((await s.scanBuffer(MARKER, 'm.bin')).matches.map((m) => m.name)).toEqual(['Truc_Test_Marker']);
    // EICAR not at the start of the file is not the test file
    expect((await s.scanBuffer(Buffer.concat([Buffer.from('xx'), eicar()]), 'x')).verdict).toBe('clean');
    expect((await s.scanBuffer(Buffer.from('Quyết định số 12/QĐ-BNV'), 'qd.txt')).verdict).toBe('clean');
    expect(seen.map((e) => e.event.action)).toEqual(['malware.detected', 'malware.detected']);
    expect(seen[0]).toMatchObject({ file: { name: 'eicar.com', size: 68 }, user: { name: 'tester' }, truc: { matches: ['yara:EICAR_Test_File'] } });
    await expect(s.scanBuffer(Buffer.alloc(2 << 20), 'big')).rejects.toThrow(/exceeds/);
  });

  it('takes the operator\'s rules; a rule that does not compile stops the start', async () => {
    const dir = tmp('yara-');
    writeFileSync(join(dir, 'ok.yar'), 'rule Local_Rule { strings: $a = "bí mật nội bộ" condition: $a }');
    const y = await YaraScanner.create([BUILTIN_YARA_DIR, dir]);
    expect((await y.scan(Buffer.from('… bí mật nội bộ …'), 5000)).map((m) => m.rule)).toEqual(['Local_Rule']);
    writeFileSync(join(dir, 'bad.yar'), 'rule Broken { condition: $nope }');
    await expect(YaraScanner.create([dir])).rejects.toThrow(/do not compile/);
  });

  it('a scan that outruns the time limit fails instead of passing the file', async () => {
    const dir = tmp('yara-slow-');
    // a loop YARA cannot finish on 200 kB within a second; -a (YARA's timeout) stops it
    writeFileSync(join(dir, 'slow.yar'), 'rule Slow_Loop { condition: for all i in (0..filesize-1) : ( for any j in (0..filesize-1) : ( uint8(j) == 0x42 ) ) }');
    const s = new Scanner({ yara: await YaraScanner.create([dir]), maxBytes: 1 << 20, timeoutMs: 1000 });
    const t0 = Date.now();
    await expect(s.scanBuffer(Buffer.alloc(200_000), 'zeros.bin')).rejects.toThrow(/YARA scan failed: .*timed out/);
    expect(Date.now() - t0).toBeLessThan(3000 + 1000);
    // the same rule on a small file finishes in time: the limit, not the rule, failed the scan
    expect((await s.scanBuffer(Buffer.alloc(100), 'small.bin')).verdict).toBe('clean');
  });

  it('parses yara -s output', () => {
    expect(parseYaraOutput('R1 /tmp/f\n0x0:$a: abc\n0x10:$b: def\nR2 /tmp/f\n')).toEqual([
      { rule: 'R1', strings: [{ offset: 0, id: '$a' }, { offset: 16, id: '$b' }] },
      { rule: 'R2', strings: [] },
    ]);
  });
});

/** A small clamd: PING and INSTREAM, flags data containing "EICAR-STANDARD". */
function fakeClamd(): Promise<{ server: net.Server; port: number; received: number[] }> {
  const received: number[] = [];
  const server = net.createServer((sock) => {
    let buf = Buffer.alloc(0);
    let mode: 'cmd' | 'stream' = 'cmd';
    let data = Buffer.alloc(0);
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        if (mode === 'cmd') {
          const z = buf.indexOf(0);
          if (z < 0) return;
          const cmd = buf.subarray(0, z).toString();
          buf = buf.subarray(z + 1);
          if (cmd === 'zPING') return void sock.end('PONG\0');
          if (cmd === 'zINSTREAM') mode = 'stream';
          else return void sock.end('UNKNOWN COMMAND\0');
        } else {
          if (buf.length < 4) return;
          const len = buf.readUInt32BE(0);
          if (len === 0) {
            received.push(data.length);
            const found = data.includes(Buffer.from('EICAR-STANDARD'));
            return void sock.end(found ? 'stream: Eicar-Test-Signature FOUND\0' : 'stream: OK\0');
          }
          if (buf.length < 4 + len) return;
          data = Buffer.concat([data, buf.subarray(4, 4 + len)]);
          buf = buf.subarray(4 + len);
        }
      }
    });
  });
  return new Promise((r) => server.listen(0, '127.0.0.1', () => r({ server, port: (server.address() as net.AddressInfo).port, received })));
}

describe('ClamAV daemon client (INSTREAM)', () => {
  let clamd: Awaited<ReturnType<typeof fakeClamd>>;
  beforeAll(async () => {
    clamd = await fakeClamd();
  });
  afterAll(() => clamd.server.close());

  it('pings, streams in chunks and reads the verdict', async () => {
    const o = { host: '127.0.0.1', port: clamd.port, chunkBytes: 7 };
    expect(await clamdPing(o)).toBe(true);
    expect(await clamdScan(o, eicar())).toEqual({ infected: true, signature: 'Eicar-Test-Signature' });
    expect(await clamdScan(o, Buffer.alloc(100_000, 1))).toEqual({ infected: false });
    expect(clamd.received).toEqual([68, 100_000]);
  });

  it('a scanner with clamd alone, and with both engines', async () => {
    const s = new Scanner({ clamd: { host: '127.0.0.1', port: clamd.port }, maxBytes: 1 << 20, timeoutMs: 5000 });
    expect(await s.scanBuffer(eicar(), 'e')).toMatchObject({ verdict: 'infected', engines: ['clamav'], matches: [{ engine: 'clamav', name: 'Eicar-Test-Signature' }] });
    const both = new Scanner({ yara: await YaraScanner.create([BUILTIN_YARA_DIR]), clamd: { host: '127.0.0.1', port: clamd.port }, maxBytes: 1 << 20, timeoutMs: 5000 });
    expect((await both.scanBuffer(eicar(), 'e')).matches.map((m) => m.engine).sort()).toEqual(['clamav', 'yara']);
  });

  it('a daemon that does not answer within the scanner\'s time limit fails the scan', async () => {
    const silent = net.createServer((sock) => sock.on('data', () => {}));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
    try {
      const port = (silent.address() as net.AddressInfo).port;
      const s = new Scanner({ clamd: { host: '127.0.0.1', port }, maxBytes: 1 << 20, timeoutMs: 500 });
      const t0 = Date.now();
      await expect(s.scanBuffer(eicar(), 'e')).rejects.toThrow(/clamd did not answer in time/);
      expect(Date.now() - t0).toBeLessThan(2500);
    } finally {
      silent.close();
    }
  });

  it('an unreachable daemon fails the scan instead of passing the file', async () => {
    const s = new Scanner({ clamd: { host: '127.0.0.1', port: 1, timeoutMs: 2000 }, maxBytes: 1 << 20, timeoutMs: 2000 });
    await expect(s.scanBuffer(Buffer.from('x'), 'x')).rejects.toThrow(/clamd/);
  });
});
