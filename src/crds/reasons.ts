// Condition and Event reasons, in one place: they are part of the user-facing contract
// (alerts and `kubectl wait` read them), so they never change once released.

export const OwnershipRule = {
  /** A DNS name, IP address, URI, e-mail address or host-like common name the namespace does not own and no grant allows. */
  NameNotOwned: 'NameNotOwned',
  /** A wildcard certificate without a grant that allows wildcards. */
  WildcardNotGranted: 'WildcardNotGranted',
  /** A CA certificate without a grant that allows CA certificates. */
  CANotGranted: 'CANotGranted',
} as const;
export type OwnershipRule = (typeof OwnershipRule)[keyof typeof OwnershipRule];

export const Reason = {
  AuthorityNotFound: 'AuthorityNotFound',
  AuthorityNotAllowed: 'AuthorityNotAllowed',
  InvalidSpec: 'InvalidSpec',
  Pending: 'Pending',
  // why a certificate is (re)issued: the Issuing condition's and the Event's reason
  DoesNotExist: 'DoesNotExist',
  MissingData: 'MissingData',
  InvalidCertificate: 'InvalidCertificate',
  /** The managed Secret's data is over the size cap: not read nor cached; reissued once, then reported. */
  SecretOversize: 'SecretOversize',
  InvalidKeyPair: 'InvalidKeyPair',
  SecretRolledBack: 'SecretRolledBack',
  /** The Secret holds a key pair this operator did not issue for the identity (swapped in by someone who can write it). */
  CertificateReplaced: 'CertificateReplaced',
  Expired: 'Expired',
  SpecChanged: 'SpecChanged',
  AuthorityChanged: 'AuthorityChanged',
  AuthorityDistrusted: 'AuthorityDistrusted',
  ManuallyTriggered: 'ManuallyTriggered',
  Renewing: 'Renewing',
  /** The current certificate breaks a policy with remediation: Reissue that the request now meets. */
  PolicyRemediation: 'PolicyRemediation',
  // PolicyCompliant condition (and Ready=False PolicyDenied)
  PolicyDenied: 'PolicyDenied',
  // the safe defaults (src/policy/ownership.ts): denials that hold with no IssuancePolicy at all
  NameNotOwned: OwnershipRule.NameNotOwned,
  WildcardNotGranted: OwnershipRule.WildcardNotGranted,
  CANotGranted: OwnershipRule.CANotGranted,
  /** isCA with a backend that cannot add pathLenConstraint 0 and name constraints (only ca and selfSigned can). */
  CAConstraintsUnsupported: 'CAConstraintsUnsupported',
  PolicyViolation: 'PolicyViolation',
  CertificateNonCompliant: 'CertificateNonCompliant',
  Compliant: 'Compliant',
  // outcomes
  Issued: 'Issued',
  Renewed: 'Renewed',
  KeyRotated: 'KeyRotated',
  Issuing: 'Issuing',
  Failed: 'Failed',
  Denied: 'Denied',
  BackingOff: 'BackingOff',
  AuthorityNotReady: 'AuthorityNotReady',
  SecretNotOwned: 'SecretNotOwned',
  /** The Secret was created or replaced by someone else between reading it and writing it: nothing was overwritten. */
  SecretConflict: 'SecretConflict',
  /** The operator's RBAC does not allow writing Secrets in the identity's namespace (chart value rbac.secrets). */
  SecretForbidden: 'SecretForbidden',
  Ready: 'Ready',
  // rollout controller Events (spec.rollout)
  WorkloadRestarted: 'WorkloadRestarted',
  /** The operator's ServiceAccount may not restart a listed workload (the chart's rbac.rollout). */
  RolloutForbidden: 'RolloutForbidden',
} as const;
export type Reason = (typeof Reason)[keyof typeof Reason];

