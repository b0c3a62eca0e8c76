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
  /** The managed Secret's data is over the size cap: not read nor cached; reissued once, then reported. */
  SecretOversize: 'SecretOversize',
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
