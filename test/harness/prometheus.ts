// A real Prometheus (Debian's package, as test/integration/monitoring.test.ts runs it) on a free loopback port,
// configured by the caller: one per cluster with its external label `cluster`, or one federating the others.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as yaml from 'js-yaml';
import { REPO_ROOT } from './control-plane.ts';
import { freePort, startProcess, stopProc, waitFor, type Proc } from './processes.ts';

const PROMETHEUS = process.env.MIO_PROMETHEUS_BIN ?? '/usr/bin/prometheus';

interface PromAlert {
  labels: Record<string, string>;
  state: string;
  annotations: Record<string, string>;
}

export interface PrometheusServer {
  proc: Proc;
  url: string;
  /** host:port, for another Prometheus's targets. */
  address: string;
  alerts(): Promise<PromAlert[]>;
  /** An instant query's series (labels and value); throws with Prometheus's error when the query fails. */
  query(expr: string): Promise<{ metric: Record<string, string>; value: number }[]>;
  stop(): Promise<void>;
}

const FLEET_EXAMPLES = join(REPO_ROOT, 'deploy/prometheus/fleet');

interface PromConfig {
  global: Record<string, unknown>;
  rule_files: string[];
  scrape_configs: { static_configs: { targets: string[] }[] }[];
}

/**
 * The documented federating Prometheus (deploy/prometheus/fleet/federate.yml) as the test runs it: the
 * clusters' servers as targets, 1 s intervals, and the rules file by its path.
 */
export function federationConfig(targets: readonly string[], rulesFile: string): object {
  const cfg = yaml.load(readFileSync(join(FLEET_EXAMPLES, 'federate.yml'), 'utf8')) as PromConfig;
  return {
    ...cfg,
    global: { ...cfg.global, scrape_interval: '1s', evaluation_interval: '1s' },
    rule_files: [rulesFile],
    scrape_configs: cfg.scrape_configs.map((j) => ({ ...j, static_configs: [{ targets }] })),
  };
}

/** The documented Prometheus of one cluster (deploy/prometheus/fleet/cluster.yml): its external label, one target, no rules. */
export function clusterConfig(cluster: string, target: string): object {
  const cfg = yaml.load(readFileSync(join(FLEET_EXAMPLES, 'cluster.yml'), 'utf8')) as PromConfig;
  return {
    global: { ...cfg.global, scrape_interval: '1s', evaluation_interval: '1s', external_labels: { cluster } },
    scrape_configs: cfg.scrape_configs.map((j) => ({ ...j, static_configs: [{ targets: [target] }] })),
  };
}

/** Starts Prometheus with `config` (prometheus.yml as an object) in `dir`; resolves when it is ready. */
export async function startPrometheus(name: string, dir: string, config: object): Promise<PrometheusServer> {
  const port = await freePort();
  writeFileSync(join(dir, 'prometheus.yml'), yaml.dump(config));
  const proc = startProcess(
    name,
    PROMETHEUS,
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
    ],
    join(dir, 'prometheus.log'),
  );
  const url = `http://127.0.0.1:${port}`;
  await waitFor(`${name} ready`, async () => (await fetch(`${url}/-/ready`).catch(() => undefined))?.ok, 30_000, 200);
  const api = async <T>(path: string): Promise<T> => {
    const r = (await (await fetch(`${url}${path}`)).json()) as { status: string; error?: string; data: T };
    if (r.status !== 'success') throw new Error(`${name} ${path}: ${r.error ?? r.status}`);
    return r.data;
  };
  return {
    proc,
    url,
    address: `127.0.0.1:${port}`,
    alerts: async () => (await api<{ alerts: PromAlert[] }>('/api/v1/alerts')).alerts,
    query: async (expr) =>
      (
        await api<{ result: { metric: Record<string, string>; value: [number, string] }[] }>(
          `/api/v1/query?query=${encodeURIComponent(expr)}`,
        )
      ).result.map((s) => ({ metric: s.metric, value: Number(s.value[1]) })),
    stop: () => stopProc(proc),
  };
}
