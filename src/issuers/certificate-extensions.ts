// The extensions of a certificate the in-process CA signs for a CSR, in order: basicConstraints,
// keyUsage, extKeyUsage, nameConstraints (CA only), subjectAltName, subjectKeyIdentifier,
// authorityKeyIdentifier. Names are copied from the CSR byte for byte and never invented.
import { isSingle, TAG } from '../pki/der.ts';
import {
  authorityKeyIdentifierValue,
  encodeExtension,
  EXTENSION_OIDS as OID,
  keyIdentifier,
  subjectKeyIdentifierValue,
} from '../pki/extensions.ts';
import { caExtensions, issuesCA, type CaRequest } from './ca-extensions.ts';
import { invalidCsr, isDenial, malformed, type Denial, type VerifiedCsr } from './csr-checks.ts';
import { extKeyUsageExtension, keyUsageExtension } from './usage-extensions.ts';

/** What the identity asks for beyond the CSR: CA or not (with its constraints), and its usages. */
export interface RequestedUse extends CaRequest {
  usages: readonly string[];
}

/** subjectAltName as the CSR asked for it, critical when the subject is empty (RFC 5280 4.2.1.6); a CSR naming nothing is denied. */
function subjectAltNameExtension(csr: VerifiedCsr): Buffer | Denial | undefined {
  const san = csr.extensions.get(OID.subjectAltName);
  const subjectEmpty = csr.subjectNameDer.length <= 2;
  if (!san)
    return subjectEmpty
      ? invalidCsr('the CSR has neither a subject nor a subjectAltName: nothing to certify')
      : undefined;
  if (!isSingle(san.value, TAG.SEQUENCE)) return malformed('subjectAltName');
  return encodeExtension(OID.subjectAltName, subjectEmpty || san.critical, san.value);
}

/** subjectKeyIdentifier of the CSR's key, and authorityKeyIdentifier when the signer has a key id. */
function keyIdentifiers(csr: VerifiedCsr, authorityKeyId: Buffer | undefined): Buffer[] {
  const ski = encodeExtension(OID.subjectKeyIdentifier, false, subjectKeyIdentifierValue(keyIdentifier(csr.spkiDer)));
  if (!authorityKeyId || authorityKeyId.length === 0) return [ski];
  return [ski, encodeExtension(OID.authorityKeyIdentifier, false, authorityKeyIdentifierValue(authorityKeyId))];
}

/** The extensions of the new certificate, or the first denial (in the order of the checks above). */
export function extensionsFor(
  csr: VerifiedCsr,
  r: RequestedUse,
  authorityKeyId: Buffer | undefined,
): Buffer[] | Denial {
  const bc = issuesCA(csr, r);
  if (isDenial(bc)) return bc;
  const ca = caExtensions(bc.isCA, r);
  if (isDenial(ca)) return ca;
  const san = subjectAltNameExtension(csr);
  if (isDenial(san)) return san;
  const ku = keyUsageExtension(csr.extensions.get(OID.keyUsage), r.usages, bc.isCA, csr.publicKey);
  if (isDenial(ku)) return ku;
  const eku = extKeyUsageExtension(csr.extensions.get(OID.extKeyUsage), r.usages);
  if (isDenial(eku)) return eku;
  const exts = [ca.basicConstraints, ku];
  if (eku) exts.push(eku);
  exts.push(...ca.nameConstraints);
  if (san) exts.push(san);
  exts.push(...keyIdentifiers(csr, authorityKeyId));
  return exts;
}
