// Builds a certificate from a verified PKCS#10 CSR, for the in-process backends (selfSigned, ca).
// Names (subject DN, subjectAltName) are copied from the CSR byte for byte and never invented; key
// usage, extended key usage and basicConstraints come from the CSR's extensionRequest, falling back to
// the identity's `usages` / `isCA`. Lifetime = min(requested, binding maxDuration, CA notAfter).
import 'reflect-metadata';
import { createHash, createPublicKey, randomBytes, webcrypto, type KeyObject } from 'node:crypto';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

type CryptoKey = webcrypto.CryptoKey;

/** Clock skew allowance: notBefore is this far in the past. */
export const BACKDATE_MS = 60_000;

const OID = { san: '2.5.29.17', ku: '2.5.29.15', eku: '2.5.29.37', bc: '2.5.29.19' } as const;

const KU_FLAGS: Readonly<Record<string, number>> = {
  digitalSignature: x509.KeyUsageFlags.digitalSignature,
  contentCommitment: x509.KeyUsageFlags.nonRepudiation,
  keyEncipherment: x509.KeyUsageFlags.keyEncipherment,
  dataEncipherment: x509.KeyUsageFlags.dataEncipherment,
  keyAgreement: x509.KeyUsageFlags.keyAgreement,
  certSign: x509.KeyUsageFlags.keyCertSign,
  crlSign: x509.KeyUsageFlags.cRLSign,
  encipherOnly: x509.KeyUsageFlags.encipherOnly,
  decipherOnly: x509.KeyUsageFlags.decipherOnly,
};

const EKU_OIDS: Readonly<Record<string, string>> = {
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
  codeSigning: '1.3.6.1.5.5.7.3.3',
  emailProtection: '1.3.6.1.5.5.7.3.4',
  ipsecEndSystem: '1.3.6.1.5.5.7.3.5',
  ipsecTunnel: '1.3.6.1.5.5.7.3.6',
  ipsecUser: '1.3.6.1.5.5.7.3.7',
  timeStamping: '1.3.6.1.5.5.7.3.8',
  ocspSigning: '1.3.6.1.5.5.7.3.9',
  any: '2.5.29.37.0',
};

/** WebCrypto parameters for a signing key: how to import it and how to sign with it. */
export interface SigningAlgorithm {
  importParams: webcrypto.AlgorithmIdentifier | webcrypto.EcKeyImportParams | webcrypto.RsaHashedImportParams;
  signParams: webcrypto.AlgorithmIdentifier | webcrypto.EcdsaParams;
}

const CURVES: Readonly<Record<string, { curve: string; hash: string }>> = {
  prime256v1: { curve: 'P-256', hash: 'SHA-256' },
  secp384r1: { curve: 'P-384', hash: 'SHA-384' },
  secp521r1: { curve: 'P-521', hash: 'SHA-512' },
};

/** The signing algorithm for a private key; undefined for key types we do not sign with (e.g. RSA-PSS, DSA). */
export function signingAlgorithmFor(key: KeyObject): SigningAlgorithm | undefined {
  switch (key.asymmetricKeyType) {
    case 'ec': {
      const c = CURVES[key.asymmetricKeyDetails?.namedCurve ?? ''];
      return c ? { importParams: { name: 'ECDSA', namedCurve: c.curve }, signParams: { name: 'ECDSA', hash: c.hash } } : undefined;
    }
    case 'rsa':
      return { importParams: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, signParams: { name: 'RSASSA-PKCS1-v1_5' } };
    case 'ed25519':
      return { importParams: { name: 'Ed25519' }, signParams: { name: 'Ed25519' } };
    default:
      return undefined;
  }
}

/** A private key as a non-extractable WebCrypto signing key (do this once per CA, not per signature). */
export function toSigningKey(key: KeyObject): { key: CryptoKey; algorithm: SigningAlgorithm } | undefined {
  const algorithm = signingAlgorithmFor(key);
  if (!algorithm) return undefined;
  return { key: key.toCryptoKey(algorithm.importParams, false, ['sign']), algorithm };
}

/** Colon-separated upper-case hex, the form used in status and `distrust`. */
export function normaliseFingerprint(fp: string): string {
  const hex = fp.replace(/:/g, '').toUpperCase();
  return hex.match(/.{2}/g)?.join(':') ?? hex;
}

/** A random positive 128-bit serial number (hex); the DER encoder adds a 0x00 when the top bit is set. */
export function randomSerial(): string {
  for (;;) {
    const b = randomBytes(16);
    if (b.some((x) => x !== 0)) return b.toString('hex');
  }
}

/** Who signs: the CA's name, key and lifetime; absent `issuerName` means self-signed (issuer = subject). */
export interface SigningAuthority {
  signingKey: CryptoKey;
  algorithm: SigningAlgorithm;
  issuerName?: x509.Name;
  /** Key identifier (hex) for the authorityKeyIdentifier extension. */
  authorityKeyId?: string;
  /** The CA certificate's notAfter: no certificate outlives its issuer. */
  notAfter?: Date;
}

export interface CertificateTemplate {
  durationMs: number;
  maxDurationMs?: number;
  isCA: boolean;
  usages: readonly string[];
  now: Date;
}

export type Denial = { ok: false; reason: string; message: string };
export type ParsedCsr = { ok: true; csr: x509.Pkcs10CertificateRequest } | Denial;

