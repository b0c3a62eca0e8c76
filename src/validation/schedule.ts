// Pure: when an identity's endpoints are probed next. Soon after each issuance and then backing off
// (15 s, 30 s, 1 m, 2 m, ... up to the interval), every minute while something is not Current, hourly
// (the configured interval) otherwise, and at once when `kubectl mi validate` asks.
import type { EndpointVerdict } from './types.ts';

export const FIRST_PROBE_MS = 15_000;
/** How often an endpoint that is not serving the current certificate is probed again. */
const RETRY_MS = 60_000;

export interface ScheduleInput {
  nowMs: number;
  intervalMs: number;
  /** When the identity's current revision was first seen (epoch ms). */
  revisionSeenAt: number;
  /** Verdicts of the probe just done (empty: no endpoints). */
  verdicts: readonly EndpointVerdict[];
}

/** Delay until the next probe of an identity, after a probe at `nowMs`. */
export function nextProbeDelay(i: ScheduleInput): number {
  const since = Math.max(0, i.nowMs - i.revisionSeenAt);
  // the k-th step after an issuance waits FIRST_PROBE_MS·2^k: the next step starts where `since` is
  let step = FIRST_PROBE_MS;
  while (step <= since && step < i.intervalMs) step *= 2;
  const backoff = Math.min(i.intervalMs, step);
  const unsettled = i.verdicts.some((v) => v !== 'Current');
  return unsettled ? Math.min(RETRY_MS, backoff) : backoff;
}

/** A request time further ahead than this (a tenant's or a skewed clock's) is not a request. */
const MAX_REQUEST_SKEW_MS = 60_000;

/**
 * The time of a validate request (RFC 3339 in the annotation) newer than the last probe, or undefined.
 * A time far in the future is ignored: it would otherwise ask again after every probe.
 */
export function validateRequested(
  annotation: string | undefined,
  lastProbeMs: number | undefined,
  nowMs: number,
): number | undefined {
  const at = Date.parse(annotation ?? '');
  if (!Number.isFinite(at) || at > nowMs + MAX_REQUEST_SKEW_MS) return undefined;
  return lastProbeMs === undefined || at > lastProbeMs ? at : undefined;
}
