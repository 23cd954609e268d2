/**
 * BER in CMS (RFC 5652 allows it; streaming signers such as `openssl cms -sign -stream` and poppler's own
 * signer write it): indefinite lengths ended by end-of-contents octets, non-minimal lengths, and strings
 * sent as constructed chunks. A SignedData is brought to DER — definite minimal lengths, strings in one
 * primitive piece — before it is read, so the rest of the code reads one encoding. The walk is iterative
 * with bounds on depth and element count, and never trusts a length past its container.
 *
 * The signature of a SignerInfo is over the DER encoding of its signed attributes (RFC 5652 §5.4): when
 * they arrived otherwise, `derSignedAttributes` re-encodes them as DER, SET OF values in DER order.
 */
import { seq, setOf, tlv } from '../../asn1/der.js';
import { children, type Element } from '../../asn1/reader.js';
import { TrucError } from '../../errors.js';

/**
 * Elements walked: at least this many, and as many as the input can hold (each takes two bytes or more),
 * so the bound on work is the bound on size — a 2 MB CRL of 200,000 entries has some 700,000 elements.
 */
const MIN_ELEMENT_BUDGET = 200_000;

/** Universal string types (and times) that BER may send constructed and DER sends primitive. */
const STRING_TAGS = new Set([0x03, 0x04, 0x0c, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1e]);

interface Node {
  tag: number;
  /** primitive content */
  content?: Buffer;
  kids?: Node[];
  encoded?: Buffer;
}

const bad = (what: string, m: string, at: number) => new TrucError('malformed_der', `${what}: ${m} at ${at}`);

/**
 * One element of BER from `offset`: where it ends, whether it already is the DER `berToDer` would write
 * (definite minimal lengths, no string sent constructed), and its tree when `build` asks for it. A walk
 * without the tree keeps nothing per element: a CMS of millions of tiny elements costs one pass, not a
 * node each (4 million NULLs used to take seconds and hundreds of megabytes, then overflow the stack).
 */
function parse(buf: Buffer, offset: number, what: string, maxDepth: number, build: boolean): { nodes: Node[]; end: number; der: boolean } {
  const nodes: Node[] = [];
  const maxElements = Math.max(MIN_ELEMENT_BUDGET, (buf.length - offset) >>> 1);
  const frames: { node?: Node; end?: number }[] = [];
  let pos = offset;
  let count = 0;
  let der = true;
  do {
    const frame = frames[frames.length - 1];
    const limit = frame?.end ?? buf.length;
    if (frame) {
      if (frame.end !== undefined && pos === frame.end) {
        frames.pop();
        continue;
      }
      if (frame.end === undefined && buf[pos] === 0 && buf[pos + 1] === 0 && pos + 2 <= buf.length) {
        pos += 2; // end-of-contents of an indefinite length
        frames.pop();
        continue;
      }
    }
    if (pos + 2 > limit) throw bad(what, 'truncated header', pos);
    const tag = buf[pos];
    if ((tag & 0x1f) === 0x1f) throw bad(what, 'high tag numbers unsupported', pos);
    if (tag === 0 && buf[pos + 1] === 0) throw bad(what, 'end-of-contents inside a definite length', pos);
    let len = buf[pos + 1];
    let hdr = 2;
    let indefinite = false;
    if (len === 0x80) indefinite = true;
    else if (len > 0x80) {
      const n = len & 0x7f;
      if (n > 4 || pos + 2 + n > limit) throw bad(what, 'bad length of length', pos);
      len = 0;
      for (let i = 0; i < n; i++) len = len * 256 + buf[pos + 2 + i];
      hdr += n;
      // DER takes the fewest length octets, and the long form only from 128
      if (len < 0x80 || buf[pos + 2] === 0) der = false;
    }
    const constructed = (tag & 0x20) !== 0;
    if (indefinite && !constructed) throw bad(what, 'indefinite length on a primitive element', pos);
    if (!indefinite && pos + hdr + len > limit) throw bad(what, 'element runs past its container', pos);
    if (indefinite || (constructed && (tag & 0xc0) === 0 && STRING_TAGS.has(tag & 0x1f))) der = false;
    if (++count > maxElements) throw bad(what, 'too many elements', pos);
    let node: Node | undefined;
    if (build) {
      node = constructed ? { tag, kids: [] } : { tag, content: buf.subarray(pos + hdr, pos + hdr + len) };
      nodes.push(node);
      if (frame) frame.node!.kids!.push(node);
    }
    if (constructed) {
      if (frames.length >= maxDepth) throw bad(what, `nesting deeper than ${maxDepth}`, pos);
      frames.push({ ...(node ? { node } : {}), ...(indefinite ? {} : { end: pos + hdr + len }) });
      pos += hdr;
    } else pos += hdr + len;
  } while (frames.length);
  if (count === 0) throw bad(what, 'no element', offset);
  return { nodes, end: pos, der };
}

