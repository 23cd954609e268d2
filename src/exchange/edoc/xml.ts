/**
 * edXML text: the writer and the parser of `edXMLEnvelope` (QCVN 102:2016 element names, its namespace).
 * The parser goes through the hardened parser of our XAdES part (size, element count, depth, no DTD), then
 * reads the header element by element; a missing or malformed field is `bad_package` naming it, so the
 * sending clerk learns what to fix. Elements we do not know are ignored (newer versions of the standard
 * add some); a ds:Signature under edXMLHeader is left to the signature validation.
 *
 * Our extensions: each manifest `Reference` carries `Size` and `Hash Algorithm="SHA-256"` (hex), which
 * bind the attachments travelling beside the envelope to the signed envelope; and `OtherInfo` may carry
 * `<truc:Classification xmlns:truc="urn:truc:edxml:1">mat</truc:Classification>`, the document's
 * classification (QCVN 102:2016 has no field for it), covered by the envelope's signature.
 */
import { TrucError, isTrucError } from '../../errors.js';
import { parseXml, readXml } from '../../sign/xades/parse.js';
import { bad, checkPackage, EDXML_NS, canonicalTime, readDate, TRUC_EDXML_NS, type Attachment, type DocumentRef, type EdocPackage, type Organ, type PackageHeader } from './package.js';

/** The bound on an envelope's text (the envelope only: attachments travel beside it). */
export const MAX_ENVELOPE_BYTES = 4 * 1024 * 1024;

export function esc(s: string): string {
  return s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!).replace(/\r/g, '&#13;');
}

export function el(name: string, value: string | number | undefined | null, indent = ''): string {
  // blank is absent: a reader trims what it reads
  if (value === undefined || value === null || String(value).trim() === '') return '';
  return `${indent}<${name}>${esc(String(value))}</${name}>\n`;
}

function organXml(tag: string, o: Organ, indent: string): string {
  const i = `${indent}  `;
  return (
    `${indent}<${tag}>\n` +
    el('OrganId', o.organId, i) +
    el('OrganInCharge', o.organInCharge, i) +
    el('OrganName', o.organName, i) +
    el('OrganAdd', o.organAdd, i) +
    el('Email', o.email, i) +
    el('Telephone', o.telephone, i) +
    el('Fax', o.fax, i) +
    el('Website', o.website, i) +
    `${indent}</${tag}>\n`
  );
}

export function refXml(tag: string, r: DocumentRef, indent: string): string {
  const i = `${indent}  `;
  return `${indent}<${tag}>\n${el('OrganId', r.organId, i)}${el('Code', r.code, i)}${el('PromulgationDate', r.promulgationDate, i)}${el('DocumentId', r.documentId, i)}${indent}</${tag}>\n`;
}

