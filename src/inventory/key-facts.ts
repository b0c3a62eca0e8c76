// Public-key fingerprints, computed in the parse worker: the SubjectPublicKeyInfo of a certificate,
// and of a private key found in a Secret value (the public half is derived here; the private key is
// dropped at once and never leaves the worker). Anomaly detection (anomalies.ts) compares these
// fingerprints across namespaces and identities: the same key in two places.
import { createHash, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { bitString, children, DerError, readTlv, TAG } from '../pki/der.ts';
import { normaliseFingerprint } from '../pki/fingerprint.ts';
import { pemBlocks } from '../pki/pem.ts';

/** One private key found in an object: its data key and its public key's SHA-256 (SPKI DER). */
export interface KeyRecord {
  key: string;
  publicKeySHA256: string;
}

/** Private keys kept per object: a Secret holds one or two; more is not worth deriving. */
export const MAX_KEYS_PER_OBJECT = 16;
const KEY_LABELS: Record<string, 'pkcs8' | 'pkcs1' | 'sec1'> = {
  'PRIVATE KEY': 'pkcs8',
  'RSA PRIVATE KEY': 'pkcs1',
  'EC PRIVATE KEY': 'sec1',
};

/** SHA-256 of the SubjectPublicKeyInfo DER of a (public or private) key, upper-case colon hex. */
export function spkiFingerprint(key: KeyObject): string {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  return spkiDerFingerprint(pub.export({ type: 'spki', format: 'der' }));
}

export function spkiDerFingerprint(spki: Buffer): string {
  return normaliseFingerprint(createHash('sha256').update(spki).digest('hex'));
}

/**
 * A certificate's public key as a private key's encoding carries it, with its fingerprint. Deriving the public
 * half of a private key costs ~120 µs (it is parsed and the point or modulus re-encoded), about as much as the
 * rest of a Secret's reading: in the usual Secret the key sits next to its certificate, and its encoding
 * already holds the certificate's public key (SEC1's publicKey, PKCS#1's modulus and exponent), which a byte
 * search finds in under a microsecond.
 */
export interface KnownPublicKey {
  /** The EC point (or raw key) or, for RSA, the modulus and exponent INTEGERs: at least MIN_NEEDLE bytes. */
  needle: Buffer;
  fingerprint: string;
}
const MIN_NEEDLE = 32;

/** The KnownPublicKey of a SubjectPublicKeyInfo DER, or undefined when its key is too short to be searched for. */
export function knownPublicKey(spki: Buffer, fingerprint: string): KnownPublicKey | undefined {
  try {
    const [, bits] = children(spki, readTlv(spki, 0));
    if (bits?.tag !== TAG.BIT_STRING) return undefined;
    const { bytes } = bitString(spki, bits);
    // RSA: RSAPublicKey is SEQUENCE { n, e }; RSAPrivateKey holds the same two INTEGERs one after the other
    const needle = bytes[0] === TAG.SEQUENCE ? bytes.subarray(readTlv(bytes, 0).contentStart) : bytes;
    return needle.length >= MIN_NEEDLE ? { needle, fingerprint } : undefined;
  } catch (e) {
    if (e instanceof DerError) return undefined;
    throw e;
  }
}

/**
 * The public-key fingerprints of the unencrypted private keys in PEM `text` (PKCS#8, PKCS#1, SEC1),
 * appended to `out` while it holds fewer than MAX_KEYS_PER_OBJECT. A key whose encoding carries one of the `known`
 * public keys (the certificates of the same object) takes that key's fingerprint without being parsed. Total: a malformed, encrypted or
 * unsupported key is skipped silently (keys are not what the inventory reports; a bad one is no finding).
 */
export function keysFromPem(out: KeyRecord[], key: string, text: string, known: readonly KnownPublicKey[] = []): void {
  if (!text.includes('PRIVATE KEY-----')) return;
  for (const label of Object.keys(KEY_LABELS)) {
    let ders: Buffer[];
    try {
      ders = pemBlocks(text, [label]); // at most 100 blocks (else it throws: a value of that many keys is skipped)
    } catch {
      continue;
    }
    for (const der of ders) {
      if (out.length >= MAX_KEYS_PER_OBJECT) return;
      const fp =
        known.find((k) => der.includes(k.needle))?.fingerprint ?? fingerprintOfDer(der, KEY_LABELS[label] ?? 'pkcs8');
      if (fp) out.push({ key: out.some((k) => k.key === key) ? `${key}#${out.length}` : key, publicKeySHA256: fp });
    }
  }
}

/** `x` without its `keys` when there are none (a Secret without private keys reads as before). */
export function dropEmptyKeys<T extends { keys?: KeyRecord[] }>(x: T): T {
  if (!x.keys?.length) delete x.keys;
  return x;
}

function fingerprintOfDer(der: Buffer, type: 'pkcs8' | 'pkcs1' | 'sec1'): string | undefined {
  try {
    return spkiFingerprint(createPrivateKey({ key: der, format: 'der', type }));
  } catch {
    return undefined;
  }
}
