// Reconciler: IssuancePolicy status: Ready (valid, and every pattern can match), how many identities
// the policy selects and how many of them break one of its rules (from the issuance controller's findings).
import { isDeepStrictEqual } from 'node:util';
import { Controller } from '../../runtime/reconcile-loop.ts';
import { applyStatus, isNotFound } from '../../runtime/kube.ts';
import { setCondition, type ConditionInput } from '../status/conditions.ts';
import { POLICY_GVR, type OperatorContext } from '../context.ts';
import type { PolicyObject, PolicyStore, PolicyStatus } from './store.ts';
import type { CompiledPolicy } from '../../policy/evaluate.ts';
import type { PolicyFindings } from './findings.ts';
import { PolicyReason } from '../../crds/reasons.ts';

const FIELD_MANAGER = 'mio-policy-status';

export function policyStatusController(ctx: OperatorContext, store: PolicyStore, findings: PolicyFindings): Controller {
  const c = new Controller({
    name: 'policy-status',
    logger: ctx.log,
    registry: ctx.registry,
    workers: 1,
    informers: [store.informer],
    reconcile: async (name) => {
      const obj = store.informer.get(name);
      if (!obj?.metadata?.name) return;
      const gen = obj.metadata.generation;
      const compiled = store.compiled().find((p) => p.name === name);
      const invalid = store.invalid().get(name);
      const { matched, violating } = findings.counts(name);
      const ready = policyReady(invalid, compiled, matched, violating);
      const want: PolicyStatus = {
        observedGeneration: gen,
        conditions: setCondition(obj.status?.conditions, ready, gen, ctx.now()),
        matchedIdentities: matched,
        violations: violating,
      };
      if (sameStatus(want, obj.status ?? {})) return;
      try {
        await applyStatus(
          ctx.kc,
          POLICY_GVR,
          { apiVersion: 'machineidentity.io/v1alpha1', kind: 'IssuancePolicy', metadata: { name }, status: want },
          FIELD_MANAGER,
        );
      } catch (e) {
        if (!isNotFound(e)) throw new Error('apply IssuancePolicy status failed', { cause: e });
      }
    },
  });
  const enqueue = (p: PolicyObject): void => {
    if (p.metadata?.name) c.queue.add(p.metadata.name);
  };
  store.informer.onAdd(enqueue).onUpdate((_o, p) => enqueue(p));
  // many identities changing at once are one status write per policy a second
  findings.onChange((names) => {
    for (const n of names) c.queue.addAfter(n, 1000);
  });
  return c;
}

/** Ready: invalid, valid with patterns that never match, or active (with the counts). */
export function policyReady(
  invalid: string | undefined,
  compiled: CompiledPolicy | undefined,
  matched: number,
  violating: number,
): ConditionInput {
  if (invalid !== undefined)
    return { type: 'Ready', status: 'False', reason: PolicyReason.InvalidSpec, message: invalid };
  if (compiled && compiled.problems.length > 0) {
    return {
      type: 'Ready',
      status: 'False',
      reason: PolicyReason.PatternNeverMatches,
      message: `${compiled.problems.join('; ')}; the policy is applied, and these entries allow nothing`,
    };
  }
  return {
    type: 'Ready',
    status: 'True',
    reason: PolicyReason.Active,
    message: `${compiled?.enforcement ?? 'Enforce'}: selects ${matched} MachineIdentities, ${violating} of them violate a rule`,
  };
}

/** The status this controller writes is already there (lastTransitionTime aside). */
function sameStatus(want: PolicyStatus, cur: PolicyStatus): boolean {
  return isDeepStrictEqual(
    { ...want, conditions: want.conditions?.map(strip) },
    {
      observedGeneration: cur.observedGeneration,
      conditions: cur.conditions?.map(strip),
      matchedIdentities: cur.matchedIdentities,
      violations: cur.violations,
    },
  );
}

const strip = (x: { lastTransitionTime?: string }): object => ({ ...x, lastTransitionTime: undefined });
