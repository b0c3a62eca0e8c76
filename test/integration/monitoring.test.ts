// Acceptance (inventory #2, #3): the alert rules pass `promtool check rules` (the plain file and the
// chart's PrometheusRule as Helm renders it) and `promtool test rules` with a test for every alert; a
// real Prometheus (Debian's package) scrapes the operator and shows the expiry alert firing for a
// short-lived certificate; every PromQL expression of the rules and the dashboard reads only metrics
// the running operator exports.
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as yaml from 'js-yaml';
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { sharedCluster, testNamespace } from '../harness/cluster.ts';
import { REPO_ROOT } from '../harness/control-plane.ts';
import { IssuanceEnv, GRANT_EXAMPLE_COM } from '../harness/identities.ts';
import { freePort, startProcess, stopProc, waitFor, type Proc } from '../harness/processes.ts';
import { ALERTS, metricNames } from '../../src/monitoring/alerts.ts';
import { dashboardExpressions } from '../../src/monitoring/dashboard.ts';
import { rulesYaml } from '../../src/monitoring/render.ts';
import { ValidationMetrics } from '../../src/validation/validation-metrics.ts';

const PROMETHEUS = process.env.MIO_PROMETHEUS_BIN ?? '/usr/bin/prometheus';
const PROMTOOL = process.env.MIO_PROMTOOL_BIN ?? '/usr/bin/promtool';
const RULES = join(REPO_ROOT, 'deploy/prometheus/machine-identity-operator.rules.yaml');

function run(bin: string, args: string[], cwd?: string): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(bin, args, { cwd, timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, out: stdout + stderr }),
    );
  });
}

describe('alert rules with promtool', () => {
  it("the binaries are there (.ci/run installs Debian's prometheus package)", () => {
    expect(existsSync(PROMTOOL)).toBe(true);
    expect(existsSync(PROMETHEUS)).toBe(true);
  });

  it("promtool check rules: the plain file and the chart's PrometheusRule", async () => {
    const plain = await run(PROMTOOL, ['check', 'rules', RULES]);
    expect(plain.out).toContain(`SUCCESS: ${ALERTS.length} rules found`);
    const rendered = execFileSync(
      join(sharedCluster().binDir, 'helm'),
      [
        'template',
        'mio',
        join(REPO_ROOT, 'deploy/helm/machine-identity-operator'),
        '--set',
        'prometheusRule.enabled=true',
        '--set',
        'prometheusRule.expiringDays=30',
        '--show-only',
        'templates/prometheusrule.yaml',
      ],
      {
        encoding: 'utf8',
        env: {
          ...process.env,
          HELM_CACHE_HOME: mkdtempSync(join(tmpdir(), 'h')),
          HELM_CONFIG_HOME: mkdtempSync(join(tmpdir(), 'h')),
          HELM_DATA_HOME: mkdtempSync(join(tmpdir(), 'h')),
        },
      },
    );
    const pr = yaml.load(rendered) as { kind: string; spec: { groups: { rules: { expr: string }[] }[] } };
    expect(pr.kind).toBe('PrometheusRule');
    expect(pr.spec.groups[0]!.rules[0]!.expr).toContain('< 30 * 86400');
    const file = join(mkdtempSync(join(tmpdir(), 'mio-rules-')), 'chart.rules.yaml');
    writeFileSync(file, yaml.dump({ groups: pr.spec.groups }));
    expect((await run(PROMTOOL, ['check', 'rules', file])).out).toContain(`SUCCESS: ${ALERTS.length} rules found`);
  });

  it('promtool test rules: every alert has a test, and they pass', async () => {
    const tests = readFileSync(join(REPO_ROOT, 'deploy/prometheus/tests/alerts.test.yaml'), 'utf8');
    for (const a of ALERTS)
      expect(tests).toContain(`alertname: ${a.alert}\n        exp_alerts:\n          - exp_labels`);
    const r = await run(PROMTOOL, ['test', 'rules', 'tests/alerts.test.yaml'], join(REPO_ROOT, 'deploy/prometheus'));
    expect(r.out).toContain('SUCCESS');
    expect(r.code).toBe(0);
  });
});

interface PromAlert {
  labels: Record<string, string>;
  state: string;
  annotations: Record<string, string>;
}

async function startPrometheus(
  dir: string,
  rulesFile: string,
  target: string,
): Promise<{ proc: Proc; url: string; alerts: () => Promise<PromAlert[]> }> {
  const port = await freePort();
  writeFileSync(
    join(dir, 'prometheus.yml'),
    yaml.dump({
      global: { scrape_interval: '1s', evaluation_interval: '1s' },
      rule_files: [rulesFile],
      scrape_configs: [{ job_name: 'machine-identity-operator', static_configs: [{ targets: [target] }] }],
    }),
  );
  const proc = startProcess(
    'prometheus',
    PROMETHEUS,
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
    ],
    join(dir, 'prometheus.log'),
  );
  const url = `http://127.0.0.1:${port}`;
  await waitFor(
    'prometheus ready',
    async () => (await fetch(`${url}/-/ready`).catch(() => undefined))?.ok,
    30_000,
    200,
  );
  const alerts = async (): Promise<PromAlert[]> =>
    ((await (await fetch(`${url}/api/v1/alerts`)).json()) as { data: { alerts: PromAlert[] } }).data.alerts;
  return { proc, url, alerts };
}

