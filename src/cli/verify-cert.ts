/**
 * `truc verify-cert`: RFC 5280 path validation of a certificate from the command line, a thin wrapper
 * over validatePath. Trust anchors default to our root CA(s) and intermediates to our other CAs (read
 * from the platform); revocation from CRL files, an OCSP responder URL, the local responder, or the URLs
 * in the certificates. `--name` checks the certificate for a peer (one option: an IP address or an
 * e-mail address is recognised as such, anything else is a DNS name), `--profile` picks rfc5280 or
 * strict, `--max-depth` bounds the intermediates.
 */
import { readFileSync } from 'node:fs';
import { Option, type Command } from 'commander';
import type { Config } from '../config.js';
import { TrucError } from '../errors.js';
import { fail } from './output.js';
import type * as PlatformApi from '../platform.js';
import type * as PkiApi from '../pki/index.js';
import type * as PathApi from '../pki/path/index.js';
import type * as NameApi from '../pki/path/name.js';
import type * as OcspApi from '../pki/ocsp/index.js';
import type * as PinoApi from 'pino';
import type { Platform } from '../platform.js';
import type { PathResult, RevocationOptions } from '../pki/path/index.js';
import { loadBefore } from './lazy.js';
import { pemBlocks } from '../asn1/der.js';

// the parts behind `truc verify-cert`, loaded when one of its commands runs (./lazy.ts)
let openPlatform: typeof PlatformApi.openPlatform;
let listCas: typeof PkiApi.listCas;
let reasonName: typeof PkiApi.reasonName;
let buildOcspRequest: typeof PathApi.buildOcspRequest;
let parseCertificate: typeof PathApi.parseCertificate;
let peerNameOf: typeof PathApi.peerNameOf;
let validatePath: typeof PathApi.validatePath;
let describeName: typeof NameApi.describeName;
let OcspResponder: typeof OcspApi.OcspResponder;
let pino: typeof PinoApi.pino;

async function load(): Promise<void> {
  ({ buildOcspRequest, parseCertificate, peerNameOf, validatePath } = await import('../pki/path/index.js'));
  ({ describeName } = await import('../pki/path/name.js'));
}

/**
 * The platform (database, CAs, the local OCSP responder) only when the command needs it: a chain given
 * as files with --chain and --anchors is validated without it, and starts in a fraction of the time.
 */
async function loadPlatform(): Promise<void> {
  ({ openPlatform } = await import('../platform.js'));
  ({ listCas, reasonName } = await import('../pki/index.js'));
  ({ OcspResponder } = await import('../pki/ocsp/index.js'));
  ({ pino } = await import('pino'));
}

const MAX_FETCH_BYTES = 10 * 1024 * 1024;

/** Certificates (or CRLs) from a PEM bundle or one DER file. */
function readBlobs(file: string, label: 'CERTIFICATE' | 'X509 CRL'): Buffer[] {
  let raw: Buffer;
  try {
    raw = readFileSync(file);
  } catch (e) {
    throw new TrucError('bad_request', `cannot read ${file}: ${(e as Error).message}`);
  }
  const text = raw.toString('latin1');
  if (!text.includes('-----BEGIN')) return [raw];
  const out = pemBlocks(text, label);
  if (!out.length) throw new TrucError('malformed_pem', `no ${label} block in ${file}`);
  return out;
}

async function fetchBytes(url: string, init: RequestInit): Promise<Uint8Array> {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(10_000) });
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  const body = new Uint8Array(await res.arrayBuffer());
  if (body.length > MAX_FETCH_BYTES) throw new Error(`${url}: response too large`);
  return body;
}

const subjectOf = (der: Buffer) => {
  try {
    return describeName(parseCertificate(der).subject);
  } catch {
    return '(unreadable certificate)';
  }
};

interface Asked {
  name?: PathApi.PeerName;
  profile: PathApi.ProfileName;
}

const NAME_KIND = { dns: 'tên miền / DNS name', ip: 'địa chỉ IP / IP address', email: 'địa chỉ thư / e-mail address' };