/** Parses a PEM CSR and checks its self-signature (proof of possession of the key). */
export async function parseAndVerifyCsr(csrPem: string): Promise<ParsedCsr> {
  let csr: x509.Pkcs10CertificateRequest;
  try {
    csr = new x509.Pkcs10CertificateRequest(csrPem);
  } catch (e) {
    return { ok: false, reason: 'InvalidCSR', message: `the certificate signing request is not a valid PEM PKCS#10 CSR: ${(e as Error).message}` };
  }
  let valid = false;
  try { valid = await csr.verify(); } catch { valid = false; }
  if (!valid) return { ok: false, reason: 'InvalidCSR', message: 'the CSR\'s signature does not verify with its own public key (corrupted CSR or wrong key)' };
  return { ok: true, csr };
}

/** The extensions of the new certificate, or a denial. */
async function extensionsFor(csr: x509.Pkcs10CertificateRequest, t: CertificateTemplate, authorityKeyId: string | undefined): Promise<x509.Extension[] | Denial> {
  const get = (oid: string): x509.Extension | null => csr.getExtension(oid);
  const bcExt = get(OID.bc);
  const bc = bcExt ? new x509.BasicConstraintsExtension(bcExt.rawData) : undefined;
  if (bc?.ca && !t.isCA) {
    return { ok: false, reason: 'CSRRequestsCA', message: 'the CSR asks for a CA certificate (basicConstraints CA:TRUE) but the identity does not set isCA: true' };
  }
  const isCA = bc ? bc.ca : t.isCA;
  const san = get(OID.san);
  const subjectEmpty = csr.subjectName.toArrayBuffer().byteLength <= 2;
  if (subjectEmpty && !san) return { ok: false, reason: 'InvalidCSR', message: 'the CSR has neither a subject nor a subjectAltName: nothing to certify' };
  const exts: x509.Extension[] = [
    bc ? new x509.BasicConstraintsExtension(bc.ca, bc.pathLength, true) : new x509.BasicConstraintsExtension(isCA, undefined, true),
  ];
  const ku = get(OID.ku);
  exts.push(ku ? new x509.Extension(OID.ku, true, ku.value) : new x509.KeyUsagesExtension(defaultKeyUsage(t.usages, isCA, csr), true));
  const eku = get(OID.eku);
  const ekuOids = t.usages.map((u) => EKU_OIDS[u]).filter((o): o is string => o !== undefined);
  if (eku) exts.push(new x509.Extension(OID.eku, eku.critical, eku.value));
  else if (ekuOids.length > 0) exts.push(new x509.ExtendedKeyUsageExtension(ekuOids));
  // RFC 5280 §4.2.1.6: the SAN is critical when the subject is empty
  if (san) exts.push(new x509.Extension(OID.san, subjectEmpty || san.critical, san.value));
  exts.push(await x509.SubjectKeyIdentifierExtension.create(csr.publicKey));
  if (authorityKeyId) exts.push(new x509.AuthorityKeyIdentifierExtension(authorityKeyId));
  return exts;
}

function defaultKeyUsage(usages: readonly string[], isCA: boolean, csr: x509.Pkcs10CertificateRequest): number {
  let flags = 0;
  for (const u of usages) flags |= KU_FLAGS[u] ?? 0;
  if (flags === 0) {
    flags = x509.KeyUsageFlags.digitalSignature;
    // RSA key transport (TLS 1.2 RSA kex) needs keyEncipherment; EC and Ed25519 keys never do it
    if (csr.publicKey.algorithm.name.startsWith('RSA')) flags |= x509.KeyUsageFlags.keyEncipherment;
  }
  if (isCA) flags |= x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign;
  return flags;
}

/** notAfter = min(now + requested, now + maxDuration, CA notAfter). */
export function cappedNotAfter(t: CertificateTemplate, caNotAfter: Date | undefined): Date {
  const now = t.now.getTime();
  let end = now + t.durationMs;
  if (t.maxDurationMs !== undefined) end = Math.min(end, now + t.maxDurationMs);
  if (caNotAfter) end = Math.min(end, caNotAfter.getTime());
  return new Date(Math.floor(end / 1000) * 1000); // X.509 time has second precision
}

/** Signs a certificate for a verified CSR; `denied` for requests that cannot succeed as they are. */
export async function signFromCsr(csr: x509.Pkcs10CertificateRequest, a: SigningAuthority, t: CertificateTemplate): Promise<{ ok: true; cert: x509.X509Certificate } | Denial> {
  const notBefore = new Date(Math.floor((t.now.getTime() - BACKDATE_MS) / 1000) * 1000);
  const notAfter = cappedNotAfter(t, a.notAfter);
  if (notAfter.getTime() <= t.now.getTime()) {
    return { ok: false, reason: 'CAExpired', message: `the CA certificate expired at ${a.notAfter?.toISOString() ?? '?'}; renew or replace the CA` };
  }
  const extensions = await extensionsFor(csr, t, a.authorityKeyId);
  if (!Array.isArray(extensions)) return extensions;
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: csr.subjectName,
    issuer: a.issuerName ?? csr.subjectName,
    notBefore, notAfter,
    publicKey: csr.publicKey,
    signingKey: a.signingKey,
    signingAlgorithm: a.algorithm.signParams as webcrypto.EcdsaParams,
    extensions,
  });
  return { ok: true, cert };
}

/** True when the private key is the one whose public half is in the CSR. */
export function keyMatchesCsr(key: KeyObject, csr: x509.Pkcs10CertificateRequest): boolean {
  const spki = createPublicKey(key).export({ type: 'spki', format: 'der' });
  return Buffer.from(csr.publicKey.rawData).equals(spki);
}

/** SHA-256 fingerprint of a certificate, colon upper-case hex (as `openssl x509 -fingerprint -sha256`). */
export function fingerprintOf(cert: x509.X509Certificate): string {
  return normaliseFingerprint(createHash('sha256').update(Buffer.from(cert.rawData)).digest('hex'));
}
