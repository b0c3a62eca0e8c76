// Reconciler: decides whether a MachineIdentity may use the CertificateAuthorityBinding it names and
// reports it in status (Ready=False with AuthorityNotFound / AuthorityNotAllowed, or Pending until
// issuance runs). Re-checked whenever the identity, any binding or the namespace's labels change.
import { isDeepStrictEqual } from 'node:util';
import { Controller } from './runtime/controller.ts';
import { applyStatus, isNotFound } from './runtime/kube.ts';
import { decideAuthority, type BindingView } from './authority-access.ts';
import { setCondition } from './status/conditions.ts';
import { Reason } from './status/reasons.ts';
import { IDENTITY_GVR, type OperatorContext, type MachineIdentityObject } from './context.ts';

export const FIELD_MANAGER = 'mio-identity-authority';

export function identityAuthorityController(ctx: OperatorContext): Controller {
  const { identities, bindings, namespaces } = ctx.informers;
  const c = new Controller({
    name: 'identity-authority', logger: ctx.log, registry: ctx.registry, workers: ctx.config.workers,
    informers: [identities, bindings, namespaces],
    reconcile: async (key, { log }) => {
      const mi = identities.get(key);
      if (!mi?.metadata?.name || !mi.metadata.namespace) return;
      const views = new Map<string, BindingView>(bindings.list().map((b) => [b.metadata!.name!, { name: b.metadata!.name!, namespaceSelector: b.spec?.namespaceSelector }]));
      const nsLabels = namespaces.get(mi.metadata.namespace)?.metadata?.labels;
      const d = decideAuthority(mi.spec?.authorityRef?.name ?? '', mi.metadata.namespace, nsLabels, views);
      const ready = d.allowed
        ? { type: 'Ready', status: 'False' as const, reason: Reason.Pending, message: `authority ${JSON.stringify(d.binding.name)} accepted; waiting for issuance` }
        : { type: 'Ready', status: 'False' as const, reason: d.reason, message: d.message };
      const gen = mi.metadata.generation;
      const conditions = setCondition(mi.status?.conditions, ready, gen, ctx.now());
      if (mi.status?.observedGeneration === gen && isDeepStrictEqual(conditions, mi.status?.conditions)) return;
      // SSA: send only the condition this manager owns (conditions are a list-map keyed by type)
      const own = conditions.filter((x) => x.type === 'Ready');
      const body: MachineIdentityObject = { apiVersion: 'machineidentity.io/v1alpha1', kind: 'MachineIdentity',
        metadata: { name: mi.metadata.name, namespace: mi.metadata.namespace }, status: { observedGeneration: gen, conditions: own } };
      try {
        await applyStatus(ctx.co, IDENTITY_GVR, body, FIELD_MANAGER);
        log.debug({ reason: ready.reason }, 'status updated');
      } catch (e) {
        if (isNotFound(e)) return; // deleted meanwhile
        throw new Error('apply MachineIdentity status failed', { cause: e });
      }
    },
  });
  const enqueue = (o: MachineIdentityObject): void => c.queue.add(`${o.metadata?.namespace}/${o.metadata?.name}`);
  identities.onAdd(enqueue).onUpdate((_o, n) => enqueue(n)).onDelete(enqueue);
  // a binding appearing, vanishing or changing its selector affects every identity that names it
  const byAuthority = (name: string | undefined): void => {
    for (const mi of identities.list()) if (mi.spec?.authorityRef?.name === name) enqueue(mi);
  };
  bindings.onAdd((b) => byAuthority(b.metadata?.name)).onUpdate((_o, b) => byAuthority(b.metadata?.name)).onDelete((b) => byAuthority(b.metadata?.name));
  namespaces.onUpdate((o, n) => {
    if (isDeepStrictEqual(o.metadata?.labels, n.metadata?.labels)) return;
    for (const mi of identities.list()) if (mi.metadata?.namespace === n.metadata?.name) enqueue(mi);
  });
  return c;
}
