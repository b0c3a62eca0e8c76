// Builds a certificate from a verified PKCS#10 CSR, for the in-process backends (selfSigned, ca).
// Names (subject DN, subjectAltName) are copied from the CSR byte for byte and never invented; key
// usage, extended key usage and basicConstraints come from the CSR's extensionRequest, falling back to
// the identity's `usages` / `isCA`. Lifetime = min(requested, binding maxDuration, CA notAfter).
// The CSR is walked with the bounded DER reader and verified with node:crypto; the certificate is
// encoded and signed synchronously by crypto/certificate.ts. No ASN.1 object model, no WebCrypto here.
import { createHash, createPublicKey, KeyObject, randomBytes, webcrypto } from 'node:crypto';
import { csrOutline, DerError, readTlv, TAG, type RawExtension } from '../pki/der.ts';
import { pemBlocks } from '../pki/pem.ts';
import { verifyWith } from '../pki/signatures.ts';
import { EXT_KEY_USAGE_OIDS, KEY_USAGE_BITS, decodeKeyUsage, isExtKeyUsageName, isKeyUsageName } from '../pki/usages.ts';
import type { IssuerAnswerReason } from '../crds/reasons.ts';
import {
  assembleCertificate, authorityKeyIdentifierValue, basicConstraintsValue, buildCertificate, CERTIFICATE_SIGNATURE_ALGORITHMS,
  ecdsaSignatureToDer, encodeExtension, encodeTbsCertificate, EXTENSION_OIDS as OID, extKeyUsageValue, keyIdentifier, keyUsageValue,
  nameConstraintsValue, subjectKeyIdentifierValue, type BuiltCertificate, type CertificateFields, type CertificateSignatureAlgorithm,
  type NameConstraintLists,
} from '../pki/certificate.ts';

type CryptoKey = webcrypto.CryptoKey;

/** Clock skew allowance: notBefore is this far in the past. */
export const BACKDATE_MS = 60_000;

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

/** The WebCrypto signing algorithm for a private key; undefined for key types we do not sign with (e.g. RSA-PSS, DSA). */
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

/** A private key as a non-extractable WebCrypto signing key (for WebCrypto users such as generateCa; signing here takes the KeyObject). */
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

/** 128 random bits, not all zero. */
function randomSerialBytes(): Buffer {
  for (;;) {
    const b = randomBytes(16);
    if (b.some((x) => x !== 0)) return b;
  }
}

/** A random positive 128-bit serial number (hex); the DER encoder adds a 0x00 when the top bit is set. */
export function randomSerial(): string {
  return randomSerialBytes().toString('hex');
}

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

export interface CertificateTemplate {
  /**
   * Exact validity instead of now − BACKDATE_MS .. now + durationMs (PodCertificateRequests: the API
   * server checks notAfter − notBefore against maxExpirationSeconds to the second). Denied when the
   * CA expires before notAfter; durationMs and maxDurationMs are then ignored.
   */
  validity?: { notBefore: Date; notAfter: Date };
  durationMs: number;
  maxDurationMs?: number | undefined;
  isCA: boolean;
  /**
   * Required for a CA certificate: it then carries pathLenConstraint 0 and these name constraints
   * (what the requesting namespace may hold, src/policy/ownership.ts); a CA request without them is denied.
   */
  caConstraints?: NameConstraintLists | undefined;
  usages: readonly string[];
  now: Date;
}

/** A CSR whose self-signature verified: the raw DER pieces the certificate copies, and its key. */
export interface VerifiedCsr {
  /** The subject Name as the requester signed it (DER). */
  subjectNameDer: Buffer;
  /** SubjectPublicKeyInfo as the requester signed it (DER). */
  spkiDer: Buffer;
  publicKey: KeyObject;
  /** The extensionRequest's extensions by OID; values are the DER extnValue contents, unchanged. */
  extensions: ReadonlyMap<string, RawExtension>;
}

export type Denial = { ok: false; reason: IssuerAnswerReason; message: string };
export type ParsedCsr = { ok: true; csr: VerifiedCsr } | Denial;

const CSR_LABELS = ['CERTIFICATE REQUEST', 'NEW CERTIFICATE REQUEST'];

function errorText(e: unknown): string {
  if (e instanceof DerError) return e.message;
  const code = (e as { code?: unknown }).code;
  return typeof code === 'string' ? code : e instanceof Error ? e.message : 'unreadable content';
}

