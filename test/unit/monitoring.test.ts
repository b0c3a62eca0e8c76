import { describe, it, expect } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ALERTS, metricNames } from '../../src/monitoring/alerts.ts';
import { dashboard, dashboardExpressions } from '../../src/monitoring/dashboard.ts';
import { renderMonitoringFiles } from '../../src/monitoring/render.ts';

const ROOT = join(import.meta.dirname, '../..');

describe('generated monitoring files', () => {
  it.each([...renderMonitoringFiles().entries()].map(([rel, content]) => ({ rel, content })))(
    '$rel is up to date',
    ({ rel, content }) => {
      let committed: string | undefined;
      try {
        committed = readFileSync(join(ROOT, rel), 'utf8');
      } catch {
        committed = undefined;
      }
      if (committed !== content)
        throw new Error(
          `${rel} is ${committed === undefined ? 'missing' : 'stale'}: run \`npm run gen\` and commit the result`,
        );
    },
  );
});

describe('alerts', () => {
  it('cover what the contract asks for, each with a severity and text a person can act on', () => {
    expect(ALERTS.map((a) => a.alert)).toEqual([
      'MachineIdentityCertificateExpiringSoon',
      'MachineIdentityCertificateLifetimeLow',
      'MachineIdentityCertificateExpired',
      'MachineIdentityNotReady',
      'MachineIdentityIssuanceFailing',
      'MachineIdentityCARateLimited',
      'MachineIdentityRenewalOverdue',
      'MachineIdentityPolicyViolation',
      'MachineIdentityPolicyAuditViolation',
      'MachineIdentityUntrustedCertificate',
      'MachineIdentitySelfSignedCertificate',
      'MachineIdentityServingStale',
      'MachineIdentityServingExpired',
      'MachineIdentityAnomaly',
      'MachineIdentityOperatorEventLoopLag',
      'MachineIdentityOperatorDown',
    ]);
    for (const a of ALERTS) {
      expect(a.summary.length).toBeGreaterThan(10);
      expect(a.description).toMatch(/\{\{ \$labels\.|\$\{JOB\}|\{\{ \$value/);
    }
  });
  it.each([
    {
      expr: 'sum by (authority) (increase(machine_identity_issuance_total{result="failed"}[15m])) > 0',
      names: ['machine_identity_issuance_total'],
    },
    { expr: 'absent(up{job="x"} == 1)', names: ['up'] },
    { expr: 'a / on (namespace, kind) group_left () b < 0.1 and c offset 5m > 0', names: ['a', 'b', 'c'] },
  ])('metricNames($expr)', ({ expr, names }) => expect(metricNames(expr)).toEqual(names));
});

describe('dashboard', () => {
  it('is a Grafana dashboard with a datasource variable and the panels the issue names', () => {
    const d = dashboard() as {
      uid: string;
      panels: { title: string; type: string; datasource: { uid: string }; targets: unknown[] }[];
      templating: { list: { name: string }[] };
    };
    expect(d.uid).toBe('machine-identity-operator');
    expect(d.templating.list.map((v) => v.name)).toEqual(['datasource', 'cluster', 'namespace']);
    const titles = d.panels.map((p) => p.title).join('\n');
    for (const t of [
      'Certificates',
      'Expiry timeline',
      'Policy violations',
      'Issuance rate',
      'Served',
      'Endpoints serving the current certificate',
      'Endpoints serving a replaced certificate',
      'Stale endpoints',
      'Anomalies by kind',
    ])
      expect(titles).toContain(t);
    for (const p of d.panels) expect(p.datasource.uid).toBe('${datasource}');
    // every panel but the row headers has a query
    for (const p of d.panels)
      expect({ title: p.title, queries: p.targets.length > 0 }).toEqual({ title: p.title, queries: p.type !== 'row' });
    expect(dashboardExpressions().length).toBeGreaterThanOrEqual(d.panels.filter((p) => p.type !== 'row').length);
  });
});
