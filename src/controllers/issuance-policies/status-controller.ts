// Reconciler: IssuancePolicy status: Ready (valid, and every pattern can match), how many identities
// the policy selects and how many of them break one of its rules (from the issuance controller's findings).
import { isDeepStrictEqual } from 'node:util';
import { Controller } from '../../runtime/reconcile-loop.ts';
import { applyStatus, isNotFound } from '../../runtime/kube.ts';
import { setCondition, type ConditionInput } from '../status/conditions.ts';
import { POLICY_GVR, type OperatorContext } from '../context.ts';
import type { PolicyStore, PolicyStatus } from './store.ts';
import type { PolicyFindings } from './findings.ts';

export const FIELD_MANAGER = 'mio-policy-status';
export const PolicyReason = { Active: 'Active', InvalidSpec: 'InvalidSpec', PatternNeverMatches: 'PatternNeverMatches' } as const;

export function policyStatusController(ctx: OperatorContext, store: PolicyStore, findings: PolicyFindings): Controller {
  const c = new Controller({
    name: 'policy-status', logger: ctx.log, registry: ctx.registry, workers: 1, informers: [store.informer],
    reconcile: async (name) => {
      const obj = store.informer.get(name);
      if (!obj?.metadata?.name) return;
      const gen = obj.metadata.generation;
      const compiled = store.compiled().find((p) => p.name === name);
      const invalid = store.invalid().get(name);
      const { matched, violating } = findings.counts(name);
      const ready: ConditionInput = invalid !== undefined
        ? { type: 'Ready', status: 'False', reason: PolicyReason.InvalidSpec, message: invalid }
        : compiled && compiled.problems.length > 0
          ? { type: 'Ready', status: 'False', reason: PolicyReason.PatternNeverMatches, message: `${compiled.problems.join('; ')}; the policy is applied, and these entries allow nothing` }
          : { type: 'Ready', status: 'True', reason: PolicyReason.Active,
            message: `${compiled?.enforcement ?? 'Enforce'}: selects ${matched} MachineIdentities, ${violating} of them violate a rule` };
      const want: PolicyStatus = { observedGeneration: gen, conditions: setCondition(obj.status?.conditions, ready, gen, ctx.now()),
        matchedIdentities: matched, violations: violating };
      const cur = obj.status ?? {};
      if (isDeepStrictEqual({ ...want, conditions: want.conditions?.map(strip) }, { observedGeneration: cur.observedGeneration,
        conditions: cur.conditions?.map(strip), matchedIdentities: cur.matchedIdentities, violations: cur.violations })) return;
      try {
        await applyStatus(ctx.co, POLICY_GVR, { apiVersion: 'machineidentity.io/v1alpha1', kind: 'IssuancePolicy', metadata: { name }, status: want }, FIELD_MANAGER);
      } catch (e) {
        if (!isNotFound(e)) throw new Error('apply IssuancePolicy status failed', { cause: e });
      }
    },
  });
  store.informer.onAdd((p) => c.queue.add(p.metadata!.name!)).onUpdate((_o, p) => c.queue.add(p.metadata!.name!));
  // many identities changing at once are one status write per policy a second
  findings.onChange((names) => { for (const n of names) c.queue.addAfter(n, 1000); });
  return c;
}

const strip = (x: { lastTransitionTime?: string }): object => ({ ...x, lastTransitionTime: undefined });
