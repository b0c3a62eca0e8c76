// over 300 lines: a table of data (every reason constant and its help text), one group after another
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
  /** Event on a binding with signer.podCertificates when the API server serves no PodCertificateRequest API. */
  PodCertificatesNotServed: 'PodCertificatesNotServed',
} as const;
export type SignerReason = (typeof SignerReason)[keyof typeof SignerReason];

// IssuancePolicy Ready reasons (policy status controller).
export const PolicyReason = {
  /** Valid and applied; the message counts the identities it selects and those violating a rule. */
  Active: 'Active',
  InvalidSpec: 'InvalidSpec',
  /** Valid, but some pattern can never match: the policy is applied and those entries allow nothing. */
  PatternNeverMatches: 'PatternNeverMatches',
} as const;
export type PolicyReason = (typeof PolicyReason)[keyof typeof PolicyReason];

// Reasons the CA backends (src/issuers/) answer with: the binding's Ready reason when the registry
// cannot build a backend or its health check fails, and the Issuing/Ready reason and Event of an
// identity whose request a CA refused (denied: not retried) or could not answer (failed: retried).
// Each reason's text is data, not a comment, so the API reference can print it (src/crds/docs.ts);
// the constant is the name itself. The in-process signer's refusals are SignReason, above.
export const IssuerReasonHelp = {
  // the registry: a binding whose backend cannot be built
  InvalidSpec:
    'The selected backend misses a setting it needs (exactly one backend; kubernetes.signerName; acme.directoryURL and accountKeySecretRef; stepCA url and provisioner; cfssl.url). Complete spec.<backend>.',
  CASecretNotFound:
    "ca backend: no CA was loaded from spec.ca.secretRef. Create the Secret (tls.crt, tls.key) in the operator's namespace, or set spec.ca.generate.",
  InvalidCA:
    "The CA certificate and key cannot sign (not a CA certificate, unreadable key, key and certificate do not match). Replace the CA Secret's contents.",
  BackendNotSupported:
    'This version of the operator cannot use the selected backend (vault). Use ca, selfSigned, acme, stepCA, cfssl or kubernetes meanwhile.',
  AuthKeyNotFound:
    "cfssl.authKeySecretRef names a Secret or key that does not exist in the operator's namespace. Create it (the hex auth key of the CFSSL profile).",
  PasswordNotFound:
    "stepCA.provisioner.passwordSecretRef names a Secret or key that does not exist in the operator's namespace. Create it (the JWK provisioner's password).",
  EABKeyNotFound:
    "acme.externalAccountBinding.keySecretRef names a Secret or key that does not exist in the operator's namespace. Create it (the base64url HMAC key the CA gave you).",
  TSIGSecretNotFound:
    "An rfc2136 solver's tsigSecretSecretRef names a Secret or key that does not exist in the operator's namespace. Create it (the base64 TSIG secret).",
  // health: the binding's Ready condition
  Ready: 'The CA answers and can issue.',
  AccountKeyInvalid:
    'The ACME account key Secret (acme.accountKeySecretRef) holds no usable private key, or does not exist and could not be created. Fix the Secret, or delete it so a new account key is generated.',
  AccountRegistrationFailed:
    'The ACME server refused to register or find the account (external account binding required or wrong, contact refused, account deactivated). The message quotes the server; fix acme.email or acme.externalAccountBinding.',
  CAUnavailable:
    'The CA server answered its health or info request with an error or without a CA certificate. Check the CA server (and the cfssl profile).',
  ProvisionerUnusable:
    'step-ca has no JWK provisioner of that name, or its key cannot be decrypted with the password from provisioner.passwordSecretRef. Fix the provisioner name or the password.',
  // talking to a CA: failed, retried with backoff
  CAUnreachable:
    'No answer from the CA (DNS, connection, TLS, timeout). Retried with backoff; check the URL, network policies and the caBundle.',
  CAError: "The CA answered with a server error or something unexpected. Retried with backoff; the CA's logs say more.",
  RateLimited:
    'The ACME server rate-limited the account: nothing is sent to it before its Retry-After. Wait, or ask the CA for a higher limit.',
  OrderLost:
    'The ACME server no longer knows the account or the order (a reset CA, an expired order). A new order follows by itself; nothing to do unless it repeats.',
  DNSUpdateFailed:
    "DNS-01: the RFC 2136 update was refused or not answered (TSIG key, zone, nameserver). Retried; check the rfc2136 solver settings and the nameserver's update policy.",
  SolverFailed:
    "HTTP-01 cannot be answered: the operator's challenge listener is off, or the Ingress or HTTPRoute could not be created. Enable the chart's acme.http01 (and its Service), or fix the RBAC for Ingresses and HTTPRoutes.",
  InvalidCertificate: "The CA said it issued a certificate but sent none. Retried; the CA's logs say more.",
  APIError: 'kubernetes backend: the API server failed to create the CertificateSigningRequest. Retried with backoff.',
  // refusals: denied, the same request is not retried
  CARefused:
    "The CA refused the request for good (its policy, the CSR, the account's authorization). The message quotes the CA: change the identity or the CA's profile or policy.",
  UnsupportedByCA:
    'An ACME CA cannot certify this request: isCA, URIs or e-mail addresses, no DNS name or IP address, or a common name that is not one of them. Change the identity or use another backend.',
  NoSolver:
    'No entry of acme.solvers handles a name of the request (selectors; wildcards need DNS-01, IP addresses HTTP-01). Add or widen a solver.',
  ChallengeNotOffered:
    'The ACME server does not offer the challenge type of the solver chosen for a name. Use a solver whose type the server offers.',
  ChallengeFailed:
    'The ACME server could not validate a challenge (the HTTP-01 answer or the DNS-01 record was not reachable from it). The message quotes the server; fix routing or DNS.',
  OrderInvalid:
    'The ACME order became invalid without a failed challenge (CAA, finalization refused). The message quotes the server.',
  Forbidden:
    'kubernetes backend: the API server refused to create the CertificateSigningRequest (RBAC). Allow the operator to create CSRs for that signer.',
  Invalid:
    'kubernetes backend: the API server rejected the CertificateSigningRequest (unknown signer name, usages or lifetime the API refuses). Fix kubernetes.signerName or the identity.',
  Denied:
    'kubernetes backend: the CertificateSigningRequest was denied without a reason. When the approver gives one, that reason is shown instead.',
  Failed:
    'kubernetes backend: the signer failed the CertificateSigningRequest without a reason. When the signer gives one, that reason is shown instead.',
  // the in-process signer (ca backend), next to SignReason
  CANotGranted:
    'A CA certificate is issued only with the name constraints of a grant: set spec.grants[].allowCA on the binding, or drop isCA.',
  CAExpiresTooSoon:
    'The CA certificate expires before the certificate asked for would. Renew the CA, or ask for a shorter duration.',
} as const satisfies Record<string, string>;

