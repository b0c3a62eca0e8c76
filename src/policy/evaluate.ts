// IssuancePolicy evaluation: which policies select a request, and what they say about it.
// Every selected Enforce policy must allow a request; Audit policies only report. Pure: the caller
// supplies policies (compiled once with compilePolicies) and the namespace's labels.
import type { IssuancePolicySpec } from '../crds/issuance-policy.ts';
import { matchesSelector } from './label-selector.ts';
import type { LabelSelector } from './label-selector.ts';
import { compileRules, type CompiledRules } from './compile-rules.ts';
import { parseNames, type RuleTarget } from './rule-target.ts';
import { checkRules } from './rules.ts';
import type {
  DefaultAction,
  DiscoveredCertificate,
  Enforcement,
  IdentityRequest,
  Verdict,
  Violation,
} from './types.ts';

export interface PolicyInput {
  /** metadata.name of the IssuancePolicy. */
  name: string;
  /** The zod-parsed spec (defaults applied). */
  spec: IssuancePolicySpec;
}

export interface CompiledPolicy {
  name: string;
  enforcement: Enforcement;
  spec: IssuancePolicySpec;
  namespaceSelector?: LabelSelector;
  identitySelector?: LabelSelector;
  /** Undefined = any authority. */
  authorities?: ReadonlySet<string>;
  rules: CompiledRules;
  /** Patterns that never match, unparsable durations: worth a Ready=False reason on the policy. */
  problems: string[];
}

export function compilePolicy(input: PolicyInput): CompiledPolicy {
  const { spec } = input;
  const rules = compileRules(spec.rules ?? {});
  // A spec that skipped zod has no default: treat it as Enforce (fail closed).
  const p: CompiledPolicy = {
    name: input.name,
    enforcement: spec.enforcement === 'Audit' ? 'Audit' : 'Enforce',
    spec,
    rules,
    problems: rules.problems,
  };
  const sel = spec.selector;
  if (sel?.namespaceSelector) p.namespaceSelector = sel.namespaceSelector;
  if (sel?.identitySelector) p.identitySelector = sel.identitySelector;
  if (sel?.authorities && sel.authorities.length > 0) p.authorities = new Set(sel.authorities);
  return p;
}

