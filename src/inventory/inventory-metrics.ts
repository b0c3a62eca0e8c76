// Inventory metrics, named as the contract says; series come from the last snapshot, so a
// certificate's series vanish with it.
import type { Registry } from 'prom-client';
import { ScrapeGauge } from '../runtime/metric-registry.ts';
import type { InventoryEntry } from './model.ts';

const LABEL_MAX = 256;
const cut = (s: string): string => (s.length > LABEL_MAX ? `${s.slice(0, LABEL_MAX - 1)}…` : s);

const CERT_LABELS = [
  'namespace',
  'kind',
  'name',
  'key',
  'subject',
  'issuer',
  'managed',
  'key_algorithm',
  'key_size',
  'signature_algorithm',
  'self_signed',
  'trusted',
  'owner_team',
] as const;

function certLabels(e: InventoryEntry): Record<(typeof CERT_LABELS)[number], string> {
  return {
    namespace: e.namespace,
    kind: e.kind,
    name: e.name,
    key: e.cert.key,
    subject: cut(e.cert.subjectDN),
    issuer: cut(e.cert.issuerDN),
    managed: String(e.managed),
    key_algorithm: e.cert.keyAlgorithm,
    key_size: e.cert.keySize === undefined ? '' : String(e.cert.keySize),
    signature_algorithm: e.cert.signatureAlgorithm,
    self_signed: String(e.cert.selfSigned),
    trusted: String(e.trusted),
    owner_team: e.owner ?? '',
  };
}

export function registerInventoryMetrics(
  registry: Registry,
  snapshot: () => readonly InventoryEntry[] | undefined,
): void {
  new ScrapeGauge({
    name: 'machine_identity_inventory_certificate_expiration_timestamp_seconds',
    help: 'notAfter of every certificate found in the cluster',
    labelNames: CERT_LABELS,
    registers: [registry],
    collect() {
      this.reset();
      for (const e of snapshot() ?? []) this.set(certLabels(e), e.cert.notAfter / 1000);
    },
  });
  new ScrapeGauge({
    name: 'machine_identity_inventory_certificate_not_before_timestamp_seconds',
    help: 'notBefore of every certificate found in the cluster (with the expiration, the fraction of lifetime left)',
    labelNames: CERT_LABELS,
    registers: [registry],
    collect() {
      this.reset();
      for (const e of snapshot() ?? []) this.set(certLabels(e), e.cert.notBefore / 1000);
    },
  });
  new ScrapeGauge({
    name: 'machine_identity_inventory_certificates',
    help: 'Certificates found in the cluster',
    labelNames: ['namespace', 'issuer', 'key_algorithm', 'managed', 'compliant'] as const,
    registers: [registry],
    collect() {
      this.reset();
      const snap = snapshot();
      if (!snap) return;
      for (const e of snap)
        this.inc({
          namespace: e.namespace,
          issuer: cut(e.cert.issuerDN),
          key_algorithm: e.cert.keyAlgorithm,
          managed: String(e.managed),
          compliant: String(e.compliant),
        });
    },
  });
}
