// Acceptance (#17 item 4, the fleet view): three local control planes, an operator and a Prometheus each (external
// label cluster=a|b|c), and one Prometheus federating theirs with our alert rules: a certificate expiring in
// cluster b fires the fleet's expiry alert with cluster="b"; the dashboard's queries filtered to one cluster read
// that cluster only; Events say which cluster recorded them; `kubectl mi inventory --all-contexts` over one
// kubeconfig with the three contexts lists all three, and a cluster that is down is reported while the others are
// still listed (exit 4).
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import * as k8s from '@kubernetes/client-node';
import { REPO_ROOT } from '../harness/control-plane.ts';
import { fleetKubeconfig, startMember, stopMember, type FleetMember } from '../harness/fleet.ts';
import { federationConfig, startPrometheus, type PrometheusServer } from '../harness/prometheus.ts';
import { freePort, waitFor } from '../harness/processes.ts';
import { dashboardExpressions } from '../../src/monitoring/dashboard.ts';
import { ALERTS } from '../../src/monitoring/alerts.ts';

const CLUSTERS = ['a', 'b', 'c'] as const;
const RULES = join(REPO_ROOT, 'deploy/prometheus/machine-identity-operator.rules.yaml');
const CLI = join(REPO_ROOT, 'src/cli/main.ts');
const log = (l: string): void => {
  process.stderr.write(`[fleet ${new Date().toISOString().slice(11, 19)}] ${l}\n`);
};

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string; seconds: number }> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { timeout: 120_000 }, (err, stdout, stderr) =>
      resolve({
        code: err ? (typeof err.code === 'number' ? err.code : 1) : 0,
        stdout,
        stderr,
        seconds: (performance.now() - t0) / 1000,
      }),
    );
  });
}

async function certPem(cn: string, notAfter: Date): Promise<string> {
  const keys = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    name: `CN=${cn}`,
    keys: keys as never,
    notBefore: new Date(Date.now() - 100_000),
    notAfter,
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
  });
  return cert.toString('pem');
}

const t0 = performance.now();
const members: FleetMember[] = [];
let federator: PrometheusServer | undefined;
let kubeconfig = '';

beforeAll(async () => {
  // the three clusters start together: on 2 cores that is about as fast as one after another, and shorter overall
  const started = await Promise.allSettled(CLUSTERS.map((name) => startMember(name, log)));
  for (const s of started) if (s.status === 'fulfilled') members.push(s.value);
  const failed = started.find((s) => s.status === 'rejected');
  if (failed) throw failed.reason;
  for (const m of members) log(`cluster ${m.name} up: ${JSON.stringify(m.timings)} (seconds)`);
  federator = await startPrometheus(
    'prometheus-fleet',
    mkdtempSync(join(tmpdir(), 'mio-fleet-prom-global-')),
    federationConfig(
      members.map((m) => m.prometheus.address),
      RULES,
    ),
  );
  // the same Secret name in every cluster (a certificate each), and namespaces owned by a team
  for (const m of members) {
    await m.core.createNamespace({ body: { metadata: { name: 'shop', labels: { team: `team-${m.name}` } } } });
    const pem = await certPem(`web.${m.name}`, new Date(Date.now() + 90 * 86_400_000));
    await m.core.createNamespacedSecret({
      namespace: 'shop',
      body: { metadata: { name: 'web-tls' }, data: { 'tls.crt': Buffer.from(pem).toString('base64') } },
    });
  }
  kubeconfig = fleetKubeconfig(members, { d: `https://127.0.0.1:${await freePort()}` });
  log(`fleet up in ${((performance.now() - t0) / 1000).toFixed(1)}s`);
}, 300_000);

afterAll(async () => {
  await federator?.stop();
  await Promise.all(members.map((m) => stopMember(m)));
  log(`fleet test took ${((performance.now() - t0) / 1000).toFixed(1)}s in all`);
}, 120_000);

