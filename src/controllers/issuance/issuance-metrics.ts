// Issuance counters (the contract's names); per-identity gauges are computed at scrape time elsewhere.
import type { Registry } from 'prom-client';
import { counter, histogram } from '../../runtime/metric-registry.ts';

export function issuanceMetrics(r: Registry) {
  return {
    total: counter(
      r,
      'machine_identity_issuance_total',
      'Issuance attempts by authority and result (success, denied, failed)',
      ['authority', 'result'],
    ),
    // why a CA did not issue, by backend and a bounded reason (the CA's own words go to status and Events, never to labels)
    caErrors: counter(
      r,
      'machine_identity_ca_errors_total',
      'CA answers that were not a certificate, by authority, backend and reason (CAUnreachable, CARefused, RateLimited, ChallengeFailed, ...)',
      ['authority', 'backend', 'reason'],
    ),
    duration: histogram(
      r,
      'machine_identity_issuance_duration_seconds',
      'Time from the start of an issuance to the Secret written',
      ['authority'],
      [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
    ),
  };
}