/** Parses a PEM CSR and checks its self-signature (proof of possession of the key), synchronously. */
export function verifyCsr(csrPem: string): ParsedCsr {
  let o: ReturnType<typeof csrOutline>;
  let publicKey: KeyObject;
  try {
    const [der] = pemBlocks(csrPem, CSR_LABELS);
    if (!der) throw new Error('no CERTIFICATE REQUEST PEM block found');
    o = csrOutline(der);
    publicKey = createPublicKey({ key: o.spki, format: 'der', type: 'spki' });
  } catch (e) {
    return { ok: false, reason: 'InvalidCSR', message: `the certificate signing request is not a valid PEM PKCS#10 CSR: ${errorText(e)}` };
  }
  if (!verifyWith(o.signatureAlgorithm, o.info, o.signature, publicKey)) {
    return { ok: false, reason: 'InvalidCSR', message: 'the CSR\'s signature does not verify with its own public key (corrupted CSR or wrong key)' };
  }
  return { ok: true, csr: { subjectNameDer: o.subject, spkiDer: o.spki, publicKey, extensions: o.extensions } };
}

/** Parses a PEM CSR and checks its self-signature (proof of possession of the key). */
export function parseAndVerifyCsr(csrPem: string): Promise<ParsedCsr> {
  return Promise.resolve(verifyCsr(csrPem));
}

function malformed(what: string): Denial {
  return { ok: false, reason: 'InvalidCSR', message: `the CSR's ${what} extension is malformed` };
}

/** One DER element of `tag` filling all of `der`. */
function isSingle(der: Buffer, tag: number): boolean {
  try {
    const t = readTlv(der, 0);
    return t.tag === tag && t.end === der.length;
  } catch {
    return false;
  }
}

/** BasicConstraints ::= SEQUENCE { cA BOOLEAN DEFAULT FALSE, pathLenConstraint INTEGER (0..MAX) OPTIONAL } */
function decodeBasicConstraints(der: Buffer): { ca: boolean; pathLen?: number } | undefined {
  try {
    const seq = readTlv(der, 0);
    if (seq.tag !== TAG.SEQUENCE || seq.end !== der.length) return undefined;
    let p = seq.contentStart;
    let ca = false;
    let pathLen: number | undefined;
    if (p < seq.end && der[p] === TAG.BOOLEAN) {
      const b = readTlv(der, p, seq.end);
      if (b.end - b.contentStart !== 1) return undefined;
      ca = der[b.contentStart] !== 0;
      p = b.end;
    }
    if (p < seq.end) {
      const n = readTlv(der, p, seq.end);
      const len = n.end - n.contentStart;
      if (n.tag !== TAG.INTEGER || len < 1 || len > 4 || der[n.contentStart]! & 0x80 || n.end !== seq.end) return undefined;
      pathLen = der.readUIntBE(n.contentStart, len);
    }
    return pathLen === undefined ? { ca } : { ca, pathLen };
  } catch {
    return undefined;
  }
}

function validKeyUsage(value: Buffer): boolean {
  try {
    decodeKeyUsage(value);
    return true;
  } catch {
    return false;
  }
}

/** keyUsage from the contract's usages: as given, else digitalSignature (+ keyEncipherment for RSA); a CA adds certSign and crlSign. */
function defaultKeyUsage(usages: readonly string[], isCA: boolean, publicKey: KeyObject): number {
  let flags = 0;
  for (const u of usages) if (isKeyUsageName(u)) flags |= KEY_USAGE_BITS[u];
  if (flags === 0) {
    flags = KEY_USAGE_BITS.digitalSignature;
    // RSA key transport (TLS 1.2 RSA kex) needs keyEncipherment; EC and Ed25519 keys never do it
    const type = publicKey.asymmetricKeyType;
    if (type === 'rsa' || type === 'rsa-pss') flags |= KEY_USAGE_BITS.keyEncipherment;
  }
  if (isCA) flags |= KEY_USAGE_BITS.certSign | KEY_USAGE_BITS.crlSign;
  return flags;
}

function keyUsageExtension(ku: RawExtension | undefined, t: CertificateTemplate, isCA: boolean, csr: VerifiedCsr): Buffer | Denial {
  if (!ku) return encodeExtension(OID.keyUsage, true, keyUsageValue(defaultKeyUsage(t.usages, isCA, csr.publicKey)));
  if (!validKeyUsage(ku.value)) return malformed('keyUsage');
  return encodeExtension(OID.keyUsage, true, ku.value);
}