describe('one Prometheus for the fleet', () => {
  it('federates every cluster with its cluster label', async () => {
    const f = federator!;
    const clusters = await waitFor(
      'every cluster federated',
      async () => {
        const r = await f.query('count by (cluster) (machine_identity_inventory_certificates)');
        const seen = r.map((s) => s.metric.cluster).sort();
        return seen.join() === CLUSTERS.join() ? seen : undefined;
      },
      90_000,
      1000,
    );
    expect(clusters).toEqual([...CLUSTERS]);
    // every rule evaluates on the fleet's series (a many-to-many match would be an error here)
    const rules = (await (await fetch(`${f.url}/api/v1/rules`)).json()) as {
      data: { groups: { rules: { name: string; health: string; lastError?: string }[] }[] };
    };
    const all = rules.data.groups.flatMap((g) => g.rules);
    expect(all).toHaveLength(ALERTS.length);
    expect(all.filter((r) => r.health !== 'ok' || r.lastError)).toEqual([]);
  }, 120_000);

  it('fires the expiry alert for a certificate in cluster b, with cluster="b"; b\'s Events name b', async () => {
    const b = members.find((m) => m.name === 'b')!;
    const f = federator!;
    const t = performance.now();
    const pem = await certPem('short-lived', new Date(Date.now() + 8_000));
    await b.core.createNamespacedSecret({
      namespace: 'shop',
      body: { metadata: { name: 'short-lived' }, data: { 'tls.crt': Buffer.from(pem).toString('base64') } },
    });
    const alert = await waitFor(
      'MachineIdentityCertificateExpired firing on the federating Prometheus',
      async () =>
        (await f.alerts()).find(
          (a) =>
            a.labels.alertname === 'MachineIdentityCertificateExpired' &&
            a.labels.name === 'short-lived' &&
            a.state === 'firing',
        ),
      90_000,
      500,
    );
    log(`expiry alert firing ${((performance.now() - t) / 1000).toFixed(1)}s after the Secret was created`);
    expect(alert.labels).toMatchObject({
      cluster: 'b',
      namespace: 'shop',
      kind: 'Secret',
      key: 'tls.crt',
      subject: 'CN=short-lived',
      severity: 'critical',
      owner_team: 'team-b',
    });
    expect(alert.annotations.description).toMatch(
      /^\[cluster b\] Secret shop\/short-lived key tls\.crt \(CN=short-lived\) expired .* ago; owner team-b, managed false\.$/,
    );
    // only b's certificate expired: no expiry alert for a or c
    const expiry = (await f.alerts()).filter((a) => a.labels.alertname === 'MachineIdentityCertificateExpired');
    expect(expiry.map((a) => `${a.labels.cluster}/${a.labels.name}`)).toEqual(['b/short-lived']);

    // an Event the operator in b records (an identity whose authority does not exist) names b
    await b.core.createNamespace({ body: { metadata: { name: 'events' } } });
    const co = b.plane.kubeConfig().makeApiClient(k8s.CustomObjectsApi);
    await co.createNamespacedCustomObject({
      group: 'machineidentity.io',
      version: 'v1alpha1',
      plural: 'machineidentities',
      namespace: 'events',
      body: {
        apiVersion: 'machineidentity.io/v1alpha1',
        kind: 'MachineIdentity',
        metadata: { name: 'orphan' },
        spec: { secretName: 'orphan-tls', authorityRef: { name: 'no-such-ca' }, dnsNames: ['orphan.example.com'] },
      },
    });
    const ev = await waitFor(
      'an Event about events/orphan',
      async () => (await b.core.listNamespacedEvent({ namespace: 'events' })).items[0],
      60_000,
      500,
    );
    expect(ev.metadata?.annotations?.['machineidentity.io/cluster']).toBe('b');
  }, 150_000);

  it("the dashboard's queries with cluster b selected read b's series only, and run without errors", async () => {
    const f = federator!;
    const forCluster = (expr: string, cluster: string): string =>
      expr.replace(/\$cluster/g, cluster).replace(/\$namespace/g, '.*');
    for (const expr of dashboardExpressions()) {
      expect(expr).toContain('cluster=~"$cluster"');
      for (const r of await f.query(forCluster(expr, 'b')))
        if (r.metric.cluster !== undefined) expect({ expr, cluster: r.metric.cluster }).toEqual({ expr, cluster: 'b' });
    }
    const expired = dashboardExpressions().find((e) => e.includes('time() <= 0'))!;
    expect((await f.query(forCluster(expired, 'b')))[0]?.value).toBe(1);
    expect((await f.query(forCluster(expired, 'a')))[0]?.value).toBe(0);
    expect((await f.query(forCluster(expired, '.*')))[0]?.value).toBe(1);
  }, 60_000);
});

describe('kubectl mi inventory across the fleet', () => {
  interface Out {
    clusters: { name: string; status: string; certificates: number; error?: string }[];
    certificates: { cluster: string; namespace: string; name: string }[];
  }

  it('--all-contexts minus the one that is down: the three clusters, merged with their cluster', async () => {
    const r = await cli([
      'inventory',
      '--kubeconfig',
      kubeconfig,
      '--context',
      'a',
      '--context',
      'b',
      '--context',
      'c',
      '-n',
      'shop',
      '-o',
      'json',
    ]);
    log(`inventory of 3 clusters: ${r.seconds.toFixed(1)}s`);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    const out = JSON.parse(r.stdout) as Out;
    expect(out.clusters.map((c) => `${c.name}:${c.status}`)).toEqual(['a:ok', 'b:ok', 'c:ok']);
    const rows = out.certificates.map((c) => `${c.cluster}/${c.namespace}/${c.name}`);
    // soonest to expire first: b's expired one, then the three 90-day ones
    expect(rows[0]).toBe('b/shop/short-lived');
    expect(rows.slice(1).sort()).toEqual(['a/shop/web-tls', 'b/shop/web-tls', 'c/shop/web-tls']);
    const table = await cli(['inventory', '--kubeconfig', kubeconfig, '--all-contexts', '-A']);
    expect(table.code).toBe(4); // d is down
    expect(table.stdout.split('\n')[0]).toMatch(/^CLUSTER\s+NAMESPACE\s+KIND/);
    for (const c of CLUSTERS) expect(table.stdout).toMatch(new RegExp(`^${c}\\s+shop\\s+Secret\\s+web-tls\\s`, 'm'));
  }, 150_000);

  it('a cluster that does not answer is reported, the others still listed: exit 4', async () => {
    const r = await cli([
      'inventory',
      '--kubeconfig',
      kubeconfig,
      '--context',
      'a',
      '--context',
      'd',
      '-n',
      'shop',
      '-o',
      'csv',
    ]);
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/^error: cluster d could not be read: .*ECONNREFUSED/m);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]?.startsWith('cluster,namespace,kind,name,')).toBe(true);
    expect(lines.slice(1).every((l) => l.startsWith('a,'))).toBe(true);
    expect(lines.length).toBeGreaterThan(1);
  }, 60_000);
});
