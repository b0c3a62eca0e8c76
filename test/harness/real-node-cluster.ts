// What the real-node end-to-end files share: their own 1.37 plane (e2e-plane.ts) with one real node, the
// locally built images (npm run image: a cache hit unless their inputs changed) imported into the node's
// containerd, the chart installed with that image, and Debian's Prometheus scraping the operator pods at their
// pod IPs (on this node's bridge) with the repository's alert rules. One real node per machine: start() of a
// second one waits for the first to be stopped (test/harness/real-node.ts).
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as yaml from 'js-yaml';
import * as k8s from '@kubernetes/client-node';
import type { ControlPlane } from './control-plane.ts';
import { REPO_ROOT } from './control-plane.ts';
import { CHART } from './helm.ts';
import { RealNode, type RealNodeOptions } from './real-node.ts';
import { freePort, startProcess, stopProc, waitFor, type Proc } from './processes.ts';
import { helmFor, kubectlFor, startE2ePlane, type Run } from './e2e-plane.ts';
import { importIntoContainerd } from '../../scripts/lib/image-build.ts';
import { CACHE_DIR } from '../../scripts/lib/image-exec.ts';

export const OPERATOR_IMAGE = 'localhost/machine-identity-operator:dev';
export const ECHO_IMAGE = 'localhost/mio-tls-echo:dev';
const PROMETHEUS = process.env.MIO_PROMETHEUS_BIN ?? '/usr/bin/prometheus';

export interface RealNodeCluster {
  cp: ControlPlane;
  node: RealNode;
  core: k8s.CoreV1Api;
  apps: k8s.AppsV1Api;
  co: k8s.CustomObjectsApi;
  helm: (...args: string[]) => Promise<Run>;
  kubectl: (...args: string[]) => Promise<Run>;
}

/** The plane, the node, and both images in its containerd. `work` holds helm's home (the caller removes it). */
export async function startRealNodeCluster(work: string, nodeOpts: RealNodeOptions = {}): Promise<RealNodeCluster> {
  const cp = await startE2ePlane();
  const node = new RealNode(nodeOpts);
  const cluster = {
    cp,
    node,
    core: cp.kubeConfig().makeApiClient(k8s.CoreV1Api),
    apps: cp.kubeConfig().makeApiClient(k8s.AppsV1Api),
    co: cp.kubeConfig().makeApiClient(k8s.CustomObjectsApi),
    helm: helmFor(cp, join(work, 'helm')),
    kubectl: kubectlFor(cp),
  };
  try {
    await node.start(cp);
    importTestImages(node);
  } catch (e) {
    await stopRealNodeCluster(cluster).catch(() => undefined);
    throw e;
  }
  return cluster;
}

/** npm run image (a cache hit unless the Dockerfile's or tls-echo's inputs changed), then both into containerd. */
function importTestImages(node: RealNode): void {
  execFileSync(process.execPath, [join(REPO_ROOT, 'scripts/image.ts')], { stdio: ['ignore', 'ignore', 'inherit'] });
  const ctr = join(node.deps.dir, 'ctr');
  const socket = node.paths.containerdSocket;
  importIntoContainerd(join(CACHE_DIR, 'machine-identity-operator-dev.oci.tar'), OPERATOR_IMAGE, socket, ctr);
  importIntoContainerd(join(CACHE_DIR, 'mio-tls-echo-dev.oci.tar'), ECHO_IMAGE, socket, ctr);
}

/** The node (its pods drained first), then the plane. */
export async function stopRealNodeCluster(c: Pick<RealNodeCluster, 'cp' | 'node'>): Promise<void> {
  try {
    await c.node.stop();
  } finally {
    await c.cp.stop();
  }
}

/** `helm install` of the chart with the local image (--wait); extra `--set`s as key=value. */
export async function installChart(
  helm: RealNodeCluster['helm'],
  release: string,
  namespace: string,
  sets: string[] = [],
): Promise<Run> {
  const local = ['image.repository=localhost/machine-identity-operator', 'image.tag=dev', 'image.pullPolicy=Never'];
  return helm(
    'install',
    release,
    CHART,
    '-n',
    namespace,
    '--create-namespace',
    ...[...local, ...sets].flatMap((s) => ['--set', s]),
    '--wait',
    '--timeout',
    '4m',
  );
}

interface PromSample {
  metric: Record<string, string>;
  value: [number, string];
}
interface PromAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  state: string;
  activeAt?: string;
}
export interface Prometheus {
  proc: Proc;
  url: string;
  query(q: string): Promise<PromSample[]>;
  alerts(): Promise<PromAlert[]>;
  stop(): Promise<void>;
}

/**
 * The chart's PrometheusRule as `helm template` renders it with `sets` (the alerts' thresholds and `for`s are
 * Helm values, so a test shortens them as a user would), written as a plain rules file for Prometheus.
 */
export async function chartRules(helm: RealNodeCluster['helm'], dir: string, sets: string[]): Promise<string> {
  const r = await helm(
    'template',
    'mio',
    CHART,
    ...['prometheusRule.enabled=true', ...sets].flatMap((s) => ['--set', s]),
    '--show-only',
    'templates/prometheusrule.yaml',
  );
  if (r.code !== 0) throw new Error(`helm template of the PrometheusRule failed: ${r.stderr}`);
  const pr = yaml.load(r.stdout) as { spec?: { groups?: unknown[] } };
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'chart.rules.yaml');
  writeFileSync(file, yaml.dump({ groups: pr.spec?.groups ?? [] }));
  return file;
}

/** True when the chart has this top-level value path (e.g. validation.staleGrace), read from its values.yaml. */
export function chartHasValue(path: string): boolean {
  const values = yaml.load(readFileSync(join(CHART, 'values.yaml'), 'utf8')) as Record<string, unknown>;
  let at: unknown = values;
  for (const k of path.split('.')) at = at && typeof at === 'object' ? (at as Record<string, unknown>)[k] : undefined;
  return at !== undefined;
}

/** Debian's Prometheus on loopback, scraping `targets` (host:port) every 2 s under `job`. */
export async function startPrometheus(
  dir: string,
  job: string,
  targets: string[],
  ruleFiles: string[] = [],
): Promise<Prometheus> {
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  writeFileSync(
    join(dir, 'prometheus.yml'),
    yaml.dump({
      global: { scrape_interval: '2s', evaluation_interval: '2s' },
      rule_files: ruleFiles,
      scrape_configs: [{ job_name: job, static_configs: [{ targets }] }],
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
  const api = async <T>(path: string): Promise<T | undefined> =>
    ((await (await fetch(`${url}${path}`)).json()) as { data?: T }).data;
  await waitFor(
    'prometheus ready',
    async () => (await fetch(`${url}/-/ready`).catch(() => undefined))?.ok,
    30_000,
    200,
  );
  return {
    proc,
    url,
    query: async (q) =>
      (await api<{ result: PromSample[] }>(`/api/v1/query?query=${encodeURIComponent(q)}`))?.result ?? [],
    alerts: async () => (await api<{ alerts: PromAlert[] }>('/api/v1/alerts'))?.alerts ?? [],
    stop: () => stopProc(proc),
  };
}
