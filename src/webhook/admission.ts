// Admission decisions for the validating webhook: the same policy decision the controller makes
// (src/policy/decide.ts), answered in the AdmissionReview a kube-apiserver sends. Pure.
import { z } from 'zod';
import { parseIssuancePolicy, parseMachineIdentity } from '../crds/index.ts';
import { AdmissionReason } from '../crds/reasons.ts';
import { compilePolicy, type CompiledPolicy } from '../policy/evaluate.ts';
import { decideIdentity } from '../policy/decide.ts';
import type { BindingForOwnership } from '../policy/ownership.ts';
import type { DefaultAction } from '../policy/types.ts';

export const AdmissionReviewRequest = z.object({
  apiVersion: z.literal('admission.k8s.io/v1'),
  kind: z.literal('AdmissionReview'),
  request: z.looseObject({
    uid: z.string().min(1).max(256),
    kind: z.looseObject({ group: z.string(), version: z.string(), kind: z.string() }),
    namespace: z.string().max(253).optional(),
    operation: z.string(),
    object: z.unknown().optional(),
  }),
});
export type AdmissionReviewRequest = z.infer<typeof AdmissionReviewRequest>;

export interface AdmissionResponse {
  uid: string;
  allowed: boolean;
  status?: { code: number; reason: string; message: string };
  warnings?: string[];
}

export interface AdmissionDeps {
  policies(): readonly CompiledPolicy[];
  namespaceLabels(namespace: string): Record<string, string> | undefined;
  defaultAction: DefaultAction;
  /** The binding a MachineIdentity names, for the safe defaults (an empty spec when it does not exist: nothing granted). */
  binding(name: string): BindingForOwnership;
  clusterDomain: string;
  /** False until the policy and namespace caches are loaded: the server then answers 503, so failurePolicy decides. */
  ready(): boolean;
}

/** kubectl prints each warning on its own line; the API server drops what goes past 4 KiB in total. */
const MAX_WARNING = 240,
  MAX_WARNINGS = 10;
const cut = (s: string): string => (s.length > MAX_WARNING ? `${s.slice(0, MAX_WARNING - 1)}…` : s);

export function review(r: AdmissionReviewRequest['request'], deps: AdmissionDeps): AdmissionResponse {
  const allow = (warnings?: string[]): AdmissionResponse => ({
    uid: r.uid,
    allowed: true,
    ...(warnings?.length ? { warnings: warnings.slice(0, MAX_WARNINGS).map(cut) } : {}),
  });
  if (r.operation !== 'CREATE' && r.operation !== 'UPDATE') return allow();
  if (r.kind.group !== 'machineidentity.io') return allow();
  if (r.kind.kind === 'IssuancePolicy') return reviewPolicy(r, allow);
  if (r.kind.kind !== 'MachineIdentity') return allow();
  const parsed = parseMachineIdentity(r.object);
  // the API server validated the schema before calling; a difference is ours to report in status, not to block on
  if (!parsed.success)
    return allow([`machine-identity-operator could not read this MachineIdentity: ${parsed.error.message}`]);
  const mi = parsed.data;
  // the request names the namespace; the object may not (kubectl create -n leaves metadata.namespace empty)
  const namespace = r.namespace || mi.metadata?.namespace || '';
  const labels = deps.namespaceLabels(namespace) ?? {};
  const d = decideIdentity({ metadata: { ...mi.metadata, namespace }, spec: mi.spec }, deps.policies(), {
    namespaceLabels: labels,
    defaultAction: deps.defaultAction,
    ownership: { binding: deps.binding(mi.spec.authorityRef.name), clusterDomain: deps.clusterDomain },
  });
  if (!d.verdict.allowed) {
    return { uid: r.uid, allowed: false, status: { code: 403, reason: AdmissionReason.Forbidden, message: d.denial } };
  }
  // issued, but the person applying it should know: kubectl prints each warning
  return allow(d.verdict.audited.map((v) => `audit: IssuancePolicy ${v.policy}: ${v.message}`));
}

/** IssuancePolicies are never blocked here (the CRD schema validates them); entries that can never match are warned about. */
function reviewPolicy(
  r: AdmissionReviewRequest['request'],
  allow: (w?: string[]) => AdmissionResponse,
): AdmissionResponse {
  const parsed = parseIssuancePolicy(r.object);
  if (!parsed.success) return allow();
  const p = compilePolicy({ name: parsed.data.metadata?.name ?? '', spec: parsed.data.spec });
  return allow(p.problems.map((x) => `IssuancePolicy: ${x}; it allows nothing`));
}
