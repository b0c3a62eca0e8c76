// Condition and Event reasons, in one place: they are part of the user-facing contract
// (alerts and `kubectl wait` read them), so they never change once released.
export const Reason = {
  AuthorityNotFound: 'AuthorityNotFound',
  AuthorityNotAllowed: 'AuthorityNotAllowed',
  InvalidSpec: 'InvalidSpec',
  Pending: 'Pending',
  // why a certificate is (re)issued: the Issuing condition's and the Event's reason
  DoesNotExist: 'DoesNotExist',
  MissingData: 'MissingData',
  InvalidCertificate: 'InvalidCertificate',
  InvalidKeyPair: 'InvalidKeyPair',
  SecretRolledBack: 'SecretRolledBack',
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
  Ready: 'Ready',
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
