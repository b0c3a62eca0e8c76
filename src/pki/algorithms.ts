// The one table of X.509 signature algorithms: OID, report name, node:crypto digest, and for the
// ones we sign with, the key that signs and its WebCrypto parameters. Verification, reports
// (CertFacts.signatureAlgorithm, IssuancePolicy's allowed algorithms), certificate and CSR signing
// and WebCrypto key import all read it, so an algorithm is added or renamed here only.
import type { KeyObject } from 'node:crypto';
import { encodeOid, TAG, tlv } from './der.ts';

/** What signs with an algorithm: node's key type and curve, and the WebCrypto names for the same. */
interface SigningKey {
  keyType: 'ec' | 'rsa' | 'ed25519';
  /** node:crypto's curve name (EC keys only). */
  curve?: string;
  /** WebCrypto algorithm name. */
  webName: 'ECDSA' | 'RSASSA-PKCS1-v1_5' | 'Ed25519';
  /** WebCrypto namedCurve (ECDSA) */
  webCurve?: string;
  /** WebCrypto hash: ECDSA's signing hash, RSA's key import hash. */
  webHash?: string;
}

export interface SignatureAlgorithm {
  /** ECDSAWithSHA256, SHA256WithRSA, Ed25519, ... (the names CertFacts and IssuancePolicy use). */
  name: string;
  oid: string;
  /** node:crypto digest name; null when the hash is part of the algorithm (EdDSA). */
  hash: string | null;
  /** False for algorithms we name but never accept a signature of (MD5). */
  verifies: boolean;
  /** The AlgorithmIdentifier element (DER) for signatures we make. */
  algorithmDer: Buffer;
  /** Set for the algorithms we sign with. */
  signer?: SigningKey;
}

// RFC 5758 3.2 (ECDSA: parameters absent), RFC 4055 5 (RSA PKCS#1 v1.5: NULL parameters), RFC 8410 3 (EdDSA: absent).
const NULL_PARAMS = Buffer.from([TAG.NULL, 0]);
const PKCS1_ARC = '1.2.840.113549.1.1.';
const RSA = 'rsa';
const EC = 'ec';

function row(
  name: string,
  oid: string,
  hash: string | null,
  o: { signer?: SigningKey; verifies?: boolean } = {},
): SignatureAlgorithm {
  const params = oid.startsWith(PKCS1_ARC) ? [NULL_PARAMS] : [];
  const algorithmDer = tlv(TAG.SEQUENCE, encodeOid(oid), ...params);
  return Object.freeze({
    name,
    oid,
    hash,
    verifies: o.verifies ?? true,
    algorithmDer,
    ...(o.signer ? { signer: o.signer } : {}),
  });
}

const ecdsa = (curve: string, webCurve: string, webHash: string): SigningKey => ({
  keyType: EC,
  curve,
  webName: 'ECDSA',
  webCurve,
  webHash,
});

const SIGNATURE_ALGORITHMS: readonly SignatureAlgorithm[] = [
  row('MD5WithRSA', '1.2.840.113549.1.1.4', 'md5', { verifies: false }),
  row('SHA1WithRSA', '1.2.840.113549.1.1.5', 'sha1'),
  row('SHA256WithRSA', '1.2.840.113549.1.1.11', 'sha256', {
    signer: { keyType: RSA, webName: 'RSASSA-PKCS1-v1_5', webHash: 'SHA-256' },
  }),
  row('SHA384WithRSA', '1.2.840.113549.1.1.12', 'sha384'),
  row('SHA512WithRSA', '1.2.840.113549.1.1.13', 'sha512'),
  row('ECDSAWithSHA1', '1.2.840.10045.4.1', 'sha1'),
  row('ECDSAWithSHA256', '1.2.840.10045.4.3.2', 'sha256', { signer: ecdsa('prime256v1', 'P-256', 'SHA-256') }),
  row('ECDSAWithSHA384', '1.2.840.10045.4.3.3', 'sha384', { signer: ecdsa('secp384r1', 'P-384', 'SHA-384') }),
  row('ECDSAWithSHA512', '1.2.840.10045.4.3.4', 'sha512', { signer: ecdsa('secp521r1', 'P-521', 'SHA-512') }),
  row('Ed25519', '1.3.101.112', null, { signer: { keyType: 'ed25519', webName: 'Ed25519' } }),
  row('Ed448', '1.3.101.113', null),
];

/** RSASSA-PSS: its name and hash come from its parameters (see signatures.ts). */
export const RSASSA_PSS_OID = '1.2.840.113549.1.1.10';

const BY_OID: ReadonlyMap<string, SignatureAlgorithm> = new Map(SIGNATURE_ALGORITHMS.map((a) => [a.oid, a]));
const SIGNING = SIGNATURE_ALGORITHMS.filter((a) => a.signer !== undefined);

/** The table's row for an AlgorithmIdentifier OID (RSASSA-PSS is not in it). */
export function signatureAlgorithmByOid(oid: string): SignatureAlgorithm | undefined {
  return BY_OID.get(oid);
}

function lookupSigning(keyType: string | undefined, curve: string | undefined): SignatureAlgorithm | null {
  const found = SIGNING.find((a) => a.signer?.keyType === keyType && (keyType !== EC || a.signer?.curve === curve));
  return found ?? null; // RSA-PSS, DSA, Ed448, X25519, other curves
}

const algorithmCache = new WeakMap<KeyObject, SignatureAlgorithm | null>();

/**
 * The signature algorithm a key signs certificates and CSRs with: ECDSA P-256/P-384/P-521 with
 * SHA-256/384/512, RSA with sha256WithRSAEncryption, Ed25519; undefined for any other key.
 */
export function signatureAlgorithmFor(key: KeyObject): SignatureAlgorithm | undefined {
  let alg = algorithmCache.get(key);
  if (alg === undefined) {
    alg = lookupSigning(key.asymmetricKeyType, key.asymmetricKeyDetails?.namedCurve);
    algorithmCache.set(key, alg);
  }
  return alg ?? undefined;
}

/** The algorithm a WebCrypto key signs with: its name, curve and (RSA) import hash must match a row. */
export function signatureAlgorithmForWebKey(a: {
  name: string;
  namedCurve?: string | undefined;
  hash?: string | undefined;
}): SignatureAlgorithm | undefined {
  return SIGNING.find((row) => {
    const s = row.signer;
    if (s?.webName !== a.name) return false;
    if (s.webName === 'ECDSA') return s.webCurve === a.namedCurve;
    return s.webName !== 'RSASSA-PKCS1-v1_5' || s.webHash === a.hash;
  });
}
