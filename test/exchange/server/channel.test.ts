import { describe, expect, it } from 'vitest';
import { PassThrough, type Readable } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { FRAME_ERROR, FramedReader, PENDING_FRAME, confirmation, confirmationFrame, lengthFrame, type Inbound } from '../../../src/exchange/server/channel.js';
import { FRAME_ABORT, FRAME_BODY, FRAME_HEADER, FRAME_MATERIAL, FRAME_SIGNATURE, frame, readFrames, splitWhole } from '../../../src/exchange/server/message.js';

// the reader sees a byte stream: a PassThrough delivers each write as one 'data' chunk, so the tests choose
// exactly where the connection's chunks are cut
const DURABLE_FRAME = confirmationFrame();
const voidFrame = (code: string) => confirmationFrame(code);

function pipe(confirmed = false) {
  const s = new PassThrough();
  const reader = new FramedReader(s as unknown as TLSSocket, 4096, confirmed);
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
  if (m.kind === 'confirm') throw new Error('a confirmation holds no message');
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

  it('truc/2: a whole message after P is pending, the D or X frame after it its sender\'s confirmation, cut anywhere; one without P is not', async () => {
    const msg = message([Buffer.from('hello')]);
    const whole = Buffer.concat([lengthFrame(msg.length), msg]);
    const wire = Buffer.concat([PENDING_FRAME, whole, DURABLE_FRAME, PENDING_FRAME, whole, voidFrame('log_failure'), whole]);
    for (let cut = 1; cut < wire.length; cut++) {
      const { s, reader } = pipe(true);
      s.write(wire.subarray(0, cut));
      s.write(wire.subarray(cut));
      const got: Inbound[] = [];
      for (let i = 0; i < 5; i++) got.push((await reader.next())!);
      expect(got.map((m) => m.kind)).toEqual(['whole', 'confirm', 'whole', 'confirm', 'whole']);
      expect(got.map((m) => (m as { pending?: boolean }).pending)).toEqual([true, undefined, true, undefined, undefined]);
      expect((got[1] as { code?: string }).code).toBeUndefined();
      expect((got[3] as { code?: string }).code).toBe('log_failure');
      expect(await read(got[4]!)).toEqual(msg);
    }
    // P only before a whole message, once
    for (const bad of [Buffer.concat([PENDING_FRAME, message([Buffer.from('x')])]), Buffer.concat([PENDING_FRAME, PENDING_FRAME, whole]), Buffer.concat([PENDING_FRAME, DURABLE_FRAME])]) {
      const { s, reader } = pipe(true);
      s.write(bad);
      await expect(reader.next()).rejects.toMatchObject({ code: 'bad_message' });
    }
    // truc/1 knows no confirmations: a P or D frame there starts a message (which its reader then refuses)
    for (const f of [DURABLE_FRAME, PENDING_FRAME]) {
      const { s, reader } = pipe(false);
      s.write(f);
      expect((await reader.next())!.kind).toBe('stream');
    }
  });

  it('truc/2: confirmation() resolves on D, says log_failure on X, and fails (closing the connection) on silence, another message or a close', async () => {
    const who = { en: 'the peer', vi: 'bên kia' };
    let p = pipe(true);
    p.s.write(DURABLE_FRAME);
    await expect(confirmation(p.reader, who, 'provider')).resolves.toBeUndefined();
    p = pipe(true);
    p.s.write(voidFrame('log_failure'));
    await expect(confirmation(p.reader, who, 'provider')).rejects.toMatchObject({ code: 'log_failure', detail: { origin: 'provider' } });
    // the X frame's code is a word of the sender's, nothing more: other bytes are dropped
    p = pipe(true);
    p.s.write(voidFrame('disk\u0000 full<script>'));
    await expect(confirmation(p.reader, who, 'consumer')).rejects.toMatchObject({ code: 'log_failure', message: expect.stringContaining('(diskfullscript)') });
    p = pipe(true);
    const silent = confirmation(p.reader, who, 'provider', 50);
    await expect(silent).rejects.toMatchObject({ code: 'peer_failed' });
    expect(p.s.destroyed).toBe(true);
    p = pipe(true);
    const msg = message([Buffer.from('x')]);
    p.s.write(Buffer.concat([lengthFrame(msg.length), msg]));
    await expect(confirmation(p.reader, who, 'provider')).rejects.toMatchObject({ code: 'peer_failed', message: expect.stringContaining('sent another message') });
    p = pipe(true);
    const closed = confirmation(p.reader, who, 'provider');
    p.s.end();
    await expect(closed).rejects.toMatchObject({ code: 'peer_failed' });
    // a D frame with a payload breaks the framing
    p = pipe(true);
    p.s.write(Buffer.from([0x44, 0, 0, 0, 1, 0]));
    await expect(p.reader.next()).rejects.toMatchObject({ code: 'bad_message' });
  });

  it('gives null once the connection closes between messages', async () => {
    const { s, reader } = pipe();
    const pending = reader.next();
    s.end();
    expect(await pending).toBeNull();
  });
});
