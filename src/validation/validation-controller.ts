// Reconciler: is each identity's current certificate the one its endpoints serve? Per identity it
// finds the endpoints (targets.ts, from the informers' projections), probes them on a schedule
// (schedule.ts) through the prober's worker (no peer byte is parsed here), judges each (verdict.ts),
// writes the Served condition and status.served when what they say changes (served-status.ts), records
// an Event per transition, publishes metrics, feeds the anomaly store, and restarts workloads that keep
// serving a replaced certificate when the identity asks for it (remediation.ts).
import * as k8s from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { identityFields, type MachineIdentityModel } from '../crds/index.ts';
import { ServedReason } from '../crds/reasons.ts';
import { Controller } from '../runtime/reconcile-loop.ts';
import type { Syncable } from '../runtime/reconcile-loop.ts';
import type { OperatorContext } from '../controllers/context.ts';
import { recordEvent } from '../controllers/events.ts';
import { getCondition } from '../controllers/status/conditions.ts';
import { restartWorkload } from '../controllers/rollout.ts';
import type { ProbeRequest, ProbeResult, ServeTarget } from './types.ts';
import { VALIDATE_REQUESTED_AT } from './types.ts';
import {
  servedCondition,
  type BundleCa,
  type CurrentCert,
  type EndpointResult,
  type ServedCondition,
} from './verdict.ts';
import { FIRST_PROBE_MS, nextProbeDelay } from './schedule.ts';
import {
  dueNow,
  probeEndpoints,
  waitBeforeJudging,
  REFUSED_RETRY_MS,
  heldCertificate,
  initialDue,
  initialReplacedAt,
  judge,
  liveEndpoints,
  MAX_STATES,
  metricsView,
  type IdentityState,
  type Live,
} from './probe-state.ts';
import { remediationPlan } from './remediation.ts';
import type { ValidationMetrics } from './validation-metrics.ts';
import { applyServedStatus, servedStatusChange } from './served-status.ts';

/** What the controller needs from the other parts (wired in src/operator.ts). */
export interface ValidationDeps {
  probe(req: ProbeRequest): Promise<ProbeResult>;
  /** Where a Secret should be served, from the informers' projections. */
  targetsFor(namespace: string, secretName: string): ServeTarget[];
  /** Informers the targets come from: the workers start after they synced. */
  informers: Syncable[];
  /** Called with the Secrets whose targets may have changed (`namespace/name`), or 'all'. */
  onTargetsChange(fn: (secrets: ReadonlySet<string> | 'all') => void): void;
  /** Certificates in the Secret's tls.crt (from the inventory), 1 when unknown. */
  chainLength(namespace: string, secretName: string): number;
  /** The CAs of a caBundle (webhook configurations, APIServices). */
  bundleCas(pem: string): BundleCa[];
  metrics: Pick<ValidationMetrics, 'setIdentity' | 'removeIdentity' | 'observeProbe'>;
  /** Probe-side anomalies of one endpoint (UnknownCertificate, NameMismatch, ...), keyed by endpoint. */
  servedAnomalies(endpointKey: string, target: ServeTarget, probe: ProbeResult | undefined): void;
  dropServedAnomalies(endpointKey: string): void;
  /** Why a Secret has no endpoints, when something references it but could not be mapped. */
  whyNoTargets(namespace: string, secretName: string): string | undefined;
}

