import { describe, expect, it } from 'vitest';
import { PassThrough, type Readable } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { FRAME_ERROR, FramedReader, lengthFrame, type Inbound } from '../../../src/exchange/server/channel.js';
import { FRAME_ABORT, FRAME_BODY, FRAME_HEADER, FRAME_MATERIAL, FRAME_SIGNATURE, frame, readFrames, splitWhole } from '../../../src/exchange/server/message.js';

// the reader sees a byte stream: a PassThrough delivers each write as one 'data' chunk, so the tests choose
// exactly where the connection's chunks are cut
function pipe() {
  const s = new PassThrough();
  const reader = new FramedReader(s as unknown as TLSSocket, 4096);
  return { s, reader };
}

function message(body: Buffer[], last = FRAME_SIGNATURE): Buffer {
  return Buffer.concat([frame(FRAME_MATERIAL, Buffer.from('mm')), frame(FRAME_HEADER, Buffer.from('{"h":1}')), ...body.map((b) => frame(FRAME_BODY, b)), frame(last, Buffer.from('sig'))]);
}

async function collect(r: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of r) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

async function read(m: Inbound): Promise<Buffer> {
  if (m.kind === 'whole') return m.bytes;
  if (m.kind === 'error') return m.problem;
  return collect(m.stream);
}

describe('framed channel reader', () => {
  it('hands a whole message (L frame) as one buffer, cut anywhere into chunks, and the next message after it', async () => {
    const msg = message([Buffer.from('hello'), Buffer.from('world')]);
    const wire = Buffer.concat([lengthFrame(msg.length), msg, lengthFrame(msg.length), msg]);
    for (let cut = 1; cut < wire.length; cut += 3) {
      const { s, reader } = pipe();
      s.write(wire.subarray(0, cut));
      s.write(wire.subarray(cut));
      const a = await reader.next();
      const b = await reader.next();
      expect(a?.kind).toBe('whole');
      expect(b?.kind).toBe('whole');
      expect(await read(a!)).toEqual(msg);
      expect(await read(b!)).toEqual(msg);
      const w = splitWhole(await read(a!));
      expect(w.body.toString()).toBe('helloworld');
      s.end();
      expect(await reader.next()).toBeNull();
    }
  });

  it('streams a message without a length up to its signature or abort frame, byte for byte, in pieces of any size', async () => {
    const one = message([Buffer.alloc(3000, 1), Buffer.alloc(0), Buffer.from('x')]);
    const two = message([Buffer.from('second')], FRAME_ABORT);
    const wire = Buffer.concat([one, two]);
    for (const step of [1, 2, 5, 7, 4096, wire.length]) {
      const { s, reader } = pipe();
      for (let o = 0; o < wire.length; o += step) s.write(wire.subarray(o, o + step));
      const a = await reader.next();
      expect(a?.kind).toBe('stream');
      expect(await read(a!)).toEqual(one);
      const b = await reader.next();
      expect(b?.kind).toBe('stream');
      const bytes = await read(b!);
      expect(bytes).toEqual(two);
      // what the stream gave is a valid frame sequence for the message reader, ending in the abort
      const types: number[] = [];
      const again = new PassThrough();
      again.end(bytes);
      for await (const f of readFrames(again)) types.push(f.type);
      expect(types.at(-1)).toBe(FRAME_ABORT);
    }
  });

  it('takes a refusal (E frame) as a message of its own', async () => {
    const { s, reader } = pipe();
    const problem = Buffer.from(JSON.stringify({ code: 'access_denied', status: 403 }));
    const wire = frame(FRAME_ERROR, problem);
    s.write(wire.subarray(0, 3));
    s.write(wire.subarray(3));
    const m = await reader.next();
    expect(m?.kind).toBe('error');
    expect(JSON.parse((await read(m!)).toString()).code).toBe('access_denied');
  });

  it('fails a message cut off by the connection closing, and refuses an oversized whole message', async () => {
    {
      const { s, reader } = pipe();
      const msg = message([Buffer.alloc(100, 2)]);
      s.write(msg.subarray(0, msg.length - 4));
      const m = await reader.next();
      expect(m?.kind).toBe('stream');
      const done = collect((m as { stream: Readable }).stream);
      s.destroy();
      await expect(done).rejects.toMatchObject({ code: 'peer_failed' });
    }
    {
      const { s, reader } = pipe();
      const msg = message([Buffer.alloc(100, 2)]);
      s.write(Buffer.concat([lengthFrame(msg.length), msg.subarray(0, 50)]));
      const next = reader.next();
      s.destroy();
      await expect(next).rejects.toMatchObject({ code: 'peer_failed' });
    }
    {
      const { s, reader } = pipe();
      const closed = new Promise((r) => s.once('close', r));
      s.write(lengthFrame(5000));
      await closed;
      await expect(reader.next()).rejects.toMatchObject({ code: 'bad_message' });
    }
  });

  it('a streamed message nobody reads (refused before its body) fails quietly when the connection goes: no unhandled error', async () => {
    const { s, reader } = pipe();
    const msg = message([Buffer.alloc(5000, 3)]);
    s.write(msg.subarray(0, 2000));
    const m = await reader.next();
    expect(m?.kind).toBe('stream');
    const stream = (m as { stream: Readable }).stream;
    s.destroy();
    await new Promise((r) => setTimeout(r, 20));
    // an unhandled 'error' here would have ended the process (a security server crashed on it)
    expect(stream.destroyed).toBe(true);
    expect((stream.errored as { code?: string } | null)?.code).toBe('peer_failed');
  });

  it('gives null once the connection closes between messages', async () => {
    const { s, reader } = pipe();
    const pending = reader.next();
    s.end();
    expect(await pending).toBeNull();
  });
});
