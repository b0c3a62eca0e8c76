// How long an issuance waits: failure backoff, pacing of mass re-issuance after a CA change, and the
// hold of a move to the authority's new CA until every trust bundle carries it.
import type { MachineIdentityModel } from '../../crds/index.ts';
import { Reason } from '../../crds/reasons.ts';
import type { AuthorityEntry } from '../../issuers/cache.ts';
import { failureBackoffMs } from './schedule.ts';
import type * as k8s from '@kubernetes/client-node';
import { readRecord } from './secret.ts';
import type { Trigger } from './triggers.ts';

const AGILITY_REASONS = new Set<string>([
  Reason.AuthorityChanged,
  Reason.AuthorityDistrusted,
  Reason.PolicyRemediation,
]);
/** Reasons that move an identity to the authority's current CA: they wait until every trust bundle carries it (plus the propagation delay). */
const CA_CHANGE_REASONS = new Set<string>([Reason.AuthorityChanged, Reason.AuthorityDistrusted]);
/** Re-check a held re-issuance at least this often (the issuer cache also wakes identities when the hold changes). */
const CA_HOLD_RECHECK_MS = 30_000;

/** ms to wait before issuing: failure backoff, and pacing of mass re-issuance after a CA change. */
export function gate(
  mi: MachineIdentityModel,
  t: Trigger,
  authority: string,
  pace: (authority: string) => number,
): number {
  const failures = mi.status?.failedIssuanceAttempts ?? 0;
  const last = Date.parse(mi.status?.lastFailureTime ?? '');
  const wait = failures > 0 && !Number.isNaN(last) ? last + failureBackoffMs(failures) - Date.now() : 0;
  if (wait > 0) return wait;
  return AGILITY_REASONS.has(t.reason) ? pace(authority) : 0;
}

/** The hold of a move to the same authority's new CA (not a move to another authority: its bundles are another binding's). */
export function caHold(
  pre: { authority: string; entry: AuthorityEntry; secret?: k8s.V1Secret },
  t: Trigger | undefined,
): number {
  if (!t || !CA_CHANGE_REASONS.has(t.reason)) return 0;
  const recorded = readRecord(pre.secret).authority;
  if (recorded !== undefined && recorded !== pre.authority) return 0;
  return caChangeHoldMs(pre.entry.reissueNotBefore, Date.now());
}

/** How long a move to the authority's current CA still waits (0: go); never longer than a re-check. */
export function caChangeHoldMs(reissueNotBefore: number | undefined, now: number): number {
  if (reissueNotBefore === undefined || reissueNotBefore <= now) return 0;
  return Math.min(CA_HOLD_RECHECK_MS, reissueNotBefore - now + 50);
}
