// Reconciler: after a renewal, restart the workloads an identity names (spec.rollout.workloads) by
// stamping the identity's revision on their pod template: once per revision, level-based, so a crash
// or a re-run never restarts twice and never misses one. The first issuance restarts nothing.
// Restarting is a grant the chart leaves off by default (rbac.rollout): a workload the operator may
// not read or patch gets a RolloutForbidden Warning Event that names the chart value, and is retried
// slowly (a grant added later is picked up), never in a tight 403 loop.
import { identityFields } from '../crds/index.ts';
import type { MachineIdentityModel } from '../crds/index.ts';
import * as k8s from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { Controller } from '../runtime/reconcile-loop.ts';
import { isNotFound, MERGE, toKubeError } from '../runtime/kube.ts';
import { recordEvent } from './events.ts';
import { Reason, ServedReason } from '../crds/reasons.ts';
import type { OperatorContext } from './context.ts';

const ROLLOUT_ANNOTATION_PREFIX = 'rollout.machineidentity.io/';
/** How soon a workload the operator may not restart is tried again (a grant may be added meanwhile). */
const FORBIDDEN_RETRY_MS = 10 * 60_000;
export interface Workload {
  kind: 'Deployment' | 'StatefulSet' | 'DaemonSet';
  name: string;
}

/** Why a restart could not be done, as an Event; undefined for errors worth a normal retry. */
export function rolloutFailure(
  e: unknown,
  w: Workload,
  namespace: string,
): { reason: Reason; message: string } | undefined {
  const k = toKubeError(e);
  if (k.code !== 403) return undefined;
  return {
    reason: Reason.RolloutForbidden,
    message:
      `the operator may not restart ${w.kind} ${namespace}/${w.name} (${k.message}): grant it with the chart value ` +
      `rbac.rollout.scope=cluster, or namespaces with ${namespace} in rbac.rollout.namespaces, or remove it from spec.rollout; ` +
      'the renewed certificate is in the Secret, the workload picks it up at its next restart',
  };
}

export function rolloutController(ctx: OperatorContext): Controller {
  const apps = ctx.kc.makeApiClient(k8s.AppsV1Api);
  const { identities } = ctx.informers;
  const c = new Controller({
    name: 'rollout',
    logger: ctx.log,
    registry: ctx.registry,
    workers: 2,
    informers: [identities],
    reconcile: async (key, { log }) => {
      const mi = identities.get(key);
      const plan = mi ? restartPlan(mi) : undefined;
      if (!mi || !plan) return undefined;
      let forbidden = false;
      for (const w of plan.workloads)
        if ((await restartWorkload(ctx, apps, mi, w, plan.revision, log, 'after renewal')) === 'forbidden')
          forbidden = true;
      return forbidden ? { requeueAfterMs: FORBIDDEN_RETRY_MS } : undefined;
    },
  });

  const enqueue = (o: MachineIdentityModel): void => c.queue.add(`${o.metadata?.namespace}/${o.metadata?.name}`);
  identities.onAdd(enqueue).onUpdate((o, n) => {
    if (o.status?.revision !== n.status?.revision) enqueue(n);
  });
  return c;
}

export type RestartOutcome = 'restarted' | 'already' | 'absent' | 'forbidden';

/**
 * Restarts one workload for this revision unless it already was (or does not exist): level-based, the
 * revision stamped on the pod template, so a re-run or a second reason (spec.rollout.workloads after a
 * renewal, validation finding it still serves the old certificate) never restarts it twice per revision.
 */
export async function restartWorkload(
  ctx: OperatorContext,
  apps: k8s.AppsV1Api,
  mi: MachineIdentityModel,
  w: Workload,
  revision: number,
  log: Logger,
  why: string,
): Promise<RestartOutcome> {
  const ns = mi.metadata.namespace ?? '';
  const involved = {
    apiVersion: 'machineidentity.io/v1alpha1',
    kind: 'MachineIdentity',
    name: mi.metadata.name,
    namespace: ns,
    uid: mi.metadata.uid,
  };
  const annotation = `${ROLLOUT_ANNOTATION_PREFIX}${mi.metadata.name}`;
  try {
    const current = await readTemplateAnnotation(apps, w, ns, annotation);
    if (current === undefined) return 'absent';
    if (current === String(revision)) return 'already';
    await patch(apps, w, ns, {
      spec: { template: { metadata: { annotations: { [annotation]: String(revision) } } } },
    });
  } catch (e) {
    const failure = rolloutFailure(e, w, ns);
    if (!failure) throw e;
    log.warn({ workload: `${w.kind}/${w.name}`, revision }, 'workload restart forbidden');
    await recordEvent(ctx, involved, 'Warning', failure.reason, failure.message);
    return 'forbidden';
  }
  log.info({ workload: `${w.kind}/${w.name}`, revision, why }, 'workload restarted');
  void recordEvent(
    ctx,
    involved,
    'Normal',
    why === 'after renewal' ? Reason.WorkloadRestarted : ServedReason.StaleWorkloadRestarted,
    `restarted ${w.kind} ${w.name} for revision ${revision} (${why})`,
  );
  return 'restarted';
}

/** The revision to restart the workloads for: a renewal (revision 2 on) of an identity that names any. */
function restartPlan(mi: MachineIdentityModel): { revision: number; workloads: readonly Workload[] } | undefined {
  const revision = mi.status?.revision;
  const workloads = identityFields(mi).rollout?.workloads ?? [];
  if (!revision || revision < 2 || workloads.length === 0) return undefined;
  return { revision, workloads };
}

/** '' when the workload exists without our annotation; undefined when it does not exist. */
async function readTemplateAnnotation(
  apps: k8s.AppsV1Api,
  w: Workload,
  namespace: string,
  annotation: string,
): Promise<string | undefined> {
  try {
    const obj =
      w.kind === 'Deployment'
        ? await apps.readNamespacedDeployment({ name: w.name, namespace })
        : w.kind === 'StatefulSet'
          ? await apps.readNamespacedStatefulSet({ name: w.name, namespace })
          : await apps.readNamespacedDaemonSet({ name: w.name, namespace });
    return obj.spec?.template.metadata?.annotations?.[annotation] ?? '';
  } catch (e) {
    if (isNotFound(e)) return undefined;
    throw e;
  }
}

async function patch(apps: k8s.AppsV1Api, w: Workload, namespace: string, body: object): Promise<void> {
  const req = { name: w.name, namespace, body };
  if (w.kind === 'Deployment') await apps.patchNamespacedDeployment(req, MERGE);
  else if (w.kind === 'StatefulSet') await apps.patchNamespacedStatefulSet(req, MERGE);
  else await apps.patchNamespacedDaemonSet(req, MERGE);
}
