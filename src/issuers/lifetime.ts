// How long a certificate from the in-process CA is valid: from a minute ago (clock skew) to
// min(requested, binding maxDuration, CA notAfter), in whole seconds; or an exact validity
// (PodCertificateRequests), which the CA must cover.
import { IssuerReason, SignReason } from '../crds/reasons.ts';
import type { Denial } from './csr-checks.ts';

/** Clock skew allowance: notBefore is this far in the past. */
export const BACKDATE_MS = 60_000;

export interface Lifetime {
  /**
   * Exact validity instead of now − BACKDATE_MS .. now + durationMs (PodCertificateRequests: the API
   * server checks notAfter − notBefore against maxExpirationSeconds to the second). Denied when the
   * CA expires before notAfter; durationMs and maxDurationMs are then ignored.
   */
  validity?: { notBefore: Date; notAfter: Date };
  durationMs: number;
  maxDurationMs?: number | undefined;
  now: Date;
}

/** X.509 time has second precision: the whole second at or before `ms`. */
export function wholeSeconds(ms: number): Date {
  return new Date(Math.floor(ms / 1000) * 1000);
}

/** notBefore for a certificate signed at `now`. */
export function backdatedNotBefore(now: Date): Date {
  return wholeSeconds(now.getTime() - BACKDATE_MS);
}

/** notAfter = min(now + requested, now + maxDuration, CA notAfter). */
export function cappedNotAfter(t: Lifetime, caNotAfter: Date | undefined): Date {
  const now = t.now.getTime();
  let end = now + t.durationMs;
  if (t.maxDurationMs !== undefined) end = Math.min(end, now + t.maxDurationMs);
  if (caNotAfter) end = Math.min(end, caNotAfter.getTime());
  return wholeSeconds(end);
}

/** The certificate's validity under a CA valid until `caNotAfter`, or why there is none. */
export function validityFor(t: Lifetime, caNotAfter: Date | undefined): { notBefore: Date; notAfter: Date } | Denial {
  if (t.validity && caNotAfter && t.validity.notAfter.getTime() > caNotAfter.getTime()) {
    return {
      ok: false,
      reason: IssuerReason.CAExpiresTooSoon,
      message: `the CA certificate expires at ${caNotAfter.toISOString()}, before the requested notAfter ${t.validity.notAfter.toISOString()}; renew the CA`,
    };
  }
  const notBefore = t.validity?.notBefore ?? backdatedNotBefore(t.now);
  const notAfter = t.validity?.notAfter ?? cappedNotAfter(t, caNotAfter);
  if (notAfter.getTime() <= t.now.getTime()) {
    return {
      ok: false,
      reason: SignReason.CAExpired,
      message: `the CA certificate expired at ${caNotAfter?.toISOString() ?? '?'}; renew or replace the CA`,
    };
  }
  return { notBefore, notAfter };
}