/** The unsigned envelope of a package (checked first: we never write what we would refuse to read). */
export function writeEnvelope(p: EdocPackage): string {
  checkPackage(p);
  const h = p.header;
  const m = '      ';
  const o = h.otherInfo;
  const b = h.business;
  let x = `<?xml version="1.0" encoding="UTF-8"?>\n<edXMLEnvelope xmlns="${EDXML_NS}">\n  <edXMLHeader>\n    <MessageHeader>\n`;
  x += organXml('From', h.from, m);
  for (const t of h.to) x += organXml('To', t, m);
  x += el('DocumentId', h.documentId, m);
  x += `${m}<Code>\n${el('CodeNumber', h.code.number, `${m}  `)}${el('CodeNotation', h.code.notation, `${m}  `)}${m}</Code>\n`;
  x += `${m}<PromulgationInfo>\n${el('Place', h.promulgation.place, `${m}  `)}${el('PromulgationDate', h.promulgation.date, `${m}  `)}${m}</PromulgationInfo>\n`;
  x += `${m}<DocumentType>\n${el('Type', h.documentType.type, `${m}  `)}${el('TypeName', h.documentType.typeName, `${m}  `)}${m}</DocumentType>\n`;
  x += el('Subject', h.subject, m);
  x += el('Content', h.content, m);
  x += `${m}<SignerInfo>\n${el('Competence', h.signer.competence, `${m}  `)}${el('Position', h.signer.position, `${m}  `)}${el('FullName', h.signer.fullName, `${m}  `)}${m}</SignerInfo>\n`;
  x += el('DueDate', h.dueDate, m);
  x += `${m}<ToPlaces>\n${h.toPlaces.map((pl) => el('Place', pl, `${m}  `)).join('')}${m}</ToPlaces>\n`;
  x += `${m}<OtherInfo>\n`;
  x += el('Priority', o.priority, `${m}  `) + el('SphereOfPromulgation', o.sphereOfPromulgation, `${m}  `) + el('TyperNotation', o.typerNotation, `${m}  `);
  x += el('PromulgationAmount', o.promulgationAmount, `${m}  `) + el('PageAmount', o.pageAmount, `${m}  `);
  x += `${m}  <Appendixes>\n${o.appendixes.map((a) => el('Appendix', a, `${m}    `)).join('')}${m}  </Appendixes>\n`;
  if (h.classification) x += `${m}  <truc:Classification xmlns:truc="${TRUC_EDXML_NS}">${h.classification}</truc:Classification>\n`;
  x += `${m}</OtherInfo>\n`;
  x += el('SteeringType', h.steeringType, m);
  for (const r of h.responseFor) x += refXml('ResponseFor', r, m);
  x += '    </MessageHeader>\n    <TraceHeaderList>\n';
  for (const t of h.traces) x += `      <TraceHeader>\n${el('OrganId', t.organId, '        ')}${el('Timestamp', t.timestamp, '        ')}      </TraceHeader>\n`;
  x += '    </TraceHeaderList>\n    <Bussiness>\n';
  x += el('BussinessDocType', b.docType, m) + el('BussinessDocReason', b.docReason, m) + el('Paper', b.paper, m);
  if (b.staffInfo) {
    const s = b.staffInfo;
    x += `${m}<BussinessStaffInfo>\n${el('Department', s.department, `${m}  `)}${el('Staff', s.staff, `${m}  `)}${el('Email', s.email, `${m}  `)}${el('Mobile', s.mobile, `${m}  `)}${m}</BussinessStaffInfo>\n`;
  }
  if (b.updateInfo?.length) x += `${m}<BussinessDocumentInfo>\n${b.updateInfo.map((u) => el('DocumentInfo', u, `${m}  `)).join('')}${m}</BussinessDocumentInfo>\n`;
  if (b.replaces?.length) x += `${m}<ReplacementInfoList>\n${b.replaces.map((r) => refXml('ReplacementInfo', r, `${m}  `)).join('')}${m}</ReplacementInfoList>\n`;
  x += '    </Bussiness>\n  </edXMLHeader>\n  <edXMLBody>\n    <edXMLManifest>\n';
  for (const a of p.attachments) {
    const i = '        ';
    x += `      <Reference>\n${el('ContentId', a.contentId, i)}${el('ContentType', a.contentType, i)}${el('Description', a.description, i)}${el('AttachmentName', a.attachmentName, i)}${el('Size', a.size, i)}${i}<Hash Algorithm="SHA-256">${a.sha256}</Hash>\n      </Reference>\n`;
  }
  x += '    </edXMLManifest>\n  </edXMLBody>\n</edXMLEnvelope>\n';
  return x;
}

// ---- reading ----

export const kids = (e: Element, local: string): Element[] =>
  Array.from(e.childNodes as unknown as ArrayLike<Node>).filter((n): n is Element => n.nodeType === 1 && (n as Element).localName === local && (n as Element).namespaceURI === EDXML_NS);

