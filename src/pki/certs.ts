// X.509 certificates: PEM splitting and a fast, safe summary. node:crypto's X509Certificate (OpenSSL)
// validates the DER and gives fingerprint, dates, key, CA flag and EKU; a direct DER walk of the
// already-validated bytes gives what Node lacks (keyUsage bits, AKI/SKI, exact names and SANs).
import { X509Certificate } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { content, DerError, integerHex, readTlv, TAG } from './der.ts';
import { certificateOutline } from './outlines.ts';
import { errorCode } from './errors.ts';
import { EXTENSION_OIDS } from './extensions.ts';
import { describeKey, samePublicKey } from './keys.ts';
import { parseName, parseSan } from './names.ts';
import type { SanLists } from './names.ts';
import { pemBlocks, toPem } from './pem.ts';
import { signatureAlgorithmName } from './signatures.ts';
import { decodeKeyUsage, extKeyUsageNames, keyUsageNames } from './usages.ts';

export interface CertFacts extends SanLists {
  /**
   * Serial number as lower-case hex of its integer value, without leading zeros (Go's big.Int.Text(16)):
   * DER `00 8f 01` is "8f01" and `00 00 01` (non-minimal) is "1". A negative serial (invalid, but seen
   * in the wild) gets a leading '-'. Node's own `serialNumber` differs: upper case, padded to whole bytes.
   */
  serialNumber: string;
  /** SHA-256 of the DER, upper-case colon-separated hex (Node's fingerprint256). */
  fingerprintSHA256: string;
  /** RFC 4514 strings, most specific RDN first: `CN=api,O=payments,C=DE`. */
  subjectDN: string;
  issuerDN: string;
  /** The last CN attribute of the subject, if any. */
  commonName?: string;
  notBefore: Date;
  notAfter: Date;
  isCA: boolean;
  publicKey: KeyObject;
  /** ECDSA, RSA, Ed25519 (or RSASSA-PSS, Ed448, ...). */
  keyAlgorithm: string;
  /** RSA modulus bits or ECDSA curve size; unset for Ed25519. */
  keySize?: number;
  /** keyUsage as contract names (digitalSignature, certSign, ...); empty without the extension. */
  keyUsage: string[];
  /** extendedKeyUsage as contract names; unknown OIDs stay dotted; empty without the extension. */
  extKeyUsage: string[];
  /** ECDSAWithSHA256, SHA256WithRSA, SHA256WithRSAPSS, Ed25519, ...; unknown algorithms as a dotted OID. */
  signatureAlgorithm: string;
  /** Issuer name equals subject name and the certificate's signature verifies with its own key. */
  selfSigned: boolean;
  /** keyIdentifier of the authorityKeyIdentifier extension, lower-case hex. */
  authorityKeyId?: string;
  /** subjectKeyIdentifier, lower-case hex. */
  subjectKeyId?: string;
}

const EXT = {
  san: EXTENSION_OIDS.subjectAltName,
  keyUsage: EXTENSION_OIDS.keyUsage,
  ski: EXTENSION_OIDS.subjectKeyIdentifier,
  aki: EXTENSION_OIDS.authorityKeyIdentifier,
} as const;

/**
 * Every `label` PEM block (default CERTIFICATE) in `pem`, re-encoded as clean PEM (64 columns, LF).
 * Tolerates whitespace and CRLF, skips other blocks (keys, parameters), and throws on more than 100
 * blocks, input over 1 MiB, truncated blocks or invalid base64. Returns [] when there is no block.
 */
export function splitPem(pem: string, label = 'CERTIFICATE'): string[] {
  if (!/^[A-Z0-9]+( [A-Z0-9]+)*$/.test(label)) throw new Error(`invalid PEM label ${JSON.stringify(label)}`);
  return pemBlocks(pem, [label]).map((der) => toPem(der, label));
}

function firstCertificateDer(pem: string): Buffer {
  const [der] = pemBlocks(pem, ['CERTIFICATE']);
  if (!der) throw new Error('no CERTIFICATE PEM block found');
  return der;
}

function nodeCertificate(der: Buffer): X509Certificate {
  try {
    return new X509Certificate(der);
  } catch (e) {
    const code = errorCode(e);
    throw new Error(`invalid certificate: not a parsable X.509 certificate${code ? ` (${code})` : ''}`);
  }
}

/** Parses the first certificate in `pem` (the leaf, when given a chain). */
export function parseCertificate(pem: string): CertFacts {
  return parseCertificateDer(firstCertificateDer(pem));
}