function report(r: PathResult, asked: Asked): string {
  const lines: string[] = [];
  if (r.valid) {
    lines.push('valid');
    if (asked.name) lines.push(`tên khớp / name matches: ${asked.name.value} (${NAME_KIND[asked.name.type]})`);
    if (asked.profile !== 'rfc5280') lines.push(`hồ sơ xác thực / profile: ${asked.profile}`);
    lines.push('path:');
    r.path.forEach((c, i) => lines.push(`  ${i}: ${subjectOf(c)}`));
    if (r.revocationEvidence.length) {
      lines.push('revocation:');
      for (const e of r.revocationEvidence)
        lines.push(`  ${e.subject}: ${e.status} by ${e.kind.toUpperCase()} (thisUpdate ${e.thisUpdate.toISOString()}${e.nextUpdate ? `, nextUpdate ${e.nextUpdate.toISOString()}` : ''})`);
    }
    for (const w of r.warnings) lines.push(`warning: ${w}`);
  } else {
    lines.push(`invalid: ${r.reason}: ${r.message}`);
    if (r.index !== undefined) lines.push(`at: ${r.subject ?? (r.path[r.index] ? subjectOf(r.path[r.index]) : `certificate ${r.index}`)} (position ${r.index})`);
    if (r.path.length) {
      lines.push('path tried:');
      r.path.forEach((c, i) => lines.push(`  ${i}: ${subjectOf(c)}`));
    }
  }
  return lines.join('\n');
}

function toJson(r: PathResult, asked: Asked) {
  const common = { profile: asked.profile, ...(asked.name ? { name: asked.name } : {}), work: r.work };
  if (r.valid)
    return {
      valid: true,
      ...common,
      path: r.path.map(subjectOf),
      revocation: r.revocationEvidence.map((e) => ({
        subject: e.subject,
        serial: e.serial,
        kind: e.kind,
        status: e.status,
        thisUpdate: e.thisUpdate,
        nextUpdate: e.nextUpdate,
        revocationTime: e.revocationTime,
        reason: e.revocationReason !== undefined ? reasonName(e.revocationReason) : undefined,
      })),
      warnings: r.warnings,
    };
  return { valid: false, reason: r.reason, message: r.message, index: r.index, subject: r.subject, path: r.path.map(subjectOf), ...common };
}

