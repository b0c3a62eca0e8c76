// When to renew and how long to back off: pure functions of the certificate and the spec.
import { createHash } from 'node:crypto';

export interface RenewalSpec {
  renewBeforeMs?: number;
  renewBeforePercentage?: number;
}

/** At most this much jitter, so that identities issued together do not all renew in the same second. */
export const MAX_JITTER_MS = 5 * 60_000;

/** A stable fraction in [0, 1) per identity: the same identity always gets the same jitter. */
export function jitterFraction(uid: string): number {
  return createHash('sha256').update(uid).digest().readUInt32BE(0) / 2 ** 32;
}

/**
 * Renewal time: notAfter − renewBefore, where renewBefore is the spec's, or a percentage of the actual
 * lifetime, or by default 1/3 of it (renew at 2/3). Minus a jitter of up to 5% of renewBefore (≤ 5 min).
 * Never before notBefore.
 */
export function renewalTime(notBefore: Date, notAfter: Date, spec: RenewalSpec, uid: string): Date {
  const lifetime = Math.max(0, notAfter.getTime() - notBefore.getTime());
  let before =
    spec.renewBeforeMs ??
    (spec.renewBeforePercentage !== undefined ? (lifetime * spec.renewBeforePercentage) / 100 : lifetime / 3);
  if (before >= lifetime) before = lifetime / 3; // an authority capped the lifetime below renewBefore
  const jitter = Math.min(before * 0.05, MAX_JITTER_MS) * jitterFraction(uid);
  return new Date(Math.max(notBefore.getTime(), notAfter.getTime() - before - jitter));
}

export interface BackoffPolicy {
  baseMs: number;
  maxMs: number;
}
const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 10_000, maxMs: 60 * 60_000 };

/** Delay before retry number `failures + 1`: base·2^(failures−1), capped. */
export function failureBackoffMs(failures: number, p: BackoffPolicy = DEFAULT_BACKOFF): number {
  if (failures <= 0) return 0;
  return Math.min(p.maxMs, p.baseMs * 2 ** Math.min(failures - 1, 30));
}