export function one(e: Element, local: string, path: string, required: true): Element;
export function one(e: Element, local: string, path: string, required?: boolean): Element | undefined;
export function one(e: Element, local: string, path: string, required = false): Element | undefined {
  const k = kids(e, local);
  if (k.length > 1) throw bad(path, 'appears more than once', 'xuất hiện hơn một lần');
  if (!k.length && required) throw bad(path, 'is required', 'bắt buộc phải có');
  return k[0];
}

/** An element's text (trimmed); elements inside a text field are refused. */
export function txt(e: Element | undefined, path: string): string | undefined {
  if (!e) return undefined;
  for (const n of Array.from(e.childNodes as unknown as ArrayLike<Node>)) if (n.nodeType === 1) throw bad(path, 'holds elements where text is expected', 'chứa phần tử ở chỗ phải là văn bản');
  const t = (e.textContent ?? '').trim();
  return t === '' ? undefined : t;
}

export const field = (e: Element, local: string, path: string, required = false): string | undefined => {
  const v = txt(one(e, local, `${path}.${local}`, required), `${path}.${local}`);
  if (required && v === undefined) throw bad(`${path}.${local}`, 'is required', 'bắt buộc phải có, không để trống');
  return v;
};

export function num(v: string | undefined, path: string): number | undefined {
  if (v === undefined) return undefined;
  if (!/^-?\d{1,15}$/.test(v)) throw bad(path, `"${v.slice(0, 20)}" is not an integer`, `"${v.slice(0, 20)}" không phải số nguyên`);
  return Number(v);
}

const clean = <T extends object>(o: T): T => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;

export function readOrgan(e: Element, path: string): Organ {
  return clean({
    organId: field(e, 'OrganId', path, true)!,
    organInCharge: field(e, 'OrganInCharge', path),
    organName: field(e, 'OrganName', path) ?? '',
    organAdd: field(e, 'OrganAdd', path),
    email: field(e, 'Email', path),
    telephone: field(e, 'Telephone', path),
    fax: field(e, 'Fax', path),
    website: field(e, 'Website', path),
  });
}

export function readRef(e: Element, path: string): DocumentRef {
  return {
    organId: field(e, 'OrganId', path, true)!,
    code: field(e, 'Code', path, true)!,
    promulgationDate: readDate(field(e, 'PromulgationDate', path, true))!,
    documentId: field(e, 'DocumentId', path, true)!,
  };
}

/** Parses the hardened XML, turning its refusals into `bad_package` (the field being the whole envelope). */
export function parseBounded(xml: Uint8Array | string, what: string): Document {
  const size = typeof xml === 'string' ? Buffer.byteLength(xml) : xml.byteLength;
  if (size > MAX_ENVELOPE_BYTES) throw new TrucError('too_large', `${what} dài quá ${MAX_ENVELOPE_BYTES} byte / ${what} of more than ${MAX_ENVELOPE_BYTES} bytes`);
  try {
    return parseXml(xml);
  } catch (e) {
    if (isTrucError(e) && e.code === 'malformed_xml') throw new TrucError('bad_package', `${what} không phải XML hợp lệ / ${what}: ${e.message}`, { field: what });
    throw e;
  }
}

/**
 * An envelope or status packet as text to keep (the database's text is UTF-8): its characters as its
 * encoding says (`readXml`: a UTF-16 byte-order mark, the XML declaration), and, when they came in another
 * encoding, the declaration naming UTF-8 — so that the kept text is read again as it was signed. The XML
 * declaration is not part of what a signature digests (canonical XML leaves it out), so the signature
 * verifies over the kept text as it did over the bytes that travelled.
 */
