// Reconciler: after a renewal, restart the workloads an identity names (spec.rollout.workloads) by
// stamping the identity's revision on their pod template: once per revision, level-based, so a crash
// or a re-run never restarts twice and never misses one. The first issuance restarts nothing.
import * as k8s from '@kubernetes/client-node';
import { Controller } from './runtime/controller.ts';
import { isNotFound, MERGE } from './runtime/kube.ts';
import { recordEvent } from './events.ts';
import type { OperatorContext, MachineIdentityObject } from './context.ts';

export const ROLLOUT_ANNOTATION_PREFIX = 'rollout.machineidentity.io/';
interface Workload { kind: 'Deployment' | 'StatefulSet' | 'DaemonSet'; name: string }

export function rolloutController(ctx: OperatorContext): Controller {
  const apps = ctx.kc.makeApiClient(k8s.AppsV1Api);
  const { identities } = ctx.informers;
  const c = new Controller({
    name: 'rollout', logger: ctx.log, registry: ctx.registry, workers: 2, informers: [identities],
    reconcile: async (key, { log }) => {
      const mi = identities.get(key);
      const revision = mi?.status?.revision as number | undefined;
      const workloads = ((mi?.spec as { rollout?: { workloads?: Workload[] } } | undefined)?.rollout?.workloads) ?? [];
      if (!mi || !revision || revision < 2 || workloads.length === 0) return;
      const ns = mi.metadata!.namespace!;
      const annotation = `${ROLLOUT_ANNOTATION_PREFIX}${mi.metadata!.name}`;
      for (const w of workloads) {
        const current = await readTemplateAnnotation(apps, w, ns, annotation);
        if (current === undefined || current === String(revision)) continue; // absent workload, or already restarted for this revision
        const body = { spec: { template: { metadata: { annotations: { [annotation]: String(revision) } } } } };
        await patch(apps, w, ns, body);
        log.info({ workload: `${w.kind}/${w.name}`, revision }, 'workload restarted after renewal');
        void recordEvent(ctx, { apiVersion: 'machineidentity.io/v1alpha1', kind: 'MachineIdentity', name: mi.metadata!.name!, namespace: ns, uid: mi.metadata!.uid },
          'Normal', 'WorkloadRestarted', `restarted ${w.kind} ${w.name} for revision ${revision}`);
      }
    },
  });
  const enqueue = (o: MachineIdentityObject): void => c.queue.add(`${o.metadata?.namespace}/${o.metadata?.name}`);
  identities.onAdd(enqueue).onUpdate((o, n) => { if (o.status?.revision !== n.status?.revision) enqueue(n); });
  return c;
}

/** '' when the workload exists without our annotation; undefined when it does not exist. */
async function readTemplateAnnotation(apps: k8s.AppsV1Api, w: Workload, namespace: string, annotation: string): Promise<string | undefined> {
  try {
    const obj = w.kind === 'Deployment' ? await apps.readNamespacedDeployment({ name: w.name, namespace })
      : w.kind === 'StatefulSet' ? await apps.readNamespacedStatefulSet({ name: w.name, namespace })
        : await apps.readNamespacedDaemonSet({ name: w.name, namespace });
    return obj.spec?.template.metadata?.annotations?.[annotation] ?? '';
  } catch (e) { if (isNotFound(e)) return undefined; throw e; }
}

async function patch(apps: k8s.AppsV1Api, w: Workload, namespace: string, body: object): Promise<void> {
  const req = { name: w.name, namespace, body };
  if (w.kind === 'Deployment') await apps.patchNamespacedDeployment(req, MERGE);
  else if (w.kind === 'StatefulSet') await apps.patchNamespacedStatefulSet(req, MERGE);
  else await apps.patchNamespacedDaemonSet(req, MERGE);
}
