// Public-key fingerprints, computed in the parse worker: the SubjectPublicKeyInfo of a certificate,
// and of a private key found in a Secret value (the public half is derived here; the private key is
// dropped at once and never leaves the worker). Anomaly detection (anomalies.ts) compares these
// fingerprints across namespaces and identities: the same key in two places.
import { createHash, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
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
  return normaliseFingerprint(
    createHash('sha256')
      .update(pub.export({ type: 'spki', format: 'der' }))
      .digest('hex'),
  );
}

/**
 * The public-key fingerprints of the unencrypted private keys in PEM `text` (PKCS#8, PKCS#1, SEC1),
 * appended to `out` while it holds fewer than MAX_KEYS_PER_OBJECT. Total: a malformed, encrypted or
 * unsupported key is skipped silently (keys are not what the inventory reports; a bad one is no finding).
 */
export function keysFromPem(out: KeyRecord[], key: string, text: string): void {
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
      const fp = fingerprintOfDer(der, KEY_LABELS[label] ?? 'pkcs8');
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
