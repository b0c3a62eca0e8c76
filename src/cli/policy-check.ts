// `kubectl mi policy check`: the controller's policy decision (src/policy/decide.ts), offline, over the
// manifests of a GitOps repository. Namespace manifests among the inputs supply namespace labels.
import { parseCertificateAuthorityBinding, parseIssuancePolicy, parseMachineIdentity } from '../crds/index.ts';
import { compilePolicies, type CompiledPolicy, type PolicyInput } from '../policy/evaluate.ts';
import { decideIdentity } from '../policy/decide.ts';
import type { BindingForOwnership } from '../policy/ownership.ts';
import type { DefaultAction, Violation } from '../policy/types.ts';
import type { Manifest, ReadError } from './manifests.ts';
import { propertyOf } from '../runtime/narrow.ts';
import { z } from 'zod';

/** What a Namespace manifest read from a file contributes: its name and labels. */
const NamespaceMeta = z.object({ name: z.string().min(1), labels: z.record(z.string(), z.string()).optional() });

export interface CheckOptions {
  defaultAction: DefaultAction;
  defaultNamespace: string;
  /** The cluster's DNS domain (names a namespace owns); default cluster.local. */ clusterDomain?: string;
}

interface IdentityResult {
  source: string;
  doc: number;
  namespace: string;
  name: string;
  /** allowed: issued; denied: an Enforce policy (or the Deny default) refuses it; invalid: the API server would reject it. */
  verdict: 'allowed' | 'denied' | 'invalid';
  compliant: boolean;
  matchedPolicies: string[];
  violations: Violation[];
  message: string;
}

export interface CheckReport {
  policies: string[];
  results: IdentityResult[];
  errors: { source: string; doc?: number; message: string }[];
  summary: { identities: number; allowed: number; denied: number; invalid: number; audited: number; compliant: number };
}

const isKind = (m: Manifest, kind: string): boolean =>
  m.object.kind === kind &&
  String(m.object.apiVersion ?? '').startsWith(kind === 'Namespace' ? 'v1' : 'machineidentity.io/');

function namespaceLabels(all: readonly Manifest[]): Map<string, Record<string, string>> {
  const out = new Map<string, Record<string, string>>();
  for (const m of all.filter((x) => isKind(x, 'Namespace'))) {
    const meta = NamespaceMeta.safeParse(propertyOf(m.object, 'metadata'));
    if (meta.success) out.set(meta.data.name, { ...(meta.data.labels ?? {}) });
  }
  return out;
}

/** CertificateAuthorityBindings among the inputs: their grants extend what a namespace may hold (absent: nothing granted). */
function loadBindings(all: readonly Manifest[], errors: CheckReport['errors']): Map<string, BindingForOwnership> {
  const out = new Map<string, BindingForOwnership>();
  for (const m of all.filter((x) => isKind(x, 'CertificateAuthorityBinding'))) {
    const b = parseCertificateAuthorityBinding(m.object);
    if (!b.success) {
      errors.push({ source: m.source, doc: m.doc, message: b.error.message });
      continue;
    }
    const name = b.data.metadata?.name ?? '';
    if (!out.has(name)) out.set(name, { name, spec: b.data.spec });
  }
  return out;
}

function loadPolicies(all: readonly Manifest[], errors: CheckReport['errors']): CompiledPolicy[] {
  const inputs: PolicyInput[] = [];
  const seen = new Set<string>();
  for (const m of all.filter((x) => isKind(x, 'IssuancePolicy'))) {
    const p = parseIssuancePolicy(m.object);
    if (!p.success) {
      errors.push({ source: m.source, doc: m.doc, message: p.error.message });
      continue;
    }
    const name = p.data.metadata?.name ?? '';
    if (seen.has(name)) continue; // the same file given in -f and --policies
    seen.add(name);
    inputs.push({ name, spec: p.data.spec });
  }
  return compilePolicies(inputs);
}