/** The names of a table of reason texts, as constants whose value is the name (what users see). */
type ReasonNames<T> = { readonly [K in keyof T]: K };
function reasonNames<T extends Record<string, string>>(help: T): ReasonNames<T> {
  return Object.fromEntries(Object.keys(help).map((k) => [k, k])) as ReasonNames<T>;
}

/** A CA backend's reason: `IssuerReason.CARefused`; what it means is `IssuerReasonHelp.CARefused`. */
export const IssuerReason = reasonNames(IssuerReasonHelp);
export type IssuerReason = keyof typeof IssuerReasonHelp;

/** Every reason an Issuer answers with (SignResult, AuthorityHealth, the registry): a bare string does not type-check. */
export type IssuerAnswerReason = IssuerReason | SignReason;

// The texts of the groups above, as data for the API reference (their doc comments are not readable
// at generation time). A reason without an entry is listed with its name only.
type HelpFor<T> = { readonly [K in keyof T]?: string };
export const OwnershipRuleHelp: HelpFor<typeof OwnershipRule> = {
  NameNotOwned:
    'A DNS name, IP address, URI, e-mail address or host-like common name the namespace does not own and no grant allows.',
  WildcardNotGranted: 'A wildcard certificate without a grant that allows wildcards.',
  CANotGranted: 'A CA certificate without a grant that allows CA certificates.',
};
export const ReasonHelp: HelpFor<typeof Reason> = {
  AuthorityNotFound:
    'The CertificateAuthorityBinding named in spec.authority does not exist: create it or fix the name.',
  AuthorityNotAllowed:
    "The binding's namespaceSelector does not select the identity's namespace: ask its owners to select it, or use another binding.",
  InvalidSpec: 'The spec does not parse; the message names the field.',
  Pending:
    'Issuing: the CA answers later (an ACME order, a CSR waiting for approval); the message says where the request stands.',
  DoesNotExist: 'Issuing: the Secret does not exist yet.',
  MissingData: 'Issuing: the Secret lacks tls.crt or tls.key.',
  InvalidCertificate: 'Issuing: tls.crt cannot be read as a certificate.',
  InvalidKeyPair: 'Issuing: tls.key does not match the certificate in tls.crt.',
  SecretRolledBack:
    'Issuing: the Secret holds an older revision than the one last issued (restored from a backup, or written back by someone).',
  Expired: 'Issuing: the certificate expired.',
  SpecChanged: 'Issuing: the spec asks for a certificate other than the one in the Secret.',
  AuthorityChanged:
    "Issuing: the binding's CA changed; identities move to the new CA once every trust bundle carries it.",
  AuthorityDistrusted: 'Issuing: the certificate was signed by a CA the binding lists in spec.distrust.',
  ManuallyTriggered: 'Issuing: a renewal was requested on the identity.',
  Renewing: 'Issuing: the renewal time was reached.',
  PolicyDenied:
    'An IssuancePolicy denies the request (PolicyCompliant=False, Ready=False); the message names the policy and the rule.',
  PolicyViolation: 'PolicyCompliant=False: an IssuancePolicy in audit mode would deny the request; nothing is blocked.',
  CertificateNonCompliant: 'PolicyCompliant=False: the certificate in the Secret breaks a policy the request meets.',
  Compliant: 'PolicyCompliant=True: every IssuancePolicy selecting the identity allows it (or none selects it).',
  Issued: 'Ready=True after the first certificate, and its Event.',
  Renewed: 'Event: a new certificate replaced the previous one.',
  KeyRotated: 'Event: a new private key was generated for this revision.',
  Issuing: 'Event: issuance started; the message says why.',
  Failed:
    "Ready/Issuing=False: the CA could not answer; retried with backoff. The message starts with the backend's reason (IssuerReason).",
  Denied:
    "Ready/Issuing=False: the CA refused the request; not retried until the spec or the authority changes. The message starts with the backend's reason (IssuerReason, SignReason).",
  AuthorityNotReady: 'The binding is not Ready (its Ready condition says why); issuance waits for it.',
  SecretNotOwned:
    'A Secret of that name exists and was not created for this MachineIdentity; it is left untouched: delete it or choose another spec.secretName.',
  Ready: 'Ready=True: the Secret holds a valid certificate and key for the spec.',
  WorkloadRestarted: 'Event: a workload listed in spec.rollout was restarted for the new revision.',
  BackingOff:
    'Reserved: this version does not write it (a failed attempt shows Failed with the retry delay in the Issuing message).',
  SecretOversize: "The managed Secret's data is over the size cap: not read nor cached; reissued once, then reported.",
  CertificateReplaced:
    'The Secret holds a key pair this operator did not issue for the identity (swapped in by someone who can write it).',
  PolicyRemediation: 'The current certificate breaks a policy with remediation: Reissue that the request now meets.',
  ...OwnershipRuleHelp,
  CAConstraintsUnsupported:
    'isCA with a backend that cannot add pathLenConstraint 0 and name constraints (only ca and selfSigned can).',
  SecretConflict:
    'The Secret was created or replaced by someone else between reading it and writing it: nothing was overwritten.',
  SecretForbidden:
    "The operator's RBAC does not allow writing Secrets in the identity's namespace (chart value rbac.secrets).",
  RolloutForbidden: "The operator's ServiceAccount may not restart a listed workload (the chart's rbac.rollout).",
};
export const BindingReasonHelp: HelpFor<typeof BindingReason> = {
  Ready: 'The CA is reachable and its certificate valid.',
  InvalidSpec: 'The spec does not parse; the message names the field.',
  CASecretNotFound:
    "The CA Secret (spec.ca.secretRef) does not exist in the operator's namespace: create it, or set spec.ca.generate.",
  InvalidCA:
    'The CA Secret does not hold a usable CA (unreadable, not a CA certificate, or a key that does not match it).',
  CAExpired: 'The CA certificate expired: replace it.',
  CANotYetValid:
    'The CA certificate is not valid yet (its notBefore is ahead); the binding becomes Ready then. Check the clock of whoever made it.',
  CADistrusted: 'The CA certificate is listed in spec.distrust: replace the CA.',
  BackendNotSupported: 'This version of the operator cannot use the selected backend (vault).',
  CASecretMissing:
    'A CA was recorded in status and its Secret is gone: no new root is minted unless the security team asks.',
  CAChangedUnexpectedly: 'The CA Secret holds a different CA than the one recorded, and nobody approved the change.',
  CAChanged:
    'Event: a new CA replaced the recorded one (approved, regenerated or replacing a distrusted CA); both are published.',
  TrustBundlesUpdated:
    'Event: every trust bundle carries the current CA; identities are reissued after the propagation delay.',
  PreviousCARetired:
    'Event: a previous CA left the trust bundles (overlap over and nothing it signed is held any more).',
  CAGenerated: 'Event: the CA Secret was generated (spec.ca.generate).',
  CAGenerationFailed: 'Event: generating or creating the CA Secret failed.',
  TrustBundleConflict: 'Event: a ConfigMap named like the trust bundle exists and is not ours; left untouched.',
  TrustBundleForbidden:
    "Event: the operator's ServiceAccount may not write the trust-bundle ConfigMap there (the chart's rbac.trustBundleConfigMaps).",
};
export const SignerReasonHelp: HelpFor<typeof SignerReason> = {
  Issued: 'The certificate was issued.',
  PolicyDenied: 'An IssuancePolicy denies the request; the message names the policy and the rule.',
  InvalidRequest: 'The request cannot be read or names nothing the signer certifies; the message says why.',
  UnsupportedUsage: 'The request asks for a key usage this signer does not issue.',
  UnsupportedKeyType: "The request's key type is not one this signer signs.",
  InvalidProofOfPossession: "The PodCertificateRequest's proof of possession does not verify with its public key.",
  InvalidUnverifiedUserAnnotations:
    'The PodCertificateRequest carries unverifiedUserAnnotations; this signer understands none.',
  AuthorityNotReady: 'The binding is not Ready (its Ready condition says why).',
  BackendCannotSign:
    "The binding's backend cannot sign a key it does not hold: pod certificates need a CA whose key is in the operator.",
  InvalidCertificate: 'The API server rejected the issued certificate.',
  Pending: 'The CA answers later; the request is looked at again.',
  PolicyAllowed: "CSR approved: the request is inside the binding's boundaries and IssuancePolicy allows it.",
  AuthorityNotAllowed:
    "The requester's namespace (the pod's, the ServiceAccount's, or the one csrRequesters names) is not selected by the binding's namespaceSelector.",
  RequesterNotAllowed:
    "A CSR from a requester that is neither a ServiceAccount nor listed in the binding's signer.csrRequesters.",
  PodMismatch:
    "The pod a PodCertificateRequest names does not exist, or its UID, ServiceAccount or node differ from the request's.",
  PodCertificatesNotServed:
    'Event on a binding with signer.podCertificates: the API server serves PodCertificateRequests in neither certificates.k8s.io/v1 (Kubernetes 1.37) nor v1beta1 (1.35/1.36 with the PodCertificateRequest gate and runtime-config), so no pod certificate is signed.',
  ...OwnershipRuleHelp,
};
/** SignReason: the in-process signer's refusals (ca and selfSigned backends), part of IssuerAnswerReason. */
export const SignReasonHelp: HelpFor<typeof SignReason> = {
  InvalidCSR:
    'The certificate signing request is not a valid PKCS#10 CSR, its signature does not verify, an extension is malformed, or it names nothing to certify. The message says which.',
  CSRRequestsCA:
    'The CSR asks for a CA certificate (basicConstraints CA:TRUE) but the identity does not set isCA: true.',
  PrivateKeyRequired:
    "selfSigned: the identity's private key was not handed to the backend, so it cannot sign its own certificate.",
  PrivateKeyMismatch: "selfSigned: the private key given for self-signing does not match the CSR's public key.",
  UnsupportedKey: 'selfSigned: the key cannot sign certificates here; use ECDSA, RSA or Ed25519.',
  CAExpired: 'The CA certificate expired: renew or replace the CA.',
};
export const PolicyReasonHelp: HelpFor<typeof PolicyReason> = {
  Active: 'Valid and applied; the message counts the identities it selects and those violating a rule.',
  InvalidSpec: 'The spec does not parse; the message names the field.',
  PatternNeverMatches:
    'Valid, but some pattern can never match: the policy is applied and those entries allow nothing.',
};

