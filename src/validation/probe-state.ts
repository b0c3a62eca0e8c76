// Per-identity probe state and the pure steps of one validation pass: which endpoints are live, when to
// probe, what each probe means, and what the metrics see. The controller (validation-controller.ts) does
// the I/O around them.
import { identityFields, type MachineIdentityModel } from '../crds/index.ts';
import type { ProbeResult, ServeTarget } from './types.ts';
import { VALIDATE_REQUESTED_AT } from './types.ts';
import { endpointVerdict, type BundleCa, type CurrentCert, type EndpointResult } from './verdict.ts';
import { FIRST_PROBE_MS, validateRequested } from './schedule.ts';
import type { IdentityMetric, ValidationMetrics } from './validation-metrics.ts';
import { ProbeRefused } from './prober.ts';
import { boundedEach } from './bounded.ts';
import type { ProbeRequest } from './types.ts';

export interface IdentityState {
  fingerprint: string;
  replacedAt: number;
  revisionSeenAt: number;
  nextDueMs: number;
  lastProbeMs?: number;
  /** endpoint key → last probe */
  probes: Map<string, ProbeResult>;
  /** Served status/reason last announced by an Event. */
  announced?: string;
}

export const MAX_STATES = 200_000;
const REQUEST_GAP_MS = 5_000;
const endpointKey = (t: ServeTarget, ip: string, port: number): string => `${t.key}|${ip}:${port}`;

/** Until this process saw the certificate change, its notBefore (backdated a minute) is the best guess. */
export function initialReplacedAt(mi: MachineIdentityModel, nowMs: number): number {
  const nb = Date.parse(mi.status?.notBefore ?? '');
  return Number.isFinite(nb) ? Math.min(nowMs, nb + 60_000) : nowMs;
}

/** A restarted operator probes again when the last recorded probe is an interval old (spread by a jitter). */
export function initialDue(mi: MachineIdentityModel, nowMs: number, intervalMs: number): number {
  const last = Date.parse(mi.status?.served?.lastProbeTime ?? '');
  const jitter = Math.floor(Math.random() * Math.min(intervalMs, 10 * 60_000));
  return Number.isFinite(last)
    ? Math.max(nowMs + FIRST_PROBE_MS, last + intervalMs)
    : nowMs + FIRST_PROBE_MS + jitter / 60;
}

export type LiveEndpoint = { target: ServeTarget; address: ServeTarget['addresses'][number] };
export type Live = Map<string, LiveEndpoint>;

/** Every (target, address) pair by endpoint key. */
export function liveEndpoints(targets: readonly ServeTarget[]): Live {
  const live: Live = new Map();
  for (const t of targets)
    for (const a of t.addresses) live.set(endpointKey(t, a.ip, a.port), { target: t, address: a });
  return live;
}

export function judge(
  live: Live,
  probes: ReadonlyMap<string, ProbeResult>,
  current: CurrentCert,
  nowMs: number,
  graceMs: number,
  bundleCas: (pem: string) => BundleCa[],
): EndpointResult[] {
  return [...live].map(([k, { target, address }]) => {
    const probe = probes.get(k);
    const bundle = target.caBundlePem ? bundleCas(target.caBundlePem) : undefined;
    const outcome = endpointVerdict({ probe, current, nowMs, graceMs, ...(bundle ? { bundle } : {}) });
    return { target, address, probe, outcome };
  });
}

export function metricsView(
  mi: MachineIdentityModel,
  ownerTeam: string | undefined,
  results: readonly EndpointResult[],
  replacedAt: number,
): IdentityMetric {
  return {
    namespace: mi.metadata.namespace,
    name: mi.metadata.name,
    ownerTeam: ownerTeam ?? '',
    endpoints: results.map((r) => ({
      source: r.target.source,
      object: `${r.target.namespace ? `${r.target.namespace}/` : ''}${r.target.name}`,
      address: r.address.ip,
      port: r.address.port,
      sni: r.target.sni,
      verdict: r.outcome.verdict,
      ...(r.outcome.verdict === 'Stale' || r.outcome.verdict === 'AwaitingReload' ? { staleSinceMs: replacedAt } : {}),
    })),
  };
}

