/**
 * `truc sign` and `truc verify`: signing a file with an official's PEM key and certificate (CAdES, PAdES,
 * XAdES; levels B-B to B-LTA, the time-stamps from a TSA URL or the platform's own TSA in process, the
 * revocation data from the platform's CA and OCSP responder), and validating signed files — one, or a
 * folder with a progress bar. Several files with `xades --detached` make one signature naming each; an XML
 * document is written back in its own encoding, its bytes kept.
 *
 * `truc augment` raises a signed file's level (B-T, B-LT, B-LTA) without re-signing, or renews its archive
 * time-stamp (`--renew`), with the same time-stamp and revocation sources as `truc sign` (`--content` repeated
 * for a detached XAdES signature over several files); it writes only
 * `--out`, and refuses before any time-stamp is taken (exit 3 bad input or a TOTAL-FAILED signature, 5 a
 * signature already above the level asked or not B-LTA for a renewal).
 *
 * `truc verify` exit codes: 0 every signature TOTAL-PASSED, 1 some signature TOTAL-FAILED (or no
 * signature found), 2 otherwise INDETERMINATE (or a file that is not a PDF, CMS or XML signature).
 */
import { constants, createPrivateKey, sign as nodeSign, X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, statSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { Command } from 'commander';
import { isTrucError, TrucError } from '../errors.js';
import { parseKeyAlgorithm, SCHEMES, type SignatureScheme } from '../crypto/algorithms.js';
import type * as PkiApi from '../pki/index.js';
import type * as OcspApi from '../pki/ocsp/index.js';
import type * as TsaApi from '../pki/tsa/index.js';
import type * as SignApi from '../sign/index.js';
import type { Platform } from '../platform.js';
import type { Db } from '../store/index.js';
import type { Config } from '../config.js';
import type { ExternalSigner, SignedKind, LevelContext, ValidationReport } from '../sign/index.js';
import { progressBar } from './progress.js';
import type { LocalServer } from './beside.js';
import { loadBefore } from './lazy.js';
import { pemBlocks } from '../asn1/der.js';

// the parts behind `truc sign`, `augment` and `verify`, loaded when one of them runs (./lazy.ts)
let listCas: typeof PkiApi.listCas;
let OcspResponder: typeof OcspApi.OcspResponder;
let TimeStampAuthority: typeof TsaApi.TimeStampAuthority;
let httpTimeStamper: typeof SignApi.httpTimeStamper;
let localTimeStamper: typeof SignApi.localTimeStamper;
let parseLevel: typeof SignApi.parseLevel;
let parseLock: typeof SignApi.parseLock;
let platformEvidence: typeof SignApi.platformEvidence;
let reportText: typeof SignApi.reportText;
let reportXml: typeof SignApi.reportXml;
let reportHtml: typeof SignApi.reportHtml;
let signCades: typeof SignApi.signCades;
let signPdf: typeof SignApi.signPdf;
let signXades: typeof SignApi.signXades;
let signXadesDetached: typeof SignApi.signXadesDetached;
let createSignKey: typeof SignApi.createSignKey;
let detectFormat: typeof SignApi.detectFormat;
let validateFile: typeof SignApi.validateFile;
let augmentFile: typeof SignApi.augmentFile;
let prepareSigning: typeof SignApi.prepareSigning;
let completeSigning: typeof SignApi.completeSigning;

async function load(): Promise<void> {
  ({ listCas } = await import('../pki/index.js'));
  ({ OcspResponder } = await import('../pki/ocsp/index.js'));
  ({ TimeStampAuthority } = await import('../pki/tsa/index.js'));
  ({
    httpTimeStamper,
    localTimeStamper,
    parseLevel,
    parseLock,
    platformEvidence,
    reportText,
    reportXml,
    reportHtml,
    signCades,
    signPdf,
    signXades,
    signXadesDetached,
    createSignKey,
    detectFormat,
    validateFile,
    augmentFile,
    prepareSigning,
    completeSigning,
  } = await import('../sign/index.js'));
}

// `truc verify` needs the validators alone: not the signing formats, pdf-lib, the TSA or the OCSP responder;
// the XML stack loads inside validateFile for an XML file, the XML and HTML report writers when asked for
let verifyLoaded: Promise<void> | undefined;
function loadVerify(): Promise<void> {
  return (verifyLoaded ??= Promise.all([import('../sign/validate/file.js'), import('../sign/validate/text.js')]).then(([file, text]) => {
    ({ validateFile, detectFormat } = file);
    ({ reportText } = text);
  }));
}

export interface SignCliContext {
  withPlatform(fn: (p: Platform) => Promise<unknown>): Promise<void>;
  /** the database alone, for a command that only reads it; `viaServer` instead while a running `truc start` holds it */
  withDb(fn: (db: Db) => Promise<unknown>, viaServer?: (s: LocalServer) => Promise<unknown>): Promise<void>;
  config(): Config;
  out(v: unknown, text: () => string): void;
}

/** An ExternalSigner over a PEM private key and its certificate (the rest of the PEM file is the chain). */
export function pemSigner(keyPem: string, certPem: string): ExternalSigner {
  const key = createPrivateKey(keyPem);
  const [certificate, ...chain] = pemBlocks(certPem, 'CERTIFICATE');
  if (!certificate) throw new TrucError('bad_request', 'no certificate in the --cert-pem file');
  if (!new X509Certificate(certificate).checkPrivateKey(key)) throw new TrucError('bad_request', 'the key does not belong to the certificate');
  const d = key.asymmetricKeyDetails;
  const scheme: SignatureScheme =
    key.asymmetricKeyType === 'rsa' ? 'rsa-pkcs1-sha256' : key.asymmetricKeyType === 'rsa-pss' ? 'rsa-pss-sha256' : d?.namedCurve === 'secp384r1' ? 'ecdsa-sha384' : d?.namedCurve === 'secp521r1' ? 'ecdsa-sha512' : 'ecdsa-sha256';
  if (key.asymmetricKeyType !== 'rsa' && key.asymmetricKeyType !== 'rsa-pss' && key.asymmetricKeyType !== 'ec') throw new TrucError('unsupported', `${key.asymmetricKeyType} keys are not supported for signing files yet`);
  const info = SCHEMES[scheme];
  return {
    certificate,
    chain,
    scheme,
    sign: (data) => nodeSign(info.hash!, data, info.family === 'rsa-pss' ? { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 } : info.family === 'ecdsa' ? { key, dsaEncoding: 'der' } : key),
  };
}

const roots = async (p: Platform) => (await listCas(p.db)).filter((c) => !c.parentId).map((c) => Buffer.from(c.certificate));


const worst = (r: ValidationReport): 0 | 1 | 2 => {
  if (!r.signatures.length || r.signatures.some((s) => s.indication === 'TOTAL-FAILED')) return 1;
  return r.signatures.every((s) => s.indication === 'TOTAL-PASSED') ? 0 : 2;
};

/**
 * What levels above B-B need, in process: time-stamps from `tsaUrl` or the platform TSA, revocation data
 * from the platform's CA and a fresh OCSP responder, the platform's roots as trust anchors.
 */
async function withLevelContext(p: Platform, tsaUrl: string | undefined, fn: (ctx: LevelContext) => Promise<void>): Promise<void> {
  let tsa: TsaApi.TimeStampAuthority | undefined;
  if (!tsaUrl) {
    tsa = new TimeStampAuthority(p.pki, p.issuer, p.config.tsa, p.log);
    await tsa.start();
  }
  const responder = new OcspResponder(p.pki, p.issuer, { ...p.config.ocsp, presign: false }, p.log);
  await responder.start();
  try {
    await fn({
      timeStamper: tsaUrl ? httpTimeStamper(tsaUrl) : localTimeStamper(tsa!),
      evidence: platformEvidence(p.pki, responder),
      trustAnchors: await roots(p),
    });
  } finally {
    await responder.stop();
  }
}

const KIND_OF_FORMAT: Record<string, SignedKind> = { pdf: 'pdf', cades: 'cms', xades: 'xml' };

/** Validates one file: here, or through the running server's API. */
type Validate = (bytes: Buffer) => Promise<ValidationReport>;

/** Each file to the running server's POST /api/v1/validate: raw, or in JSON with its detached content. */
async function viaServer(s: LocalServer, revocation: 'soft-fail' | 'hard-fail', content: { name: string; content: Buffer }[] | undefined): Promise<Validate> {
  const { callServer } = await import('./beside.js');
  const contents = content?.map((c) => ({ name: c.name, file: c.content.toString('base64') }));
  return (bytes) =>
    contents
      ? callServer<ValidationReport>(s, 'POST', '/api/v1/validate', { type: 'application/json', data: JSON.stringify({ file: bytes.toString('base64'), contents, revocation }) })
      : callServer<ValidationReport>(s, 'POST', `/api/v1/validate?revocation=${revocation}`, { type: 'application/octet-stream', data: bytes });
}

/**
 * `truc verify`'s work once it knows how to validate: a file, or each file of a folder with a progress
 * bar, the report in the kind asked for, the exit code of the worst verdict.
 */
async function verifyFiles(path: string, validate: Validate, o: { report: string; lang: string }, print: SignCliContext['out']): Promise<void> {
  const files = statSync(path).isDirectory() ? readdirSync(path).sort().map((f) => join(path, f)).filter((f) => statSync(f).isFile()) : [path];
  const bar = progressBar(files.length, { enabled: files.length > 1 });
  const results: { file: string; exit: number; report?: ValidationReport; error?: string }[] = [];
  for (const [i, file] of files.entries()) {
    const bytes = readFileSync(file);
    try {
      if (detectFormat(bytes)) results.push({ file, exit: 0, report: await validate(bytes) });
      else results.push({ file, exit: 2, error: 'not a PDF, CMS or XML file' });
    } catch (e) {
      // the server's refusal of the whole command (it stopped answering) ends it
      if (isTrucError(e) && e.code === 'conflict' && e.detail?.lock) throw e;
      // an unreadable file is a failure, said with its code (malformed_pdf, too_large, …)
      results.push({ file, exit: 1, error: isTrucError(e) ? `[${e.code}] ${e.message}` : (e as Error).message });
    }
    const last = results[results.length - 1];
    if (last.report) last.exit = worst(last.report);
    if (files.length > 1) bar.log(`${['OK  ', 'FAIL', 'INDT'][last.exit]} ${file}`);
    bar.update(i + 1);
  }
  bar.done();
  const text = () =>
    results.map((r) => `${files.length > 1 ? `== ${r.file}\n` : ''}${r.report ? reportText(r.report, o.lang === 'en' ? 'en' : 'vi') : `error: ${r.error}\n`}`).join('\n').trimEnd();
  const payload = files.length > 1 ? results.map((r) => ({ file: r.file, exit: r.exit, ...(r.report ? { report: r.report } : { error: r.error }) })) : (results[0].report ?? { error: results[0].error });
  if (o.report === 'json') process.stdout.write(JSON.stringify(payload, null, 2) + '\n');
  else if (o.report === 'xml' || o.report === 'html') {
    if (o.report === 'xml') ({ reportXml } = await import('../sign/validate/xml-report.js'));
    else ({ reportHtml } = await import('../sign/validate/html-report.js'));
    const render = (r: ValidationReport) => (o.report === 'xml' ? reportXml(r) : reportHtml(r, o.lang === 'en' ? 'en' : 'vi'));
    for (const r of results) {
      if (r.report) process.stdout.write(render(r.report));
      else process.stderr.write(`${r.file}: ${r.error}\n`);
    }
  } else print(payload, text);
  process.exitCode = Math.max(...results.map((r) => r.exit));
}

export function signCommands(program: Command, c: SignCliContext): void {
  const signCmd = program
    .command('sign <format> <in...>')
    .description('Sign a file, or every file of a folder (into the folder --out, with a progress bar): format pdf (PAdES), cades (CMS .p7s/.p7m) or xades (enveloped XML; --enveloping, or --detached for any file — several files given: one detached signature over all of them), with a PEM key and certificate. Exit 3 when a file could not be signed')
    // checked in the action, not by commander: required options here would also be demanded of `sign key …`
    .option('--out <file>', 'where to write the signed file or signature (required)')
    .option('--key-pem <file>', "the signer's private key (PEM) (required)")
    .option('--cert-pem <file>', "the signer's certificate, then its CA certificates (PEM) (required)")
    .option('--level <level>', 'B-B, B-T, B-LT or B-LTA', 'B-B')
    .option('--certify <p>', 'PAdES: a certification signature (DocMDP) permitting 1 no changes, 2 form filling and signing, 3 also annotations')
    .option('--lock <spec>', 'PAdES: a FieldMDP lock on form fields — All, Include:field1,field2 or Exclude:field1')
    .option('--tsa-url <url>', 'RFC 3161 time-stamping service (default: the platform TSA in process)')
    .option('--enveloping', 'CAdES: put the content inside the signature (.p7m); XAdES: the XML document inside a ds:Object of the signature')
    .option('--detached', 'XAdES: a signature apart from the file (any file), naming it by its file name (written as FILE.xml in a folder); with several files, one signature naming each')
    .option('--data-timestamp', 'XAdES: a time-stamp over the signed content taken before signing (AllDataObjectsTimeStamp, a signed property): proof that the content existed then')
    .option('--reason <text>', 'PAdES: reason')
    .option('--location <text>', 'PAdES: location')
    .action(async (format: string, inputs: string[], o) => {
      const input = inputs[0];
      for (const [k, flag] of [['out', '--out'], ['keyPem', '--key-pem'], ['certPem', '--cert-pem']] as const)
        if (!o[k]) throw new TrucError('bad_request', `option ${flag} is required`);
      if (!['pdf', 'cades', 'xades'].includes(format)) throw new TrucError('bad_request', `unknown format "${format}" (pdf, cades, xades)`);
      const signer = pemSigner(readFileSync(o.keyPem, 'utf8'), readFileSync(o.certPem, 'utf8'));
      const level = parseLevel(o.level);
      const certify = o.certify === undefined ? undefined : Number(o.certify);
      if (certify !== undefined && (format !== 'pdf' || ![1, 2, 3].includes(certify))) throw new TrucError('bad_request', '--certify is 1, 2 or 3, for a PDF');
      if (o.lock !== undefined && format !== 'pdf') throw new TrucError('bad_request', '--lock is for a PDF');
      if (o.detached && (format !== 'xades' || o.enveloping)) throw new TrucError('bad_request', '--detached is for XAdES, and not with --enveloping (CAdES is detached unless --enveloping)');
      if (o.enveloping && format === 'pdf') throw new TrucError('bad_request', '--enveloping is for CAdES or XAdES');
      const packaging = o.detached ? 'detached' : o.enveloping ? 'enveloping' : 'enveloped';
      if (o.dataTimestamp && format !== 'xades') throw new TrucError('bad_request', '--data-timestamp is for XAdES (AllDataObjectsTimeStamp)');
      const dataTimeStamp = o.dataTimestamp ? { dataTimeStamp: true } : {};
      // B-B without a data time-stamp needs no time-stamper
      const unstamped = level === 'B-B' && !o.dataTimestamp;
      if (inputs.length > 1) {
        // several files: one detached XAdES signature with a reference naming each by its file name
        if (format !== 'xades' || packaging !== 'detached') throw new TrucError('bad_request', 'nhiều tệp chỉ được ký chung thành một chữ ký XAdES tách rời / several files are signed together only as one detached XAdES signature (xades --detached); for a signature each, sign their folder');
        for (const f of inputs) if (!existsSync(f) || statSync(f).isDirectory()) throw new TrucError('not_found', `no file ${f}`);
        if (existsSync(o.out) && inputs.some((f) => realpathSync(f) === realpathSync(o.out))) throw new TrucError('bad_request', '--out không được trùng tệp được ký / --out must not be one of the files signed');
        const documents = inputs.map((f) => ({ name: basename(f), content: readFileSync(f) }));
        const run = async (ctx: LevelContext) => {
          const out = await signXadesDetached(documents, signer, { level, context: ctx, ...dataTimeStamp });
          writeFileSync(o.out, out);
          c.out({ out: o.out, format, level, files: documents.map((d) => d.name), bytes: out.length }, () => `signed ${documents.length} files in one detached ${format} signature at ${level}: ${o.out} (${out.length} bytes)`);
        };
        if (unstamped) return run({});
        return c.withPlatform((p) => withLevelContext(p, o.tsaUrl, run));
      }
      if (!existsSync(input)) throw new TrucError('not_found', `no file or folder ${input}`);
      const signOne = async (data: Buffer, ctx: LevelContext, name: string): Promise<Buffer> => {
        if (format === 'pdf')
          return signPdf(data, signer, { level, context: ctx, reason: o.reason, location: o.location, ...(certify ? { certify: certify as 1 | 2 | 3 } : {}), ...(o.lock !== undefined ? { lock: parseLock(o.lock) } : {}) });
        if (format === 'cades') return signCades(data, signer, { level, context: ctx, packaging: o.enveloping ? 'enveloping' : 'detached' });
        return Buffer.from(await signXades(data, signer, { level, context: ctx, packaging, ...dataTimeStamp, ...(packaging === 'detached' ? { contentUri: basename(name) } : {}) }));
      };
      const folder = statSync(input).isDirectory();
      const run = async (ctx: LevelContext) => {
        if (!folder) {
          const out = await signOne(readFileSync(input), ctx, input);
          writeFileSync(o.out, out);
          c.out({ out: o.out, format, level, bytes: out.length }, () => `signed ${format} at ${level}: ${o.out} (${out.length} bytes)`);
          return;
        }
        // a folder: every file of the format into --out (a folder, never the input folder), one bad file
        // reported and passed over
        mkdirSync(o.out, { recursive: true });
        if (realpathSync(o.out) === realpathSync(input)) throw new TrucError('bad_request', '--out must be another folder than the input (inputs are never modified in place)');
        const suffix = format === 'cades' ? (o.enveloping ? '.p7m' : '.p7s') : packaging === 'detached' ? '.xml' : '';
        const wanted = (f: string) => (format === 'pdf' ? /\.pdf$/i.test(f) : format === 'xades' && packaging !== 'detached' ? /\.xml$/i.test(f) : true);
        const files = readdirSync(input).sort().filter((f) => wanted(f) && statSync(join(input, f)).isFile());
        const bar = progressBar(files.length, { enabled: files.length > 1 });
        const results: { file: string; out?: string; bytes?: number; error?: string }[] = [];
        for (const [i, f] of files.entries()) {
          try {
            const out = await signOne(readFileSync(join(input, f)), ctx, f);
            const target = join(o.out, f + suffix);
            writeFileSync(target, out);
            results.push({ file: join(input, f), out: target, bytes: out.length });
            bar.log(`OK   ${f}`);
          } catch (e) {
            results.push({ file: join(input, f), error: (e as Error).message });
            bar.log(`FAIL ${f}: ${(e as Error).message}`);
          }
          bar.update(i + 1);
        }
        bar.done();
        const failed = results.filter((r) => r.error).length;
        c.out({ format, level, signed: results.length - failed, failed, files: results }, () => `signed ${results.length - failed} of ${files.length} files (${format}, ${level}) into ${o.out}${failed ? `; ${failed} failed` : ''}`);
        if (failed) process.exitCode = 3;
      };
      if (unstamped) return run({});
      await c.withPlatform((p) => withLevelContext(p, o.tsaUrl, run));
    });

  // server-held keys for `POST /api/v1/sign` (commander dispatches `sign key …` here, not to the action above)
  signCmd
    .command('key')
    .description('signing keys the platform holds for principals (server-side signing)')
    .command('create')
    .description('generate a key in the platform key store and have the CA issue its certificate, for a principal with role signer')
    .requiredOption('--name <principal>', 'the API principal (token name) that will sign with it')
    .requiredOption('--subject <dn>', 'vetted subject, e.g. "C=VN, O=Bộ Tư pháp, CN=Nguyễn Văn An"')
    .option('--profile <profile>', 'official-signing or agency-signing', 'official-signing')
    .option('--algorithm <alg>', 'EC-P256, EC-P384, RSA-2048, RSA-3072', 'EC-P256')
    .option('--ca <id>', 'issuing CA (default: the only active one)')
    .action(async (o) =>
      c.withPlatform(async (p) => {
        const k = await createSignKey(p.db, p.keys, p.issuer, {
          principal: o.name,
          subject: o.subject,
          profile: o.profile,
          algorithm: parseKeyAlgorithm(o.algorithm),
          ...(o.ca ? { caId: o.ca } : {}),
          actor: 'operator',
        });
        c.out({ principal: k.principal, serial: k.serial, ca: k.caId, profile: k.profile, keyStore: k.keyStore }, () => `signing key for ${k.principal}: certificate ${k.serial} (${k.profile}) from ${k.caId}, key in ${k.keyStore}`);
      }),
    );


  twoPhaseCommands(signCmd, c);

  program
    .command('augment <format> <in>')
    .description(
      'Raise a signature to a higher level without re-signing (B-B → B-T → B-LT → B-LTA), or with --renew add a further archive time-stamp to a B-LTA signature: format pdf, cades or xades. The input is never modified; exit 3 bad input or a broken signature, 5 already at a higher level or not B-LTA for --renew',
    )
    .option('--out <file>', 'where to write the augmented file (required; not the input)')
    .option('--level <level>', 'B-T, B-LT or B-LTA (required unless --renew)')
    .option('--renew', 'B-LTA: fresh validation data for the last archive time-stamp, then another archive time-stamp over everything')
    .option('--content <file>', 'CAdES or XAdES: the signed content of a detached signature (needed for B-LTA and --renew); repeat it for a detached XAdES signature over several files (each matched to its reference by file name or digest)', (v: string, prev: string[]) => [...prev, v], [] as string[])
    .option('--tsa-url <url>', 'RFC 3161 time-stamping service (default: the platform TSA in process)')
    .action(async (format: string, input: string, o) => {
      const kind = KIND_OF_FORMAT[format];
      if (!kind) throw new TrucError('bad_request', `unknown format "${format}" (pdf, cades, xades)`);
      if (!o.out) throw new TrucError('bad_request', 'option --out is required');
      if (!o.level && !o.renew) throw new TrucError('bad_request', 'option --level is required (B-T, B-LT or B-LTA), or --renew');
      const level = o.level ? parseLevel(o.level) : undefined;
      const contents = o.content as string[];
      if (contents.length && format === 'pdf') throw new TrucError('bad_request', '--content is for a detached CAdES or XAdES signature');
      if (contents.length > 1 && format !== 'xades') throw new TrucError('bad_request', 'chữ ký CAdES chỉ ký một nội dung / a CAdES signature signs one content: give one --content');
      if (!existsSync(input)) throw new TrucError('not_found', `no file ${input}`);
      if (statSync(input).isDirectory()) throw new TrucError('bad_request', `${input} is a folder: truc augment takes one file`);
      // the input is never written to: not even through --out naming it (or a link to it)
      if (existsSync(o.out) && realpathSync(o.out) === realpathSync(input)) throw new TrucError('bad_request', '--out must not be the input file (the input is never modified in place)');
      const data = readFileSync(input);
      const detected = detectFormat(data);
      if (!detected) throw new TrucError('unsupported', `${input} is not a PDF, CMS or XML signature`);
      if (detected !== kind) throw new TrucError('bad_request', `${input} is not a ${format} file (it looks like ${{ pdf: 'a PDF', cms: 'a CMS signature', xml: 'XML' }[detected]})`);
      // one file as it is; several by their names, which the references' URIs name
      const content = contents.length === 1 ? readFileSync(contents[0]) : contents.length ? contents.map((f) => ({ name: basename(f), content: readFileSync(f) })) : undefined;
      await c.withPlatform((p) =>
        withLevelContext(p, o.tsaUrl, async (ctx) => {
          const r = await augmentFile(data, {
            ...(level ? { level } : {}),
            ...(o.renew ? { renew: true } : {}),
            ...(content ? { content } : {}),
            context: ctx,
            validation: { trustAnchors: ctx.trustAnchors ?? [], revocation: { mode: 'soft-fail' } },
          });
          writeFileSync(o.out, r.bytes);
          const what = r.renewed ? `renewed the archive time-stamp of ${format} at B-LTA` : r.changed ? `augmented ${format} from ${r.from} to ${r.to}` : `${format} already at ${r.to}, written unchanged`;
          c.out({ out: o.out, format, from: r.from, level: r.to, changed: r.changed, renewed: r.renewed, signatures: r.signatures, bytes: r.bytes.length }, () => `${what}: ${o.out} (${r.bytes.length} bytes)`);
        }),
      );
    });

  program
    .command('verify <path>')
    .description('Validate the signatures of a PDF, a CMS signature, an XAdES-signed XML file or a folder of them. Exit 0 all TOTAL-PASSED, 1 a TOTAL-FAILED or no signature, 2 INDETERMINATE')
    .option('--content <file>', 'the signed content, for a detached CMS or XAdES signature; repeat it for a detached XAdES signature over several files (each matched to its reference by file name or digest)', (v: string, prev: string[]) => [...prev, v], [] as string[])
    .option('--report <kind>', 'text, json, xml (ETSI TS 119 102-2) or html', 'text')
    .option('--lang <lang>', 'text report language: vi or en', 'vi')
    .option('--anchor <pem...>', 'trust anchors (PEM files); default the platform root CAs')
    .option('--hard-fail', 'no revocation status is INDETERMINATE (default soft-fail)')
    .action(async (path: string, o) => {
      // the validators load while the database opens (PGlite's files are read and its WebAssembly compiled
      // off the main thread meanwhile): awaited only before the first file is validated
      const validators = loadVerify();
      validators.catch(() => {}); // a failure is reported where it is awaited
      const revocation = o.hardFail ? ('hard-fail' as const) : ('soft-fail' as const);
      // each file given by its name, which a detached reference's URI names
      const files = o.content as string[];
      const content = files.length ? files.map((f) => ({ name: basename(f), content: readFileSync(f) })) : undefined;
      // with --anchor nothing comes from the platform: the database is not opened. Without, the platform's
      // roots: from the copy kept beside the embedded database while it has not been opened since
      // (./anchors.ts), else read from the database alone (no key store, bus, profiles), closed before the
      // files are validated, and kept for the next verification. While `truc start` holds the database,
      // each file goes to its POST /api/v1/validate instead, which validates with the same roots (./beside.ts)
      const local = (anchors: Buffer[]): Validate => (bytes) => validateFile(bytes, { trustAnchors: anchors, revocation: { mode: revocation }, ...(content ? { content } : {}) });
      let validate: Validate | undefined;
      if (o.anchor) validate = local((o.anchor as string[]).flatMap((f) => pemBlocks(readFileSync(f, 'utf8'), 'CERTIFICATE')));
      else {
        const { cachedRoots, readRoots } = await import('./anchors.js');
        let roots = cachedRoots(c.config());
        if (roots) validate = local(roots);
        else {
          // withDb keeps the roots for the next verification as it closes the database
          await c.withDb(
            async (db) => void (roots = await readRoots(db)),
            async (s) => void (validate = await viaServer(s, revocation, content)),
          );
          if (roots) validate = local(roots);
        }
      }
      await validators;
      await verifyFiles(path, validate!, o, c.out);
    });

  for (const cmd of program.commands) if (['sign', 'augment'].includes(cmd.name())) loadBefore(cmd, load);
}

/** Who a CLI handle belongs to: `--as`, else the operating-system user. */
const cliPrincipal = (as: string | undefined) => `cli:${as ?? process.env.USER ?? 'operator'}`;

/** A signature value from a file: raw bytes, or base64 / hex text. */
function readValue(path: string): Buffer {
  const raw = readFileSync(path);
  const text = raw.toString('latin1').trim();
  if (/^[0-9a-fA-F]+$/.test(text) && text.length % 2 === 0 && text.length >= 64) return Buffer.from(text, 'hex');
  if (/^[A-Za-z0-9+/=\r\n]+$/.test(text) && text.length >= 64) return Buffer.from(text, 'base64');
  return raw;
}

/**
 * `truc sign prepare` and `truc sign complete`: two-phase signing for a key on a token the platform never
 * sees. Step one writes (and prints) the data to be signed with a handle kept in the platform's database;
 * the official signs it on the token (`truc agent`, or any PKCS#11 tool); step two completes the handle.
 */
function twoPhaseCommands(signCmd: Command, c: SignCliContext): void {
  signCmd
    .command('prepare <in...>')
    .description('Two-phase signing, step one: the data to be signed for a file (or a batch of files) and the signer certificate from the token; prints the handle(s) / bước một: dữ liệu cần ký và mã ký')
    .option('--cert-pem <file>', "the signer's certificate (from the token), then its CA certificates (PEM) (required)")
    .option('--format <format>', 'pdf (PAdES), cades or xades', 'pdf')
    .option('--level <level>', 'B-B, B-T, B-LT or B-LTA (default B-B)')
    .option('--signing-time <iso>', 'the claimed signing time (default now)')
    .option('--reason <text>', 'PAdES: reason')
    .option('--location <text>', 'PAdES: location')
    .option('--page <n>', 'PAdES: the page of the signature field, from 1')
    .option('--rect <x1,y1,x2,y2>', 'PAdES: a visible seal at this rectangle (points, as the page is seen)')
    .option('--enveloping', 'CAdES or XAdES: enveloping')
    .option('--detached', 'XAdES: detached, naming the content by its file name')
    .option('--title <text>', 'what the official is shown (default the file name)')
    .option('--ttl <seconds>', 'how long the handle lives', '600')
    .option('--as <principal>', 'whose handle it is (default the system user)')
    .option('--dtbs-out <file>', 'also write the data to be signed (raw bytes; a batch: FILE.1, FILE.2, …)')
    .action(async (inputs: string[], _o, cmd: Command) => {
      // options `sign` also has (--cert-pem, --level, …) are parsed by `sign`: read both
      const o = cmd.optsWithGlobals();
      if (!o.certPem) throw new TrucError('bad_request', 'option --cert-pem is required');
      const format = { pdf: 'pades', cades: 'cades', xades: 'xades' }[o.format as string];
      if (!format) throw new TrucError('bad_request', `unknown format "${o.format}" (pdf, cades, xades)`);
      const [certificate, ...chain] = pemBlocks(readFileSync(o.certPem, 'utf8'), 'CERTIFICATE');
      if (!certificate) throw new TrucError('bad_request', 'no certificate in the --cert-pem file');
      const rect = o.rect ? String(o.rect).split(',').map(Number) : undefined;
      const packaging = o.detached ? 'detached' : o.enveloping ? 'enveloping' : undefined;
      const items = inputs.map((f) => {
        if (!existsSync(f) || statSync(f).isDirectory()) throw new TrucError('not_found', `no file ${f}`);
        return {
          document: readFileSync(f),
          title: o.title ?? basename(f),
          params: {
            format,
            level: o.level ?? 'B-B',
            ...(o.signingTime ? { signingTime: o.signingTime } : {}),
            ...(o.reason ? { reason: o.reason } : {}),
            ...(o.location ? { location: o.location } : {}),
            ...(o.page !== undefined ? { page: Number(o.page) - 1 } : {}),
            ...(rect ? { visible: { rect } } : {}),
            ...(packaging ? { packaging } : {}),
            ...(packaging === 'detached' ? { contentUri: basename(f) } : {}),
          },
        };
      });
      await c.withPlatform(async (p) => {
        const prepared = await prepareSigning(p.db, cliPrincipal(o.as), { certificate, chain }, items, { ttlSeconds: Number(o.ttl) });
        if (o.dtbsOut)
          for (const [i, it] of prepared.items.entries()) writeFileSync(prepared.items.length > 1 ? `${o.dtbsOut}.${i + 1}` : o.dtbsOut, Buffer.from(it.dataToBeSigned, 'base64'));
        c.out(prepared, () =>
          [
            ...(prepared.batch ? [`lô ký / batch: ${prepared.batch}`] : []),
            ...prepared.items.map((it) => `${it.handle}  ${it.title}\n  ${it.hash} ${it.digest}  (${it.scheme}, ${it.params.format} ${it.params.level}, hết hạn / expires ${it.expiresAt})`),
          ].join('\n'),
        );
      });
    });

  signCmd
    .command('complete <handle>')
    .description("Two-phase signing, step two: the token's signature value over the data to be signed → the signed file at the level asked / bước hai: hoàn tất chữ ký")
    .requiredOption('--signature <file>', 'the signature value (raw bytes, base64 or hex; ECDSA as DER or r‖s)')
    .option('--out <file>', 'where to write the signed file (required)')
    .option('--document <file>', 'the document again: refused if it is not the one prepared')
    .option('--as <principal>', 'whose handle it is (default the system user)')
    .option('--tsa-url <url>', 'RFC 3161 time-stamping service (default: the platform TSA in process)')
    .action(async (handle: string, _o, cmd: Command) => {
      const o = cmd.optsWithGlobals();
      if (!o.out) throw new TrucError('bad_request', 'option --out is required');
      const value = readValue(o.signature);
      const document = o.document ? readFileSync(o.document) : undefined;
      await c.withPlatform((p) =>
        withLevelContext(p, o.tsaUrl, async (ctx) => {
          const done = await completeSigning(p.db, cliPrincipal(o.as), handle, value, ctx, document ? { document } : {});
          writeFileSync(o.out, done.signed);
          c.out({ out: o.out, handle, format: done.params.format, level: done.params.level, bytes: done.signed.length, sha256: done.signedSha256 }, () => `đã ký / signed ${done.title} (${done.params.format} ${done.params.level}): ${o.out} (${done.signed.length} bytes)`);
        }),
      );
    });
}
