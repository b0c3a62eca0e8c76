// The issuance controller's view of IssuancePolicy: the decision on the request, the findings on the
// current certificate, the PolicyCompliant condition, and the spec with policy-resolved defaults.
import type { LeafFacts } from './inspect.ts';
import type { MachineIdentityModel } from '../../crds/index.ts';
import type { IssuableSpec, ResolvedMachineIdentitySpec } from '../../crds/index.ts';
import {
  certificateFindings,
  decideIdentity,
  type CertificateFindings,
  type IdentityDecision,
} from '../../policy/decide.ts';
import { certificateFromFacts } from '../../policy/types.ts';
import type { ConditionInput } from '../status/conditions.ts';
import { Reason } from '../../crds/reasons.ts';
import type { OperatorContext } from '../context.ts';
import { bindingForOwnership } from '../binding-specs.ts';

export function decideForIdentity(
  ctx: OperatorContext,
  mi: MachineIdentityModel,
  spec: ResolvedMachineIdentitySpec,
): IdentityDecision {
  const ns = mi.metadata.namespace;
  return decideIdentity({ metadata: mi.metadata, spec }, ctx.policies.compiled(), {
    namespaceLabels: ctx.informers.namespaces.get(ns)?.metadata?.labels ?? {},
    defaultAction: ctx.config.policyDefaultAction,
    ownership: { binding: bindingForOwnership(ctx, spec.authorityRef.name), clusterDomain: ctx.config.clusterDomain },
  });
}

/** The spec the certificate is issued from: unset duration and key size filled in as the policies need. */
export function effectiveSpec(spec: ResolvedMachineIdentitySpec, d: IdentityDecision): IssuableSpec {
  const size = spec.privateKey.size ?? d.defaults.keySize;
  return {
    ...spec,
    duration: spec.duration ?? d.defaults.duration,
    durationMs: spec.durationMs ?? d.defaults.durationMs,
    privateKey: size === undefined ? spec.privateKey : { ...spec.privateKey, size },
  };
}

export function findingsForCertificate(
  ctx: OperatorContext,
  mi: MachineIdentityModel,
  d: IdentityDecision,
  leaf: LeafFacts,
  secretName: string,
  requestedDurationMs: number | undefined,
): CertificateFindings {
  const ns = mi.metadata.namespace;
  const cert = certificateFromFacts(leaf, {
    namespace: ns,
    kind: 'Secret',
    name: secretName,
    dataKey: 'tls.crt',
    labels: mi.metadata?.labels ?? {},
    authority: d.request.authority,
  });
  return certificateFindings(
    cert,
    d,
    ctx.policies.compiled(),
    {
      namespaceLabels: ctx.informers.namespaces.get(ns)?.metadata?.labels ?? {},
      defaultAction: ctx.config.policyDefaultAction,
    },
    requestedDurationMs,
  );
}

/** Remembers what the policies said about the identity (request and current certificate), for policy status and metrics. */
export function recordFindings(
  ctx: OperatorContext,
  mi: MachineIdentityModel,
  d: IdentityDecision,
  cert?: CertificateFindings,
): void {
  const namespace = mi.metadata.namespace,
    name = mi.metadata.name;
  ctx.findings.set(`${namespace}/${name}`, {
    namespace,
    name,
    matched: d.verdict.matchedPolicies,
    violations: cert ? [...d.verdict.violations, ...cert.violations] : d.verdict.violations,
  });
}

export function policyCondition(
  d: IdentityDecision,
  cert: CertificateFindings | undefined,
  remediation: boolean,
): ConditionInput {
  const c = (status: 'True' | 'False', reason: string, message: string): ConditionInput => ({
    type: 'PolicyCompliant',
    status,
    reason,
    message,
  });
  if (!d.verdict.allowed) return c('False', d.reason, d.denial);
  if (d.audit) return c('False', Reason.PolicyViolation, cert?.message ? `${d.audit}; ${cert.message}` : d.audit);
  if (cert?.message) {
    const next = remediation
      ? 'it is being reissued (remediation: Reissue)'
      : 'a reissue would not fix it, or no violated policy asks for remediation: Reissue; it is replaced at its next renewal if the request allows';
    return c('False', Reason.CertificateNonCompliant, `${cert.message}; ${next}`);
  }
  const matched = d.verdict.matchedPolicies;
  if (matched.length === 0)
    return c(
      'True',
      Reason.Compliant,
      `no IssuancePolicy selects this identity; policy.defaultAction is ${d.verdict.defaultApplied ?? 'Allow'}`,
    );
  return c('True', Reason.Compliant, `complies with IssuancePolicy ${matched.join(', ')}`);
}
