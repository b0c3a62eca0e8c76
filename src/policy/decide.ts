// The one decision the controller, the admission webhook and `kubectl mi policy check` all make
// about a MachineIdentity, and the controller's remediation decision about its current certificate.
import type { MachineIdentitySpec } from '../crds/machine-identity.ts';
import { auditMessage, denialMessage, evaluate, evaluateCertificate, formatViolations, selectPolicies } from './evaluate.ts';
import type { CompiledPolicy, EvaluateOptions } from './evaluate.ts';
import { resolveDefaults } from './resolve.ts';
import type { RequestDefaults } from './resolve.ts';
import { requestFromMachineIdentity } from './types.ts';
import type { DiscoveredCertificate, IdentityRequest, Verdict, Violation } from './types.ts';

interface IdentityLike { metadata: { name?: string; namespace?: string; labels?: Record<string, string> | null }; spec: MachineIdentitySpec }

export interface IdentityDecision {
  /** The request as evaluated: the spec with policy-resolved defaults. */
  request: IdentityRequest;
  defaults: RequestDefaults;
  verdict: Verdict;
  /** The denial in the contract's form; '' when allowed. */
  denial: string;
  /** Audit findings as one message; '' when there are none. */
  audit: string;
}

export function decideIdentity(mi: IdentityLike, policies: readonly CompiledPolicy[], opts: EvaluateOptions): IdentityDecision {
  const base = requestFromMachineIdentity(mi);
  const defaults = resolveDefaults(mi.spec, selectPolicies(policies, base, opts.namespaceLabels));
  const request: IdentityRequest = {
    ...base, durationMs: defaults.durationMs,
    key: defaults.keySize === undefined ? { algorithm: base.key.algorithm } : { algorithm: base.key.algorithm, size: defaults.keySize },
  };
  const verdict = evaluate(request, policies, opts);
  return { request, defaults, verdict, denial: denialMessage(verdict), audit: auditMessage(verdict) };
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
  cert: DiscoveredCertificate, decision: IdentityDecision, policies: readonly CompiledPolicy[], opts: EvaluateOptions,
  issuedForDurationMs: number | undefined,
): CertificateFindings {
  const v = evaluateCertificate(cert, policies, opts);
  if (v.violations.length === 0) return { violations: [], remediable: [], message: '' };
  const reissue = new Set(policies.filter((p) => p.spec.remediation === 'Reissue').map((p) => p.name));
  const requestComplies = decision.verdict.violations.length === 0;
  const durationChanged = issuedForDurationMs === undefined || issuedForDurationMs !== decision.request.durationMs;
  const remediable = !requestComplies ? [] : v.violations.filter((x) => reissue.has(x.policy)
    && (KEY_RULES.has(x.rule) || (DURATION_RULES.has(x.rule) && durationChanged)));
  return { violations: v.violations, remediable, message: formatViolations(v.violations, 'the current certificate violates') };
}

