// X.509 v3 certificates (RFC 5280 4.1), encoded with the DER writer and signed synchronously with
// node:crypto. Names, keys and extensions arrive as DER and are copied byte for byte; only
// TBSCertificate's own fields (version, serial, algorithm, validity) are encoded here. Signing an
// ECDSA P-256 certificate this way costs tens of microseconds, where the ASN.1 object model of
// @peculiar/x509 + WebCrypto cost milliseconds.
import { sign as signData } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { signatureAlgorithmFor, type SignatureAlgorithm } from './algorithms.ts';
import { DerError, readTlv, single, TAG, tlv } from './der.ts';
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

// ---- encoding ----------------------------------------------------------------------------------

const VERSION_V3 = Buffer.from([0xa0, 0x03, TAG.INTEGER, 0x01, 0x02]);
const ZERO = Buffer.from([0]);

/** A positive INTEGER element from an unsigned big-endian magnitude (leading zeros stripped, 0x00 added when the top bit is set). */
function encodePositiveInteger(magnitude: Uint8Array, what = 'the serial number'): Buffer {
  let i = 0;
  while (i < magnitude.length && magnitude[i] === 0) i++;
  if (i === magnitude.length) throw new DerError(`${what} must be positive`);
  const body = Buffer.from(magnitude.buffer, magnitude.byteOffset + i, magnitude.length - i);
  return body.readUInt8(0) & 0x80 ? tlv(TAG.INTEGER, ZERO, body) : tlv(TAG.INTEGER, body);
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
export function encodeTbsCertificate(t: CertificateFields, alg: SignatureAlgorithm): Buffer {
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
  if (!alg)
    throw new Error(
      `cannot sign certificates with a ${describe(key)} key: use ECDSA P-256/P-384/P-521, RSA or Ed25519`,
    );
  const tbs = encodeTbsCertificate(t, alg);
  const signature = signData(alg.hash, tbs, key); // ECDSA: dsaEncoding 'der' is node's default
  return assembleCertificate(tbs, alg, signature);
}

/** Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue BIT STRING } for a signature made elsewhere. */
export function assembleCertificate(tbs: Buffer, alg: SignatureAlgorithm, signature: Uint8Array): BuiltCertificate {
  const der = tlv(TAG.SEQUENCE, tbs, alg.algorithmDer, tlv(TAG.BIT_STRING, ZERO, signature) /* no unused bits */);
  return { der, pem: toPem(der, 'CERTIFICATE') };
}

/** An IEEE P1363 ECDSA signature (r || s, as WebCrypto returns it) as the DER Ecdsa-Sig-Value X.509 needs. */
export function ecdsaSignatureToDer(p1363: Uint8Array): Buffer {
  if (p1363.length === 0 || p1363.length % 2 !== 0) throw new DerError('invalid ECDSA signature length');
  const half = p1363.length / 2;
  return tlv(
    TAG.SEQUENCE,
    encodePositiveInteger(p1363.subarray(0, half), 'ECDSA r'),
    encodePositiveInteger(p1363.subarray(half), 'ECDSA s'),
  );
}

function describe(key: KeyObject): string {
  const curve = key.asymmetricKeyDetails?.namedCurve;
  return `${key.asymmetricKeyType ?? 'unknown'}${curve ? ` ${curve}` : ''}`;
}
