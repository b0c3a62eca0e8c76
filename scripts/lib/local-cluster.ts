// The developer's local control plane: started detached under .local/, found again by its state file.
import { existsSync, readFileSync, writeFileSync, rmSync, mkdirSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { ControlPlane, REPO_ROOT } from '../../test/harness/control-plane.ts';
import { isAlive, stopPid } from '../../test/harness/processes.ts';

const LOCAL_DIR = process.env.MIO_LOCAL_DIR ?? join(REPO_ROOT, '.local');
export const KUBECONFIG = join(LOCAL_DIR, 'kubeconfig');
const CLUSTER_DIR = join(LOCAL_DIR, 'cluster');
const STATE = join(LOCAL_DIR, 'cluster-state.json');
const ORDER = ['kwok', 'kube-scheduler', 'kube-controller-manager', 'kube-apiserver', 'etcd'];

interface State {
  dir: string;
  server: string;
  kubeconfig: string;
  pids: Record<string, number>;
}

function readState(): State | undefined {
  return existsSync(STATE) ? (JSON.parse(readFileSync(STATE, 'utf8')) as State) : undefined;
}

/** True when a previously started local cluster still answers. */
async function clusterIsUp(): Promise<boolean> {
  const s = readState();
  if (!s || !Object.values(s.pids).every(isAlive) || !existsSync(KUBECONFIG)) return false;
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(KUBECONFIG);
  try {
    await kc.makeApiClient(k8s.CoreV1Api).readNamespace({ name: 'default' });
    return true;
  } catch {
    return false;
  }
}

export async function clusterUp(log: (l: string) => void): Promise<void> {
  if (await clusterIsUp()) {
    log(`local cluster already running (kubeconfig ${KUBECONFIG})`);
    return;
  }
  await clusterDown(() => undefined);
  rmSync(CLUSTER_DIR, { recursive: true, force: true });
  mkdirSync(CLUSTER_DIR, { recursive: true });
  const cp = new ControlPlane({ dir: CLUSTER_DIR, full: true, detached: true, fakeNodes: ['kwok-node-0'], log });
  try {
    await cp.start();
  } catch (e) {
    log(`failed: ${String(e)}\n${cp.logTail('kube-apiserver')}`);
    await cp.stop();
    throw e;
  }
  writeFileSync(STATE, JSON.stringify(cp.state(), null, 2));
  copyFileSync(cp.kubeconfigPath, KUBECONFIG);
  log(
    `local cluster up: ${cp.server}, fake node kwok-node-0 Ready; kubeconfig ${KUBECONFIG}; logs in ${join(CLUSTER_DIR, 'logs')}`,
  );
  log(`try: KUBECONFIG=${KUBECONFIG} ${join(cp.bin, 'kubectl')} get nodes`);
}

export async function clusterDown(log: (l: string) => void): Promise<void> {
  const s = readState();
  if (!s) {
    log('no local cluster state; nothing to stop');
    return;
  }
  const names = Object.keys(s.pids).sort((a, b) => ORDER.indexOf(a) - ORDER.indexOf(b));
  for (const n of names) {
    await stopPid(s.pids[n]!);
    log(`stopped ${n} (pid ${s.pids[n]})`);
  }
  rmSync(STATE, { force: true });
}
