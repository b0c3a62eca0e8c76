// The pure core of leader election (client-go's tryAcquireOrRenew), separated from I/O so it can be
// table-tested. Expiry is judged by the LOCAL clock: we remember when we last saw the lease record
// change and only trust our own monotonic-ish clock since then, never the remote renewTime (clocks
// of different nodes disagree).

export interface LeaseRecord {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  renewTime?: string;
  acquireTime?: string;
  leaseTransitions?: number;
}

/** What we last saw, and when (local ms) it last changed. */
export interface Observation {
  record: LeaseRecord;
  observedAtMs: number;
}

export type Decision =
  | { action: 'create' }
  | { action: 'renew' }
  | { action: 'takeover' }
  | { action: 'wait'; holder: string; expiresInMs: number };

function sameRecord(a: LeaseRecord, b: LeaseRecord): boolean {
  return (
    a.holderIdentity === b.holderIdentity &&
    a.renewTime === b.renewTime &&
    a.leaseDurationSeconds === b.leaseDurationSeconds &&
    a.leaseTransitions === b.leaseTransitions &&
    a.acquireTime === b.acquireTime
  );
}

/** Records a freshly read lease: the observation time moves only when the record changed. */
export function observe(prev: Observation | undefined, record: LeaseRecord, nowMs: number): Observation {
  if (prev && sameRecord(prev.record, record)) return prev;
  return { record, observedAtMs: nowMs };
}

/**
 * Decides what to do with the lease we just read (`undefined` = it does not exist).
 * An empty holder (released) can be taken at once; another holder's lease only once
 * `leaseDurationSeconds` has passed on our clock since we saw it change.
 */
export function decide(
  obs: Observation | undefined,
  identity: string,
  nowMs: number,
  defaultLeaseSeconds: number,
): Decision {
  if (!obs) return { action: 'create' };
  const holder = obs.record.holderIdentity ?? '';
  if (holder === identity) return { action: 'renew' };
  if (holder === '') return { action: 'takeover' };
  const durationMs = (obs.record.leaseDurationSeconds ?? defaultLeaseSeconds) * 1000;
  const expiresInMs = obs.observedAtMs + durationMs - nowMs;
  return expiresInMs > 0 ? { action: 'wait', holder, expiresInMs } : { action: 'takeover' };
}

/** The spec to write for a create, renew or takeover. */
export function nextRecord(
  current: LeaseRecord | undefined,
  decision: 'create' | 'renew' | 'takeover',
  identity: string,
  nowIso: string,
  leaseDurationSeconds: number,
): LeaseRecord {
  const transitions = current?.leaseTransitions ?? 0;
  if (decision === 'renew') {
    return {
      ...current,
      holderIdentity: identity,
      leaseDurationSeconds,
      renewTime: nowIso,
      acquireTime: current?.acquireTime ?? nowIso,
      leaseTransitions: transitions,
    };
  }
  return {
    holderIdentity: identity,
    leaseDurationSeconds,
    acquireTime: nowIso,
    renewTime: nowIso,
    // A takeover from a real previous holder is a transition; a fresh Lease starts at 0.
    leaseTransitions: decision === 'create' ? 0 : transitions + 1,
  };
}

/**
 * A retry wait in [0.8d, 1.2d]. client-go uses [d, 2.2d); a tighter band keeps the takeover after a
 * release within about one retry period while still spreading candidates apart.
 */
export function jitter(ms: number, fraction = 0.2, random: () => number = Math.random): number {
  return ms * (1 - fraction + 2 * fraction * random());
}
