/**
 * A client of the ClamAV daemon (clamd) over its UNIX or TCP socket, with the INSTREAM command: the bytes
 * go in chunks each preceded by its length (4 bytes, network order), a zero length ends them, and clamd
 * answers `stream: OK`, `stream: <signature> FOUND` or an error. Null-terminated commands (`z` prefix)
 * so that replies are unambiguous.
 */
import net from 'node:net';
import { TrucError } from '../../errors.js';

export interface ClamdOptions {
  socket?: string;
  host?: string;
  port?: number;
  timeoutMs?: number;
  chunkBytes?: number;
}

export type ClamdResult = { infected: false } | { infected: true; signature: string };

function connect(o: ClamdOptions): net.Socket {
  if (o.socket) return net.connect({ path: o.socket });
  return net.connect({ host: o.host ?? '127.0.0.1', port: o.port ?? 3310 });
}

function exchange(o: ClamdOptions, write: (s: net.Socket) => void): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(o);
    let reply = '';
    const t = setTimeout(() => {
      s.destroy();
      reject(new TrucError('internal', 'clamd did not answer in time'));
    }, o.timeoutMs ?? 30_000);
    s.setEncoding('utf8');
    s.on('connect', () => write(s));
    s.on('data', (d: string) => {
      reply += d;
      if (reply.length > 4096) s.destroy();
      if (reply.includes('\0')) s.end();
    });
    s.on('error', (e) => {
      clearTimeout(t);
      reject(new TrucError('internal', `clamd: ${e.message}`));
    });
    s.on('close', () => {
      clearTimeout(t);
      resolve(reply.replace(/\0[\s\S]*$/, '').trim());
    });
  });
}

export async function clamdPing(o: ClamdOptions): Promise<boolean> {
  return (await exchange(o, (s) => s.write('zPING\0'))) === 'PONG';
}

export async function clamdScan(o: ClamdOptions, bytes: Uint8Array): Promise<ClamdResult> {
  const chunk = o.chunkBytes ?? 64 * 1024;
  const reply = await exchange(o, (s) => {
    s.write('zINSTREAM\0');
    for (let i = 0; i < bytes.length; i += chunk) {
      const part = bytes.subarray(i, Math.min(i + chunk, bytes.length));
      const len = Buffer.alloc(4);
      len.writeUInt32BE(part.length);
      s.write(len);
      s.write(part);
    }
    s.write(Buffer.alloc(4));
  });
  const m = /^stream: (.*?)( FOUND| OK|\s*ERROR)?$/.exec(reply);
  if (reply === 'stream: OK') return { infected: false };
  if (m && m[2] === ' FOUND') return { infected: true, signature: m[1]! };
  throw new TrucError('internal', `clamd: ${reply.slice(0, 200) || 'no answer'}`);
}
