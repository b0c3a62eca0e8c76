// keyUsage and extendedKeyUsage of a certificate the in-process CA signs: the CSR's own extensions
// when it has them (checked, copied unchanged), else built from the identity's `usages`.
import type { KeyObject } from 'node:crypto';
import { isSingle, TAG } from '../pki/der.ts';
import type { RawExtension } from '../pki/outlines.ts';
import { encodeExtension, EXTENSION_OIDS as OID, extKeyUsageValue, keyUsageValue } from '../pki/extensions.ts';
import { decodeKeyUsage, extKeyUsageOids, isUsageName, keyUsageBits, keyUsageFor } from '../pki/usages.ts';
import { malformed, type Denial } from './csr-checks.ts';

function validKeyUsage(value: Buffer): boolean {
  try {
    decodeKeyUsage(value);
    return true;
  } catch {
    return false;
  }
}

/** Contract names this module knows; anything else in `usages` is ignored here (the CRD schema refuses it). */
function known(usages: readonly string[]): string[] {
  return usages.filter(isUsageName);
}

/** keyUsage (critical): the CSR's, else from `usages` (keyEncipherment for RSA keys when none is named; certSign and crlSign for a CA). */
export function keyUsageExtension(
  requested: RawExtension | undefined,
  usages: readonly string[],
  isCA: boolean,
  publicKey: KeyObject,
): Buffer | Denial {
  if (requested) {
    return validKeyUsage(requested.value)
      ? encodeExtension(OID.keyUsage, true, requested.value)
      : malformed('keyUsage');
  }
  const type = publicKey.asymmetricKeyType;
  const bits = keyUsageFor(keyUsageBits(known(usages)), {
    rsaKeyTransport: type === 'rsa' || type === 'rsa-pss',
    isCA,
  });
  return encodeExtension(OID.keyUsage, true, keyUsageValue(bits));
}

/** extendedKeyUsage: the CSR's (criticality kept), else the extended usages named in `usages`; undefined when there are none. */
export function extKeyUsageExtension(
  requested: RawExtension | undefined,
  usages: readonly string[],
): Buffer | Denial | undefined {
  if (requested) {
    return isSingle(requested.value, TAG.SEQUENCE)
      ? encodeExtension(OID.extKeyUsage, requested.critical, requested.value)
      : malformed('extendedKeyUsage');
  }
  const oids = extKeyUsageOids(known(usages));
  return oids.length > 0 ? encodeExtension(OID.extKeyUsage, false, extKeyUsageValue(oids)) : undefined;
}
