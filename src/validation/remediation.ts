// Pure: which workloads to restart because they still serve a replaced certificate
// (spec.rollout.restartWhenStaleAfter). Only Deployments, StatefulSets and DaemonSets (a rolling restart
// through the pod template); the restart itself is level-based per revision (src/controllers/rollout.ts),
// so a workload is restarted at most once per renewal whatever this says.
import type { Workload } from '../controllers/rollout.ts';
import type { EndpointResult } from './verdict.ts';

const KINDS = new Set(['Deployment', 'StatefulSet', 'DaemonSet']);

export interface RemediationInput {
  /** The identity's namespace: only workloads there are restarted (never an ingress controller's). */
  namespace: string;
  /** spec.rollout.restartWhenStaleAfter in ms; undefined = report only. */
  afterMs: number | undefined;
  nowMs: number;
  /** When the current certificate replaced the previous one. */
  replacedAt: number;
  results: readonly EndpointResult[];
}

export interface RemediationPlan {
  /** Restart these now. */
  restart: Workload[];
  /** Stale endpoints whose pod has no workload that can be restarted (a bare Pod, a ReplicaSet of its own). */
  unmanaged: string[];
  /** Ask again after this long (a stale endpoint not yet past restartWhenStaleAfter). */
  waitMs?: number;
}

function workloadOf(s: string | undefined): Workload | undefined {
  const i = s?.indexOf('/') ?? -1;
  if (!s || i < 0) return undefined;
  const kind = s.slice(0, i);
  return KINDS.has(kind) ? { kind: kind as Workload['kind'], name: s.slice(i + 1) } : undefined;
}

export function remediationPlan(i: RemediationInput): RemediationPlan {
  const plan: RemediationPlan = { restart: [], unmanaged: [] };
  const stale = i.results.filter((r) => r.outcome.verdict === 'Stale' || r.outcome.verdict === 'Expired');
  if (i.afterMs === undefined || stale.length === 0) return plan;
  const dueAt = i.replacedAt + i.afterMs;
  if (i.nowMs < dueAt) return { ...plan, waitMs: dueAt - i.nowMs };
  const seen = new Set<string>();
  for (const r of stale) {
    if (r.target.source !== 'Service' || !r.address.pod?.startsWith(`${i.namespace}/`)) continue;
    const w = workloadOf(r.address.workload);
    if (!w) {
      plan.unmanaged.push(r.address.pod ?? `${r.address.ip}:${r.address.port}`);
      continue;
    }
    const k = `${w.kind}/${w.name}`;
    if (seen.has(k)) continue;
    seen.add(k);
    plan.restart.push(w);
  }
  return plan;
}
