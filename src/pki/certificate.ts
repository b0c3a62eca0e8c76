// X.509 v3 certificates (RFC 5280 4.1), encoded with the DER writer and signed synchronously with
// node:crypto. Names, keys and extensions arrive as DER and are copied byte for byte; only
// TBSCertificate's own fields (version, serial, algorithm, validity) are encoded here. Signing an
// ECDSA P-256 certificate this way costs tens of microseconds, where the ASN.1 object model of
// @peculiar/x509 + WebCrypto cost milliseconds.
import { createHash, sign as signData } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { bitString, content, DerError, encodeOid, readTlv, TAG, tlv } from './der.ts';
import { toPem } from './pem.ts';

export interface CertificateFields {
  /** Unsigned big-endian serial number: non-zero, at most 20 octets once DER-encoded (RFC 5280 4.1.2.2). */
  serialNumber: Buffer;
  /** The issuer's subject Name (DER), copied byte for byte. */
  issuerNameDer: Buffer;
  /** The subject Name (DER), copied byte for byte. */
  subjectNameDer: Buffer;
  /** SubjectPublicKeyInfo (DER), copied byte for byte. */
  spkiDer: Buffer;
  notBefore: Date;
  notAfter: Date;
  /** DER-encoded Extension elements, in the order they appear in the certificate. */
  extensions: readonly Buffer[];
}

export interface CertificateSigner {
  /** The private key that signs: the CA's, or the subject's own for a self-signed certificate. */
  key: KeyObject;
}

export interface BuiltCertificate {
  der: Buffer;
  /** PEM (64 columns, LF line ends, trailing newline). */
  pem: string;
}

export interface CertificateSignatureAlgorithm {
  /** ECDSAWithSHA256, SHA256WithRSA, Ed25519, ... */
  name: string;
  /** node:crypto digest name; null for Ed25519 (the hash is part of the algorithm). */
  hash: string | null;
  /** The AlgorithmIdentifier element (DER) for TBSCertificate.signature and Certificate.signatureAlgorithm. */
  algorithmDer: Buffer;
}

const NULL_PARAMS = Buffer.from([TAG.NULL, 0]);

function algorithm(name: string, hash: string | null, oid: string, params?: Buffer): CertificateSignatureAlgorithm {
  const parts = params ? [encodeOid(oid), params] : [encodeOid(oid)];
  return Object.freeze({ name, hash, algorithmDer: tlv(TAG.SEQUENCE, ...parts) });
}

// RFC 5758 3.2 (ECDSA: parameters absent), RFC 4055 5 (RSA PKCS#1 v1.5: NULL parameters), RFC 8410 3 (Ed25519: absent).
export const CERTIFICATE_SIGNATURE_ALGORITHMS = {
  p256: algorithm('ECDSAWithSHA256', 'sha256', '1.2.840.10045.4.3.2'),
  p384: algorithm('ECDSAWithSHA384', 'sha384', '1.2.840.10045.4.3.3'),
  p521: algorithm('ECDSAWithSHA512', 'sha512', '1.2.840.10045.4.3.4'),
  rsa: algorithm('SHA256WithRSA', 'sha256', '1.2.840.113549.1.1.11', NULL_PARAMS),
  ed25519: algorithm('Ed25519', null, '1.3.101.112'),
} as const;

const ALGORITHMS = CERTIFICATE_SIGNATURE_ALGORITHMS;

const EC_ALGORITHMS: Readonly<Record<string, CertificateSignatureAlgorithm>> = {
  prime256v1: ALGORITHMS.p256, secp384r1: ALGORITHMS.p384, secp521r1: ALGORITHMS.p521,
};

const algorithmCache = new WeakMap<KeyObject, CertificateSignatureAlgorithm | null>();

function lookupAlgorithm(key: KeyObject): CertificateSignatureAlgorithm | null {
  switch (key.asymmetricKeyType) {
    case 'ec': return EC_ALGORITHMS[key.asymmetricKeyDetails?.namedCurve ?? ''] ?? null;
    case 'rsa': return ALGORITHMS.rsa;
    case 'ed25519': return ALGORITHMS.ed25519;
    default: return null; // RSA-PSS, DSA, Ed448, X25519, other curves
  }
}

/**
 * The signature algorithm a key signs certificates with: ECDSA P-256/P-384/P-521 with SHA-256/384/512,
 * RSA with sha256WithRSAEncryption, Ed25519; undefined for any other key.
 */
export function signatureAlgorithmFor(key: KeyObject): CertificateSignatureAlgorithm | undefined {
  let alg = algorithmCache.get(key);
  if (alg === undefined) {
    alg = lookupAlgorithm(key);
    algorithmCache.set(key, alg);
  }
  return alg ?? undefined;
}