function extKeyUsageExtension(eku: RawExtension | undefined, t: CertificateTemplate): Buffer | Denial | undefined {
  if (eku) return isSingle(eku.value, TAG.SEQUENCE) ? encodeExtension(OID.extKeyUsage, eku.critical, eku.value) : malformed('extendedKeyUsage');
  const oids: string[] = [];
  for (const u of t.usages) if (isExtKeyUsageName(u)) oids.push(EXT_KEY_USAGE_OIDS[u]);
  return oids.length > 0 ? encodeExtension(OID.extKeyUsage, false, extKeyUsageValue(oids)) : undefined;
}

function isDenial(x: unknown): x is Denial {
  return typeof x === 'object' && x !== null && 'ok' in x;
}

/**
 * basicConstraints, then for a CA its name constraints (critical). A delegated CA may sign leaves only
 * (pathLenConstraint 0, whatever its CSR asked); a CA asked for without name constraints is denied.
 */
function caExtensions(isCA: boolean, t: CertificateTemplate): Buffer[] | Denial {
  if (!isCA) return [encodeExtension(OID.basicConstraints, true, basicConstraintsValue(false))];
  if (!t.caConstraints) {
    return { ok: false, reason: 'CANotGranted', message: 'a CA certificate is issued only with the name constraints of a grant (spec.grants[].allowCA on the CertificateAuthorityBinding)' };
  }
  return [encodeExtension(OID.basicConstraints, true, basicConstraintsValue(true, 0)), encodeExtension(OID.nameConstraints, true, nameConstraintsValue(t.caConstraints))];
}

/** The extensions of the new certificate (basicConstraints, keyUsage, extKeyUsage, SAN, SKI, AKI, in that order), or a denial. */
function extensionsFor(csr: VerifiedCsr, t: CertificateTemplate, authorityKeyId: Buffer | undefined): Buffer[] | Denial {
  const bcExt = csr.extensions.get(OID.basicConstraints);
  const bc = bcExt ? decodeBasicConstraints(bcExt.value) : undefined;
  if (bcExt && !bc) return malformed('basicConstraints');
  if (bc?.ca && !t.isCA) {
    return { ok: false, reason: 'CSRRequestsCA', message: 'the CSR asks for a CA certificate (basicConstraints CA:TRUE) but the identity does not set isCA: true' };
  }
  const isCA = bc ? bc.ca : t.isCA;
  const ca = caExtensions(isCA, t);
  if (isDenial(ca)) return ca;
  const san = csr.extensions.get(OID.subjectAltName);
  const subjectEmpty = csr.subjectNameDer.length <= 2;
  if (subjectEmpty && !san) return { ok: false, reason: 'InvalidCSR', message: 'the CSR has neither a subject nor a subjectAltName: nothing to certify' };
  if (san && !isSingle(san.value, TAG.SEQUENCE)) return malformed('subjectAltName');
  const ku = keyUsageExtension(csr.extensions.get(OID.keyUsage), t, isCA, csr);
  if (isDenial(ku)) return ku;
  const eku = extKeyUsageExtension(csr.extensions.get(OID.extKeyUsage), t);
  if (isDenial(eku)) return eku;
  const [basicConstraints, ...nameConstraints] = ca;
  const exts = [basicConstraints!, ku];
  if (eku) exts.push(eku);
  exts.push(...nameConstraints);
  // RFC 5280 §4.2.1.6: the SAN is critical when the subject is empty
  if (san) exts.push(encodeExtension(OID.subjectAltName, subjectEmpty || san.critical, san.value));
  exts.push(encodeExtension(OID.subjectKeyIdentifier, false, subjectKeyIdentifierValue(keyIdentifier(csr.spkiDer))));
  if (authorityKeyId && authorityKeyId.length > 0) exts.push(encodeExtension(OID.authorityKeyIdentifier, false, authorityKeyIdentifierValue(authorityKeyId)));
  return exts;
}

/** notAfter = min(now + requested, now + maxDuration, CA notAfter). */
export function cappedNotAfter(t: CertificateTemplate, caNotAfter: Date | undefined): Date {
  const now = t.now.getTime();
  let end = now + t.durationMs;
  if (t.maxDurationMs !== undefined) end = Math.min(end, now + t.maxDurationMs);
  if (caNotAfter) end = Math.min(end, caNotAfter.getTime());
  return new Date(Math.floor(end / 1000) * 1000); // X.509 time has second precision
}

function issuerNameOf(a: SigningAuthority, csr: VerifiedCsr): Buffer {
  if (a.issuerNameDer) return a.issuerNameDer;
  return a.issuerName ? Buffer.from(a.issuerName.toArrayBuffer()) : csr.subjectNameDer;
}

function authorityKeyIdOf(a: SigningAuthority): Buffer | undefined {
  return typeof a.authorityKeyId === 'string' ? Buffer.from(a.authorityKeyId, 'hex') : a.authorityKeyId;
}