// The admission webhook's refusal: the metav1.Status reason of an AdmissionReview response that
// denies a MachineIdentity (Kubernetes' own StatusReasonForbidden; kubectl shows it).
export const AdmissionReason = {
  Forbidden: 'Forbidden',
} as const;
export type AdmissionReason = (typeof AdmissionReason)[keyof typeof AdmissionReason];
export const AdmissionReasonHelp: HelpFor<typeof AdmissionReason> = {
  Forbidden:
    'kubectl apply was refused by the validating webhook: the message names the IssuancePolicy or safe-default rule and the field.',
};

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
export const IssuanceReasonHelp: HelpFor<typeof IssuanceReason> = {
  KeystorePasswordUnavailable:
    'keystores.pkcs12.passwordSecretRef names a Secret key that cannot be read: create it, or fix the reference.',
  CAError: 'The CA backend threw instead of answering: retried with backoff; the operator log has the error.',
  CertificateMismatch:
    'The CA returned a certificate that does not match the request; the previous certificate is kept and the request retried.',
  Revoked: 'Event: the certificate was revoked at the CA before the identity was deleted.',
  RevocationFailed:
    'Event: revoking at the CA failed (retried, then given up after 10 minutes); the deletion goes ahead.',
};

// MachineIdentity `Served` condition (the validation controller, src/validation/): is the current
// certificate the one its endpoints serve? Also the reasons of its Events.
export const ServedReasonHelp = {
  ServingCurrentCertificate: 'Every endpoint that should serve the identity serves its current certificate.',
  ServingStaleCertificate:
    'An endpoint still serves an earlier certificate after the grace period (the workload did not reload the renewed Secret). Restart it, make it reload the mounted file, or set spec.rollout.restartWhenStaleAfter.',
  ServingIncompleteChain:
    'An endpoint serves the current leaf without the intermediate certificates a client needs to verify it. Serve tls.crt whole (leaf, then chain).',
  ServingExpiredCertificate: 'An endpoint serves an expired certificate: clients refuse it. Restart the workload now.',
  ServingUntrustedCertificate:
    "A webhook or APIService endpoint serves a certificate its caBundle does not verify: the API server's calls to it fail.",
  EndpointUnreachable:
    'No TLS handshake with an endpoint (timeout, refused, not TLS, over the budget); the message says which and why.',
  NoEndpoints:
    'No Service, Ingress, Gateway, webhook or APIService was found that serves this Secret (a Service whose ready pods mount it on a TLS port, or a TLS reference to it).',
  ProbePending: 'Endpoints were found and are about to be probed.',
  AwaitingReload:
    'The Secret was renewed moments ago and an endpoint still serves the previous certificate: the kubelet updates mounted Secrets within about a minute. Checked again soon.',
  /** Event: a stale workload was restarted (spec.rollout.restartWhenStaleAfter). */
  StaleWorkloadRestarted:
    'Event: a workload still serving a replaced certificate was restarted (spec.rollout.restartWhenStaleAfter).',
  /** Event and condition message: restarting needs the chart's rbac.rollout. */
  RestartForbidden:
    'spec.rollout.restartWhenStaleAfter is set but the operator may not restart the workload: grant it with the chart value rbac.rollout.',
} as const;
export const ServedReason = reasonNames(ServedReasonHelp);
export type ServedReason = keyof typeof ServedReasonHelp;