function checkIdentity(
  m: Manifest,
  policies: readonly CompiledPolicy[],
  nsLabels: Map<string, Record<string, string>>,
  bindings: Map<string, BindingForOwnership>,
  o: CheckOptions,
): IdentityResult {
  const meta = m.object.metadata;
  const namespace = stringField(meta, 'namespace') || o.defaultNamespace;
  const base = { source: m.source, doc: m.doc, namespace, name: String(propertyOf(meta, 'name') ?? '') };
  const parsed = parseMachineIdentity(m.object, { strict: true });
  if (!parsed.success)
    return {
      ...base,
      verdict: 'invalid',
      compliant: false,
      matchedPolicies: [],
      violations: [],
      message: parsed.error.message,
    };
  const authority = parsed.data.spec.authorityRef.name;
  const d = decideIdentity({ metadata: { ...parsed.data.metadata, namespace }, spec: parsed.data.spec }, policies, {
    namespaceLabels: nsLabels.get(namespace) ?? {},
    defaultAction: o.defaultAction,
    ownership: {
      binding: bindings.get(authority) ?? { name: authority, spec: {} },
      clusterDomain: o.clusterDomain ?? 'cluster.local',
    },
  });
  const v = d.verdict;
  return {
    ...base,
    verdict: v.allowed ? 'allowed' : 'denied',
    compliant: v.compliant && v.allowed,
    matchedPolicies: v.matchedPolicies,
    violations: v.violations,
    message: !v.allowed ? d.denial : d.audit || complianceMessage(v.matchedPolicies, o.defaultAction),
  };
}

function complianceMessage(matchedPolicies: readonly string[], defaultAction: string): string {
  return matchedPolicies.length
    ? `complies with IssuancePolicy ${matchedPolicies.join(', ')}`
    : `no IssuancePolicy selects it; policy.defaultAction is ${defaultAction}`;
}

/** A string field of a manifest's object; '' when absent or not a string (the parse reports what is wrong). */
function stringField(o: unknown, key: string): string {
  const v = propertyOf(o, key);
  return typeof v === 'string' ? v : '';
}

export function checkManifests(
  targets: readonly Manifest[],
  policySources: readonly Manifest[],
  readErrors: readonly ReadError[],
  o: CheckOptions,
): CheckReport {
  const errors: CheckReport['errors'] = [...readErrors];
  const all = [...targets, ...policySources];
  const nsLabels = namespaceLabels(all);
  const policies = loadPolicies(all, errors);
  const bindings = loadBindings(all, errors);
  const results = targets
    .filter((x) => isKind(x, 'MachineIdentity'))
    .map((m) => checkIdentity(m, policies, nsLabels, bindings, o));
  const count = (f: (r: IdentityResult) => boolean): number => results.filter(f).length;
  return {
    policies: policies.map((p) => p.name),
    results,
    errors,
    summary: {
      identities: results.length,
      allowed: count((r) => r.verdict === 'allowed'),
      denied: count((r) => r.verdict === 'denied'),
      invalid: count((r) => r.verdict === 'invalid'),
      audited: count((r) => r.verdict === 'allowed' && !r.compliant),
      compliant: count((r) => r.compliant),
    },
  };
}

/** 1 when anything would be refused (an Enforce denial, an invalid manifest, an unreadable file); else 0. */
export function exitCode(r: CheckReport): number {
  return r.summary.denied > 0 || r.summary.invalid > 0 || r.errors.length > 0 ? 1 : 0;
}

const LABEL: Record<string, string> = { denied: 'DENIED ', invalid: 'INVALID', allowed: 'OK     ' };

export function formatText(r: CheckReport): string {
  const lines: string[] = [];
  for (const e of r.errors) lines.push(`ERROR   ${e.source}${e.doc ? `#${e.doc}` : ''}: ${e.message}`);
  for (const x of r.results) {
    const label = x.verdict === 'allowed' && !x.compliant ? 'AUDIT  ' : LABEL[x.verdict];
    lines.push(`${label} ${x.namespace}/${x.name} (${x.source}#${x.doc}): ${x.message}`);
  }
  const s = r.summary;
  lines.push(
    '',
    `${s.identities} MachineIdentities checked against ${r.policies.length} IssuancePolicies: ` +
      `${s.denied} denied, ${s.invalid} invalid, ${s.audited} with audit findings, ${s.compliant} compliant` +
      (r.errors.length ? `; ${r.errors.length} errors` : ''),
  );
  return `${lines.join('\n')}\n`;
}
