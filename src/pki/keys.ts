// Private keys: generation (always async, RSA bounded by a semaphore), PEM encoding and parsing,
// and comparison. Error messages never contain key material.
import { createHash, createPrivateKey, createPublicKey, generateKeyPair } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { errorCode } from './errors.ts';
import { firstPemLabel, hasEncryptedKey } from './pem.ts';

type KeyAlgorithmName = 'ECDSA' | 'RSA' | 'Ed25519';
export type KeyEncoding = 'PKCS8' | 'PKCS1' | 'SEC1';
export interface KeySpec {
  algorithm: KeyAlgorithmName;
  size?: number | undefined;
}
export interface KeyDescription {
  /** ECDSA, RSA or Ed25519; other key types are reported as RSASSA-PSS, Ed448 or Node's type name. */
  algorithm: KeyAlgorithmName | string;
  /** RSA modulus bits; ECDSA 256/384/521 (unset for other curves). */
  size?: number;
  /** Node's curve name for EC keys (prime256v1, secp384r1, secp521r1, ...). */
  curve?: string;
}

const CURVES: Readonly<Record<number, string>> = { 256: 'prime256v1', 384: 'secp384r1', 521: 'secp521r1' };
const CURVE_SIZES: Readonly<Record<string, number>> = {
  prime256v1: 256,
  'P-256': 256,
  secp384r1: 384,
  'P-384': 384,
  secp521r1: 521,
  'P-521': 521,
};
const DEFAULT_SIZES = { ECDSA: 256, RSA: 2048 } as const;

// ---- RSA key generation semaphore -------------------------------------------------------------
// RSA keygen runs on the libuv pool (4 threads shared with fs and dns); a 4096-bit key can take ~2 s.
let concurrency = 2;
let running = 0;
const waiting: Array<() => void> = [];

function pump(): void {
  while (running < concurrency && waiting.length > 0) {
    const next = waiting.shift();
    if (!next) return;
    running++;
    next();
  }
}

async function withRsaSlot<T>(fn: () => Promise<T>): Promise<T> {
  if (running < concurrency && waiting.length === 0) running++;
  else await new Promise<void>((resolve) => waiting.push(resolve));
  try {
    return await fn();
  } finally {
    running--;
    pump();
  }
}

/** How many RSA key generations may run at once (default 2). */
export function setKeygenConcurrency(n: number): void {
  if (!Number.isInteger(n) || n < 1 || n > 64)
    throw new RangeError(`keygen concurrency must be an integer from 1 to 64, got ${n}`);
  concurrency = n;
  pump();
}

/** RSA key generations waiting for a slot (for a gauge). */
export function keygenQueueLength(): number {
  return waiting.length;
}

/** RSA key generations running now. */
export function keygenInFlight(): number {
  return running;
}

type ValidSpec = { algorithm: 'ECDSA'; curve: string } | { algorithm: 'RSA'; size: number } | { algorithm: 'Ed25519' };

function validateSpec(spec: KeySpec): ValidSpec {
  switch (spec.algorithm) {
    case 'ECDSA': {
      const size = spec.size ?? DEFAULT_SIZES.ECDSA;
      const curve = CURVES[size];
      if (!curve) throw new Error(`unsupported ECDSA key size ${size}: use 256, 384 or 521`);
      return { algorithm: 'ECDSA', curve };
    }
    case 'RSA': {
      const size = spec.size ?? DEFAULT_SIZES.RSA;
      if (!Number.isInteger(size) || size < 2048 || size > 8192 || size % 8 !== 0) {
        throw new Error(`unsupported RSA key size ${size}: use 2048, 3072 or 4096`);
      }
      return { algorithm: 'RSA', size };
    }
    case 'Ed25519':
      if (spec.size !== undefined) throw new Error('Ed25519 keys take no size');
      return { algorithm: 'Ed25519' };
    default:
      throw new Error(
        `unsupported key algorithm ${JSON.stringify(spec.algorithm as unknown)}: use ECDSA, RSA or Ed25519`,
      );
  }
}

/** Generates a private key with node:crypto's async generateKeyPair (ECDSA P-256 and RSA 2048 by default). */
export async function generateKey(spec: KeySpec): Promise<KeyObject> {
  const s = validateSpec(spec);
  const done =
    (resolve: (k: KeyObject) => void, reject: (e: Error) => void) =>
    (err: Error | null, _pub: KeyObject, priv: KeyObject): void =>
      err ? reject(err) : resolve(priv);
  switch (s.algorithm) {
    case 'RSA':
      return withRsaSlot(
        () =>
          new Promise<KeyObject>((resolve, reject) =>
            generateKeyPair('rsa', { modulusLength: s.size, publicExponent: 65537 }, done(resolve, reject)),
          ),
      );
    case 'ECDSA':
      return new Promise<KeyObject>((resolve, reject) =>
        generateKeyPair('ec', { namedCurve: s.curve }, done(resolve, reject)),
      );
    case 'Ed25519':
      return new Promise<KeyObject>((resolve, reject) => generateKeyPair('ed25519', {}, done(resolve, reject)));
  }
}

