// One certificate as the inventory keeps it: the facts pki parsed, without the key object, times as epoch
// ms, SAN lists capped; plus the public key's fingerprint (anomalies compare it across places).
import type { CertFacts } from '../pki/certs.ts';
import { spkiDerFingerprint } from './key-facts.ts';

export const MAX_SANS_KEPT = 100;

export interface CertRecord extends Omit<CertFacts, 'publicKey' | 'notBefore' | 'notAfter'> {
  /** Data key, webhook name or `caBundle`; `#n` appended for the n-th certificate (n > 0) of a chain or bundle. */
  key: string;
  notBefore: number;
  notAfter: number;
  /** All SANs, also those past the cap. */
  sanCount: number;
  /** SHA-256 of the SubjectPublicKeyInfo DER, upper-case colon hex (the same key in two places). */
  publicKeySHA256: string;
}

/** The record of `f` under data key `key`, and its SubjectPublicKeyInfo DER (for the keys of the same object). */
export function recordOf(f: CertFacts, key: string): { record: CertRecord; spki: Buffer } {
  const spki = f.publicKey.export({ type: 'spki', format: 'der' });
  const publicKeySHA256 = spkiDerFingerprint(spki);
  const cap = (xs: string[]): string[] => (xs.length > MAX_SANS_KEPT ? xs.slice(0, MAX_SANS_KEPT) : xs);
  const r: CertRecord = {
    key,
    serialNumber: f.serialNumber,
    fingerprintSHA256: f.fingerprintSHA256,
    subjectDN: f.subjectDN,
    issuerDN: f.issuerDN,
    notBefore: f.notBefore.getTime(),
    notAfter: f.notAfter.getTime(),
    isCA: f.isCA,
    keyAlgorithm: f.keyAlgorithm,
    keyUsage: f.keyUsage,
    extKeyUsage: f.extKeyUsage,
    signatureAlgorithm: f.signatureAlgorithm,
    selfSigned: f.selfSigned,
    dnsNames: cap(f.dnsNames),
    ipAddresses: cap(f.ipAddresses),
    uris: cap(f.uris),
    emailAddresses: cap(f.emailAddresses),
    sanCount: f.dnsNames.length + f.ipAddresses.length + f.uris.length + f.emailAddresses.length,
    publicKeySHA256,
  };
  if (f.commonName !== undefined) r.commonName = f.commonName;
  if (f.keySize !== undefined) r.keySize = f.keySize;
  if (f.authorityKeyId !== undefined) r.authorityKeyId = f.authorityKeyId;
  if (f.subjectKeyId !== undefined) r.subjectKeyId = f.subjectKeyId;
  return { record: r, spki };
}
