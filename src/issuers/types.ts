// One interface for every CA backend: in-process CAs that sign at once (selfSigned, ca) and remote
// CAs that answer later (ACME orders, Kubernetes CSRs, step-ca, CFSSL; Vault is planned). A backend never
// blocks a worker while a CA thinks: it returns `pending` with a retry hint and opaque state, and the
// controller calls it again with that state.
import type { KeyObject } from 'node:crypto';
import type { NameConstraintLists } from '../pki/name-constraints.ts';
import type { IssuerAnswerReason } from '../crds/reasons.ts';

/** A reason someone else wrote (a Kubernetes CSR's Denied or Failed condition), shown verbatim: see `relayedReason`. */
type RelayedReason = string & { readonly relayed: true };
/** Marks a reason as written by another system, so it may stand where a reason constant is expected. */
export const relayedReason = (reason: string): RelayedReason => reason as RelayedReason;

export interface SignRequest {
  /** PKCS#10 CSR (PEM) built from the identity's key: subject, SANs, key usage, EKU, basicConstraints. */
  csrPem: string;
  /** Stable per issuance attempt (`<identity uid>-<revision>`): lets a remote CA deduplicate retries. */
  requestId: string;
  identity: { namespace: string; name: string; uid: string };
  /** Requested lifetime; the backend caps it at the binding's maxDuration. */
  durationMs: number;
  isCA: boolean;
  /** With isCA: the name constraints the CA certificate must carry (with pathLenConstraint 0); a backend that cannot add them refuses CA requests. */
  caConstraints?: NameConstraintLists;
  /** Contract usage names (serverAuth, clientAuth, digitalSignature, ...). */
  usages: readonly string[];
  /** The identity's own private key: only the selfSigned backend uses it (it signs its own certificate). */
  privateKey?: KeyObject;
  /** Opaque state a previous `pending` result asked to be handed back (e.g. an ACME order URL). */
  state?: string;
  /** When the caller gives up on this attempt (ms since epoch). */
  deadline?: number;
}

/** A certificate for a public key the signer does not hold (PodCertificateRequests): no CSR, exact validity. */
export interface PublicKeySignRequest {
  /** SubjectPublicKeyInfo, DER. */
  spkiDer: Buffer;
  /** The same key, when the caller has it already (saves parsing it again). */
  publicKey?: KeyObject;
  /** Subject alternative names; the subject is empty, so the SAN extension is critical. */
  uris: readonly string[];
  dnsNames: readonly string[];
  usages: readonly string[];
  notBefore: Date;
  notAfter: Date;
}

interface IssuedCertificate {
  status: 'issued';
  /** The leaf certificate (PEM). */
  certificatePem: string;
  /** Intermediates between the leaf and the root (PEM each), leaf-first order; may be empty. */
  chainPem: string[];
  /** The CA certificate(s) to trust, for ca.crt (PEM); for selfSigned the leaf itself. */
  caPem: string;
  /** SHA-256 fingerprint (colon-separated upper-case hex) of the CA certificate that signed the leaf. */
  authorityFingerprintSHA256: string;
}
export type SignResult =
  | IssuedCertificate
  | { status: 'pending'; retryAfterMs: number; message: string; state?: string }
  /** Permanent: the CA refused this request; retrying the same request cannot succeed. */
  | { status: 'denied'; reason: IssuerAnswerReason | RelayedReason; message: string }
  /** The CA could not answer (down, timeout, rate-limited): retried with backoff. */
  | { status: 'failed'; reason: IssuerAnswerReason; message: string; retryAfterMs?: number };

export interface AuthorityHealth {
  ready: boolean;
  reason: IssuerAnswerReason;
  message: string;
  caFingerprintSHA256?: string;
  caNotAfter?: string;
  /** PEM of the CA certificates this authority currently issues from (trust bundles). */
  caBundlePem?: string;
}

export interface Issuer {
  /** Backend name as in the binding spec: selfSigned, ca, acme, stepCA, cfssl, vault, kubernetes. */
  readonly backend: string;
  /** True when the CSR never leaves this process (sign happens in memory): no durable key is needed before signing. */
  readonly inProcess: boolean;
  health(): Promise<AuthorityHealth>;
  sign(req: SignRequest): Promise<SignResult>;
  /** Revokes a certificate where the CA supports it (deletionPolicy Delete). */
  revoke?(certificatePem: string, reason?: string): Promise<void>;
  /** Signs a bare public key (only CAs whose key is in this process can; others leave it undefined). */
  signPublicKey?(req: PublicKeySignRequest): Promise<SignResult>;
}
