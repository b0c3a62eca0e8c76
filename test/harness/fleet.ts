// A fleet of local clusters for the fleet test: per cluster a control plane (etcd + kube-apiserver, API objects
// only: no controllers, no nodes), the CRDs, the operator (MIO_CLUSTER_NAME=<name>) and a Prometheus scraping it
// with the external label cluster=<name>; and one kubeconfig with a context per cluster, as a person with access
// to several clusters has it.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as yaml from 'js-yaml';
import * as k8s from '@kubernetes/client-node';
import { ControlPlane } from './control-plane.ts';
import { installCrds } from './manifests.ts';
import { startOperator, type OperatorProcess } from './operator.ts';
import { clusterConfig, startPrometheus, type PrometheusServer } from './prometheus.ts';

export interface FleetMember {
  name: string;
  plane: ControlPlane;
  operator: OperatorProcess;
  prometheus: PrometheusServer;
  core: k8s.CoreV1Api;
  /** Seconds from start to Prometheus ready, per step (plane, crds, operator, prometheus). */
  timings: Record<string, number>;
}

const OPERATOR_NAMESPACE = 'mio-system';

/** Starts one member; on failure stops what it started and rethrows. */
export async function startMember(name: string, log: (l: string) => void): Promise<FleetMember> {
  const timings: Record<string, number> = {};
  let t = performance.now();
  const lap = (step: string): void => {
    const now = performance.now();
    timings[step] = Math.round(now - t) / 1000;
    t = now;
  };
  const plane = new ControlPlane({ log: (l) => log(`[${name}] ${l}`) });
  let operator: OperatorProcess | undefined;
  try {
    await plane.start();
    lap('plane');
    const kc = plane.kubeConfig();
    await installCrds(kc);
    const core = kc.makeApiClient(k8s.CoreV1Api);
    await core.createNamespace({ body: { metadata: { name: OPERATOR_NAMESPACE } } });
    lap('crds');
    operator = await startOperator(plane.kubeconfigPath, {
      MIO_NAMESPACE: OPERATOR_NAMESPACE,
      MIO_LEADER_ELECT: 'false',
      MIO_CLUSTER_NAME: name,
      MIO_LOG_LEVEL: 'info',
    });
    lap('operator');
    const dir = mkdtempSync(join(tmpdir(), `mio-fleet-prom-${name}-`));
    const prometheus = await startPrometheus(
      `prometheus-${name}`,
      dir,
      clusterConfig(name, new URL(operator.url).host),
    );
    lap('prometheus');
    return { name, plane, operator, prometheus, core, timings };
  } catch (e) {
    await operator?.stop();
    await plane.stop();
    throw e;
  }
}

export async function stopMember(m: FleetMember | undefined): Promise<void> {
  if (!m) return;
  await m.prometheus.stop();
  await m.operator.stop();
  await m.plane.stop();
}

/**
 * One kubeconfig with a context per member (its name), each with that cluster's admin credentials, plus
 * `down` contexts pointing at servers that do not answer (a cluster that is down).
 */
export function fleetKubeconfig(members: readonly FleetMember[], down: Record<string, string> = {}): string {
  const cfg = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [] as object[],
    users: [] as object[],
    contexts: [] as object[],
    'current-context': members[0]?.name ?? '',
  };
  const from = (m: FleetMember): void => {
    // the plane's admin kubeconfig: one cluster, one user
    const own = yaml.load(readFileSync(m.plane.kubeconfigPath, 'utf8')) as {
      clusters: { cluster: object }[];
      users: { user: object }[];
    };
    cfg.clusters.push({ name: m.name, cluster: own.clusters[0]?.cluster });
    cfg.users.push({ name: `${m.name}-admin`, user: own.users[0]?.user });
    cfg.contexts.push({ name: m.name, context: { cluster: m.name, user: `${m.name}-admin` } });
  };
  members.forEach(from);
  for (const [name, server] of Object.entries(down)) {
    cfg.clusters.push({ name, cluster: { server, 'insecure-skip-tls-verify': true } });
    cfg.users.push({ name: `${name}-admin`, user: { token: 'none' } });
    cfg.contexts.push({ name, context: { cluster: name, user: `${name}-admin` } });
  }
  const file = join(mkdtempSync(join(tmpdir(), 'mio-fleet-kc-')), 'fleet.kubeconfig');
  writeFileSync(file, yaml.dump(cfg), { mode: 0o600 });
  return file;
}
