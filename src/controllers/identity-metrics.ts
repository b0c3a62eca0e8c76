// Per-identity gauges with the contract's names, computed from the informer cache at scrape time, so a
// deleted identity's series disappear with it. O(identities) per scrape, no API calls.
import { identityFields, type MachineIdentityModel } from '../crds/index.ts';
import type { Registry } from 'prom-client';
import type { Logger } from 'pino';
import type { Informer } from '../runtime/informer.ts';
import { counter, ScrapeGauge } from '../runtime/metric-registry.ts';

const LABELS = ['namespace', 'name', 'secret', 'authority', 'owner_team'] as const;
type L = (typeof LABELS)[number];

function labelsOf(mi: MachineIdentityModel): Record<L, string> {
  const spec = identityFields(mi);
  return {
    namespace: mi.metadata?.namespace ?? '',
    name: mi.metadata?.name ?? '',
    secret: spec.secretName ?? '',
    authority: spec.authorityRef?.name ?? '',
    owner_team: spec.owner?.team ?? '',
  };
}
const seconds = (v: unknown): number | undefined => {
  const t = typeof v === 'string' ? Date.parse(v) : NaN;
  return Number.isNaN(t) ? undefined : t / 1000;
};

export function registerIdentityMetrics(
  registry: Registry,
  identities: Informer<MachineIdentityModel>,
  log: Logger,
): void {
  const errors = counter(
    registry,
    'machine_identity_metrics_collect_errors_total',
    'Failures computing scrape-time metrics',
    ['metric'],
  );
  const timestampGauge = (name: string, help: string, field: 'notAfter' | 'notBefore' | 'renewalTime'): void => {
    new ScrapeGauge({
      name,
      help,
      labelNames: LABELS,
      registers: [registry],
      collect() {
        this.reset();
        try {
          for (const mi of identities.list()) {
            const v = seconds(mi.status?.[field]);
            if (v !== undefined) this.set(labelsOf(mi), v);
          }
        } catch (err) {
          errors.inc({ metric: name });
          log.error({ err }, 'metrics collect failed');
        }
      },
    });
  };
  timestampGauge(
    'machine_identity_certificate_expiration_timestamp_seconds',
    "notAfter of the identity's current certificate",
    'notAfter',
  );
  timestampGauge(
    'machine_identity_certificate_not_before_timestamp_seconds',
    "notBefore of the identity's current certificate",
    'notBefore',
  );
  timestampGauge(
    'machine_identity_certificate_renewal_timestamp_seconds',
    'When the identity will be renewed',
    'renewalTime',
  );
  new ScrapeGauge({
    name: 'machine_identity_certificate_ready_status',
    help: 'Ready condition of the identity (1 on the current status)',
    labelNames: [...LABELS, 'condition'] as const,
    registers: [registry],
    collect() {
      this.reset();
      try {
        for (const mi of identities.list()) {
          const st = mi.status?.conditions?.find((c) => c.type === 'Ready')?.status ?? 'Unknown';
          for (const condition of ['True', 'False', 'Unknown'])
            this.set({ ...labelsOf(mi), condition }, st === condition ? 1 : 0);
        }
      } catch (err) {
        errors.inc({ metric: 'ready_status' });
        log.error({ err }, 'metrics collect failed');
      }
    },
  });
}