/** Compiles every policy once; sorted by name so that verdicts and messages are deterministic. */
export function compilePolicies(inputs: readonly PolicyInput[]): CompiledPolicy[] {
  return inputs.map(compilePolicy).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** What selection looks at: the namespace, the labels of the identity (or holding object), the authority. */
export interface Selectable {
  namespace: string;
  labels: Record<string, string>;
  authority?: string;
}

/** Kubernetes sets kubernetes.io/metadata.name on every namespace; add it when the caller did not. */
function withNameLabel(namespace: string, labels: Record<string, string>): Record<string, string> {
  return Object.prototype.hasOwnProperty.call(labels, 'kubernetes.io/metadata.name')
    ? labels
    : { ...labels, 'kubernetes.io/metadata.name': namespace };
}

/**
 * The policies whose selector selects the target. An absent namespaceSelector or identitySelector
 * selects everything (unlike a bare matchesSelector, where absent matches nothing); an absent or
 * empty authorities list selects any authority, a non-empty one only targets with that authority.
 */
export function selectPolicies<P extends CompiledPolicy>(
  policies: readonly P[],
  target: Selectable,
  namespaceLabels: Record<string, string>,
): P[] {
  const nsLabels = withNameLabel(target.namespace, namespaceLabels);
  return policies.filter(
    (p) =>
      (!p.namespaceSelector || matchesSelector(p.namespaceSelector, nsLabels)) &&
      (!p.identitySelector || matchesSelector(p.identitySelector, target.labels)) &&
      (!p.authorities || (target.authority !== undefined && p.authorities.has(target.authority))),
  );
}

export interface EvaluateOptions {
  /** Labels of the target's namespace (kubernetes.io/metadata.name is added when missing). */
  namespaceLabels: Record<string, string>;
  /** policy.defaultAction: what happens when no Enforce policy selects a request. Default Allow. */
  defaultAction?: DefaultAction;
}

function collect(selected: readonly CompiledPolicy[], target: RuleTarget): Violation[] {
  const out: Violation[] = [];
  for (const p of selected) {
    for (const f of checkRules(p.rules, target)) out.push({ policy: p.name, enforcement: p.enforcement, ...f });
  }
  return out;
}

export function requestTarget(r: IdentityRequest): RuleTarget {
  const t: RuleTarget = {
    source: 'request',
    namespace: r.namespace,
    subject: r.subject,
    dnsNames: r.dnsNames,
    ipAddresses: r.ipAddresses,
    uris: r.uris,
    emailAddresses: r.emailAddresses,
    usages: r.usages,
    isCA: r.isCA,
    key: r.key,
    authority: r.authority,
    durationMs: r.durationMs,
    parsed: parseNames(r),
  };
  if (r.ownerTeam !== undefined) t.ownerTeam = r.ownerTeam;
  return t;
}

export function certificateTarget(c: DiscoveredCertificate): RuleTarget {
  const t: RuleTarget = {
    source: 'certificate',
    namespace: c.namespace,
    subject: c.subject,
    dnsNames: c.dnsNames,
    ipAddresses: c.ipAddresses,
    uris: c.uris,
    emailAddresses: c.emailAddresses,
    usages: c.usages,
    isCA: c.isCA,
    key: c.key,
    durationMs: c.lifetimeMs,
    signatureAlgorithm: c.signatureAlgorithm,
    selfSigned: c.selfSigned,
    issuer: c.issuer,
    parsed: parseNames(c),
  };
  if (c.authority !== undefined) t.authority = c.authority;
  return t;
}

/**
 * Evaluates an issuance request. Denied when any selected Enforce policy reports a violation, or
 * when no Enforce policy selects it and the default action is Deny. Audit policies never change
 * the outcome (so moving a policy from Audit to Enforce is the only step that changes behaviour).
 */
export function evaluate(
  request: IdentityRequest,
  policies: readonly CompiledPolicy[],
  opts: EvaluateOptions,
): Verdict {
  const selected = selectPolicies(policies, request, opts.namespaceLabels);
  const verdict = reportOf(selected, collect(selected, requestTarget(request)));
  verdict.allowed = verdict.denied.length === 0;
  if (!selected.some((p) => p.enforcement === 'Enforce')) {
    const action = opts.defaultAction ?? 'Allow';
    verdict.defaultApplied = action;
    if (action === 'Deny') {
      verdict.allowed = false;
      verdict.reason =
        `no Enforce IssuancePolicy selects MachineIdentity ${request.namespace}/${request.name} ` +
        `(authority ${request.authority}) and policy.defaultAction is Deny`;
    }
  }
  return verdict;
}

/**
 * Evaluates a discovered certificate. Report only: `allowed` is always true; `compliant` says
 * whether any selected policy (Enforce or Audit) reports a violation, each tagged with its policy's
 * enforcement; `denied` holds those an Enforce policy would have denied at issuance.
 */
export function evaluateCertificate(
  cert: DiscoveredCertificate,
  policies: readonly CompiledPolicy[],
  opts: EvaluateOptions,
): Verdict {
  const selected = selectPolicies(policies, cert, opts.namespaceLabels);
  return reportOf(selected, collect(selected, certificateTarget(cert)));
}

/** The verdict of the selected policies' violations, allowed (issuance denials are the caller's). */
function reportOf(selected: readonly CompiledPolicy[], violations: Violation[]): Verdict {
  return {
    allowed: true,
    compliant: violations.length === 0,
    matchedPolicies: selected.map((p) => p.name),
    violations,
    denied: violations.filter((v) => v.enforcement === 'Enforce'),
    audited: violations.filter((v) => v.enforcement === 'Audit'),
  };
}

const MAX_LISTED = 10;

/**
 * `<prefix> IssuancePolicy <name>: <violation>; <violation>` per policy, policies joined with `; `.
 * Values are JSON-quoted inside each violation's message, so a hostile name cannot forge the text.
 */
export function formatViolations(violations: readonly Violation[], prefix: string): string {
  const byPolicy = new Map<string, string[]>();
  for (const v of violations.slice(0, MAX_LISTED)) {
    const list = byPolicy.get(v.policy) ?? [];
    list.push(v.message);
    byPolicy.set(v.policy, list);
  }
  const text = [...byPolicy]
    .map(([policy, msgs]) => `${prefix} IssuancePolicy ${policy}: ${msgs.join('; ')}`)
    .join('; ');
  return violations.length > MAX_LISTED ? `${text}; and ${violations.length - MAX_LISTED} more violations` : text;
}

/** The message of a denial in the contract's form; '' when the verdict allows. */
export function denialMessage(verdict: Verdict): string {
  if (verdict.allowed) return '';
  if (verdict.denied.length === 0) return `denied: ${verdict.reason ?? 'no IssuancePolicy allows this request'}`;
  return formatViolations(verdict.denied, 'denied by');
}

/** The message for violations that were reported but did not deny (Audit); '' when there are none. */
export function auditMessage(verdict: Verdict): string {
  return verdict.audited.length === 0 ? '' : formatViolations(verdict.audited, 'audit: violates');
}
