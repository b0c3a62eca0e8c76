// Reconciler: CertificateAuthorityBinding status.identities, how many MachineIdentities name it.
import { Controller } from './runtime/controller.ts';
import { applyStatus, isNotFound } from './runtime/kube.ts';
import { BINDING_GVR, type OperatorContext, type BindingObject } from './context.ts';

export const FIELD_MANAGER = 'mio-binding-usage';

export function bindingUsageController(ctx: OperatorContext): Controller {
  const { identities, bindings } = ctx.informers;
  const c = new Controller({
    name: 'binding-usage', logger: ctx.log, registry: ctx.registry, workers: 1, informers: [identities, bindings],
    reconcile: async (name) => {
      const b = bindings.get(name);
      if (!b?.metadata?.name) return;
      const count = identities.list().filter((mi) => mi.spec?.authorityRef?.name === name).length;
      const gen = b.metadata.generation;
      if (b.status?.identities === count && b.status.observedGeneration === gen) return;
      const body: BindingObject = { apiVersion: 'machineidentity.io/v1alpha1', kind: 'CertificateAuthorityBinding',
        metadata: { name }, status: { identities: count, observedGeneration: gen } };
      try { await applyStatus(ctx.co, BINDING_GVR, body, FIELD_MANAGER); } catch (e) {
        if (!isNotFound(e)) throw new Error('apply CertificateAuthorityBinding status failed', { cause: e });
      }
    },
  });
  bindings.onAdd((b) => c.queue.add(b.metadata!.name!)).onUpdate((_o, b) => c.queue.add(b.metadata!.name!));
  const touch = (name: string | undefined): void => { if (name) c.queue.add(name); };
  identities.onAdd((mi) => touch(mi.spec?.authorityRef?.name)).onDelete((mi) => touch(mi.spec?.authorityRef?.name))
    .onUpdate((o, n) => { touch(o.spec?.authorityRef?.name); touch(n.spec?.authorityRef?.name); });
  return c;
}