// ---- encoding --------------------------------------------------------------------------------

/** PEM of a private key: PKCS8 for any key, PKCS1 for RSA only, SEC1 for EC only. */
export function encodePrivateKey(key: KeyObject, encoding: KeyEncoding): string {
  if (key.type !== 'private') throw new Error(`encodePrivateKey needs a private key, got a ${key.type} key`);
  const type = key.asymmetricKeyType;
  switch (encoding) {
    case 'PKCS8':
      return key.export({ type: 'pkcs8', format: 'pem' }).toString();
    case 'PKCS1':
      if (type !== 'rsa') throw new Error(`PKCS1 encoding is only for RSA keys, not ${describeKey(key).algorithm}`);
      return key.export({ type: 'pkcs1', format: 'pem' }).toString();
    case 'SEC1':
      if (type !== 'ec') throw new Error(`SEC1 encoding is only for ECDSA keys, not ${describeKey(key).algorithm}`);
      return key.export({ type: 'sec1', format: 'pem' }).toString();
    default:
      throw new Error(`unknown private key encoding ${JSON.stringify(encoding)}: use PKCS8, PKCS1 or SEC1`);
  }
}

const KEY_LABELS = new Set(['PRIVATE KEY', 'RSA PRIVATE KEY', 'EC PRIVATE KEY']);
const MAX_KEY_PEM = 64 * 1024;

/**
 * Parses a PEM private key: PKCS#8 (PRIVATE KEY), PKCS#1 (RSA PRIVATE KEY) or SEC1 (EC PRIVATE KEY).
 * Encrypted keys are refused. Errors name the problem, never the input.
 */
export function parsePrivateKey(pem: string): KeyObject {
  if (typeof pem !== 'string') throw new TypeError('private key PEM must be a string');
  if (pem.length > MAX_KEY_PEM)
    throw new Error(`private key PEM is too large (${pem.length} bytes, limit ${MAX_KEY_PEM})`);
  const label = firstPemLabel(pem);
  if (hasEncryptedKey(pem)) {
    throw new Error('encrypted private keys are not supported');
  }
  if (!label || !KEY_LABELS.has(label)) {
    throw new Error('no PEM private key found (want PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY)');
  }
  try {
    return createPrivateKey({ key: pem, format: 'pem' });
  } catch (e) {
    const code = errorCode(e);
    throw new Error(`invalid ${label} PEM${code ? ` (${code})` : ''}`);
  }
}

// ---- description and comparison ------------------------------------------------------------

function sized(algorithm: string, size: number | undefined): KeyDescription {
  return size === undefined ? { algorithm } : { algorithm, size };
}

function ecDescription(curve: string | undefined): KeyDescription {
  const size = curve ? CURVE_SIZES[curve] : undefined;
  return { ...sized('ECDSA', size), ...(curve ? { curve } : {}) };
}

export function describeKey(key: KeyObject): KeyDescription {
  if (key.type === 'secret') throw new Error('not an asymmetric key');
  const d = key.asymmetricKeyDetails ?? {};
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return sized('RSA', d.modulusLength);
    case 'rsa-pss':
      return sized('RSASSA-PSS', d.modulusLength);
    case 'ec':
      return ecDescription(d.namedCurve);
    case 'ed25519':
      return { algorithm: 'Ed25519' };
    case 'ed448':
      return { algorithm: 'Ed448' };
    default:
      return { algorithm: key.asymmetricKeyType ?? 'unknown' };
  }
}

/** True when the key has the algorithm and size the spec asks for (sizes default like generateKey). */
export function keyMatchesSpec(key: KeyObject, spec: KeySpec): boolean {
  const d = describeKey(key);
  if (d.algorithm !== spec.algorithm) return false;
  if (spec.algorithm === 'Ed25519') return true;
  return d.size === (spec.size ?? DEFAULT_SIZES[spec.algorithm]);
}

function publicOf(key: KeyObject): KeyObject {
  if (key.type === 'secret') throw new Error('not an asymmetric key');
  return key.type === 'private' ? createPublicKey(key) : key;
}

/** SHA-256 of the DER SubjectPublicKeyInfo, lower-case hex (private or public keys). */
export function publicKeyFingerprint(key: KeyObject): string {
  return createHash('sha256')
    .update(publicOf(key).export({ type: 'spki', format: 'der' }))
    .digest('hex');
}

/**
 * True when both keys (private or public) have the same public key. OpenSSL compares the keys' values
 * (EVP_PKEY_eq), not their encodings, so a compressed and an uncompressed EC point are the same key.
 * (It was a comparison of exported JWKs: ~15x the time, a sixth of a managed Secret's parse at start-up.)
 */
export function samePublicKey(a: KeyObject, b: KeyObject): boolean {
  const pa = publicOf(a),
    pb = publicOf(b);
  return pa.asymmetricKeyType === pb.asymmetricKeyType && pa.equals(pb);
}
