// Signs a certificate for a verified CSR, for the in-process backends (selfSigned, ca): the checks
// and decisions (csr-checks, lifetime, certificate-extensions) make the certificate's fields, pki
// encodes and signs them: synchronously with a KeyObject, or with a WebCrypto key from toSigningKey.
import { KeyObject, type webcrypto } from 'node:crypto';
import { buildCertificate, type BuiltCertificate, type CertificateFields } from '../pki/certificate.ts';
import { randomSerialBytes } from '../pki/serial.ts';
import { signCertificateWithWebKey, type SigningAlgorithm } from '../pki/webcrypto-signing.ts';
import { extensionsFor, type RequestedUse } from './certificate-extensions.ts';
import { isDenial, type Denial, type VerifiedCsr } from './csr-checks.ts';
import { validityFor, type Lifetime } from './lifetime.ts';
import type { SignRequest } from './types.ts';

type CryptoKey = webcrypto.CryptoKey;

/** Who signs: the CA's name, key and lifetime; absent issuer name means self-signed (issuer = subject). */
export interface SigningAuthority {
  /** The CA's private key (the identity's own for self-signed). A WebCrypto key from toSigningKey is accepted too. */
  signingKey: KeyObject | CryptoKey;
  /** Unused: the signature algorithm follows from the key. Accepted for callers of toSigningKey. */
  algorithm?: SigningAlgorithm;
  /** The CA certificate's subject Name (DER), copied into the issuer field byte for byte. */
  issuerNameDer?: Buffer;
  /** The same as an object with the DER (e.g. @peculiar/x509's Name); issuerNameDer wins. */
  issuerName?: { toArrayBuffer(): ArrayBuffer };
  /** keyIdentifier for the authorityKeyIdentifier extension (the CA's subjectKeyIdentifier): bytes or hex. */
  authorityKeyId?: Buffer | string;
  /** The CA certificate's notAfter: no certificate outlives its issuer. */
  notAfter?: Date;
}

/** What the identity asks for: lifetime, CA or not, usages. */
export interface CertificateTemplate extends Lifetime, RequestedUse {}

export type SignOutcome = { ok: true; cert: BuiltCertificate } | Denial;

/** The template an identity's SignRequest asks for, under the binding's maxDuration. */
export function templateFor(req: SignRequest, maxDurationMs: number | undefined, now: Date): CertificateTemplate {
  const { durationMs, isCA, caConstraints, usages } = req;
  return { durationMs, maxDurationMs, isCA, caConstraints, usages, now };
}

function issuerNameOf(a: SigningAuthority, csr: VerifiedCsr): Buffer {
  if (a.issuerNameDer) return a.issuerNameDer;
  return a.issuerName ? Buffer.from(a.issuerName.toArrayBuffer()) : csr.subjectNameDer;
}

function authorityKeyIdOf(a: SigningAuthority): Buffer | undefined {
  return typeof a.authorityKeyId === 'string' ? Buffer.from(a.authorityKeyId, 'hex') : a.authorityKeyId;
}

/** The certificate's fields for a verified CSR, or a denial (expired CA, CA requested, nothing to certify, malformed extension). */
function certificateFields(csr: VerifiedCsr, a: SigningAuthority, t: CertificateTemplate): CertificateFields | Denial {
  const validity = validityFor(t, a.notAfter);
  if (isDenial(validity)) return validity;
  const extensions = extensionsFor(csr, t, authorityKeyIdOf(a));
  if (isDenial(extensions)) return extensions;
  return {
    serialNumber: randomSerialBytes(),
    issuerNameDer: issuerNameOf(a, csr),
    subjectNameDer: csr.subjectNameDer,
    spkiDer: csr.spkiDer,
    ...validity,
    extensions,
  };
}

/** Signs a certificate for a verified CSR, synchronously, with a KeyObject; `denied` for requests that cannot succeed as they are. */
export function signFromCsrSync(
  csr: VerifiedCsr,
  a: SigningAuthority & { signingKey: KeyObject },
  t: CertificateTemplate,
): SignOutcome {
  const f = certificateFields(csr, a, t);
  if (isDenial(f)) return f;
  return { ok: true, cert: buildCertificate(f, { key: a.signingKey }) };
}

/** Signs a certificate for a verified CSR; `denied` for requests that cannot succeed as they are. */
export async function signFromCsr(csr: VerifiedCsr, a: SigningAuthority, t: CertificateTemplate): Promise<SignOutcome> {
  const key = a.signingKey;
  if (key instanceof KeyObject) return signFromCsrSync(csr, { ...a, signingKey: key }, t);
  const f = certificateFields(csr, a, t);
  if (isDenial(f)) return f;
  return { ok: true, cert: await signCertificateWithWebKey(f, key) };
}