export type SignOutcome = { ok: true; cert: BuiltCertificate } | Denial;

/** The certificate's fields for a verified CSR, or a denial (expired CA, CA requested, nothing to certify, malformed extension). */
function certificateFields(csr: VerifiedCsr, a: SigningAuthority, t: CertificateTemplate): CertificateFields | Denial {
  if (t.validity && a.notAfter && t.validity.notAfter.getTime() > a.notAfter.getTime()) {
    return { ok: false, reason: 'CAExpiresTooSoon', message: `the CA certificate expires at ${a.notAfter.toISOString()}, before the requested notAfter ${t.validity.notAfter.toISOString()}; renew the CA` };
  }
  const notBefore = t.validity?.notBefore ?? new Date(Math.floor((t.now.getTime() - BACKDATE_MS) / 1000) * 1000);
  const notAfter = t.validity?.notAfter ?? cappedNotAfter(t, a.notAfter);
  if (notAfter.getTime() <= t.now.getTime()) {
    return { ok: false, reason: 'CAExpired', message: `the CA certificate expired at ${a.notAfter?.toISOString() ?? '?'}; renew or replace the CA` };
  }
  const extensions = extensionsFor(csr, t, authorityKeyIdOf(a));
  if (!Array.isArray(extensions)) return extensions;
  return {
    serialNumber: randomSerialBytes(),
    issuerNameDer: issuerNameOf(a, csr),
    subjectNameDer: csr.subjectNameDer,
    spkiDer: csr.spkiDer,
    notBefore, notAfter, extensions,
  };
}

/** Signs a certificate for a verified CSR, synchronously, with a KeyObject; `denied` for requests that cannot succeed as they are. */
export function signFromCsrSync(csr: VerifiedCsr, a: SigningAuthority & { signingKey: KeyObject }, t: CertificateTemplate): SignOutcome {
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
  return { ok: true, cert: await signWithCryptoKey(f, key) };
}

const WEBCRYPTO_ECDSA: Readonly<Record<string, { alg: CertificateSignatureAlgorithm; hash: string }>> = {
  'P-256': { alg: CERTIFICATE_SIGNATURE_ALGORITHMS.p256, hash: 'SHA-256' },
  'P-384': { alg: CERTIFICATE_SIGNATURE_ALGORITHMS.p384, hash: 'SHA-384' },
  'P-521': { alg: CERTIFICATE_SIGNATURE_ALGORITHMS.p521, hash: 'SHA-512' },
};

/** The slow path, for WebCrypto keys (toSigningKey's are not extractable into a KeyObject). */
async function signWithCryptoKey(f: CertificateFields, key: CryptoKey): Promise<BuiltCertificate> {
  const a = key.algorithm as { name: string; namedCurve?: string; hash?: { name: string } };
  const ec = a.name === 'ECDSA' ? WEBCRYPTO_ECDSA[a.namedCurve ?? ''] : undefined;
  let alg: CertificateSignatureAlgorithm;
  let params: webcrypto.AlgorithmIdentifier | webcrypto.EcdsaParams;
  if (ec) [alg, params] = [ec.alg, { name: 'ECDSA', hash: ec.hash }];
  else if (a.name === 'RSASSA-PKCS1-v1_5' && a.hash?.name === 'SHA-256') [alg, params] = [CERTIFICATE_SIGNATURE_ALGORITHMS.rsa, { name: a.name }];
  else if (a.name === 'Ed25519') [alg, params] = [CERTIFICATE_SIGNATURE_ALGORITHMS.ed25519, { name: a.name }];
  else throw new Error(`cannot sign certificates with a WebCrypto ${a.name} key: use ECDSA P-256/P-384/P-521, RSA (SHA-256) or Ed25519`);
  const tbs = encodeTbsCertificate(f, alg);
  const signature = Buffer.from(await webcrypto.subtle.sign(params, key, tbs));
  return assembleCertificate(tbs, alg, ec ? ecdsaSignatureToDer(signature) : signature);
}

/** True when the private key is the one whose public half is in the CSR. */
export function keyMatchesCsr(key: KeyObject, csr: VerifiedCsr): boolean {
  try {
    return createPublicKey(key).equals(csr.publicKey);
  } catch {
    return false;
  }
}

/** SHA-256 fingerprint of a certificate, colon upper-case hex (as `openssl x509 -fingerprint -sha256`). */
export function fingerprintOf(cert: { der: Uint8Array }): string {
  return normaliseFingerprint(createHash('sha256').update(cert.der).digest('hex'));
}