/** The certificate the identity's status says its Secret holds; undefined before the first issuance. */
export function heldCertificate(
  mi: MachineIdentityModel,
): { ns: string; secretName: string; serialNumber: string; fingerprintSHA256: string; ownerTeam?: string } | undefined {
  const spec = identityFields(mi);
  const s = mi.status;
  if (!s?.fingerprintSHA256 || !s.serialNumber || !spec.secretName) return undefined;
  const team = spec.owner?.team;
  return {
    ns: mi.metadata.namespace,
    secretName: spec.secretName,
    serialNumber: s.serialNumber,
    fingerprintSHA256: s.fingerprintSHA256,
    ...(team ? { ownerTeam: team } : {}),
  };
}

/** Whether to probe now: the schedule says so, or a validate request (at most every REQUEST_GAP_MS). */
export function dueNow(
  st: IdentityState,
  mi: MachineIdentityModel,
  nowMs: number,
): { requested: boolean; requestAt: number; due: boolean } {
  const at = validateRequested(
    mi.metadata.annotations?.[VALIDATE_REQUESTED_AT],
    st.lastProbeMs ?? lastProbe(mi),
    nowMs,
  );
  // whoever can annotate the identity can ask: requests are answered at most every REQUEST_GAP_MS
  const requested = at !== undefined && nowMs - (st.lastProbeMs ?? 0) >= REQUEST_GAP_MS;
  if (at !== undefined && !requested) st.nextDueMs = Math.min(st.nextDueMs, (st.lastProbeMs ?? 0) + REQUEST_GAP_MS);
  return { requested, requestAt: requested ? (at ?? 0) : 0, due: requested || nowMs >= st.nextDueMs };
}

function lastProbe(mi: MachineIdentityModel): number | undefined {
  const t = Date.parse(mi.status?.served?.lastProbeTime ?? '');
  return Number.isFinite(t) ? t : undefined;
}

/** What probing needs from the other parts. */
export interface ProbeDeps {
  probe(req: ProbeRequest): Promise<ProbeResult>;
  metrics: Pick<ValidationMetrics, 'observeProbe'>;
  servedAnomalies(endpointKey: string, target: ServeTarget, probe: ProbeResult | undefined): void;
}

/** After the prober refused a probe (its queue was full). */
export const REFUSED_RETRY_MS = 5_000;

/**
 * Probes the given endpoints, at most `concurrency` at a time per caller (the workers together never hand
 * the prober more than its queue takes), and records what each served; true when the prober refused any.
 */
export async function probeEndpoints(
  deps: ProbeDeps,
  concurrency: number,
  st: IdentityState,
  toProbe: [string, LiveEndpoint][],
  nowMs: number,
): Promise<boolean> {
  let refused = false;
  await boundedEach(toProbe, concurrency, async ([k, { target, address }]) => {
    const r = await deps.probe({ ip: address.ip, port: address.port, sni: target.sni }).catch((e: unknown) => {
      if (e instanceof ProbeRefused) return undefined; // the prober is full: keep what was known, look again soon
      throw e;
    });
    if (!r) {
      refused = true;
      return;
    }
    deps.metrics.observeProbe(r);
    st.probes.set(k, r);
    deps.servedAnomalies(k, target, r);
  });
  if (toProbe.length > 0) st.lastProbeMs = nowMs;
  return refused;
}

/**
 * How long to wait before judging at all, or undefined to go on: nothing judged yet and not due (a new
 * identity, a restarted operator: no probe, no write before it is); or a new identity with no endpoints yet
 * (a workload usually starts after its Secret exists: NoEndpoints is said once nothing served it for the
 * grace period, not written and then replaced a minute later).
 */
export function waitBeforeJudging(
  st: IdentityState,
  endpoints: number,
  hasServed: boolean,
  due: boolean,
  nowMs: number,
  graceMs: number,
): number | undefined {
  if (!due && st.probes.size === 0) return Math.max(1000, st.nextDueMs - nowMs);
  const settleAt = st.revisionSeenAt + graceMs;
  if (endpoints === 0 && !hasServed && nowMs < settleAt) return Math.max(1000, settleAt - nowMs);
  return undefined;
}
