// Whether the in-process CA issues a CA certificate, and on what terms: the CSR's basicConstraints
// may not ask for more than the identity's isCA, and a delegated CA may sign leaves only
// (pathLenConstraint 0, whatever its CSR asked), inside the name constraints of a grant.
import { IssuerReason, SignReason } from '../crds/reasons.ts';
import { decodeBasicConstraints } from '../pki/extension-decode.ts';
import { basicConstraintsValue, encodeExtension, EXTENSION_OIDS as OID } from '../pki/extensions.ts';
import { nameConstraintsValue, type NameConstraintLists } from '../pki/name-constraints.ts';
import { malformed, type Denial, type VerifiedCsr } from './csr-checks.ts';

/** What the identity allows: a CA certificate or not, and a CA's name constraints. */
export interface CaRequest {
  isCA: boolean;
  /**
   * Required for a CA certificate: it then carries pathLenConstraint 0 and these name constraints
   * (what the requesting namespace may hold, src/policy/ownership.ts); a CA request without them is denied.
   */
  caConstraints?: NameConstraintLists | undefined;
}

/** A CA certificate or not: the CSR's basicConstraints when it has one (never more than isCA), else the identity's isCA. */
export function issuesCA(csr: VerifiedCsr, r: CaRequest): { isCA: boolean } | Denial {
  const ext = csr.extensions.get(OID.basicConstraints);
  if (!ext) return { isCA: r.isCA };
  const bc = decodeBasicConstraints(ext.value);
  if (!bc) return malformed('basicConstraints');
  if (bc.ca && !r.isCA) {
    return {
      ok: false,
      reason: SignReason.CSRRequestsCA,
      message: 'the CSR asks for a CA certificate (basicConstraints CA:TRUE) but the identity does not set isCA: true',
    };
  }
  return { isCA: bc.ca };
}

export interface CaExtensions {
  basicConstraints: Buffer;
  /** Empty for a leaf; the critical nameConstraints extension for a CA. */
  nameConstraints: Buffer[];
}

/** basicConstraints (critical), and for a CA its name constraints (critical); a CA without a grant's constraints is denied. */
export function caExtensions(isCA: boolean, r: CaRequest): CaExtensions | Denial {
  if (!isCA)
    return {
      basicConstraints: encodeExtension(OID.basicConstraints, true, basicConstraintsValue(false)),
      nameConstraints: [],
    };
  if (!r.caConstraints) {
    return {
      ok: false,
      reason: IssuerReason.CANotGranted,
      message:
        'a CA certificate is issued only with the name constraints of a grant (spec.grants[].allowCA on the CertificateAuthorityBinding)',
    };
  }
  return {
    basicConstraints: encodeExtension(OID.basicConstraints, true, basicConstraintsValue(true, 0)),
    nameConstraints: [encodeExtension(OID.nameConstraints, true, nameConstraintsValue(r.caConstraints))],
  };
}
