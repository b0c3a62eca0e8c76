// Why an identity needs a new certificate: an ordered chain of pure checks. The first answer wins;
// its reason is the Issuing condition's reason and the Event's reason.
import { Reason } from '../../crds/reasons.ts';

/** The names and key a certificate carries, and an identity asks for: compared field by field. */
interface CertificateShape {
  commonName?: string;
  dnsNames: string[];
  ipAddresses: string[];
  uris: string[];
  emailAddresses: string[];
  isCA: boolean;
  keyAlgorithm: string;
  keySize?: number;
}

/** What the controller knows about the current Secret's certificate. */
interface CurrentCertificate extends CertificateShape {
  serialNumber: string;
  notBefore: Date;
  notAfter: Date;
}

/** Facts recorded on the Secret when it was written (annotations), so changes can be told apart. */
export interface SecretRecord {
  revision?: number;
  authority?: string;
  authorityFingerprint?: string;
  /** As written in the Secret (the spec's string); requestedDurationMs is what is compared. */
  requestedDuration?: string;
  requestedDurationMs?: number;
  issuedAt?: Date;
}

export interface DesiredIdentity extends CertificateShape {
  authority: string;
  /** spec.duration in ms; undefined when the spec leaves it to policy (then only remediation reissues for it). */
  durationMs?: number;
}

export interface TriggerInput {
  now: Date;
  desired: DesiredIdentity;
  secretExists: boolean;
  /** tls.crt and tls.key both present. */
  hasData: boolean;
  /** undefined when tls.crt did not parse. */
  cert?: CurrentCertificate;
  /** The key in tls.key parses and matches the certificate. */
  keyMatches: boolean;
  /** Set when the certificate is not one this operator issued for the identity (see provenance.ts). */
  replaced?: string;
  record: SecretRecord;
  statusRevision?: number;
  renewalTime?: Date;
  /** From the renew-requested-at annotation. */
  renewRequestedAt?: Date;
  /** Current CA fingerprint of the authority (undefined for selfSigned). */
  authorityFingerprint?: string;
  distrusted: ReadonlySet<string>;
  /** Set when the current certificate breaks a policy with remediation: Reissue that a new one would meet. */
  policyRemediation?: string;
}

export interface Trigger {
  reason: string;
  message: string;
  /** The current certificate is still good to serve meanwhile. */ stillValid: boolean;
}

type Check = (i: TriggerInput) => Trigger | undefined;
/** A check that runs once tls.crt parsed: it gets the certificate. */
type CertCheck = (i: TriggerInput, cert: CurrentCertificate) => Trigger | undefined;
const t = (reason: string, message: string, stillValid = false): Trigger => ({ reason, message, stillValid });
const sameSet = (a: readonly string[], b: readonly string[]): boolean => {
  const x = new Set(a.map((s) => s.toLowerCase()));
  const y = new Set(b.map((s) => s.toLowerCase()));
  return x.size === y.size && [...x].every((v) => y.has(v));
};

const checks: Check[] = [
  (i) => (i.secretExists ? undefined : t(Reason.DoesNotExist, 'the Secret does not exist')),
  (i) => (i.hasData ? undefined : t(Reason.MissingData, 'the Secret lacks tls.crt or tls.key')),
  (i) => (i.cert ? undefined : t(Reason.InvalidCertificate, 'tls.crt does not hold a parsable certificate')),
];