// Anomalies (inventory findings and validation results): a Warning Event on the object, the
// machine_identity_anomalies gauge, and `kubectl mi inventory`. Each can be muted per namespace with
// the annotation machineidentity.io/mute-anomalies (a comma-separated list of these names).
export const AnomalyReasonHelp = {
  KeyReuse:
    'The same public key is in certificates of Secrets in more than one namespace or under more than one MachineIdentity: one leaked copy exposes all of them.',
  KeyCopied: "A managed identity's key is in a Secret the operator does not own (copied out of the managed Secret).",
  UnknownCertificate: 'An endpoint serves a certificate that is in no Secret or ConfigMap the inventory knows.',
  UnknownAuthority:
    'An endpoint serves a certificate from a CA that no CertificateAuthorityBinding and no known trust bundle knows.',
  NameMismatch: 'An endpoint serves a certificate that does not cover the name it was reached by (SNI).',
  WeakTLS:
    'An endpoint accepts TLS 1.0 or 1.1, or negotiates a weak cipher (RC4, 3DES, NULL, export, CBC with SHA-1 under TLS 1.0/1.1).',
  ReissueLoop:
    'An identity was issued more times in the last hour than validation.reissueLoopThreshold: a reissue loop.',
} as const;
export const AnomalyReason = reasonNames(AnomalyReasonHelp);
export type AnomalyReason = keyof typeof AnomalyReasonHelp;