// Acceptance (#16 item 3): the serving alerts fire in a real Prometheus from the metrics the validation
// controller exports (the real ValidationMetrics class behind a /metrics endpoint, fed as the controller
// feeds it), with the stale threshold shortened the way the end-to-end tests shorten it.
describe('the serving alerts in a real Prometheus, from the validation metrics', () => {
  let prom: Awaited<ReturnType<typeof startPrometheus>> | undefined;
  let server: Server | undefined;
  const registry = new Registry();
  const metrics = new ValidationMetrics(registry);
  const endpoint = (address: string, verdict: 'Current' | 'Stale' | 'Expired', staleSinceMs?: number) => ({
    source: 'Service' as const,
    object: 'shop/web',
    address,
    port: 8443,
    sni: 'web.shop.svc',
    verdict,
    ...(staleSinceMs === undefined ? {} : { staleSinceMs }),
  });

  beforeAll(async () => {
    const now = Date.now();
    // stale for 2 s: under the 15 s threshold until the series has grown by itself (no further write)
    metrics.setIdentity(
      'shop/web',
      {
        namespace: 'shop',
        name: 'web',
        ownerTeam: 'storefront',
        endpoints: [endpoint('10.0.0.1', 'Current'), endpoint('10.0.0.2', 'Stale', now - 2_000)],
      },
      now,
    );
    metrics.setIdentity(
      'shop/old',
      {
        namespace: 'shop',
        name: 'old',
        ownerTeam: '',
        endpoints: [{ ...endpoint('10.0.0.3', 'Expired'), object: 'shop/old' }],
      },
      now,
    );
    metrics.setIdentity(
      'shop/fine',
      {
        namespace: 'shop',
        name: 'fine',
        ownerTeam: '',
        endpoints: [{ ...endpoint('10.0.0.4', 'Current'), object: 'shop/fine' }],
      },
      now,
    );
    server = createServer((_req, res) => {
      void registry.metrics().then((text) => res.end(text));
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const dir = mkdtempSync(join(tmpdir(), 'mio-prom-served-'));
    const rules = join(dir, 'rules.yaml');
    writeFileSync(rules, rulesYaml({ SERVING_STALE_AFTER: '15', SERVING_STALE_FOR: '2s' }));
    expect((await run(PROMTOOL, ['check', 'rules', rules])).out).toContain(`SUCCESS: ${ALERTS.length} rules found`);
    prom = await startPrometheus(dir, rules, `127.0.0.1:${(server.address() as AddressInfo).port}`);
  }, 60_000);

  afterAll(async () => {
    if (prom) await stopProc(prom.proc);
    await new Promise((r) => server?.close(r));
  });

  it('Expired fires at once; Stale fires once the stale seconds grow past the threshold; Current never', async () => {
    const p = prom!;
    const expired = await waitFor(
      'MachineIdentityServingExpired firing',
      async () =>
        (await p.alerts()).find((a) => a.labels.alertname === 'MachineIdentityServingExpired' && a.state === 'firing'),
      30_000,
      500,
    );
    expect(expired.labels).toEqual({
      alertname: 'MachineIdentityServingExpired',
      severity: 'critical',
      namespace: 'shop',
      name: 'old', // an empty owner_team is no label in Prometheus
      source: 'Service',
      object: 'shop/old',
    });
    // the stale series grows in Prometheus between scrapes without a write
    const q = async (): Promise<number> => {
      const r = (await (
        await fetch(
          `${p.url}/api/v1/query?query=${encodeURIComponent('machine_identity_endpoint_stale_seconds{address="10.0.0.2"}')}`,
        )
      ).json()) as { data: { result: { value: [number, string] }[] } };
      return Number(r.data.result[0]?.value[1] ?? NaN);
    };
    const first = await waitFor(
      'stale series scraped',
      async () => {
        const v = await q();
        return Number.isNaN(v) ? undefined : v;
      },
      10_000,
      500,
    );
    await new Promise((r) => setTimeout(r, 2_500));
    expect(await q()).toBeGreaterThan(first + 1);
    const stale = await waitFor(
      'MachineIdentityServingStale firing',
      async () =>
        (await p.alerts()).find((a) => a.labels.alertname === 'MachineIdentityServingStale' && a.state === 'firing'),
      60_000,
      500,
    );
    expect(stale.labels).toEqual({
      alertname: 'MachineIdentityServingStale',
      severity: 'warning',
      namespace: 'shop',
      name: 'web',
      owner_team: 'storefront',
      source: 'Service',
      object: 'shop/web',
    });
    expect(stale.annotations.description).toMatch(
      /^MachineIdentity shop\/web \(owner storefront\): an endpoint of Service shop\/web still serves a certificate that was replaced [\d.]+s ago/,
    );
    // the current identity and the current endpoint raise nothing
    const all = await p.alerts();
    expect(all.filter((a) => a.labels.name === 'fine')).toEqual([]);
    expect(all.map((a) => `${a.labels.alertname} ${a.labels.name}`).sort()).toEqual([
      'MachineIdentityServingExpired old',
      'MachineIdentityServingStale web',
    ]);
  }, 120_000);
});

describe('a real Prometheus scraping the operator', () => {
  const env = new IssuanceEnv();
  let prom: Proc | undefined;
  let promUrl = '';
  let ns = '';

  beforeAll(async () => {
    ns = await testNamespace('mon', { team: 'observability' });
    await env.start();
    const ca = env.uniqueName('mon-ca');
    await env.createBinding(ca, {
      ca: { secretRef: { name: ca }, generate: { commonName: 'Monitoring CA' } },
      grants: [GRANT_EXAMPLE_COM],
    });
    await env.bindingReady(ca);
    await env.createIdentity(ns, 'api', {
      secretName: 'api-tls',
      authorityRef: { name: ca },
      dnsNames: ['api.example.com'],
    });
    await env.ready(ns, 'api');
    const p = await startPrometheus(mkdtempSync(join(tmpdir(), 'mio-prom-')), RULES, new URL(env.operator!.url).host);
    prom = p.proc;
    promUrl = p.url;
  }, 120_000);

  afterAll(async () => {
    if (prom) await stopProc(prom);
    await env.stop();
  });

  it('fires the expiry alert for a short-lived certificate', async () => {
    // a 2-minute certificate with 20 seconds left, in a Secret the operator did not write
    const keys = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
    const cert = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: '01',
      name: 'CN=short-lived',
      keys: keys as never,
      notBefore: new Date(Date.now() - 100_000),
      notAfter: new Date(Date.now() + 20_000),
      signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
    });
    await env.core.createNamespacedSecret({
      namespace: ns,
      body: {
        metadata: { name: 'short-lived' },
        data: { 'tls.crt': Buffer.from(cert.toString('pem')).toString('base64') },
      },
    });
    const alert = await waitFor(
      'MachineIdentityCertificateExpired firing',
      async () => {
        const r = (await (await fetch(`${promUrl}/api/v1/alerts`)).json()) as {
          data: { alerts: { labels: Record<string, string>; state: string; annotations: Record<string, string> }[] };
        };
        return r.data.alerts.find(
          (a) =>
            a.labels.alertname === 'MachineIdentityCertificateExpired' &&
            a.labels.name === 'short-lived' &&
            a.state === 'firing',
        );
      },
      90_000,
      1000,
    );
    expect(alert.labels).toMatchObject({
      namespace: ns,
      kind: 'Secret',
      key: 'tls.crt',
      subject: 'CN=short-lived',
      severity: 'critical',
      owner_team: 'observability',
    });
    expect(alert.annotations.description).toMatch(
      new RegExp(
        `^Secret ${ns}/short-lived key tls.crt \\(CN=short-lived\\) expired .* ago; owner observability, managed false\\.$`,
      ),
    );
    // before it expired, the lifetime rule (under a tenth left) was pending for it
    const rules = (await (await fetch(`${promUrl}/api/v1/rules`)).json()) as {
      data: { groups: { rules: { name: string; health: string; lastError?: string }[] }[] };
    };
    const all = rules.data.groups.flatMap((g) => g.rules);
    expect(all).toHaveLength(ALERTS.length);
    for (const r of all)
      expect({ name: r.name, health: r.health, lastError: r.lastError ?? '' }).toEqual({
        name: r.name,
        health: 'ok',
        lastError: '',
      });
  }, 120_000);

  it('rules and dashboard read only metrics the operator exports', async () => {
    const text = await (await fetch(`${env.operator!.url}/metrics`)).text();
    const exported = new Set(
      [...text.matchAll(/^# TYPE (\S+) (\w+)$/gm)].flatMap((m) =>
        m[2] === 'histogram' ? [`${m[1]}_bucket`, `${m[1]}_sum`, `${m[1]}_count`] : [m[1]!],
      ),
    );
    const generatedByPrometheus = new Set(['up']);
    const unknown: string[] = [];
    for (const expr of [...ALERTS.map((a) => a.expr), ...dashboardExpressions()]) {
      for (const name of metricNames(expr))
        if (!exported.has(name) && !generatedByPrometheus.has(name)) unknown.push(`${name} in ${expr}`);
    }
    expect(unknown).toEqual([]);
    expect(exported.has('machine_identity_policy_violations')).toBe(true);
    expect(exported.has('machine_identity_issuance_duration_seconds_bucket')).toBe(true);
  });

  it('the dashboard queries run in Prometheus without errors', async () => {
    for (const expr of dashboardExpressions()) {
      const q = expr.replace(/\$namespace/g, '.*');
      const r = (await (await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(q)}`)).json()) as {
        status: string;
        error?: string;
      };
      expect({ expr, status: r.status, error: r.error }).toEqual({ expr, status: 'success', error: undefined });
    }
  });
});