export function validationController(ctx: OperatorContext, deps: ValidationDeps): Controller {
  const cfg = ctx.config.validation;
  const { identities } = ctx.informers;
  const apps = ctx.kc.makeApiClient(k8s.AppsV1Api);
  const states = new Map<string, IdentityState>();
  /** `namespace/secretName` → identity keys, to enqueue identities when their targets change. */
  const bySecret = new Map<string, Set<string>>();

  const c = new Controller({
    name: 'validation',
    logger: ctx.log,
    registry: ctx.registry,
    workers: 4,
    informers: [identities, ...deps.informers],
    reconcile: async (key, { log }) => {
      const mi = identities.get(key);
      if (!mi) return forget(key);
      return reconcileIdentity(key, mi, log);
    },
  });

  function forget(key: string): undefined {
    const st = states.get(key);
    if (st) for (const k of st.probes.keys()) deps.dropServedAnomalies(k);
    states.delete(key);
    deps.metrics.removeIdentity(key);
    return undefined;
  }

  function stateFor(key: string, mi: MachineIdentityModel, fingerprint: string, nowMs: number): IdentityState {
    let st = states.get(key);
    if (!st) {
      if (states.size >= MAX_STATES) states.delete(states.keys().next().value ?? '');
      st = {
        fingerprint,
        replacedAt: initialReplacedAt(mi, nowMs),
        revisionSeenAt: initialReplacedAt(mi, nowMs),
        nextDueMs: initialDue(mi, nowMs, cfg.intervalMs),
        probes: new Map(),
      };
      states.set(key, st);
    } else if (st.fingerprint !== fingerprint) {
      // a new certificate: probe soon, and from now on the grace period runs
      Object.assign(st, { fingerprint, replacedAt: nowMs, revisionSeenAt: nowMs, nextDueMs: nowMs + FIRST_PROBE_MS });
    }
    return st;
  }

  async function reconcileIdentity(key: string, mi: MachineIdentityModel, log: Logger) {
    const held = heldCertificate(mi);
    if (!held) return forget(key);
    const { ns, secretName } = held;
    const nowMs = ctx.now().getTime();
    const st = stateFor(key, mi, held.fingerprintSHA256, nowMs);
    const live = liveEndpoints(deps.targetsFor(ns, secretName));
    prune(st, live);
    const { requested, requestAt, due } = dueNow(st, mi, nowMs);
    const hold = waitBeforeJudging(
      st,
      live.size,
      Boolean(getCondition(mi.status?.conditions, 'Served')),
      due,
      nowMs,
      cfg.staleGraceMs,
    );
    if (hold !== undefined) return { requeueAfterMs: hold };
    // a probe that answers a request counts as made at the request's time (the CLI rounds it up to the second)
    const refused = await probeEndpoints(
      deps,
      cfg.concurrency,
      st,
      [...live].filter(([k]) => due || !st.probes.has(k)),
      Math.max(nowMs, requestAt),
    );
    const current: CurrentCert = {
      serialNumber: held.serialNumber,
      fingerprintSHA256: held.fingerprintSHA256,
      replacedAt: st.replacedAt,
      chainLength: deps.chainLength(ns, secretName),
    };
    const results = judge(live, st.probes, current, nowMs, cfg.staleGraceMs, deps.bundleCas);
    if (due)
      st.nextDueMs =
        nowMs +
        nextProbeDelay({
          nowMs,
          intervalMs: cfg.intervalMs,
          revisionSeenAt: st.revisionSeenAt,
          verdicts: results.map((r) => r.outcome.verdict),
        });
    // the prober was full: look again soon (the schedule above must not push that out to its 30 s or 1 h)
    if (refused) st.nextDueMs = Math.min(st.nextDueMs, nowMs + REFUSED_RETRY_MS);
    let condition = servedCondition(results, live.size === 0 ? deps.whyNoTargets(ns, secretName) : undefined);
    const remedy = await remediate(mi, st, results, nowMs, log);
    if (remedy.note) condition = { ...condition, message: `${condition.message}; ${remedy.note}` };
    await writeServed(mi, st, condition, results, requested, log);
    await announce(mi, st, condition);
    deps.metrics.setIdentity(key, metricsView(mi, held.ownerTeam, results, st.replacedAt), nowMs);
    const wait = Math.min(st.nextDueMs - nowMs, remedy.waitMs ?? Number.POSITIVE_INFINITY);
    return { requeueAfterMs: Math.max(1000, wait) };
  }

  /** Forgets the probes of endpoints that are gone (and their anomalies). */
  function prune(st: IdentityState, live: Live): void {
    for (const k of st.probes.keys())
      if (!live.has(k)) {
        st.probes.delete(k);
        deps.dropServedAnomalies(k);
      }
  }

  async function writeServed(
    mi: MachineIdentityModel,
    st: IdentityState,
    condition: ServedCondition,
    results: EndpointResult[],
    requested: boolean,
    log: Logger,
  ): Promise<void> {
    const w = { condition, results, answerRequest: requested };
    const change = servedStatusChange(
      mi,
      st.lastProbeMs !== undefined ? { ...w, probedAtMs: st.lastProbeMs } : w,
      ctx.now(),
    );
    if (change && (await applyServedStatus(ctx, mi, change)))
      log.debug({ served: condition.reason }, 'Served status written');
  }

  /** Restarts what spec.rollout.restartWhenStaleAfter asks for; a note for the condition when it cannot. */
  async function remediate(
    mi: MachineIdentityModel,
    st: IdentityState,
    results: EndpointResult[],
    nowMs: number,
    log: Logger,
  ): Promise<{ note?: string; waitMs?: number }> {
    const afterMs = mi.spec?.restartWhenStaleAfterMs;
    const plan = remediationPlan({
      namespace: mi.metadata.namespace ?? '',
      afterMs,
      nowMs,
      replacedAt: st.replacedAt,
      results,
    });
    const revision = mi.status?.revision ?? 0;
    const notes: string[] = [];
    for (const w of plan.restart) {
      const outcome = await restartWorkload(ctx, apps, mi, w, revision, log, 'still serving the replaced certificate');
      if (outcome === 'forbidden')
        notes.push(
          `${ServedReason.RestartForbidden}: the operator may not restart ${w.kind} ${w.name} (chart value rbac.rollout)`,
        );
      if (outcome === 'restarted') st.nextDueMs = Math.min(st.nextDueMs, nowMs + FIRST_PROBE_MS * 2);
    }
    if (plan.unmanaged.length)
      notes.push(`not restarted (no Deployment, StatefulSet or DaemonSet): ${plan.unmanaged.slice(0, 3).join(', ')}`);
    return { ...(notes.length ? { note: notes.join('; ') } : {}), ...(plan.waitMs ? { waitMs: plan.waitMs } : {}) };
  }

  async function announce(mi: MachineIdentityModel, st: IdentityState, cond: ServedCondition): Promise<void> {
    const sig = `${cond.status}/${cond.reason}`;
    if (st.announced === sig) return;
    const first = st.announced === undefined;
    st.announced = sig;
    const prev = getCondition(mi.status?.conditions, 'Served');
    // a restarted operator does not repeat an Event for what the status already says
    if (first && prev && `${prev.status}/${prev.reason}` === sig) return;
    if (cond.reason === ServedReason.ProbePending || cond.reason === ServedReason.NoEndpoints) return;
    await recordEvent(
      ctx,
      {
        apiVersion: 'machineidentity.io/v1alpha1',
        kind: 'MachineIdentity',
        name: mi.metadata.name,
        namespace: mi.metadata.namespace,
        uid: mi.metadata.uid,
      },
      cond.status === 'False' ? 'Warning' : 'Normal',
      cond.reason,
      cond.message,
    );
  }

  const index = (mi: MachineIdentityModel, add: boolean): void => {
    const s = identityFields(mi).secretName;
    if (!s) return;
    const sk = `${mi.metadata.namespace}/${s}`;
    const key = `${mi.metadata.namespace}/${mi.metadata.name}`;
    const set = bySecret.get(sk) ?? new Set<string>();
    if (add) set.add(key);
    else set.delete(key);
    if (set.size) bySecret.set(sk, set);
    else bySecret.delete(sk);
  };
  const enqueue = (mi: MachineIdentityModel): void => c.queue.add(`${mi.metadata.namespace}/${mi.metadata.name}`);
  identities
    .onAdd((mi) => {
      index(mi, true);
      enqueue(mi);
    })
    .onUpdate((o, n) => {
      index(o, false);
      index(n, true);
      const changed =
        o.status?.fingerprintSHA256 !== n.status?.fingerprintSHA256 ||
        o.metadata.annotations?.[VALIDATE_REQUESTED_AT] !== n.metadata.annotations?.[VALIDATE_REQUESTED_AT] ||
        o.metadata.generation !== n.metadata.generation;
      if (changed) enqueue(n);
    })
    .onDelete((mi) => {
      index(mi, false);
      enqueue(mi);
    });
  deps.onTargetsChange((secrets) => {
    if (secrets === 'all') {
      for (const keys of bySecret.values()) for (const k of keys) c.queue.addAfter(k, 1000);
      return;
    }
    for (const s of secrets) for (const k of bySecret.get(s) ?? []) c.queue.addAfter(k, 1000);
  });
  return c;
}