// CertificateAuthorityBinding Ready reasons and events (authority-binding controller), and the
// reasons the in-process issuers deny a request with.
export const BindingReason = {
  Ready: 'Ready',
  InvalidSpec: 'InvalidSpec',
  CASecretNotFound: 'CASecretNotFound',
  InvalidCA: 'InvalidCA',
  CAExpired: 'CAExpired',
  CANotYetValid: 'CANotYetValid',
  CADistrusted: 'CADistrusted',
  /** A CA was recorded in status and its Secret is gone: no new root is minted unless the security team asks. */
  CASecretMissing: 'CASecretMissing',
  /** The CA Secret holds a different CA than the one recorded, and nobody approved the change. */
  CAChangedUnexpectedly: 'CAChangedUnexpectedly',
  /** Event: a new CA replaced the recorded one (approved, regenerated or replacing a distrusted CA); both are published. */
  CAChanged: 'CAChanged',
  /** Event: every trust bundle carries the current CA; identities are reissued after the propagation delay. */
  TrustBundlesUpdated: 'TrustBundlesUpdated',
  /** Event: a previous CA left the trust bundles (overlap over and nothing it signed is held any more). */
  PreviousCARetired: 'PreviousCARetired',
  BackendNotSupported: 'BackendNotSupported',
  /** Event: the CA Secret was generated (spec.ca.generate). */
  CAGenerated: 'CAGenerated',
  /** Event: generating or creating the CA Secret failed. */
  CAGenerationFailed: 'CAGenerationFailed',
  /** Event: a ConfigMap named like the trust bundle exists and is not ours; left untouched. */
  TrustBundleConflict: 'TrustBundleConflict',
  /** Event: the operator's ServiceAccount may not write the trust-bundle ConfigMap there (the chart's rbac.trustBundleConfigMaps). */
  TrustBundleForbidden: 'TrustBundleForbidden',
} as const;
export type BindingReason = (typeof BindingReason)[keyof typeof BindingReason];

export const SignReason = {
  InvalidCSR: 'InvalidCSR',
  CSRRequestsCA: 'CSRRequestsCA',
  PrivateKeyRequired: 'PrivateKeyRequired',
  PrivateKeyMismatch: 'PrivateKeyMismatch',
  UnsupportedKey: 'UnsupportedKey',
  CAExpired: 'CAExpired',
} as const;
export type SignReason = (typeof SignReason)[keyof typeof SignReason];

// Reasons of the Kubernetes signers (PodCertificateRequest and CertificateSigningRequest conditions
// and their Events). The boundary reasons say which rule refused the request.
export const SignerReason = {
  Issued: 'Issued',
  /** CSR approved: the request is inside the binding's boundaries and IssuancePolicy allows it. */
  PolicyAllowed: 'PolicyAllowed',
  PolicyDenied: 'PolicyDenied',
  /** The requester's namespace (the pod's, the ServiceAccount's, or the one csrRequesters names) is not selected by the binding's namespaceSelector. */
  AuthorityNotAllowed: Reason.AuthorityNotAllowed,
  /** A CSR from a requester that is neither a ServiceAccount nor listed in the binding's signer.csrRequesters. */
  RequesterNotAllowed: 'RequesterNotAllowed',
  /** The pod a PodCertificateRequest names does not exist, or its UID, ServiceAccount or node differ from the request's. */
  PodMismatch: 'PodMismatch',
  // the safe defaults (src/policy/ownership.ts), with the requester's namespace as the scope
  NameNotOwned: Reason.NameNotOwned,
  WildcardNotGranted: Reason.WildcardNotGranted,
  CANotGranted: Reason.CANotGranted,
  InvalidRequest: 'InvalidRequest',
  UnsupportedUsage: 'UnsupportedUsage',
  UnsupportedKeyType: 'UnsupportedKeyType',
  InvalidProofOfPossession: 'InvalidProofOfPossession',
  InvalidUnverifiedUserAnnotations: 'InvalidUnverifiedUserAnnotations',
  AuthorityNotReady: Reason.AuthorityNotReady,
  BackendCannotSign: 'BackendCannotSign',
  InvalidCertificate: Reason.InvalidCertificate,
  Pending: Reason.Pending,
} as const;
export type SignerReason = (typeof SignerReason)[keyof typeof SignerReason];

// Issuance attempts that end without a certificate (issuance/issue.ts: the Issuing condition's message
// and the Failed/Denied Event name them) and the revocation Events (issuance/revocation.ts).
export const IssuanceReason = {
  /** keystores.pkcs12.passwordSecretRef names a Secret key that cannot be read. */
  KeystorePasswordUnavailable: 'KeystorePasswordUnavailable',
  /** The CA backend threw instead of answering. */
  CAError: 'CAError',
  /** The CA returned a certificate that does not match the request; the previous certificate is kept. */
  CertificateMismatch: 'CertificateMismatch',
  /** The certificate was revoked at the CA before the identity was deleted. */
  Revoked: 'Revoked',
  /** Revoking at the CA failed (retried, then given up after 10 minutes). */
  RevocationFailed: 'RevocationFailed',
} as const;
export type IssuanceReason = (typeof IssuanceReason)[keyof typeof IssuanceReason];
