// The Helm chart against the real helm binary and the shared control plane: lint (default and
// every-option values, --strict), render, schema rejections, install until the Deployment is
// Available on the kwok node, RBAC as the API server judges it, upgrade, uninstall keeping CRDs.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as yaml from 'js-yaml';
import * as k8s from '@kubernetes/client-node';
import { sharedCluster, testNamespace } from '../harness/cluster.ts';
import { CHART, KUBE_VERSION } from '../harness/helm.ts';
import { waitFor } from '../harness/processes.ts';

const ALL_VALUES = join(CHART, 'ci/all-values.yaml');
const GROUP = 'machineidentity.io';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}
interface Obj {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [k: string]: unknown;
}

// helm keeps its cache/config/data in a private temp dir, never in the user's home.
const helmHome = mkdtempSync(join(tmpdir(), 'mio-helm-'));

function helmBin(): string {
  const bin = join(sharedCluster().binDir, 'helm');
  if (!existsSync(bin)) throw new Error(`helm not found at ${bin} (npm run bins builds it)`);
  return bin;
}

function helm(...args: string[]): Promise<Run> {
  const env = {
    ...process.env,
    HELM_CACHE_HOME: join(helmHome, 'cache'),
    HELM_CONFIG_HOME: join(helmHome, 'config'),
    HELM_DATA_HOME: join(helmHome, 'data'),
    KUBECONFIG: sharedCluster().kubeconfigPath,
  };
  return new Promise((resolve) => {
    execFile(helmBin(), args, { env, maxBuffer: 64 << 20, timeout: 170_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

async function helmOk(...args: string[]): Promise<string> {
  const r = await helm(...args);
  if (r.code !== 0) throw new Error(`helm ${args.join(' ')} failed (${r.code}):\n${r.stderr}\n${r.stdout}`);
  return r.stdout;
}

async function render(...args: string[]): Promise<Obj[]> {
  const out = await helmOk(
    'template',
    'mio',
    CHART,
    '--namespace',
    'mio-system',
    '--kube-version',
    KUBE_VERSION,
    ...args,
  );
  return yaml.loadAll(out).filter((d): d is Obj => !!d && typeof d === 'object');
}

const find = (objs: Obj[], kind: string, pred: (o: Obj) => boolean = () => true): Obj[] =>
  objs.filter((o) => o.kind === kind && pred(o));

function one(objs: Obj[], kind: string, pred?: (o: Obj) => boolean): Obj {
  const found = find(objs, kind, pred);
  if (found.length !== 1) throw new Error(`expected one ${kind}, found ${found.length}`);
  return found[0]!;
}

function valuesFile(name: string, content: string): string {
  const f = join(helmHome, name);
  writeFileSync(f, content);
  return f;
}

// Rendered manifests are checked field by field with toMatchObject; a loose type keeps that readable.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Loose = any;
const spec = (o: Obj): Loose => (o as Loose).spec;
const podSpec = (d: Obj): Loose => spec(d).template.spec;
const container = (d: Obj): Loose => podSpec(d).containers[0];

afterAll(() => rmSync(helmHome, { recursive: true, force: true }));

describe('helm chart: lint', () => {
  it('passes strict lint with default values', async () => {
    const r = await helm('lint', '--strict', CHART);
    expect(r.stderr + r.stdout).toContain('0 chart(s) failed');
    expect(r.code).toBe(0);
  });

  it('passes strict lint with a values file that sets every option', async () => {
    const r = await helm('lint', '--strict', CHART, '-f', ALL_VALUES);
    expect(r.stderr + r.stdout).toContain('0 chart(s) failed');
    expect(r.code).toBe(0);
  });
});

describe('helm chart: values.schema.json', () => {
  const bad: [string, string, RegExp][] = [
    ['replicas as a string', 'replicas: two\n', /replicas/],
    ['an unknown top-level key', 'replica: 2\n', /replica/],
    ['a policy action outside Allow|Deny', 'policy: { defaultAction: Maybe }\n', /defaultAction/],
    ['a boolean as a string', 'crds: { install: "yes" }\n', /install/],
    ['a malformed lease duration', 'leaderElection: { leaseDuration: 15 seconds }\n', /leaseDuration/],
    ['an unknown nested key', 'image: { repo: x }\n', /repo/],
    ['workers out of range', 'workers: 0\n', /workers/],
    ['a rollout scope outside none|cluster|namespaces', 'rbac: { rollout: { scope: all } }\n', /scope/],
  ];

  it.each(bad)('helm lint rejects %s', async (name, content, mentions) => {
    const r = await helm('lint', CHART, '-f', valuesFile(`bad-lint-${name.replace(/\W+/g, '-')}.yaml`, content));
    expect(r.code).not.toBe(0);
    expect(r.stderr + r.stdout).toMatch(mentions);
  });

  it.each(bad)('helm template rejects %s', async (name, content, mentions) => {
    const r = await helm(
      'template',
      'mio',
      CHART,
      '--kube-version',
      KUBE_VERSION,
      '-f',
      valuesFile(`bad-tpl-${name.replace(/\W+/g, '-')}.yaml`, content),
    );
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/schema/i);
    expect(r.stderr).toMatch(mentions);
  });

  it('rejects --set replicas=two on the command line too', async () => {
    const r = await helm('template', 'mio', CHART, '--kube-version', KUBE_VERSION, '--set-string', 'replicas=two');
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/replicas/);
  });

  it('refuses several replicas without leader election', async () => {
    const r = await helm(
      'template',
      'mio',
      CHART,
      '--kube-version',
      KUBE_VERSION,
      '--set',
      'replicas=3',
      '--set',
      'leaderElection.enabled=false',
    );
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('requires leaderElection.enabled=true');
  });
});

describe('helm chart: rendering', () => {
  let objs: Obj[];
  beforeAll(async () => {
    objs = await render();
  });

  it('renders a hardened Deployment with the default configuration', () => {
    const d = one(objs, 'Deployment');
    const ps = podSpec(d);
    const c = container(d);
    expect(spec(d).replicas).toBe(2);
    expect(ps.automountServiceAccountToken).toBe(true);
    expect(ps.securityContext).toMatchObject({
      runAsNonRoot: true,
      runAsUser: 65532,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(c.securityContext).toMatchObject({
      runAsNonRoot: true,
      runAsUser: 65532,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(c.image).toBe('ghcr.io/machine-identity-operator/machine-identity-operator:0.1.0');
    expect(c.resources.requests).toMatchObject({ cpu: expect.any(String), memory: expect.any(String) });
    expect(c.resources.limits).toMatchObject({ memory: expect.any(String) });
    expect(c.ports).toEqual([
      { name: 'http', containerPort: 8080, protocol: 'TCP' },
      { name: 'webhook', containerPort: 9443, protocol: 'TCP' },
      { name: 'acme-http01', containerPort: 8089, protocol: 'TCP' },
    ]);
    expect(c.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'http' });
    expect(c.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'http' });
    expect(c.volumeMounts).toContainEqual({ name: 'tmp', mountPath: '/tmp' });
    expect(ps.volumes).toContainEqual(expect.objectContaining({ name: 'tmp', emptyDir: expect.any(Object) }));
    expect(ps.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution).toHaveLength(1);
    expect(ps.topologySpreadConstraints[0]).toMatchObject({
      whenUnsatisfiable: 'ScheduleAnyway',
      labelSelector: { matchLabels: expect.any(Object) },
    });
    expect(ps.priorityClassName).toBeUndefined();
  });

  it('configures the operator through the documented environment variables', () => {
    const env = Object.fromEntries(
      (container(one(objs, 'Deployment')).env as { name: string; value?: string; valueFrom?: unknown }[]).map((e) => [
        e.name,
        e.value ?? e.valueFrom,
      ]),
    );
    expect(env).toEqual({
      MIO_NAMESPACE: { fieldRef: { fieldPath: 'metadata.namespace' } },
      POD_NAME: { fieldRef: { fieldPath: 'metadata.name' } },
      MIO_HTTP_ADDR: '0.0.0.0:8080',
      MIO_LEADER_ELECT: 'true',
      MIO_LEASE_NAME: 'machine-identity-operator',
      MIO_LEASE_DURATION: '15s',
      MIO_RENEW_DEADLINE: '10s',
      MIO_RETRY_PERIOD: '2s',
      MIO_CLUSTER_DOMAIN: 'cluster.local',
      MIO_CLUSTER_NAME: '', // the chart's clusterName: none by default (docs/fleet.md)
      MIO_LOG_LEVEL: 'info',
      MIO_POLICY_DEFAULT_ACTION: 'Allow',
      MIO_WORKERS: '16',
      MIO_DURABLE_KEYS: 'false',
      MIO_REISSUE_RATE: '20',
      MIO_ACME_HTTP01_ADDR: '0.0.0.0:8089',
      MIO_ACME_HTTP01_SERVICE: 'mio-machine-identity-operator-acme-http01',
      MIO_POD_IP: { fieldRef: { fieldPath: 'status.podIP' } },
      MIO_SIGNER: 'true',
      MIO_INVENTORY: 'true',
      MIO_OWNER_KEYS: 'machineidentity.io/owner,owner,team',
      MIO_VALIDATION: 'true',
      MIO_VALIDATION_INTERVAL: '1h',
      MIO_VALIDATION_STALE_GRACE: '2m',
      MIO_VALIDATION_CONCURRENCY: '16',
      MIO_VALIDATION_TIMEOUT: '5s',
      MIO_VALIDATION_ALLOWED_CIDRS: '',
      MIO_VALIDATION_REISSUE_LOOP_THRESHOLD: '6',
      MIO_WEBHOOK_ADDR: '0.0.0.0:9443',
      MIO_WEBHOOK_SECRET: 'mio-machine-identity-operator-webhook-tls',
      MIO_WEBHOOK_HOSTS:
        'mio-machine-identity-operator-webhook.mio-system.svc,mio-machine-identity-operator-webhook.mio-system.svc.cluster.local,' +
        'mio-machine-identity-operator-webhook.mio-system,mio-machine-identity-operator-webhook',
      MIO_WEBHOOK_CONFIG_NAME: 'mio-machine-identity-operator',
      MIO_PARSE_WORKERS: '1',
      MIO_PARSE_WORKER_HEAP_MB: '64',
      MIO_PARSE_TIMEOUT: '5s',
      MIO_PARSE_MAX_KDF_ITERATIONS: '1000000',
      NODE_OPTIONS: '--max-old-space-size=192 --max-semi-space-size=16',
      MALLOC_ARENA_MAX: '2',
    });
  });

  it('puts the standard labels on every object', () => {
    for (const o of objs.filter((x) => x.kind !== 'CustomResourceDefinition')) {
      expect(o.metadata.labels).toMatchObject({
        'app.kubernetes.io/name': 'machine-identity-operator',
        'app.kubernetes.io/instance': 'mio',
        'app.kubernetes.io/managed-by': 'Helm',
        'helm.sh/chart': 'machine-identity-operator-0.1.0',
        'app.kubernetes.io/version': '0.1.0',
      });
    }
  });

  it('grants no wildcard and keeps leases to the release namespace', () => {
    const roles = [...find(objs, 'ClusterRole'), ...find(objs, 'Role')];
    expect(roles.map((r) => `${r.kind}/${r.metadata.name}`).sort()).toEqual([
      'ClusterRole/mio-machine-identity-operator',
      'ClusterRole/mio-machine-identity-operator-edit',
      'ClusterRole/mio-machine-identity-operator-secrets',
      'ClusterRole/mio-machine-identity-operator-view',
      'Role/mio-machine-identity-operator-acme-http01',
      'Role/mio-machine-identity-operator-leader-election',
    ]);
    for (const r of roles) {
      for (const rule of (r as unknown as { rules: { apiGroups: string[]; resources: string[]; verbs: string[] }[] })
        .rules) {
        expect([...rule.apiGroups, ...rule.resources, ...rule.verbs]).not.toContain('*');
      }
    }
    const role = one(objs, 'Role', (o) => o.metadata.name.endsWith('-leader-election'));
    expect(role.metadata.namespace).toBe('mio-system');
    expect((role as unknown as { rules: unknown[] }).rules).toEqual([
      {
        apiGroups: ['coordination.k8s.io'],
        resources: ['leases'],
        verbs: ['get', 'list', 'watch', 'create', 'update'],
      },
    ]);
    // ACME HTTP-01 routing: its Service, EndpointSlice and Ingresses, in the release namespace only
    const acme = one(objs, 'Role', (o) => o.metadata.name.endsWith('-acme-http01'));
    expect(acme.metadata.namespace).toBe('mio-system');
    expect(JSON.stringify(acme)).not.toContain('secrets');
    expect(JSON.stringify(find(objs, 'ClusterRole'))).not.toContain('leases');
  });

  it('labels the user roles for aggregation into admin/edit and view', () => {
    expect(one(objs, 'ClusterRole', (o) => o.metadata.name.endsWith('-edit')).metadata.labels).toMatchObject({
      'rbac.authorization.k8s.io/aggregate-to-edit': 'true',
      'rbac.authorization.k8s.io/aggregate-to-admin': 'true',
    });
    expect(one(objs, 'ClusterRole', (o) => o.metadata.name.endsWith('-view')).metadata.labels).toMatchObject({
      'rbac.authorization.k8s.io/aggregate-to-view': 'true',
    });
  });

  it('exposes metrics on a ClusterIP Service, with a PDB and no ServiceMonitor by default', () => {
    const svc = one(objs, 'Service', (o) => o.metadata.name.endsWith('-metrics'));
    expect(spec(svc)).toMatchObject({
      type: 'ClusterIP',
      ports: [{ name: 'http-metrics', port: 8080, targetPort: 'http' }],
    });
    expect(spec(one(objs, 'PodDisruptionBudget')).minAvailable).toBe(1);
    expect(find(objs, 'ServiceMonitor')).toHaveLength(0);
  });

  it('registers the validating webhook without a caBundle, failurePolicy Fail by default, policies never blocked', async () => {
    const vwc = one(objs, 'ValidatingWebhookConfiguration') as unknown as {
      metadata: { name: string };
      webhooks: {
        name: string;
        failurePolicy: string;
        timeoutSeconds: number;
        sideEffects: string;
        namespaceSelector?: unknown;
        rules: { resources: string[]; operations: string[] }[];
        clientConfig: { caBundle?: string; service: { name: string; path: string; port: number } };
      }[];
    };
    expect(vwc.metadata.name).toBe('mio-machine-identity-operator');
    expect(vwc.webhooks.map((w) => [w.name, w.failurePolicy, w.rules[0]!.resources[0]])).toEqual([
      ['machineidentities.machineidentity.io', 'Fail', 'machineidentities'],
      ['issuancepolicies.machineidentity.io', 'Ignore', 'issuancepolicies'],
    ]);
    for (const w of vwc.webhooks) {
      expect(w.clientConfig.caBundle).toBeUndefined();
      expect(w.clientConfig.service).toMatchObject({
        name: 'mio-machine-identity-operator-webhook',
        path: '/validate',
        port: 443,
      });
      expect(w.sideEffects).toBe('None');
      expect(w.rules[0]!.operations).toEqual(['CREATE', 'UPDATE']);
    }
    expect(spec(one(objs, 'Service', (o) => o.metadata.name.endsWith('-webhook')))).toMatchObject({
      ports: [{ port: 443, targetPort: 'webhook' }],
    });
    const ignore = await render('--set', 'webhook.failurePolicy=Ignore', '--set', 'webhook.timeoutSeconds=10');
    expect(
      (
        one(ignore, 'ValidatingWebhookConfiguration') as unknown as {
          webhooks: { failurePolicy: string; timeoutSeconds: number }[];
        }
      ).webhooks[0],
    ).toMatchObject({ failurePolicy: 'Ignore', timeoutSeconds: 10 });
    const off = await render('--set', 'webhook.enabled=false');
    expect(find(off, 'ValidatingWebhookConfiguration')).toHaveLength(0);
    expect(container(one(off, 'Deployment')).env).toContainEqual({ name: 'MIO_WEBHOOK_ADDR', value: 'off' });
  });

  it('renders the three CRDs, annotated to survive helm uninstall', () => {
    const crds = find(objs, 'CustomResourceDefinition');
    expect(crds.map((c) => c.metadata.name).sort()).toEqual([
      `certificateauthoritybindings.${GROUP}`,
      `issuancepolicies.${GROUP}`,
      `machineidentities.${GROUP}`,
    ]);
    for (const c of crds) expect(c.metadata.annotations?.['helm.sh/resource-policy']).toBe('keep');
  });

  it('leaves the CRDs out with crds.install=false and drops the keep annotation with crds.keep=false', async () => {
    expect(find(await render('--set', 'crds.install=false'), 'CustomResourceDefinition')).toHaveLength(0);
    const unkept = find(await render('--set', 'crds.keep=false'), 'CustomResourceDefinition');
    expect(unkept).toHaveLength(3);
    for (const c of unkept) expect(c.metadata.annotations?.['helm.sh/resource-policy']).toBeUndefined();
  });

  it('renders every option of the all-values file', async () => {
    const all = await render('-f', ALL_VALUES);
    const d = one(all, 'Deployment');
    const c = container(d);
    expect(d.metadata.name).toBe('mio-all');
    expect(c.image).toBe(
      'registry.example.com/platform/machine-identity-operator@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef',
    );
    expect(c.env).toContainEqual({ name: 'MIO_POLICY_DEFAULT_ACTION', value: 'Deny' });
    expect(c.env).toContainEqual({ name: 'MIO_HTTP_ADDR', value: '0.0.0.0:9090' });
    expect(c.env).toContainEqual({ name: 'MIO_WEBHOOK_ADDR', value: '0.0.0.0:10443' });
    for (const [name, value] of [
      ['MIO_VALIDATION_INTERVAL', '30m'],
      ['MIO_VALIDATION_STALE_GRACE', '3m'],
      ['MIO_VALIDATION_CONCURRENCY', '32'],
      ['MIO_VALIDATION_TIMEOUT', '3s'],
      ['MIO_VALIDATION_ALLOWED_CIDRS', '10.96.0.0/12,fd00:10:96::/112'],
      ['MIO_VALIDATION_REISSUE_LOOP_THRESHOLD', '10'],
    ])
      expect(c.env).toContainEqual({ name, value });
    expect(
      (
        one(all, 'ValidatingWebhookConfiguration') as unknown as {
          webhooks: { failurePolicy: string; namespaceSelector: unknown }[];
        }
      ).webhooks[0],
    ).toMatchObject({
      failurePolicy: 'Ignore',
      namespaceSelector: {
        matchExpressions: [{ key: 'machineidentity.io/admission', operator: 'NotIn', values: ['off'] }],
      },
    });
    expect(c.env).toContainEqual({ name: 'NODE_OPTIONS', value: '--max-old-space-size=384' });
    expect(c.env).toContainEqual({ name: 'NODE_OPTIONS', value: '--max-old-space-size=256 --max-semi-space-size=8' }); // heapLimitMB; extraEnv's comes later and wins
    expect(c.env).toContainEqual({ name: 'MALLOC_ARENA_MAX', value: '4' });
    expect(podSpec(d).priorityClassName).toBe('system-cluster-critical');
    expect(podSpec(d).imagePullSecrets).toEqual([{ name: 'regcred' }]);
    expect(podSpec(d).tolerations).toHaveLength(1);
    expect(podSpec(d).affinity.nodeAffinity).toBeDefined();
    expect(one(all, 'ServiceMonitor').metadata.namespace).toBe('monitoring');
    expect(spec(one(all, 'PodDisruptionBudget')).minAvailable).toBe(2);
    expect(one(all, 'ServiceAccount').metadata.name).toBe('mio-operator');
    for (const crd of find(all, 'CustomResourceDefinition'))
      expect(crd.metadata.annotations?.['helm.sh/resource-policy']).toBeUndefined();
  });

  it('ships the Grafana dashboard ConfigMap for the sidecar, and the PrometheusRule when asked', async () => {
    const cm = one(objs, 'ConfigMap', (o) => o.metadata.name.endsWith('-dashboard')) as unknown as {
      metadata: { labels: Record<string, string> };
      data: Record<string, string>;
    };
    expect(cm.metadata.labels.grafana_dashboard).toBe('1');
    expect(JSON.parse(cm.data['machine-identity-operator.json']!)).toMatchObject({ uid: 'machine-identity-operator' });
    expect(find(objs, 'PrometheusRule')).toHaveLength(0);
    const all = await render('-f', ALL_VALUES);
    const pr = one(all, 'PrometheusRule') as unknown as {
      metadata: { namespace: string; labels: Record<string, string> };
      spec: {
        groups: { rules: { alert: string; expr: string; for?: string; annotations: Record<string, string> }[] }[];
      };
    };
    expect(pr.metadata).toMatchObject({ namespace: 'monitoring', labels: { release: 'kube-prometheus-stack' } });
    const rules = pr.spec.groups[0]!.rules;
    expect(rules.find((r) => r.alert === 'MachineIdentityCertificateExpiringSoon')!.expr).toContain('< 21 * 86400');
    expect(rules.find((r) => r.alert === 'MachineIdentityCertificateLifetimeLow')!.expr).toContain('< 0.2 and');
    expect(rules.find((r) => r.alert === 'MachineIdentityNotReady')!.for).toBe('30m');
    const stale = rules.find((r) => r.alert === 'MachineIdentityServingStale')!;
    expect(stale.expr).toMatch(/\(machine_identity_endpoint_stale_seconds\)\) > 600$/);
    expect(stale.for).toBe('5m');
    expect(rules.find((r) => r.alert === 'MachineIdentityOperatorDown')!.expr).toBe(
      'absent(up{job="mio-metrics"} == 1)',
    );
    expect(rules[0]!.annotations.description).toContain('{{ $labels.namespace }}');
    expect(one(all, 'ConfigMap', (o) => o.metadata.name.endsWith('-dashboard')).metadata.annotations).toEqual({
      grafana_folder: 'Security',
    });
  });

  it('renders no PodDisruptionBudget for a single replica', async () => {
    expect(find(await render('--set', 'replicas=1'), 'PodDisruptionBudget')).toHaveLength(0);
  });
});

describe('helm chart: install into the cluster', () => {
  let ns: string;
  let release: string;
  let installed = false;
  let kc: k8s.KubeConfig;
  let crdsBefore: string[];
  const ourCrds = async (): Promise<string[]> =>
    (await kc.makeApiClient(k8s.ApiextensionsV1Api).listCustomResourceDefinition()).items
      .map((c) => c.metadata!.name!)
      .filter((n) => n.endsWith(`.${GROUP}`))
      .sort();

  beforeAll(async () => {
    kc = sharedCluster().kubeConfig();
    ns = await testNamespace('helm');
    release = ns; // cluster-scoped RBAC names derive from it, so each run gets its own
    crdsBefore = await ourCrds();
  });

  afterAll(async () => {
    if (installed)
      await helm('uninstall', release, '--namespace', ns, '--kubeconfig', sharedCluster().kubeconfigPath, '--wait');
    await kc
      .makeApiClient(k8s.CoreV1Api)
      .deleteNamespace({ name: ns })
      .catch(() => undefined);
  });

  const fullname = (): string => `${release}-machine-identity-operator`;

  it('installs and the operator Deployment becomes Available on the kwok node', async () => {
    // The CRDs are already in the cluster (global setup, server-side applied by another field
    // manager): Helm would refuse to adopt them, so this release leaves them out.
    await helmOk(
      'install',
      release,
      CHART,
      '--namespace',
      ns,
      '--kubeconfig',
      sharedCluster().kubeconfigPath,
      '--set',
      'crds.install=false',
      '--set',
      'image.repository=example.invalid/machine-identity-operator',
      // nothing answers on kwok: confine the (failurePolicy Fail) webhook to this namespace so other tests are unaffected
      '--set-json',
      `webhook.namespaceSelector={"matchLabels":{"kubernetes.io/metadata.name":"${ns}"}}`,
      '--wait',
      '--timeout',
      '150s',
    );
    installed = true;
    const apps = kc.makeApiClient(k8s.AppsV1Api);
    const d = await waitFor(
      'operator Deployment Available',
      async () => {
        const dep = await apps.readNamespacedDeployment({ name: fullname(), namespace: ns });
        const available = dep.status?.conditions?.some((c) => c.type === 'Available' && c.status === 'True');
        return available && dep.status?.readyReplicas === 2 ? dep : undefined;
      },
      120_000,
      500,
    );
    expect(d.spec?.template.spec?.containers[0]?.image).toBe('example.invalid/machine-identity-operator:0.1.0');
    const pods = await kc.makeApiClient(k8s.CoreV1Api).listNamespacedPod({
      namespace: ns,
      labelSelector: `app.kubernetes.io/instance=${release},app.kubernetes.io/component=operator`,
    });
    expect(pods.items).toHaveLength(2);
    for (const p of pods.items) expect(p.spec?.nodeName).toBe('kwok-node-0');
    const status = await helmOk('status', release, '--namespace', ns, '--kubeconfig', sharedCluster().kubeconfigPath);
    expect(status).toContain('STATUS: deployed');
    // the objects the API server accepted
    await kc.makeApiClient(k8s.PolicyV1Api).readNamespacedPodDisruptionBudget({ name: fullname(), namespace: ns });
    await kc.makeApiClient(k8s.CoreV1Api).readNamespacedService({ name: `${fullname()}-metrics`, namespace: ns });
    await kc.makeApiClient(k8s.RbacAuthorizationV1Api).readClusterRole({ name: `${fullname()}-view` });
  });

  describe('the operator ServiceAccount, as the API server authorizes it', () => {
    type Attrs = k8s.V1ResourceAttributes;
    const can = async (attrs: Attrs): Promise<boolean> => {
      const authz = kc.makeApiClient(k8s.AuthorizationV1Api);
      const r = await authz.createSubjectAccessReview({
        body: {
          apiVersion: 'authorization.k8s.io/v1',
          kind: 'SubjectAccessReview',
          spec: {
            user: `system:serviceaccount:${ns}:${fullname()}`,
            groups: ['system:serviceaccounts', `system:serviceaccounts:${ns}`, 'system:authenticated'],
            resourceAttributes: attrs,
          },
        },
      });
      return r.status?.allowed === true;
    };
    const allowed: [string, Attrs][] = [
      [
        'patch machineidentities/status',
        { group: GROUP, resource: 'machineidentities', subresource: 'status', verb: 'patch', namespace: 'payments' },
      ],
      [
        'update issuancepolicies/status',
        { group: GROUP, resource: 'issuancepolicies', subresource: 'status', verb: 'update' },
      ],
      ['watch certificateauthoritybindings', { group: GROUP, resource: 'certificateauthoritybindings', verb: 'watch' }],
      ['create secrets', { group: '', resource: 'secrets', verb: 'create', namespace: 'payments' }],
      ['list secrets cluster-wide', { group: '', resource: 'secrets', verb: 'list' }],
      [
        'create events.k8s.io events',
        { group: 'events.k8s.io', resource: 'events', verb: 'create', namespace: 'payments' },
      ],
      [
        'update its lease in the release namespace',
        { group: 'coordination.k8s.io', resource: 'leases', verb: 'update' },
      ],
      [
        'patch machineidentities (its revoke-on-delete finalizer)',
        { group: GROUP, resource: 'machineidentities', verb: 'patch', namespace: 'payments' },
      ],
      ['list pods (inventory: where certificates are mounted)', { group: '', resource: 'pods', verb: 'list' }],
      ['watch ingresses', { group: 'networking.k8s.io', resource: 'ingresses', verb: 'watch' }],
      [
        'watch services (validation: where certificates are served)',
        { group: '', resource: 'services', verb: 'watch' },
      ],
      [
        'list endpointslices cluster-wide (validation: the addresses to probe)',
        { group: 'discovery.k8s.io', resource: 'endpointslices', verb: 'list' },
      ],
      [
        'watch ingressclasses (validation: the controller Service)',
        { group: 'networking.k8s.io', resource: 'ingressclasses', verb: 'watch' },
      ],
      [
        'watch gatewayclasses (validation: the controller Service)',
        { group: 'gateway.networking.k8s.io', resource: 'gatewayclasses', verb: 'watch' },
      ],
      ['watch apiservices (caBundles)', { group: 'apiregistration.k8s.io', resource: 'apiservices', verb: 'watch' }],
      [
        'list customresourcedefinitions (conversion caBundles)',
        { group: 'apiextensions.k8s.io', resource: 'customresourcedefinitions', verb: 'list' },
      ],
      // the API server asks for the exact signer name, then for <domain>/*: the chart grants the latter
      [
        'sign for its own signer names',
        { group: 'certificates.k8s.io', resource: 'signers', verb: 'sign', name: 'machineidentity.io/*' },
      ],
      [
        'approve CSRs for its own signer names',
        { group: 'certificates.k8s.io', resource: 'signers', verb: 'approve', name: 'machineidentity.io/*' },
      ],
      [
        'attest for its own signer names (ClusterTrustBundles)',
        { group: 'certificates.k8s.io', resource: 'signers', verb: 'attest', name: 'machineidentity.io/*' },
      ],
      [
        'update podcertificaterequests/status',
        {
          group: 'certificates.k8s.io',
          resource: 'podcertificaterequests',
          subresource: 'status',
          verb: 'update',
          namespace: 'payments',
        },
      ],
      [
        'update certificatesigningrequests/approval',
        {
          group: 'certificates.k8s.io',
          resource: 'certificatesigningrequests',
          subresource: 'approval',
          verb: 'update',
        },
      ],
      [
        'create ingresses in the release namespace (ACME HTTP-01)',
        { group: 'networking.k8s.io', resource: 'ingresses', verb: 'create', namespace: 'RELEASE_NS' },
      ],
      [
        'delete ingresses in the release namespace (ACME HTTP-01)',
        { group: 'networking.k8s.io', resource: 'ingresses', verb: 'delete', namespace: 'RELEASE_NS' },
      ],
      [
        'create httproutes in the release namespace (ACME HTTP-01)',
        { group: 'gateway.networking.k8s.io', resource: 'httproutes', verb: 'create', namespace: 'RELEASE_NS' },
      ],
      [
        'patch endpointslices in the release namespace (ACME HTTP-01)',
        { group: 'discovery.k8s.io', resource: 'endpointslices', verb: 'patch', namespace: 'RELEASE_NS' },
      ],
      [
        'patch its own ValidatingWebhookConfiguration (caBundle)',
        {
          group: 'admissionregistration.k8s.io',
          resource: 'validatingwebhookconfigurations',
          verb: 'patch',
          name: 'RELEASE',
        },
      ],
    ];
    const denied: [string, Attrs][] = [
      [
        'delete customresourcedefinitions',
        { group: 'apiextensions.k8s.io', resource: 'customresourcedefinitions', verb: 'delete' },
      ],
      ['create clusterroles', { group: 'rbac.authorization.k8s.io', resource: 'clusterroles', verb: 'create' }],
      [
        'create clusterrolebindings',
        { group: 'rbac.authorization.k8s.io', resource: 'clusterrolebindings', verb: 'create' },
      ],
      [
        'update machineidentities',
        { group: GROUP, resource: 'machineidentities', verb: 'update', namespace: 'payments' },
      ],
      [
        'delete machineidentities',
        { group: GROUP, resource: 'machineidentities', verb: 'delete', namespace: 'payments' },
      ],
      [
        'update leases outside the release namespace',
        { group: 'coordination.k8s.io', resource: 'leases', verb: 'update', namespace: 'kube-system' },
      ],
      ['delete deployments', { group: 'apps', resource: 'deployments', verb: 'delete', namespace: 'payments' }],
      ['create pods', { group: '', resource: 'pods', verb: 'create', namespace: 'payments' }],
      [
        'create endpointslices outside the release namespace (validation only reads them)',
        { group: 'discovery.k8s.io', resource: 'endpointslices', verb: 'create', namespace: 'payments' },
      ],
      [
        'patch services outside the release namespace',
        { group: '', resource: 'services', verb: 'patch', namespace: 'payments' },
      ],
      ['update ingressclasses', { group: 'networking.k8s.io', resource: 'ingressclasses', verb: 'update' }],
      ['delete namespaces', { group: '', resource: 'namespaces', verb: 'delete' }],
      [
        'patch another ValidatingWebhookConfiguration',
        {
          group: 'admissionregistration.k8s.io',
          resource: 'validatingwebhookconfigurations',
          verb: 'patch',
          name: 'other',
        },
      ],
      [
        "approve CSRs for the cluster's own signers",
        {
          group: 'certificates.k8s.io',
          resource: 'signers',
          verb: 'approve',
          name: 'kubernetes.io/kube-apiserver-client',
        },
      ],
      [
        "sign for another domain's signer",
        { group: 'certificates.k8s.io', resource: 'signers', verb: 'sign', name: 'example.com/*' },
      ],
      [
        'approve for the kubernetes.io signers',
        { group: 'certificates.k8s.io', resource: 'signers', verb: 'approve', name: 'kubernetes.io/*' },
      ],
      [
        'create ingresses outside the release namespace',
        { group: 'networking.k8s.io', resource: 'ingresses', verb: 'create', namespace: 'payments' },
      ],
      [
        'create ValidatingWebhookConfigurations',
        { group: 'admissionregistration.k8s.io', resource: 'validatingwebhookconfigurations', verb: 'create' },
      ],
      // opt-in grants, off by default (rbac.trustBundleConfigMaps, rbac.rollout, rbac.kubernetesBackend)
      ['delete configmaps', { group: '', resource: 'configmaps', verb: 'delete', namespace: 'payments' }],
      [
        'patch deployments (rollout restart)',
        { group: 'apps', resource: 'deployments', verb: 'patch', namespace: 'payments' },
      ],
      [
        'patch deployments in kube-system',
        { group: 'apps', resource: 'deployments', verb: 'patch', namespace: 'kube-system' },
      ],
      [
        'create certificatesigningrequests',
        { group: 'certificates.k8s.io', resource: 'certificatesigningrequests', verb: 'create' },
      ],
      [
        "attest for another domain's signer (ClusterTrustBundles)",
        { group: 'certificates.k8s.io', resource: 'signers', verb: 'attest', name: 'example.com/*' },
      ],
    ];

    it.each(allowed)('may %s', async (_name, attrs) => {
      expect(installed).toBe(true);
      let a = attrs.resource === 'leases' && !attrs.namespace ? { ...attrs, namespace: ns } : attrs;
      if (a.name === 'RELEASE') a = { ...a, name: fullname() };
      if (a.namespace === 'RELEASE_NS') a = { ...a, namespace: ns };
      expect(await can(a)).toBe(true);
    });

    it.each(denied)('may not %s', async (_name, attrs) => {
      expect(installed).toBe(true);
      expect(await can(attrs)).toBe(false);
    });
  });

  it('upgrades to one replica, dropping the PodDisruptionBudget', async () => {
    expect(installed).toBe(true);
    await helmOk(
      'upgrade',
      release,
      CHART,
      '--namespace',
      ns,
      '--kubeconfig',
      sharedCluster().kubeconfigPath,
      '--reuse-values',
      '--set',
      'replicas=1',
      '--wait',
      '--timeout',
      '120s',
    );
    const pdbs = await kc.makeApiClient(k8s.PolicyV1Api).listNamespacedPodDisruptionBudget({ namespace: ns });
    expect(pdbs.items).toHaveLength(0);
    const dep = await kc.makeApiClient(k8s.AppsV1Api).readNamespacedDeployment({ name: fullname(), namespace: ns });
    expect(dep.spec?.replicas).toBe(1);
  });

  it('uninstalls everything it created and keeps the CRDs', async () => {
    expect(installed).toBe(true);
    await helmOk(
      'uninstall',
      release,
      '--namespace',
      ns,
      '--kubeconfig',
      sharedCluster().kubeconfigPath,
      '--wait',
      '--timeout',
      '120s',
    );
    installed = false;
    const rbac = kc.makeApiClient(k8s.RbacAuthorizationV1Api);
    for (const name of [fullname(), `${fullname()}-edit`, `${fullname()}-view`]) {
      await expect(rbac.readClusterRole({ name })).rejects.toMatchObject({ code: 404 });
    }
    await expect(
      kc.makeApiClient(k8s.AppsV1Api).readNamespacedDeployment({ name: fullname(), namespace: ns }),
    ).rejects.toMatchObject({ code: 404 });
    expect(crdsBefore).toHaveLength(3); // applied by the global setup from config/crd
    expect(await ourCrds()).toEqual(crdsBefore);
  });
});
