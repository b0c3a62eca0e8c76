// The one decision the controller, the admission webhook and `kubectl mi policy check` all make
// about a MachineIdentity, and the controller's remediation decision about its current certificate.
import type { MachineIdentitySpec } from '../crds/machine-identity.ts';
import { Reason } from '../crds/reasons.ts';
import {
  auditMessage,
  denialMessage,
  evaluate,
  evaluateCertificate,
  formatViolations,
  selectPolicies,
} from './evaluate.ts';
import type { CompiledPolicy, EvaluateOptions } from './evaluate.ts';
import { ownershipDenial, ownershipFindings } from './ownership.ts';
import type { BindingForOwnership, OwnershipFinding } from './ownership.ts';
import { resolveDefaults } from './resolve.ts';
import type { RequestDefaults } from './resolve.ts';
import { requestFromMachineIdentity } from './types.ts';
import type { DiscoveredCertificate, IdentityRequest, Verdict, Violation } from './types.ts';

interface IdentityLike {
  metadata: { name?: string; namespace?: string; labels?: Record<string, string> | null };
  spec: MachineIdentitySpec;
}

export interface IdentityDecision {
  /** The request as evaluated: the spec with policy-resolved defaults. */
  request: IdentityRequest;
  defaults: RequestDefaults;
  verdict: Verdict;
  /** The denial in the contract's form; '' when allowed. */
  denial: string;
  /** Audit findings as one message; '' when there are none. */
  audit: string;
  /** What the namespace may not hold under the binding (the safe defaults); empty when it may hold it all. */
  ownership: OwnershipFinding[];
  /** The condition and Event reason of a denial: the first safe-default rule broken, else PolicyDenied; '' when allowed. */
  reason: string;
}

export interface DecideOptions extends EvaluateOptions {
  /** The binding the identity names (an empty spec when it does not exist: nothing granted) and the cluster's DNS domain. */
  ownership: { binding: BindingForOwnership; clusterDomain: string };
}

/**
 * The safe defaults first (names the namespace owns or was granted, CA certificates only when
 * granted), then every selected IssuancePolicy: either can deny, and the message says which.
 */
export function decideIdentity(
  mi: IdentityLike,
  policies: readonly CompiledPolicy[],
  opts: DecideOptions,
): IdentityDecision {
  const base = requestFromMachineIdentity(mi);
  const defaults = resolveDefaults(mi.spec, selectPolicies(policies, base, opts.namespaceLabels));
  const request: IdentityRequest = {
    ...base,
    durationMs: defaults.durationMs,
    key:
      defaults.keySize === undefined
        ? { algorithm: base.key.algorithm }
        : { algorithm: base.key.algorithm, size: defaults.keySize },
  };
  const verdict = evaluate(request, policies, opts);
  const { binding, clusterDomain } = opts.ownership;
  const ownership = ownershipFindings(request, binding, {
    namespace: request.namespace,
    namespaceLabels: opts.namespaceLabels,
    clusterDomain,
  });
  const policyDenial = denialMessage(verdict);
  const firstBroken = ownership[0];
  if (firstBroken === undefined) {
    return {
      request,
      defaults,
      verdict,
      denial: policyDenial,
      audit: auditMessage(verdict),
      ownership,
      reason: verdict.allowed ? '' : Reason.PolicyDenied,
    };
  }
  const denial = [ownershipDenial(ownership, binding.name), policyDenial].filter(Boolean).join('; ');
  return {
    request,
    defaults,
    verdict: { ...verdict, allowed: false, compliant: false },
    denial,
    audit: auditMessage(verdict),
    ownership,
    reason: firstBroken.rule,
  };
}

/** Rules a reissue from a compliant request always fixes (the rest depend on what the CA puts in the certificate). */
const KEY_RULES = new Set(['privateKey.allowedAlgorithms', 'privateKey.minRSASize', 'privateKey.allowedECDSACurves']);
const DURATION_RULES = new Set(['maxDuration', 'minDuration']);

export interface CertificateFindings {
  /** Every violation of the current certificate (Enforce and Audit policies). */
  violations: Violation[];
  /** The subset a reissue would fix and whose policy asks for `remediation: Reissue`. */
  remediable: Violation[];
  /** '' when the certificate complies. */
  message: string;
}

/**
 * What the selected policies say about an identity's current certificate. A violation is remediable
 * when the request now complies and a new certificate would differ: a key rule (the operator makes
 * the key), or a duration rule when the certificate was issued for a different requested duration
 * (a CA that ignores the requested lifetime would otherwise be asked again and again).
 */
export function certificateFindings(
  cert: DiscoveredCertificate,
  decision: IdentityDecision,
  policies: readonly CompiledPolicy[],
  opts: EvaluateOptions,
  issuedForDurationMs: number | undefined,
): CertificateFindings {
  const v = evaluateCertificate(cert, policies, opts);
  if (v.violations.length === 0) return { violations: [], remediable: [], message: '' };
  const reissue = new Set(policies.filter((p) => p.spec.remediation === 'Reissue').map((p) => p.name));
  const requestComplies = decision.verdict.violations.length === 0;
  const durationChanged = issuedForDurationMs === undefined || issuedForDurationMs !== decision.request.durationMs;
  const remediable = !requestComplies
    ? []
    : v.violations.filter(
        (x) => reissue.has(x.policy) && (KEY_RULES.has(x.rule) || (DURATION_RULES.has(x.rule) && durationChanged)),
      );
  return {
    violations: v.violations,
    remediable,
    message: formatViolations(v.violations, 'the current certificate violates'),
  };
}