const certChecks: CertCheck[] = [
  (i) => (i.keyMatches ? undefined : t(Reason.InvalidKeyPair, 'tls.key does not match the certificate in tls.crt')),
  (i) => (i.replaced ? t(Reason.CertificateReplaced, i.replaced) : undefined),
  (i) =>
    i.statusRevision !== undefined && (i.record.revision ?? 0) < i.statusRevision
      ? t(
          Reason.SecretRolledBack,
          `the Secret holds revision ${i.record.revision ?? 0}, older than issued revision ${i.statusRevision}`,
        )
      : undefined,
  (i, c) =>
    i.now >= c.notAfter ? t(Reason.Expired, `the certificate expired at ${c.notAfter.toISOString()}`) : undefined,
  (i, c) => specMismatch(i.desired, c, i.record),
  (i) =>
    i.record.authority !== undefined && i.record.authority !== i.desired.authority
      ? t(
          Reason.AuthorityChanged,
          `spec.authorityRef changed from ${i.record.authority} to ${i.desired.authority}`,
          true,
        )
      : undefined,
  (i) =>
    i.record.authorityFingerprint && i.distrusted.has(i.record.authorityFingerprint)
      ? t(
          Reason.AuthorityDistrusted,
          `the certificate was signed by a distrusted CA (${i.record.authorityFingerprint})`,
        )
      : undefined,
  (i) =>
    i.authorityFingerprint && i.record.authorityFingerprint && i.record.authorityFingerprint !== i.authorityFingerprint
      ? t(
          Reason.AuthorityChanged,
          `the authority now issues from CA ${i.authorityFingerprint}; the certificate is from ${i.record.authorityFingerprint}`,
          true,
        )
      : undefined,
  (i) => (i.policyRemediation ? t(Reason.PolicyRemediation, i.policyRemediation, true) : undefined),
  // a request dated in the future schedules a renewal at that time (the controller requeues for it)
  (i) =>
    i.renewRequestedAt && i.renewRequestedAt <= i.now && (!i.record.issuedAt || i.renewRequestedAt > i.record.issuedAt)
      ? t(Reason.ManuallyTriggered, `renewal requested at ${i.renewRequestedAt.toISOString()}`, true)
      : undefined,
  (i) =>
    i.renewalTime && i.now >= i.renewalTime
      ? t(Reason.Renewing, `renewal time ${i.renewalTime.toISOString()} reached`, true)
      : undefined,
];

/** The certificate has every name asked for and no other, except the common name a CA may copy into the SANs (step-ca, ACME CAs do). */
export function sameNames(desired: readonly string[], got: readonly string[], commonName: string | undefined): boolean {
  const want = new Set(desired.map((s) => s.toLowerCase()));
  const have = new Set(got.map((s) => s.toLowerCase()));
  const cn = commonName?.toLowerCase();
  return [...want].every((n) => have.has(n)) && [...have].every((n) => want.has(n) || n === cn);
}

/** The common name asked for; without one, a CA may put one of the SANs there (step-ca and ACME CAs do). */
function sameCommonName(d: DesiredIdentity, c: CurrentCertificate): boolean {
  // an ACME CA may drop a common name that only repeats a SAN (Let's Encrypt's tlsserver profile, Pebble)
  const want = d.commonName;
  if (want)
    return (
      want === c.commonName ||
      (!c.commonName && [...d.dnsNames, ...d.ipAddresses].some((n) => n.toLowerCase() === want.toLowerCase()))
    );
  if (!c.commonName) return true;
  const cn = c.commonName.toLowerCase();
  return [...d.dnsNames, ...d.ipAddresses, ...d.uris, ...d.emailAddresses].some((n) => n.toLowerCase() === cn);
}

/** The spec fields whose names in the certificate differ. */
function nameDiffs(d: DesiredIdentity, c: CurrentCertificate): string[] {
  const diffs: string[] = [];
  if (!sameCommonName(d, c)) diffs.push('subject.commonName');
  if (!sameNames(d.dnsNames, c.dnsNames, d.commonName)) diffs.push('dnsNames');
  if (!sameSet(d.ipAddresses, c.ipAddresses)) diffs.push('ipAddresses');
  if (!sameSet(d.uris, c.uris)) diffs.push('uris');
  if (!sameSet(d.emailAddresses, c.emailAddresses)) diffs.push('emailAddresses');
  return diffs;
}

function specMismatch(d: DesiredIdentity, c: CurrentCertificate, record: SecretRecord): Trigger | undefined {
  const diffs = nameDiffs(d, c);
  if (d.isCA !== c.isCA) diffs.push('isCA');
  if (d.keyAlgorithm !== c.keyAlgorithm || (d.keySize !== undefined && d.keySize !== c.keySize))
    diffs.push('privateKey');
  // compared in ms: the same lifetime written differently (90m, 1h30m) is no change
  if (
    d.durationMs !== undefined &&
    record.requestedDurationMs !== undefined &&
    record.requestedDurationMs !== d.durationMs
  )
    diffs.push('duration');
  return diffs.length
    ? t(Reason.SpecChanged, `the certificate does not match spec: ${diffs.join(', ')} changed`)
    : undefined;
}

/** The first reason to issue, or undefined when the current certificate is fine. */
export function issuanceTrigger(i: TriggerInput): Trigger | undefined {
  for (const check of checks) {
    const r = check(i);
    if (r) return r;
  }
  const cert = i.cert;
  if (!cert) return undefined; // unreachable: the last check above answers for a missing certificate
  for (const check of certChecks) {
    const r = check(i, cert);
    if (r) return r;
  }
  return undefined;
}