export function parseCertificateDer(der: Buffer): CertFacts {
  const cert = nodeCertificate(der);
  try {
    return facts(cert, der);
  } catch (e) {
    // DER walk or key decoding failed on bytes OpenSSL accepted as a certificate. Messages come from
    // this module or OpenSSL and name the problem, never the input.
    throw new Error(
      `invalid certificate: ${e instanceof DerError ? e.message : (errorCode(e) ?? 'unreadable content')}`,
    );
  }
}

function facts(cert: X509Certificate, der: Buffer): CertFacts {
  const o = certificateOutline(der);
  const subject = parseName(o.subject);
  const issuer = parseName(o.issuer);
  const san = o.extensions.get(EXT.san);
  const ku = o.extensions.get(EXT.keyUsage);
  const ski = o.extensions.get(EXT.ski);
  const aki = o.extensions.get(EXT.aki);
  const publicKey = cert.publicKey;
  const key = describeKey(publicKey);
  const f: CertFacts = {
    serialNumber: integerHex(o.serial),
    fingerprintSHA256: cert.fingerprint256,
    subjectDN: subject.dn,
    issuerDN: issuer.dn,
    notBefore: cert.validFromDate,
    notAfter: cert.validToDate,
    ...(san ? parseSan(san.value) : { dnsNames: [], ipAddresses: [], uris: [], emailAddresses: [] }),
    isCA: cert.ca,
    publicKey,
    keyAlgorithm: key.algorithm,
    keyUsage: ku ? keyUsageNames(decodeKeyUsage(ku.value)) : [],
    extKeyUsage: extKeyUsageNames(cert.keyUsage ?? []),
    signatureAlgorithm: signatureAlgorithmName(o.signatureAlgorithm),
    selfSigned: o.subject.equals(o.issuer) && safeVerify(cert, publicKey),
  };
  if (subject.fields.commonName !== undefined) f.commonName = subject.fields.commonName;
  if (key.size !== undefined) f.keySize = key.size;
  const skiHex = ski ? octets(ski.value) : undefined;
  if (skiHex) f.subjectKeyId = skiHex;
  const akiHex = aki ? akiKeyId(aki.value) : undefined;
  if (akiHex) f.authorityKeyId = akiHex;
  return f;
}

function safeVerify(cert: X509Certificate, key: KeyObject): boolean {
  try {
    return cert.verify(key);
  } catch {
    return false;
  }
}

/** SubjectKeyIdentifier ::= OCTET STRING */
function octets(der: Buffer): string | undefined {
  const t = readTlv(der, 0);
  if (t.tag !== TAG.OCTET_STRING) throw new DerError('malformed subjectKeyIdentifier');
  return content(der, t).toString('hex') || undefined;
}

/** AuthorityKeyIdentifier ::= SEQUENCE { keyIdentifier [0] IMPLICIT OCTET STRING OPTIONAL, ... } */
function akiKeyId(der: Buffer): string | undefined {
  const seq = readTlv(der, 0);
  if (seq.tag !== TAG.SEQUENCE) throw new DerError('malformed authorityKeyIdentifier');
  if (seq.contentStart === seq.end) return undefined;
  const first = readTlv(der, seq.contentStart, seq.end);
  return first.tag === 0x80 ? content(der, first).toString('hex') || undefined : undefined;
}

/** True when the certificate's public key is the key's (private or public) public key. */
export function certificateMatchesKey(certPem: string, key: KeyObject): boolean {
  return samePublicKey(nodeCertificate(firstCertificateDer(certPem)).publicKey, key);
}

/** SHA-256 fingerprint of the first certificate in `pem`, upper-case colon hex, once OpenSSL has parsed it (fingerprint.ts hashes without parsing). */
export function fingerprintSHA256(pem: string): string {
  return nodeCertificate(firstCertificateDer(pem)).fingerprint256;
}

/**
 * True when `issuerPem` issued `certPem`: OpenSSL's issuer check (names, AKI/SKI, the issuer's
 * keyUsage allows certSign) and the signature verifies with the issuer's key. No dates, path
 * length or policy checks: that is the caller's job.
 */
export function verifySignedBy(certPem: string, issuerPem: string): boolean {
  const cert = nodeCertificate(firstCertificateDer(certPem));
  const issuer = nodeCertificate(firstCertificateDer(issuerPem));
  return cert.checkIssued(issuer) && safeVerify(cert, issuer.publicKey);
}
