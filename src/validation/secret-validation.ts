// Reconciler: validation of Secrets no MachineIdentity manages that something serves (the operator's
// own webhook, another webhook or APIService, an Ingress with a certificate from elsewhere). The same
// probes and verdicts as for identities; with no status to write, the result is the endpoint metrics
// (name = the Secret's name), the probe-side anomalies and a Warning Event on the Secret when its
// endpoints stop serving what it holds (Normal when they serve it again).
import type { OperatorContext } from '../controllers/context.ts';
import { recordEvent } from '../controllers/events.ts';
import { Controller, type Syncable } from '../runtime/reconcile-loop.ts';
import { FIRST_PROBE_MS, nextProbeDelay } from './schedule.ts';
import {
  judge,
  liveEndpoints,
  MAX_STATES,
  probeEndpoints,
  REFUSED_RETRY_MS,
  type IdentityState,
  type ProbeDeps,
} from './probe-state.ts';
import { servedCondition, type BundleCa, type EndpointResult } from './verdict.ts';
import type { ServeTarget } from './types.ts';
import type { ValidationMetrics } from './validation-metrics.ts';

/** What a Secret holds, from the inventory's facts. */
export interface HeldBySecret {
  serialNumber: string;
  fingerprintSHA256: string;
  chainLength: number;
  ownerTeam?: string;
}

export interface SecretValidationDeps extends ProbeDeps {
  targetsFor(namespace: string, name: string): ServeTarget[];
  /** Secrets some target serves (`namespace/name`). */
  servedSecrets(): Iterable<string>;
  /** An identity manages it: the identity's validation covers it. */
  managed(namespace: string, name: string): boolean;
  held(namespace: string, name: string): HeldBySecret | undefined;
  bundleCas(pem: string): BundleCa[];
  metrics: Pick<ValidationMetrics, 'setIdentity' | 'removeIdentity' | 'observeProbe'>;
  dropServedAnomalies(endpointKey: string): void;
  onTargetsChange(fn: (secrets: ReadonlySet<string> | 'all') => void): void;
  informers: Syncable[];
}

const metricKey = (key: string): string => `secret:${key}`;

export function secretValidationController(ctx: OperatorContext, deps: SecretValidationDeps): Controller {
  const cfg = ctx.config.validation;
  const states = new Map<string, IdentityState>();

  const forget = (key: string): undefined => {
    for (const k of states.get(key)?.probes.keys() ?? []) deps.dropServedAnomalies(k);
    states.delete(key);
    deps.metrics.removeIdentity(metricKey(key));
    return undefined;
  };

  const stateFor = (key: string, fingerprint: string, nowMs: number): IdentityState => {
    let st = states.get(key);
    if (!st) {
      if (states.size >= MAX_STATES) states.delete(states.keys().next().value ?? '');
      // when the Secret changed before this process saw it is unknown: no grace period for it
      st = {
        fingerprint,
        replacedAt: nowMs - cfg.staleGraceMs,
        revisionSeenAt: nowMs,
        nextDueMs: nowMs + FIRST_PROBE_MS,
        probes: new Map(),
      };
      states.set(key, st);
    } else if (st.fingerprint !== fingerprint)
      Object.assign(st, { fingerprint, replacedAt: nowMs, revisionSeenAt: nowMs, nextDueMs: nowMs + FIRST_PROBE_MS });
    return st;
  };

  /** Metrics, and an Event on the Secret when its endpoints stop (or start again) serving what it holds. */
  async function publish(
    key: string,
    held: HeldBySecret,
    st: IdentityState,
    results: EndpointResult[],
    nowMs: number,
  ): Promise<void> {
    const i = key.indexOf('/');
    const [ns, name] = [key.slice(0, i), key.slice(i + 1)];
    deps.metrics.setIdentity(
      metricKey(key),
      {
        namespace: ns,
        name,
        ownerTeam: held.ownerTeam ?? '',
        endpoints: results.map((r) => ({
          source: r.target.source,
          object: `${r.target.namespace ? `${r.target.namespace}/` : ''}${r.target.name}`,
          address: r.address.ip,
          port: r.address.port,
          sni: r.target.sni,
          verdict: r.outcome.verdict,
          ...(r.outcome.verdict === 'Stale' ? { staleSinceMs: st.replacedAt } : {}),
        })),
      },
      nowMs,
    );
    const cond = servedCondition(results);
    const sig = `${cond.status}/${cond.reason}`;
    if (st.announced !== sig && (cond.status === 'False' || st.announced?.startsWith('False')))
      await recordEvent(
        ctx,
        { apiVersion: 'v1', kind: 'Secret', name, namespace: ns },
        cond.status === 'False' ? 'Warning' : 'Normal',
        cond.reason,
        cond.message,
      );
    st.announced = sig;
  }

  const c = new Controller({
    name: 'validation-secrets',
    logger: ctx.log,
    registry: ctx.registry,
    workers: 2,
    informers: deps.informers,
    reconcile: async (key) => {
      const i = key.indexOf('/');
      const [ns, name] = [key.slice(0, i), key.slice(i + 1)];
      const held = deps.managed(ns, name) ? undefined : deps.held(ns, name);
      const live = liveEndpoints(held ? deps.targetsFor(ns, name) : []);
      if (!held || live.size === 0) return forget(key);
      const nowMs = ctx.now().getTime();
      const st = stateFor(key, held.fingerprintSHA256, nowMs);
      for (const k of st.probes.keys()) if (!live.has(k)) st.probes.delete(k);
      const due = nowMs >= st.nextDueMs;
      if (!due && st.probes.size === 0) return { requeueAfterMs: Math.max(1000, st.nextDueMs - nowMs) };
      const refused = await probeEndpoints(
        deps,
        cfg.concurrency,
        st,
        [...live].filter(([k]) => due || !st.probes.has(k)),
        nowMs,
      );
      const current = { ...held, replacedAt: st.replacedAt };
      const results = judge(live, st.probes, current, nowMs, cfg.staleGraceMs, deps.bundleCas);
      const verdicts = results.map((r) => r.outcome.verdict);
      if (due)
        st.nextDueMs =
          nowMs + nextProbeDelay({ nowMs, intervalMs: cfg.intervalMs, revisionSeenAt: st.revisionSeenAt, verdicts });
      if (refused) st.nextDueMs = Math.min(st.nextDueMs, nowMs + REFUSED_RETRY_MS);
      await publish(key, held, st, results, nowMs);
      return { requeueAfterMs: Math.max(1000, st.nextDueMs - nowMs) };
    },
  });
  deps.onTargetsChange((secrets) => {
    for (const s of secrets === 'all' ? deps.servedSecrets() : secrets) c.queue.addAfter(s, 1000);
  });
  return c;
}
