// Pure: what each endpoint's probe means for the certificate its Secret holds now, and the Served
// condition of the identity from all of them. Messages carry absolute times, never "N minutes ago",
// so a verdict that does not change produces the same condition and no status write.
import { ServedReason } from '../crds/reasons.ts';
import type { EndpointAddress, EndpointVerdict, ProbeResult, ServeTarget } from './types.ts';

/** What the Secret holds now, as far as validation needs it. */
export interface CurrentCert {
  serialNumber: string;
  fingerprintSHA256: string;
  /** When this certificate replaced the previous one (epoch ms): the grace period runs from here. */
  replacedAt: number;
  /** Certificates in the Secret's tls.crt (leaf and chain); a server must present at least these. */
  chainLength: number;
}

/** A CA certificate a caBundle holds (webhook configurations, APIServices). */
export interface BundleCa {
  subjectDN: string;
  subjectKeyId?: string;
  fingerprintSHA256: string;
}

export interface EndpointOutcome {
  verdict: EndpointVerdict;
  /** Why, when not Current (no peer bytes: error codes and facts only). */
  message?: string;
}

const iso = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
const shortSerial = (s: string): string => (s.length > 12 ? `${s.slice(0, 12)}…` : s);

/** True when a CA of the bundle issued the leaf (key identifiers first, then names) or the leaf is in it. */
function bundleTrusts(
  leaf: { fingerprintSHA256: string; issuerDN: string; authorityKeyId?: string },
  bundle: readonly BundleCa[],
): boolean {
  return bundle.some(
    (ca) =>
      ca.fingerprintSHA256 === leaf.fingerprintSHA256 ||
      (leaf.authorityKeyId && ca.subjectKeyId
        ? leaf.authorityKeyId === ca.subjectKeyId
        : ca.subjectDN === leaf.issuerDN),
  );
}

export interface VerdictInput {
  probe: ProbeResult | undefined;
  current: CurrentCert;
  nowMs: number;
  graceMs: number;
  /** Set for webhook and APIService targets: the caBundle's CAs. */
  bundle?: readonly BundleCa[];
}

/** One endpoint: compares what it served with what the Secret holds. */
export function endpointVerdict(i: VerdictInput): EndpointOutcome {
  const p = i.probe;
  if (!p) return { verdict: 'Pending' };
  if (!p.ok) return { verdict: 'Unreachable', message: `${p.error}: ${p.message}` };
  const leaf = p.leaf;
  if (leaf.notAfter <= i.nowMs)
    return {
      verdict: 'Expired',
      message: `serves serial ${shortSerial(leaf.serialNumber)}, expired at ${iso(leaf.notAfter)}`,
    };
  if (leaf.fingerprintSHA256 !== i.current.fingerprintSHA256) {
    // a probe made before the renewal says nothing about whether the server reloaded since: wait for one after it
    const waiting = i.nowMs - i.current.replacedAt < i.graceMs || p.at < i.current.replacedAt;
    return {
      verdict: waiting ? 'AwaitingReload' : 'Stale',
      message: `serves serial ${shortSerial(leaf.serialNumber)}, not the current ${shortSerial(i.current.serialNumber)} (replaced at ${iso(i.current.replacedAt)})`,
    };
  }
  if (i.bundle && !bundleTrusts(leaf, i.bundle))
    return {
      verdict: 'Untrusted',
      message: 'the caBundle of the referencing object does not verify the served certificate',
    };
  if (p.presented < i.current.chainLength)
    return {
      verdict: 'IncompleteChain',
      message: `presents ${p.presented} of the ${i.current.chainLength} certificates in the Secret's tls.crt`,
    };
  return { verdict: 'Current' };
}

/** One probed address of a target, with its outcome. */
export interface EndpointResult {
  target: ServeTarget;
  address: EndpointAddress;
  probe: ProbeResult | undefined;
  outcome: EndpointOutcome;
}

export interface ServedCondition {
  type: 'Served';
  status: 'True' | 'False' | 'Unknown';
  reason: ServedReason;
  message: string;
}

// worst first: the condition reports the first verdict of this list that any endpoint has
const ORDER: readonly { verdict: EndpointVerdict; status: ServedCondition['status']; reason: ServedReason }[] = [
  { verdict: 'Expired', status: 'False', reason: ServedReason.ServingExpiredCertificate },
  { verdict: 'Stale', status: 'False', reason: ServedReason.ServingStaleCertificate },
  { verdict: 'Untrusted', status: 'False', reason: ServedReason.ServingUntrustedCertificate },
  { verdict: 'IncompleteChain', status: 'False', reason: ServedReason.ServingIncompleteChain },
  { verdict: 'Unreachable', status: 'False', reason: ServedReason.EndpointUnreachable },
  { verdict: 'AwaitingReload', status: 'Unknown', reason: ServedReason.AwaitingReload },
  { verdict: 'Pending', status: 'Unknown', reason: ServedReason.ProbePending },
];

const objectOf = (t: ServeTarget): string => `${t.source} ${t.namespace ? `${t.namespace}/` : ''}${t.name}`;

/** "2 of 3 endpoints of Service web" (grouped by the first object with that verdict). */
function countPhrase(head: EndpointResult, bad: readonly EndpointResult[], all: readonly EndpointResult[]): string {
  const obj = objectOf(head.target);
  const ofObj = all.filter((r) => objectOf(r.target) === obj);
  const badOfObj = bad.filter((r) => objectOf(r.target) === obj);
  const more = bad.length - badOfObj.length;
  const base = `${badOfObj.length} of ${ofObj.length} endpoint${ofObj.length === 1 ? '' : 's'} of ${obj}`;
  return more > 0 ? `${base} (and ${more} more elsewhere)` : base;
}

/** The Served condition from every endpoint's outcome. */
export function servedCondition(results: readonly EndpointResult[], noTargetsWhy?: string): ServedCondition {
  if (results.length === 0)
    return {
      type: 'Served',
      status: 'Unknown',
      reason: ServedReason.NoEndpoints,
      message:
        noTargetsWhy ??
        'no Service whose ready pods mount the Secret on a TLS port, and no Ingress, Gateway, webhook or APIService that references it',
    };
  for (const o of ORDER) {
    const bad = results.filter((r) => r.outcome.verdict === o.verdict);
    const [head] = bad;
    if (!head) continue;
    return {
      type: 'Served',
      status: o.status,
      reason: o.reason,
      message: `${countPhrase(head, bad, results)}: ${head.outcome.message ?? o.verdict}`,
    };
  }
  return {
    type: 'Served',
    status: 'True',
    reason: ServedReason.ServingCurrentCertificate,
    message: `all ${results.length} endpoint${results.length === 1 ? '' : 's'} serve the current certificate`,
  };
}
