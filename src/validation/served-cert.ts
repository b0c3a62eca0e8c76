// Facts of a served certificate, from its DER (in the probe worker: these bytes come from the peer).
// parseCertificateDer is the same summary the rest of the operator uses (serial and fingerprint forms
// match CertFacts); it costs an OpenSSL parse, a DER walk of the validated bytes and, for a self-issued
// certificate only, one signature check: well under a millisecond for an ECDSA or RSA certificate.
import { createHash } from 'node:crypto';
import { parseCertificateDer } from '../pki/certs.ts';
import { normaliseFingerprint } from '../pki/fingerprint.ts';
import { publicKeyFingerprint } from '../pki/keys.ts';
import type { ServedCert } from './types.ts';

export function servedCertFromDer(der: Buffer): ServedCert {
  const f = parseCertificateDer(der);
  const c: ServedCert = {
    serialNumber: f.serialNumber,
    fingerprintSHA256: f.fingerprintSHA256,
    publicKeySHA256: normaliseFingerprint(publicKeyFingerprint(f.publicKey)),
    subjectDN: f.subjectDN,
    issuerDN: f.issuerDN,
    notBefore: f.notBefore.getTime(),
    notAfter: f.notAfter.getTime(),
    dnsNames: f.dnsNames,
    ipAddresses: f.ipAddresses,
    isCA: f.isCA,
    selfSigned: f.selfSigned,
  };
  if (f.authorityKeyId) c.authorityKeyId = f.authorityKeyId;
  if (f.subjectKeyId) c.subjectKeyId = f.subjectKeyId;
  return c;
}

/**
 * The replicas of a workload, and every address of an ingress controller, present the same certificates:
 * facts are kept per DER hash (a few microseconds) instead of parsed again (a few hundred). Bounded; the
 * oldest entry goes first. Facts are plain data, so sharing them between results is safe once posted.
 */
const CACHE_SIZE = 512;
const cache = new Map<string, ServedCert>();

function cachedFacts(der: Buffer): ServedCert {
  const key = createHash('sha256').update(der).digest('base64');
  const hit = cache.get(key);
  if (hit) return hit;
  const facts = servedCertFromDer(der);
  if (cache.size >= CACHE_SIZE) cache.delete(cache.keys().next().value ?? '');
  cache.set(key, facts);
  return facts;
}

/**
 * Facts of the presented certificates, leaf first: the leaf must parse (else there is nothing to judge);
 * the chain stops at the first certificate that does not, so what is recorded stays in presented order.
 */
export function servedChain(ders: readonly Buffer[]): { leaf: ServedCert; chain: ServedCert[] } {
  const [first, ...rest] = ders;
  if (!first) throw new Error('no certificate presented');
  const leaf = cachedFacts(first);
  const chain: ServedCert[] = [];
  for (const der of rest) {
    try {
      chain.push(cachedFacts(der));
    } catch {
      break;
    }
  }
  return { leaf, chain };
}
