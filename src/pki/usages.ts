// The contract's usage names (spec.usages; src/crds/machine-identity.ts builds its enum from
// USAGE_NAMES) mapped to X.509 keyUsage bits (RFC 5280 4.2.1.3) and extendedKeyUsage OIDs
// (4.2.1.12), both ways.

/** Every usage name the contract accepts, in the order the CRD schema lists them. */
export const USAGE_NAMES = [
  'serverAuth',
  'clientAuth',
  'digitalSignature',
  'keyEncipherment',
  'keyAgreement',
  'dataEncipherment',
  'contentCommitment',
  'certSign',
  'crlSign',
  'encipherOnly',
  'decipherOnly',
  'codeSigning',
  'emailProtection',
  'timeStamping',
  'ocspSigning',
  'ipsecEndSystem',
  'ipsecTunnel',
  'ipsecUser',
  'any',
] as const;
export type UsageName = (typeof USAGE_NAMES)[number];

/** keyUsage bit values (bit n of the BIT STRING = 1 << n; the same values as @peculiar/x509's KeyUsageFlags). */
export const KEY_USAGE_BITS = {
  digitalSignature: 1 << 0,
  contentCommitment: 1 << 1, // formerly nonRepudiation
  keyEncipherment: 1 << 2,
  dataEncipherment: 1 << 3,
  keyAgreement: 1 << 4,
  certSign: 1 << 5, // keyCertSign
  crlSign: 1 << 6, // cRLSign
  encipherOnly: 1 << 7,
  decipherOnly: 1 << 8,
} as const;

export const EXT_KEY_USAGE_OIDS = {
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
  codeSigning: '1.3.6.1.5.5.7.3.3',
  emailProtection: '1.3.6.1.5.5.7.3.4',
  ipsecEndSystem: '1.3.6.1.5.5.7.3.5',
  ipsecTunnel: '1.3.6.1.5.5.7.3.6',
  ipsecUser: '1.3.6.1.5.5.7.3.7',
  timeStamping: '1.3.6.1.5.5.7.3.8',
  ocspSigning: '1.3.6.1.5.5.7.3.9',
  any: '2.5.29.37.0', // anyExtendedKeyUsage
} as const;

export type KeyUsageName = keyof typeof KEY_USAGE_BITS;
type ExtKeyUsageName = keyof typeof EXT_KEY_USAGE_OIDS;

// Compile-time check that the two tables cover exactly the contract's names.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const _covers: Same<KeyUsageName | ExtKeyUsageName, UsageName> = true;
void _covers;

const KU_NAMES = Object.keys(KEY_USAGE_BITS) as KeyUsageName[];
const EKU_BY_OID: ReadonlyMap<string, ExtKeyUsageName> = new Map(
  Object.entries(EXT_KEY_USAGE_OIDS).map(([name, oid]) => [oid, name as ExtKeyUsageName]),
);

function isKeyUsageName(s: string): s is KeyUsageName {
  return Object.hasOwn(KEY_USAGE_BITS, s);
}

function isExtKeyUsageName(s: string): s is ExtKeyUsageName {
  return Object.hasOwn(EXT_KEY_USAGE_OIDS, s);
}

/** OR of the keyUsage bits named in `names`; extended key usage names are skipped, unknown names throw. */
export function keyUsageBits(names: readonly string[]): number {
  let bits = 0;
  for (const n of names) {
    if (isKeyUsageName(n)) bits |= KEY_USAGE_BITS[n];
    else if (!isExtKeyUsageName(n)) throw new Error(`unknown usage ${JSON.stringify(n)}`);
  }
  return bits;
}

/** Contract names of the bits set, in bit order. */
export function keyUsageNames(bits: number): KeyUsageName[] {
  return KU_NAMES.filter((n) => (bits & KEY_USAGE_BITS[n]) !== 0);
}

/** OIDs of the extended key usage names in `names` (in the given order); keyUsage names are skipped, unknown names throw. */
export function extKeyUsageOids(names: readonly string[]): string[] {
  const out: string[] = [];
  for (const n of names) {
    if (isExtKeyUsageName(n)) {
      if (!out.includes(EXT_KEY_USAGE_OIDS[n])) out.push(EXT_KEY_USAGE_OIDS[n]);
    } else if (!isKeyUsageName(n)) {
      throw new Error(`unknown usage ${JSON.stringify(n)}`);
    }
  }
  return out;
}

/** Contract names for EKU OIDs; OIDs without a contract name are returned as dotted strings. */
export function extKeyUsageNames(oids: readonly string[]): string[] {
  return oids.map((o) => EKU_BY_OID.get(o) ?? o);
}

export interface ResolvedUsages {
  /** keyUsage bits for the extension (never 0). */
  keyUsage: number;
  keyUsageNames: KeyUsageName[];
  /** EKU OIDs; empty means no extendedKeyUsage extension. */
  extKeyUsage: string[];
}

/**
 * What goes into a request for the contract's `usages`:
 * - keyUsage: the KU names given; if none, digitalSignature (+ keyEncipherment for RSA keys, which
 *   TLS 1.2 RSA key transport needs); for a CA, certSign and crlSign are always added.
 * - extKeyUsage: the EKU names given, in order.
 */
export function resolveUsages(
  usages: readonly string[],
  opts: { keyAlgorithm: string; isCA: boolean },
): ResolvedUsages {
  const bits = keyUsageFor(keyUsageBits(usages), { rsaKeyTransport: opts.keyAlgorithm === 'RSA', isCA: opts.isCA });
  return { keyUsage: bits, keyUsageNames: keyUsageNames(bits), extKeyUsage: extKeyUsageOids(usages) };
}

/**
 * The keyUsage bits a certificate carries for the bits the contract names: those; if none,
 * digitalSignature, plus keyEncipherment when the key can do RSA key transport (TLS 1.2 RSA kex;
 * EC and Ed25519 keys never do); a CA always adds certSign and crlSign.
 */
export function keyUsageFor(named: number, o: { rsaKeyTransport: boolean; isCA: boolean }): number {
  let bits = named;
  if (bits === 0) {
    bits = KEY_USAGE_BITS.digitalSignature;
    if (o.rsaKeyTransport) bits |= KEY_USAGE_BITS.keyEncipherment;
  }
  if (o.isCA) bits |= KEY_USAGE_BITS.certSign | KEY_USAGE_BITS.crlSign;
  return bits;
}

/** True for a name the contract knows (a keyUsage or an extended key usage). */
export function isUsageName(s: string): s is UsageName {
  return isKeyUsageName(s) || isExtKeyUsageName(s);
}

/** Decodes a keyUsage extension value (a DER BIT STRING) into bits. */
export function decodeKeyUsage(der: Uint8Array): number {
  const unused = der[2] ?? 8;
  if (der.length < 3 || der[0] !== 0x03 || der[1] !== der.length - 2 || unused > 7)
    throw new Error('malformed keyUsage extension');
  let bits = 0;
  der.subarray(3, 5).forEach((byte, i) => {
    for (let b = 0; b < 8; b++) if (byte & (0x80 >> b)) bits |= 1 << (i * 8 + b);
  });
  return bits;
}