/** Children's content concatenated, for a string sent constructed (BIT STRING: one unused-bits octet, the last chunk's). */
function flatten(node: Node, what: string): Buffer {
  const parts: Buffer[] = [];
  const stack: Node[] = [node];
  while (stack.length) {
    const n = stack.pop()!;
    if (n.content) parts.push(n.content);
    else for (let i = n.kids!.length - 1; i >= 0; i--) stack.push(n.kids![i]);
  }
  if ((node.tag & 0x1f) !== 0x03) return Buffer.concat(parts);
  if (parts.some((p) => p.length === 0) || parts.slice(0, -1).some((p) => p[0] !== 0)) throw new TrucError('malformed_der', `${what}: a constructed BIT STRING with unused bits inside`);
  const last = parts[parts.length - 1];
  return Buffer.concat([Buffer.from([last ? last[0] : 0]), ...parts.map((p) => p.subarray(1))]);
}

/** Where the BER element at `offset` ends (for a /Contents string padded with zeros after its CMS). */
export function berElementEnd(buf: Buffer, offset = 0, what = 'BER', maxDepth = 48): number {
  return parse(buf, offset, what, maxDepth, false).end;
}

/** The DER form of a whole BER element (the same bytes when it already was DER). */
export function berToDer(buf: Buffer, what = 'BER', maxDepth = 48): Buffer {
  const walk = parse(buf, 0, what, maxDepth, false);
  if (walk.end !== buf.length) throw new TrucError('malformed_der', `${what}: trailing bytes after the element`);
  // DER already (nearly every signature): the same bytes, and no tree was built
  if (walk.der) return buf;
  const { nodes } = parse(buf, 0, what, maxDepth, true);
  // nodes are in document order, so children come after their parents: encode from the end
  for (let i = nodes.length - 1; i >= 0; i--) {
    const n = nodes[i];
    const universal = (n.tag & 0xc0) === 0;
    if (n.kids && universal && STRING_TAGS.has(n.tag & 0x1f)) n.encoded = tlv(n.tag & ~0x20, flatten(n, what));
    // one buffer of the children, not a spread of them: a SEQUENCE may hold more children than a call takes arguments
    else if (n.kids) n.encoded = tlv(n.tag, Buffer.concat(n.kids.map((k) => k.encoded!)));
    else n.encoded = tlv(n.tag, n.content!);
    if (n.kids) for (const k of n.kids) k.encoded = undefined;
  }
  return nodes[0].encoded!;
}

/**
 * The octets a SignerInfo's signature covers: its signed attributes as a DER SET OF. `fromBer` says the
 * CMS arrived in another encoding, and the attributes are then re-encoded in DER order (attributes, and
 * each attribute's values); otherwise they are taken as carried, retagged from [0] to SET.
 */
export function signedAttributesOctets(attrsEl: Element, fromBer: boolean): Buffer {
  if (!fromBer) {
    const signed = Buffer.from(attrsEl.raw);
    signed[0] = 0x31; // signed as SET OF, carried under [0] IMPLICIT
    return signed;
  }
  return setOf(
    children(attrsEl, 'signedAttrs').map((a) => {
      const [type, values] = children(a, 'Attribute', 2);
      if (!type || !values) throw new TrucError('malformed_cms', 'a signed attribute is not a type and its values');
      return seq(type.raw, setOf(children(values, 'attrValues').map((v) => Buffer.from(v.raw))));
    }),
  );
}
