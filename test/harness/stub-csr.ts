// What the kubelet puts in a PodCertificateRequest's stubPKCS10Request: x509.CreateCertificateRequest
// with an empty template (no subject, no extensions), DER. Used by the signer tests and benchmark.
// An EC key on a curve the toolkit does not sign with (secp256k1, say) is signed ecdsa-with-SHA256,
// so tests can hand the signer key types the API does not allow.
import { createPublicKey, sign, type KeyObject } from 'node:crypto';
import { signatureAlgorithmFor } from '../../src/pki/algorithms.ts';
import { tlv, TAG } from '../../src/pki/der.ts';

/** AlgorithmIdentifier ecdsa-with-SHA256 (1.2.840.10045.4.3.2), no parameters. */
const ECDSA_SHA256 = Buffer.from('300a06082a8648ce3d040302', 'hex');

export function stubCsr(key: KeyObject): Buffer {
  const alg =
    signatureAlgorithmFor(key) ??
    (key.asymmetricKeyType === 'ec' ? { algorithmDer: ECDSA_SHA256, hash: 'sha256' } : undefined);
  if (!alg) throw new Error(`stubCsr: no signature algorithm for a ${key.asymmetricKeyType} key`);
  const info = tlv(
    TAG.SEQUENCE,
    Buffer.from([TAG.INTEGER, 1, 0]),
    tlv(TAG.SEQUENCE),
    createPublicKey(key).export({ type: 'spki', format: 'der' }),
    Buffer.from([0xa0, 0]),
  );
  return tlv(TAG.SEQUENCE, info, alg.algorithmDer, tlv(TAG.BIT_STRING, Buffer.from([0]), sign(alg.hash, info, key)));
}
