// Reconciler: CertificateAuthorityBinding status.identities, how many MachineIdentities name it.
import { identityFields, type MachineIdentityModel } from '../crds/index.ts';
import { Gauge } from 'prom-client';
import { Controller } from '../runtime/reconcile-loop.ts';
import { applyStatus, isNotFound } from '../runtime/kube.ts';
import { BINDING_GVR, type OperatorContext } from './context.ts';

const FIELD_MANAGER = 'mio-binding-usage';

export function bindingUsageController(ctx: OperatorContext): Controller {
  const { identities, bindings } = ctx.informers;
  const c = new Controller({
    name: 'binding-usage',
    logger: ctx.log,
    registry: ctx.registry,
    workers: 1,
    informers: [identities, bindings],
    reconcile: async (name) => {
      const b = bindings.get(name);
      if (!b?.metadata.name) return;
      const backed = identities.list().filter((mi) => identityFields(mi).authorityRef?.name === name);
      const count = backed.length;
      const outdated = outdatedCount(ctx, name, backed);
      const gen = b.metadata.generation;
      if (
        b.status?.identities === count &&
        b.status.outdatedIdentities === outdated &&
        b.status.observedGeneration === gen
      )
        return;
      const body = {
        apiVersion: 'machineidentity.io/v1alpha1',
        kind: 'CertificateAuthorityBinding',
        metadata: { name },
        status: { identities: count, outdatedIdentities: outdated, observedGeneration: gen },
      };
      try {
        await applyStatus(ctx.kc, BINDING_GVR, body, FIELD_MANAGER);
      } catch (e) {
        if (!isNotFound(e)) throw new Error('apply CertificateAuthorityBinding status failed', { cause: e });
      }
    },
  });
  bindings.onAdd((b) => c.queue.add(b.metadata.name)).onUpdate((_o, b) => c.queue.add(b.metadata.name));
  // rate-limited per binding: a thousand identities changing at once are one status write a second
  const touch = (name: string | undefined): void => {
    if (name) c.queue.addAfter(name, 1000);
  };
  identities
    .onAdd((mi) => touch(identityFields(mi).authorityRef?.name))
    .onDelete((mi) => touch(identityFields(mi).authorityRef?.name))
    .onUpdate((o, n) => {
      touch(identityFields(o).authorityRef?.name);
      touch(identityFields(n).authorityRef?.name);
    });
  ctx.issuers.onChange((name) => c.queue.add(name));
  new Gauge({
    name: 'machine_identity_authority_outdated_identities',
    help: 'Identities of an authority still holding a certificate from a previous CA',
    labelNames: ['authority'] as const,
    registers: [ctx.registry],
    collect() {
      this.reset();
      for (const b of bindings.list())
        if (b.status?.outdatedIdentities !== undefined)
          this.set({ authority: b.metadata.name }, b.status.outdatedIdentities);
    },
  });
  return c;
}

/** Identities still holding a certificate from another CA than the binding's current one (none for selfSigned). */
function outdatedCount(ctx: OperatorContext, binding: string, backed: readonly MachineIdentityModel[]): number {
  const entry = ctx.issuers.get(binding);
  const current = entry?.health.caFingerprintSHA256;
  if (!current || entry.issuer.backend === 'selfSigned') return 0;
  return backed.filter(
    (mi) => mi.status?.authorityFingerprintSHA256 && mi.status.authorityFingerprintSHA256 !== current,
  ).length;
}
