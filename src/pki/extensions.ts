// X.509 v3 extensions (RFC 5280 4.2): their OIDs and DER encoders. The values are built here and
// wrapped by encodeExtension; what goes into a certificate is the caller's decision.
import { createHash } from 'node:crypto';
import { bitString, DerError, encodeOid, readTlv, single, TAG, tlv } from './der.ts';

export const EXTENSION_OIDS = {
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  authorityKeyIdentifier: '2.5.29.35',
  extKeyUsage: '2.5.29.37',
  nameConstraints: '2.5.29.30',
} as const;

const OID_DER = new Map<string, Buffer>();
const CRITICAL = Buffer.from([TAG.BOOLEAN, 0x01, 0xff]);

/** Extension ::= SEQUENCE { extnID, critical BOOLEAN DEFAULT FALSE (omitted when false), extnValue OCTET STRING } */
export function encodeExtension(oid: string, critical: boolean, value: Uint8Array): Buffer {
  let id = OID_DER.get(oid);
  if (!id) {
    id = encodeOid(oid);
    if (OID_DER.size < 256) OID_DER.set(oid, id);
  }
  const octets = tlv(TAG.OCTET_STRING, value);
  return critical ? tlv(TAG.SEQUENCE, id, CRITICAL, octets) : tlv(TAG.SEQUENCE, id, octets);
}

/** Minimal big-endian octets of a non-negative integer, with a leading 0x00 when the top bit is set. */
function unsignedIntegerContent(n: number): Buffer {
  const bytes: number[] = [];
  for (let x = n; x > 0; x = Math.floor(x / 256)) bytes.unshift(x & 0xff);
  if ((bytes[0] ?? 0x80) & 0x80) bytes.unshift(0);
  return Buffer.from(bytes);
}

/** BasicConstraints value: cA is omitted when false (DER: DEFAULT values are not encoded). */
export function basicConstraintsValue(ca: boolean, pathLen?: number): Buffer {
  const parts: Buffer[] = [];
  if (ca) parts.push(CRITICAL);
  if (pathLen !== undefined) {
    if (!Number.isInteger(pathLen) || pathLen < 0 || pathLen > 0x7fffffff) {
      throw new DerError(`invalid pathLenConstraint ${pathLen}`);
    }
    parts.push(tlv(TAG.INTEGER, unsignedIntegerContent(pathLen)));
  }
  return tlv(TAG.SEQUENCE, ...parts);
}

/** KeyUsage value: a named BIT STRING (bit n = 1 << n) without trailing zero bits (X.690 11.2.2). */
export function keyUsageValue(bits: number): Buffer {
  if (!Number.isInteger(bits) || bits <= 0 || bits > 0x1ff) throw new DerError(`invalid keyUsage bits ${bits}`);
  const bytes = Buffer.alloc(2);
  for (let i = 0; i < 9; i++)
    if (bits & (1 << i)) bytes.writeUInt8(bytes.readUInt8(i >> 3) | (0x80 >> (i & 7)), i >> 3);
  const used = bytes.readUInt8(1) ? 2 : 1;
  const last = bytes.readUInt8(used - 1);
  let unused = 0;
  while (!(last & (1 << unused))) unused++;
  return tlv(TAG.BIT_STRING, Buffer.from([unused]), bytes.subarray(0, used));
}

/** ExtKeyUsageSyntax value: SEQUENCE OF KeyPurposeId. */
export function extKeyUsageValue(oids: readonly string[]): Buffer {
  return tlv(TAG.SEQUENCE, ...oids.map((o) => encodeOid(o)));
}

/** SubjectKeyIdentifier value: OCTET STRING. */
export function subjectKeyIdentifierValue(keyId: Uint8Array): Buffer {
  return tlv(TAG.OCTET_STRING, keyId);
}

/** AuthorityKeyIdentifier value with only keyIdentifier [0]. */
export function authorityKeyIdentifierValue(keyId: Uint8Array): Buffer {
  return tlv(TAG.SEQUENCE, tlv(0x80, keyId));
}

/** RFC 5280 4.2.1.2 method (1): SHA-1 of the subjectPublicKey BIT STRING's value (without the unused-bits octet). */
export function keyIdentifier(spkiDer: Buffer): Buffer {
  const spki = single(spkiDer, TAG.SEQUENCE, 'the SubjectPublicKeyInfo');
  const algo = readTlv(spki, readTlv(spki, 0).contentStart);
  const key = readTlv(spki, algo.end);
  return createHash('sha1').update(bitString(spki, key).bytes).digest();
}