export function verifyCertCommand(program: Command, config: () => Config): void {
  const cmd = program.command('verify-cert <cert>');
  loadBefore(cmd, load);
  cmd
    .description(
      'Validate a certificate path (RFC 5280): signatures, validity, constraints, key usage, policies and revocation. ' +
        'Trust anchors default to our root CA(s), intermediates to our other CAs. Revocation is checked hard when a ' +
        'source is given (--crl, --ocsp-url, --ocsp-local) and off otherwise, unless --revocation says. ' +
        'Exit code: 0 valid, 1 invalid, 3 unreadable input.',
    )
    .option('--chain <file>', 'untrusted intermediate certificates (PEM bundle or DER)')
    .option('--anchors <file>', 'trust anchors (PEM bundle or DER) instead of our root CAs')
    .option('--at <iso-time>', 'validate as of this time (default now)')
    .option('--purpose <eku>', 'required extended key usage: serverAuth clientAuth codeSigning emailProtection timeStamping OCSPSigning or an OID')
    .option('--crl <file...>', 'CRLs to use (PEM or DER)')
    .option('--ocsp-url <url>', 'ask this OCSP responder (POST) instead of the URLs in the certificates')
    .option('--ocsp-local', 'ask this platform’s own OCSP responder, in process')
    .addOption(new Option('--revocation <mode>', 'hard: unknown status fails; soft: unknown is a warning; off').choices(['hard', 'soft', 'off']))
    .option('--name <name>', 'the peer the certificate must be valid for: an IP address (v4, v6), an e-mail address (with @), or else a DNS name (RFC 6125: wildcards only as the whole left-most label)')
    .addOption(
      new Option('--profile <profile>', 'rfc5280 (default), or strict: web-PKI rules (EKU for the purpose, version 3, no CA as leaf, AKI/SKI, RSA ≥ 2048 with odd e ≥ 3, P-256/384/521 named curves, no CN for names)').choices([
        'rfc5280',
        'strict',
      ]),
    )
    .option('--max-depth <n>', 'most intermediate certificates between the certificate and the trust anchor, 0 to 9 (default 9), as openssl verify -verify_depth')
    .action(async (certFile: string, o) => {
      let p: Platform | undefined;
      let responder: OcspApi.OcspResponder | undefined;
      try {
        if (o.ocspUrl && o.ocspLocal) throw new TrucError('bad_request', '--ocsp-url and --ocsp-local exclude each other');
        const at = o.at ? new Date(o.at) : undefined;
        if (at && Number.isNaN(at.getTime())) throw new TrucError('bad_request', `--at ${o.at} is not a date`);
        if (o.maxDepth !== undefined && !/^\d{1,2}$/.test(o.maxDepth)) throw new TrucError('bad_request', `--max-depth ${o.maxDepth} is not a number from 0 to 9`);
        const asked: Asked = { profile: o.profile ?? 'rfc5280', ...(o.name ? { name: peerNameOf(o.name) } : {}) };
        const target = readBlobs(certFile, 'CERTIFICATE')[0];
        let anchors = o.anchors ? readBlobs(o.anchors, 'CERTIFICATE') : null;
        let intermediates = o.chain ? readBlobs(o.chain, 'CERTIFICATE') : null;
        if (!anchors || !intermediates || o.ocspLocal) {
          await loadPlatform();
          p = await openPlatform(config(), { log: pino({ level: 'warn' }, process.stderr) });
          const cas = await listCas(p.db);
          anchors ??= cas.filter((c) => c.parentId === null).map((c) => c.certificate);
          intermediates ??= cas.filter((c) => c.parentId !== null).map((c) => c.certificate);
        }
        const crls = (o.crl ?? []).flatMap((f: string) => readBlobs(f, 'X509 CRL'));
        const sourced = crls.length > 0 || !!o.ocspUrl || !!o.ocspLocal;
        const mode = (o.revocation ?? (sourced ? 'hard' : 'off')) as 'hard' | 'soft' | 'off';
        const revocation: RevocationOptions = { mode: mode === 'off' ? 'off' : mode === 'hard' ? 'hard-fail' : 'soft-fail', crls };
        if (mode !== 'off') {
          if (o.ocspLocal) {
            responder = new OcspResponder(p!.pki, p!.issuer, { ...p!.config.ocsp, presign: false }, p!.log);
            await responder.start();
            const r = responder;
            revocation.fetchOcsp = async (_url, der) => (await r.respond(der)).der;
          } else if (o.ocspUrl) {
            revocation.fetchOcsp = (_url, der) =>
              fetchBytes(o.ocspUrl, { method: 'POST', body: new Uint8Array(der), headers: { 'content-type': 'application/ocsp-request' } });
          } else if (!crls.length) {
            revocation.fetchOcsp = (url, der) =>
              fetchBytes(url, { method: 'POST', body: new Uint8Array(der), headers: { 'content-type': 'application/ocsp-request' } });
            revocation.fetchCrl = (url) => fetchBytes(url, {});
          }
        }
        // an explicit responder answers for every certificate of the path, also CA certificates whose
        // AIA names no responder: ask it ahead for each (certificate, possible issuer) pair
        if (mode !== 'off' && revocation.fetchOcsp && (o.ocspLocal || o.ocspUrl)) {
          const pool = [target, ...intermediates, ...anchors];
          const parsed = pool.map((der) => {
            try {
              return parseCertificate(der);
            } catch {
              return null;
            }
          });
          const responses: Uint8Array[] = [];
          for (let i = 0; i < parsed.length && i < 1 + intermediates.length; i++)
            for (let j = 0; j < parsed.length; j++) {
              const c = parsed[i];
              const issuer = parsed[j];
              if (!c || !issuer || i === j || c.issuer.key !== issuer.subject.key || responses.length >= 20) continue;
              responses.push(await revocation.fetchOcsp('', buildOcspRequest(pool[i], pool[j])).catch(() => new Uint8Array()));
            }
          revocation.ocspResponses = responses.filter((r) => r.length > 0);
        }
        const result = await validatePath({
          target,
          intermediates,
          trustAnchors: anchors,
          ...(at ? { time: at } : {}),
          ...(o.purpose ? { purpose: { extendedKeyUsage: [o.purpose] } } : {}),
          revocation,
          profile: asked.profile,
          ...(o.maxDepth !== undefined ? { maxDepth: Number(o.maxDepth) } : {}),
          ...(asked.name ? { peerName: asked.name } : {}),
        });
        const json = !!program.opts().json;
        if (json && result.valid && result.revocationEvidence.some((e) => e.revocationReason !== undefined) && !reasonName)
          ({ reasonName } = await import('../pki/index.js'));
        process.stdout.write((json ? JSON.stringify(toJson(result, asked), null, 2) : report(result, asked)) + '\n');
        process.exitCode = result.valid ? 0 : 1;
      } catch (e) {
        await responder?.stop().catch(() => {});
        await p?.close().catch(() => {});
        fail(e);
      }
      await responder?.stop();
      await p?.close();
    });
}
