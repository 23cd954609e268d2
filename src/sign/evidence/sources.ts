/**
 * Where validation data comes from when a signature is raised to B-LT: an `EvidenceSource` answers, for a
 * certificate and its issuer, the CRLs and OCSP responses that prove its status now. Two sources: the
 * platform's own CA (its current CRL and its OCSP responder, in process — what a ministry signing with
 * certificates we issued uses), and the network (the certificate's OCSP responders and CRL distribution
 * points, through fetchers the caller supplies, so tests and air-gapped sites decide what is reachable).
 */
import { buildOcspRequest, parseCertificate } from '../../pki/path/index.js';
import { currentCrl, listCas, type PkiContext } from '../../pki/index.js';
import type { OcspResponder } from '../../pki/ocsp/index.js';
import { basicOfOcspResponse } from './ocsp.js';

export interface Evidence {
  crls: Buffer[];
  ocsps: Buffer[];
}

export interface EvidenceSource {
  revocation(certificate: Buffer, issuer: Buffer): Promise<Evidence>;
}

/** Our CA's current complete CRL for certificates it issued, and our responder's answer when given one. */
export function platformEvidence(pki: PkiContext, responder?: Pick<OcspResponder, 'respond'>): EvidenceSource {
  return {
    async revocation(certificate, issuer) {
      const out: Evidence = { crls: [], ocsps: [] };
      if (responder) {
        const reply = await responder.respond(buildOcspRequest(certificate, issuer));
        if (basicOfOcspResponse(reply.der)) out.ocsps.push(reply.der);
      }
      const ca = (await listCas(pki.db)).find((c) => Buffer.from(c.certificate).equals(issuer));
      if (ca) out.crls.push(Buffer.from((await currentCrl(pki, ca.id, false)).der));
      return out;
    },
  };
}

export interface Fetchers {
  fetchOcsp?: (url: string, requestDer: Buffer) => Promise<Uint8Array>;
  fetchCrl?: (url: string) => Promise<Uint8Array>;
}

/** The certificate's own pointers: the first OCSP responder that answers, else its CRL distribution points. */
export function networkEvidence(f: Fetchers): EvidenceSource {
  return {
    async revocation(certificate, issuer) {
      const cert = parseCertificate(certificate);
      const out: Evidence = { crls: [], ocsps: [] };
      for (const url of f.fetchOcsp ? cert.ocspUrls.slice(0, 3) : []) {
        try {
          const der = Buffer.from(await f.fetchOcsp!(url, buildOcspRequest(certificate, issuer)));
          if (basicOfOcspResponse(der)) {
            out.ocsps.push(der);
            break;
          }
        } catch {
          // the next responder, then the CRLs
        }
      }
      if (out.ocsps.length || !f.fetchCrl) return out;
      for (const url of cert.crlDistributionPoints.flatMap((d) => d.fullName ?? []).flatMap((n) => (n.type === 'uri' ? [n.value] : [])).slice(0, 3)) {
        try {
          out.crls.push(Buffer.from(await f.fetchCrl(url)));
          break;
        } catch {
          // the next distribution point
        }
      }
      return out;
    },
  };
}