export function xmlToKeep(xml: Uint8Array): string {
  const { text, encoding } = readXml(xml);
  if (encoding.name === 'utf-8' || encoding.name === 'text') return text;
  return text.replace(/^(<\?xml\s[^>]*?encoding\s*=\s*)(["'])[A-Za-z][A-Za-z0-9._-]*\2/, '$1$2UTF-8$2');
}

/** Reads an envelope (signed or not) into a package, checked field by field. */
export function parseEnvelope(xml: Uint8Array | string): EdocPackage {
  const doc = parseBounded(xml, 'edXMLEnvelope');
  const root = doc.documentElement;
  if (root.localName !== 'edXMLEnvelope' || root.namespaceURI !== EDXML_NS)
    throw bad('edXMLEnvelope', `the root element is {${root.namespaceURI ?? ''}}${root.localName}, not edXMLEnvelope in ${EDXML_NS}`, `phần tử gốc là {${root.namespaceURI ?? ''}}${root.localName}, không phải edXMLEnvelope`);
  const header = one(root, 'edXMLHeader', 'edXMLHeader', true);
  const mh = one(header, 'MessageHeader', 'MessageHeader', true);
  const from = readOrgan(one(mh, 'From', 'From', true), 'From');
  const to = kids(mh, 'To').map((t, i) => readOrgan(t, `To[${i}]`));
  const code = one(mh, 'Code', 'Code', true);
  const prom = one(mh, 'PromulgationInfo', 'PromulgationInfo', true);
  const dt = one(mh, 'DocumentType', 'DocumentType', true);
  const si = one(mh, 'SignerInfo', 'SignerInfo', true);
  const tp = one(mh, 'ToPlaces', 'ToPlaces');
  const oi = one(mh, 'OtherInfo', 'OtherInfo', true);
  const apx = one(oi, 'Appendixes', 'OtherInfo.Appendixes');
  const traces = one(header, 'TraceHeaderList', 'TraceHeaderList');
  // Bussiness: under edXMLHeader, or inside TraceHeaderList where QCVN 102:2016's schema and the edXML SDKs
  // put it — one of them, once
  const bzs = [...kids(header, 'Bussiness'), ...(traces ? kids(traces, 'Bussiness') : [])];
  if (bzs.length > 1) throw bad('Bussiness', 'appears more than once', 'xuất hiện hơn một lần');
  if (!bzs.length) throw bad('Bussiness', 'is required', 'bắt buộc phải có');
  const bz = bzs[0]!;
  const staff = one(bz, 'BussinessStaffInfo', 'Bussiness.BussinessStaffInfo');
  const info = one(bz, 'BussinessDocumentInfo', 'Bussiness.BussinessDocumentInfo');
  const repl = one(bz, 'ReplacementInfoList', 'Bussiness.ReplacementInfoList');
  const priority = num(field(oi, 'Priority', 'OtherInfo', true), 'OtherInfo.Priority');
  const cls = Array.from(oi.childNodes as unknown as ArrayLike<Node>).filter((n): n is Element => n.nodeType === 1 && (n as Element).localName === 'Classification' && (n as Element).namespaceURI === TRUC_EDXML_NS);
  if (cls.length > 1) throw bad('OtherInfo.Classification', 'appears more than once');
  const docType = num(field(bz, 'BussinessDocType', 'Bussiness', true), 'Bussiness.BussinessDocType');
  const h: PackageHeader = clean({
    from,
    to,
    documentId: field(mh, 'DocumentId', 'MessageHeader', true)!,
    code: { number: field(code, 'CodeNumber', 'Code', true)!, notation: field(code, 'CodeNotation', 'Code', true)! },
    promulgation: { place: field(prom, 'Place', 'PromulgationInfo', true)!, date: readDate(field(prom, 'PromulgationDate', 'PromulgationInfo', true))! },
    documentType: { type: num(field(dt, 'Type', 'DocumentType', true), 'DocumentType.Type')!, typeName: field(dt, 'TypeName', 'DocumentType', true)! },
    subject: field(mh, 'Subject', 'MessageHeader', true)!,
    content: field(mh, 'Content', 'MessageHeader'),
    signer: clean({ competence: field(si, 'Competence', 'SignerInfo'), position: field(si, 'Position', 'SignerInfo'), fullName: field(si, 'FullName', 'SignerInfo', true)! }),
    dueDate: readDate(field(mh, 'DueDate', 'MessageHeader')),
    toPlaces: tp ? kids(tp, 'Place').map((p, i) => txt(p, `ToPlaces.Place[${i}]`) ?? '') : [],
    otherInfo: clean({
      priority: priority as never,
      sphereOfPromulgation: field(oi, 'SphereOfPromulgation', 'OtherInfo'),
      typerNotation: field(oi, 'TyperNotation', 'OtherInfo'),
      promulgationAmount: num(field(oi, 'PromulgationAmount', 'OtherInfo'), 'OtherInfo.PromulgationAmount'),
      pageAmount: num(field(oi, 'PageAmount', 'OtherInfo'), 'OtherInfo.PageAmount'),
      // an empty <Appendix/> (SDKs write one when there is none) is no appendix, as any empty optional element
      appendixes: apx ? kids(apx, 'Appendix').flatMap((a, i) => txt(a, `OtherInfo.Appendixes.Appendix[${i}]`) ?? []) : [],
    }),
    classification: txt(cls[0], 'OtherInfo.Classification') as PackageHeader['classification'],
    steeringType: num(field(mh, 'SteeringType', 'MessageHeader'), 'SteeringType'),
    responseFor: kids(mh, 'ResponseFor').map((r, i) => readRef(r, `ResponseFor[${i}]`)),
    // times as read (dd/MM/yyyy day first, Vietnam time without an offset), kept as ISO 8601 with its offset
    traces: traces
      ? kids(traces, 'TraceHeader').map((t, i) => {
          const path = `TraceHeaderList.TraceHeader[${i}]`;
          return { organId: field(t, 'OrganId', path, true)!, timestamp: canonicalTime(`${path}.Timestamp`, field(t, 'Timestamp', path, true)) };
        })
      : [],
    business: clean({
      docType: docType as never,
      docReason: field(bz, 'BussinessDocReason', 'Bussiness'),
      paper: num(field(bz, 'Paper', 'Bussiness'), 'Bussiness.Paper') as 0 | 1 | undefined,
      staffInfo: staff ? clean({ department: field(staff, 'Department', 'Bussiness.BussinessStaffInfo'), staff: field(staff, 'Staff', 'Bussiness.BussinessStaffInfo'), email: field(staff, 'Email', 'Bussiness.BussinessStaffInfo'), mobile: field(staff, 'Mobile', 'Bussiness.BussinessStaffInfo') }) : undefined,
      updateInfo: info ? kids(info, 'DocumentInfo').map((d, i) => txt(d, `Bussiness.BussinessDocumentInfo[${i}]`) ?? '') : undefined,
      replaces: repl ? kids(repl, 'ReplacementInfo').map((r, i) => readRef(r, `Bussiness.ReplacementInfoList[${i}]`)) : undefined,
    }),
  });
  const body = one(root, 'edXMLBody', 'edXMLBody', true);
  const manifest = one(body, 'edXMLManifest', 'edXMLManifest');
  const attachments: Attachment[] = manifest
    ? kids(manifest, 'Reference').map((r, i) => {
        const path = `edXMLManifest.Reference[${i}]`;
        const hash = one(r, 'Hash', `${path}.Hash`, true);
        const alg = hash.getAttribute('Algorithm');
        if (alg !== 'SHA-256') throw bad(`${path}.Hash`, `algorithm ${alg || '(none)'} is not SHA-256`, `thuật toán ${alg || '(không có)'} không phải SHA-256`);
        return clean({
          contentId: field(r, 'ContentId', path, true)!,
          contentType: field(r, 'ContentType', path, true)!,
          description: field(r, 'Description', path),
          attachmentName: field(r, 'AttachmentName', path, true)!,
          size: num(field(r, 'Size', path, true), `${path}.Size`)!,
          sha256: (txt(hash, `${path}.Hash`) ?? '').toLowerCase(),
        });
      })
    : [];
  const p: EdocPackage = { header: h, attachments };
  checkPackage(p);
  return p;
}
