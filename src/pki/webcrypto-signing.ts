// WebCrypto signing keys: importing a node:crypto private key for WebCrypto users (@peculiar/x509
// in generateCa and the tests), and signing a certificate with such a key. Signing with a KeyObject
// (certificate.ts, synchronous) is the fast path; this is for keys that only exist as CryptoKeys.
import { webcrypto } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { signatureAlgorithmFor, signatureAlgorithmForWebKey, type SignatureAlgorithm } from './algorithms.ts';
import { assembleCertificate, ecdsaSignatureToDer, encodeTbsCertificate } from './certificate.ts';
import type { BuiltCertificate, CertificateFields } from './certificate.ts';

type CryptoKey = webcrypto.CryptoKey;

/** WebCrypto parameters for a signing key: how to import it and how to sign with it. */
export interface SigningAlgorithm {
  importParams: webcrypto.AlgorithmIdentifier | webcrypto.EcKeyImportParams | webcrypto.RsaHashedImportParams;
  signParams: webcrypto.AlgorithmIdentifier | webcrypto.EcdsaParams;
}

/** ECDSA signs with the row's hash; RSA PKCS#1 v1.5 takes its hash from the imported key. */
function webParams(alg: SignatureAlgorithm): SigningAlgorithm | undefined {
  const s = alg.signer;
  if (!s) return undefined;
  if (s.webName === 'ECDSA' && s.webCurve && s.webHash) {
    return {
      importParams: { name: s.webName, namedCurve: s.webCurve },
      signParams: { name: s.webName, hash: s.webHash },
    };
  }
  if (s.webName === 'RSASSA-PKCS1-v1_5' && s.webHash) {
    return { importParams: { name: s.webName, hash: s.webHash }, signParams: { name: s.webName } };
  }
  return { importParams: { name: s.webName }, signParams: { name: s.webName } };
}

/** The WebCrypto signing algorithm for a private key; undefined for key types we do not sign with (e.g. RSA-PSS, DSA). */
export function signingAlgorithmFor(key: KeyObject): SigningAlgorithm | undefined {
  const alg = signatureAlgorithmFor(key);
  return alg ? webParams(alg) : undefined;
}

/** A private key as a non-extractable WebCrypto signing key (for WebCrypto users such as generateCa). */
export function toSigningKey(key: KeyObject): { key: CryptoKey; algorithm: SigningAlgorithm } | undefined {
  const algorithm = signingAlgorithmFor(key);
  if (!algorithm) return undefined;
  return { key: key.toCryptoKey(algorithm.importParams, false, ['sign']), algorithm };
}

/** The name, curve and hash of a CryptoKey's algorithm, read without trusting its shape. */
function describeWebKey(k: webcrypto.KeyAlgorithm): { name: string; namedCurve?: string; hash?: string } {
  const out: { name: string; namedCurve?: string; hash?: string } = { name: k.name };
  if ('namedCurve' in k && typeof k.namedCurve === 'string') out.namedCurve = k.namedCurve;
  const hash: unknown = 'hash' in k ? k.hash : undefined;
  if (typeof hash === 'object' && hash !== null && 'name' in hash && typeof hash.name === 'string')
    out.hash = hash.name;
  return out;
}

/** Signs a certificate with a WebCrypto key (toSigningKey's are not extractable into a KeyObject). */
export async function signCertificateWithWebKey(f: CertificateFields, key: CryptoKey): Promise<BuiltCertificate> {
  const web = describeWebKey(key.algorithm);
  const alg = signatureAlgorithmForWebKey(web);
  const params = alg && webParams(alg);
  if (!alg || !params) {
    throw new Error(
      `cannot sign certificates with a WebCrypto ${web.name} key: use ECDSA P-256/P-384/P-521, RSA (SHA-256) or Ed25519`,
    );
  }
  const tbs = encodeTbsCertificate(f, alg);
  const signature = Buffer.from(await webcrypto.subtle.sign(params.signParams, key, tbs));
  return assembleCertificate(tbs, alg, web.name === 'ECDSA' ? ecdsaSignatureToDer(signature) : signature);
}
