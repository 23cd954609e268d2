/** `content` repeated to `fullBytes` bytes, in chunks of about 1 MiB (ACVP's "repeating" expansion). */
export function* repeated(content: Uint8Array, fullBytes: number): Generator<Uint8Array> {
  if (content.length === 0) throw new Error('large message: empty content');
  const copies = Math.max(1, Math.floor((1 << 20) / content.length));
  const chunk = new Uint8Array(copies * content.length);
  for (let i = 0; i < copies; i++) chunk.set(content, i * content.length);
  let left = fullBytes;
  while (left > 0) {
    const n = Math.min(left, chunk.length);
    yield n === chunk.length ? chunk : chunk.subarray(0, n);
    left -= n;
  }
}
