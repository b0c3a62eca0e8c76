// What the kubelet puts in a PodCertificateRequest's stubPKCS10Request: x509.CreateCertificateRequest
// with an empty template (no subject, no extensions), DER. Used by the signer tests and benchmark.
import { createPublicKey, sign, type KeyObject } from 'node:crypto';
import { signatureAlgorithmFor } from '../../src/pki/algorithms.ts';
import { tlv, TAG } from '../../src/pki/der.ts';

export function stubCsr(key: KeyObject): Buffer {
  const alg = signatureAlgorithmFor(key)!;
  const info = tlv(
    TAG.SEQUENCE,
    Buffer.from([TAG.INTEGER, 1, 0]),
    tlv(TAG.SEQUENCE),
    createPublicKey(key).export({ type: 'spki', format: 'der' }),
    Buffer.from([0xa0, 0]),
  );
  return tlv(TAG.SEQUENCE, info, alg.algorithmDer, tlv(TAG.BIT_STRING, Buffer.from([0]), sign(alg.hash, info, key)));
}
