// SHA-256 certificate fingerprints in the one form status, spec.distrust and annotations use:
// colon-separated upper-case hex, as `openssl x509 -fingerprint -sha256` and Node's fingerprint256 print it.
import { createHash } from 'node:crypto';
import { pemBlocks } from './pem.ts';

/** Colon-separated upper-case hex from any case and separators ('ab:cd', 'ABCD', 'ab cd' are all 'AB:CD'). */
export function normaliseFingerprint(fp: string): string {
  const hex = fp.replace(/[^0-9a-fA-F]/g, '').toUpperCase();
  return hex.match(/.{2}/g)?.join(':') ?? '';
}

/** SHA-256 fingerprint of a certificate's DER. */
export function fingerprintOf(cert: { der: Uint8Array }): string {
  return normaliseFingerprint(createHash('sha256').update(cert.der).digest('hex'));
}

/** SHA-256 fingerprint of the first CERTIFICATE block in `pem` (the DER is hashed, not parsed). */
export function fingerprintOfPem(pem: string): string {
  const [der] = pemBlocks(pem, ['CERTIFICATE']);
  if (!der) throw new Error('no CERTIFICATE PEM block found');
  return fingerprintOf({ der });
}