// ---- encoding ----------------------------------------------------------------------------------

const VERSION_V3 = Buffer.from([0xa0, 0x03, TAG.INTEGER, 0x01, 0x02]);
const ZERO = Buffer.from([0]);

/** A positive INTEGER element from an unsigned big-endian magnitude (leading zeros stripped, 0x00 added when the top bit is set). */
export function encodePositiveInteger(magnitude: Uint8Array, what = 'the serial number'): Buffer {
  let i = 0;
  while (i < magnitude.length && magnitude[i] === 0) i++;
  if (i === magnitude.length) throw new DerError(`${what} must be positive`);
  const body = Buffer.from(magnitude.buffer, magnitude.byteOffset + i, magnitude.length - i);
  return body[0]! & 0x80 ? tlv(TAG.INTEGER, ZERO, body) : tlv(TAG.INTEGER, body);
}

function serialElement(serial: Uint8Array): Buffer {
  const el = encodePositiveInteger(serial);
  if (el.length - 2 > 20) throw new DerError('the serial number must be at most 20 octets (RFC 5280 4.1.2.2)');
  return el;
}

function two(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/** Time ::= UTCTime (1950 to 2049) | GeneralizedTime (otherwise), in whole seconds, Zulu (RFC 5280 4.1.2.5). */
export function encodeTime(d: Date): Buffer {
  const ms = d.getTime();
  if (!Number.isFinite(ms)) throw new DerError('invalid certificate date');
  const year = d.getUTCFullYear();
  if (year < 0 || year > 9999) throw new DerError(`certificate date out of range: year ${year}`);
  const rest = `${two(d.getUTCMonth() + 1)}${two(d.getUTCDate())}${two(d.getUTCHours())}${two(d.getUTCMinutes())}${two(d.getUTCSeconds())}Z`;
  if (year >= 1950 && year <= 2049) return tlv(TAG.UTC_TIME, Buffer.from(`${two(year % 100)}${rest}`, 'latin1'));
  return tlv(TAG.GENERALIZED_TIME, Buffer.from(`${String(year).padStart(4, '0')}${rest}`, 'latin1'));
}

/** Checks that `der` is exactly one element with the given tag. */
function single(der: Buffer, tag: number, what: string): Buffer {
  const t = readTlv(der, 0);
  if (t.tag !== tag || t.end !== der.length) throw new DerError(`${what} must be one DER element with tag 0x${tag.toString(16)}`);
  return der;
}

/** Checks each Extension element's outline and refuses duplicate extension OIDs (RFC 5280 4.2). */
function extensionsElement(extensions: readonly Buffer[]): Buffer | null {
  if (extensions.length === 0) return null;
  const seen = new Set<string>();
  for (const ext of extensions) {
    const e = single(ext, TAG.SEQUENCE, 'an Extension');
    const oid = readTlv(e, readTlv(e, 0).contentStart);
    if (oid.tag !== TAG.OID) throw new DerError('an Extension must start with its OBJECT IDENTIFIER');
    const key = e.toString('latin1', oid.contentStart, oid.end);
    if (seen.has(key)) throw new DerError('duplicate extension in the certificate');
    seen.add(key);
  }
  return tlv(0xa3, tlv(TAG.SEQUENCE, ...extensions));
}

/** TBSCertificate (DER) for the fields, with the given signature algorithm. */
export function encodeTbsCertificate(t: CertificateFields, alg: CertificateSignatureAlgorithm): Buffer {
  if (t.notAfter.getTime() < t.notBefore.getTime()) throw new DerError('notAfter is before notBefore');
  const exts = extensionsElement(t.extensions);
  const parts = [
    VERSION_V3,
    serialElement(t.serialNumber),
    alg.algorithmDer,
    single(t.issuerNameDer, TAG.SEQUENCE, 'the issuer Name'),
    tlv(TAG.SEQUENCE, encodeTime(t.notBefore), encodeTime(t.notAfter)),
    single(t.subjectNameDer, TAG.SEQUENCE, 'the subject Name'),
    single(t.spkiDer, TAG.SEQUENCE, 'the SubjectPublicKeyInfo'),
  ];
  if (exts) parts.push(exts);
  return tlv(TAG.SEQUENCE, ...parts);
}

/**
 * Encodes and signs a certificate. The signature algorithm follows from the signer's key (see
 * signatureAlgorithmFor); ECDSA signatures are DER-encoded Ecdsa-Sig-Value, as X.509 requires.
 * Throws DerError for malformed inputs and Error for keys that cannot sign certificates.
 */
export function buildCertificate(t: CertificateFields, signer: CertificateSigner): BuiltCertificate {
  const key = signer.key;
  if (key.type !== 'private') throw new Error('a certificate is signed with a private key');
  const alg = signatureAlgorithmFor(key);
  if (!alg) throw new Error(`cannot sign certificates with a ${describe(key)} key: use ECDSA P-256/P-384/P-521, RSA or Ed25519`);
  const tbs = encodeTbsCertificate(t, alg);
  const signature = signData(alg.hash, tbs, key); // ECDSA: dsaEncoding 'der' is node's default
  return assembleCertificate(tbs, alg, signature);
}

/** Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue BIT STRING } for a signature made elsewhere. */
export function assembleCertificate(tbs: Buffer, alg: CertificateSignatureAlgorithm, signature: Uint8Array): BuiltCertificate {
  const der = tlv(TAG.SEQUENCE, tbs, alg.algorithmDer, tlv(TAG.BIT_STRING, ZERO, signature) /* no unused bits */);
  return { der, pem: toPem(der, 'CERTIFICATE') };
}

/** An IEEE P1363 ECDSA signature (r || s, as WebCrypto returns it) as the DER Ecdsa-Sig-Value X.509 needs. */
export function ecdsaSignatureToDer(p1363: Uint8Array): Buffer {
  if (p1363.length === 0 || p1363.length % 2 !== 0) throw new DerError('invalid ECDSA signature length');
  const half = p1363.length / 2;
  return tlv(TAG.SEQUENCE, encodePositiveInteger(p1363.subarray(0, half), 'ECDSA r'), encodePositiveInteger(p1363.subarray(half), 'ECDSA s'));
}

function describe(key: KeyObject): string {
  const curve = key.asymmetricKeyDetails?.namedCurve;
  return `${key.asymmetricKeyType ?? 'unknown'}${curve ? ` ${curve}` : ''}`;
}

// ---- extensions --------------------------------------------------------------------------------

export const EXTENSION_OIDS = {
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  authorityKeyIdentifier: '2.5.29.35',
  extKeyUsage: '2.5.29.37',
  nameConstraints: '2.5.29.30',
} as const;

const OID_DER = new Map<string, Buffer>();
const CRITICAL = Buffer.from([TAG.BOOLEAN, 0x01, 0xff]);

/** Extension ::= SEQUENCE { extnID, critical BOOLEAN DEFAULT FALSE (omitted when false), extnValue OCTET STRING } */
export function encodeExtension(oid: string, critical: boolean, value: Uint8Array): Buffer {
  let id = OID_DER.get(oid);
  if (!id) {
    id = encodeOid(oid);
    if (OID_DER.size < 256) OID_DER.set(oid, id);
  }
  const octets = tlv(TAG.OCTET_STRING, value);
  return critical ? tlv(TAG.SEQUENCE, id, CRITICAL, octets) : tlv(TAG.SEQUENCE, id, octets);
}

/** BasicConstraints value: cA is omitted when false (DER: DEFAULT values are not encoded). */
export function basicConstraintsValue(ca: boolean, pathLen?: number): Buffer {
  const parts: Buffer[] = [];
  if (ca) parts.push(CRITICAL);
  if (pathLen !== undefined) {
    if (!Number.isInteger(pathLen) || pathLen < 0 || pathLen > 0x7fffffff) throw new DerError(`invalid pathLenConstraint ${pathLen}`);
    const bytes: number[] = [];
    for (let x = pathLen; x > 0; x = Math.floor(x / 256)) bytes.unshift(x & 0xff);
    if (bytes.length === 0 || bytes[0]! & 0x80) bytes.unshift(0);
    parts.push(tlv(TAG.INTEGER, Buffer.from(bytes)));
  }
  return tlv(TAG.SEQUENCE, ...parts);
}

/** KeyUsage value: a named BIT STRING (bit n = 1 << n) without trailing zero bits (X.690 11.2.2). */
export function keyUsageValue(bits: number): Buffer {
  if (!Number.isInteger(bits) || bits <= 0 || bits > 0x1ff) throw new DerError(`invalid keyUsage bits ${bits}`);
  const bytes = [0, 0];
  for (let i = 0; i < 9; i++) if (bits & (1 << i)) bytes[i >> 3]! |= 0x80 >> (i & 7);
  const used = bytes[1] ? 2 : 1;
  const last = bytes[used - 1]!;
  let unused = 0;
  while (!(last & (1 << unused))) unused++;
  return tlv(TAG.BIT_STRING, Buffer.from([unused, ...bytes.slice(0, used)]));
}

/** ExtKeyUsageSyntax value: SEQUENCE OF KeyPurposeId. */
export function extKeyUsageValue(oids: readonly string[]): Buffer {
  return tlv(TAG.SEQUENCE, ...oids.map((o) => encodeOid(o)));
}

/** SubjectKeyIdentifier value: OCTET STRING. */
export function subjectKeyIdentifierValue(keyId: Uint8Array): Buffer {
  return tlv(TAG.OCTET_STRING, keyId);
}

/** AuthorityKeyIdentifier value with only keyIdentifier [0]. */
export function authorityKeyIdentifierValue(keyId: Uint8Array): Buffer {
  return tlv(TAG.SEQUENCE, tlv(0x80, keyId));
}

/** RFC 5280 4.2.1.2 method (1): SHA-1 of the subjectPublicKey BIT STRING's value (without the unused-bits octet). */
export function keyIdentifier(spkiDer: Buffer): Buffer {
  const spki = single(spkiDer, TAG.SEQUENCE, 'the SubjectPublicKeyInfo');
  const algo = readTlv(spki, readTlv(spki, 0).contentStart);
  const key = readTlv(spki, algo.end);
  return createHash('sha1').update(bitString(spki, key).bytes).digest();
}

/** The key identifier in a subjectKeyIdentifier extension value; undefined when malformed or empty. */
export function subjectKeyIdentifierOf(value: Buffer): Buffer | undefined {
  try {
    const t = readTlv(value, 0);
    if (t.tag !== TAG.OCTET_STRING || t.end !== value.length || t.end === t.contentStart) return undefined;
    return content(value, t);
  } catch {
    return undefined;
  }
}

/** Name constraints of a CA certificate: DNS subtrees, CIDRs, mailbox/host constraints, URI hosts (RFC 5280 §4.2.1.10). */
export interface NameConstraintLists {
  permittedDNS: readonly string[]; excludedDNS: readonly string[];
  permittedIP: readonly string[]; excludedIP: readonly string[];
  permittedEmail: readonly string[]; permittedURI: readonly string[];
}

/** iPAddress in a constraint: the address then the mask, 8 octets for IPv4 and 32 for IPv6. */
function cidrOctets(cidr: string): Buffer {
  const [addr, bits] = cidr.split('/') as [string, string];
  const v6 = addr.includes(':');
  const width = v6 ? 16 : 4;
  const bytes = Buffer.alloc(width * 2);
  if (v6) {
    const [head, tail] = addr.split('::') as [string, string | undefined];
    const hs = head ? head.split(':') : [];
    const ts = tail ? tail.split(':') : [];
    const groups = tail === undefined ? hs : [...hs, ...Array<string>(8 - hs.length - ts.length).fill('0'), ...ts];
    groups.forEach((g, i) => bytes.writeUInt16BE(parseInt(g, 16), i * 2));
  } else addr.split('.').forEach((o, i) => { bytes[i] = Number(o); });
  for (let i = 0, left = Number(bits); i < width; i++, left -= 8) bytes[width + i] = left >= 8 ? 0xff : left <= 0 ? 0 : (0xff << (8 - left)) & 0xff;
  for (let i = 0; i < width; i++) bytes[i]! &= bytes[width + i]!; // the address is the network
  return bytes;
}

/** NameConstraints ::= SEQUENCE { permittedSubtrees [0] GeneralSubtrees OPTIONAL, excludedSubtrees [1] GeneralSubtrees OPTIONAL } */
export function nameConstraintsValue(c: NameConstraintLists): Buffer {
  // GeneralSubtree ::= SEQUENCE { base GeneralName } (minimum 0 is the default, maximum absent); GeneralName tags are implicit
  const subtree = (tag: number, v: Buffer): Buffer => tlv(TAG.SEQUENCE, tlv(tag, v));
  const ia5 = (s: string): Buffer => Buffer.from(s, 'ascii');
  const permitted = [
    ...c.permittedEmail.map((e) => subtree(0x81, ia5(e))), ...c.permittedDNS.map((d) => subtree(0x82, ia5(d))),
    ...c.permittedURI.map((u) => subtree(0x86, ia5(u))), ...c.permittedIP.map((x) => subtree(0x87, cidrOctets(x))),
  ];
  const excluded = [...c.excludedDNS.map((d) => subtree(0x82, ia5(d))), ...c.excludedIP.map((x) => subtree(0x87, cidrOctets(x)))];
  const parts: Buffer[] = [];
  if (permitted.length) parts.push(tlv(0xa0, ...permitted));
  if (excluded.length) parts.push(tlv(0xa1, ...excluded));
  return tlv(TAG.SEQUENCE, ...parts);
}
