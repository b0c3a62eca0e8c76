// The developer's local control plane: started detached under .local/, found again by its state file.
// With a real node (--node=real) the node's processes are detached too, and the state file records what
// `RealNode.fromState(...).stop()` needs to stop them by PID and remove every trace the node left.
import { existsSync, readFileSync, writeFileSync, rmSync, mkdirSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { ControlPlane, REPO_ROOT, ensureBinaries } from '../../test/harness/control-plane.ts';
import { RealNode, bridgeIndex, type RealNodeState } from '../../test/harness/real-node.ts';
import { isAlive, stopPid } from '../../test/harness/processes.ts';
import { mayTearDownNode, upAction, type NodeMode } from './node-mode.ts';

export const LOCAL_DIR = process.env.MIO_LOCAL_DIR ?? join(REPO_ROOT, '.local');
export const KUBECONFIG = join(LOCAL_DIR, 'kubeconfig');
const CLUSTER_DIR = join(LOCAL_DIR, 'cluster');
const STATE = join(LOCAL_DIR, 'cluster-state.json');
const ORDER = ['kwok', 'kube-scheduler', 'kube-controller-manager', 'kube-apiserver', 'etcd'];
const REAL_NODE_BRIDGE = 'mio-br0';

export interface ClusterState {
  dir: string;
  server: string;
  kubeconfig: string;
  pids: Record<string, number>;
  /** kwok when absent (state files written before real nodes existed) */
  nodeMode?: NodeMode;
  /** the real node's processes and traces (nodeMode real) */
  node?: RealNodeState;
}

function readClusterState(): ClusterState | undefined {
  return existsSync(STATE) ? (JSON.parse(readFileSync(STATE, 'utf8')) as ClusterState) : undefined;
}

const nodeAlive = (n: RealNodeState | undefined): boolean => !n || Object.values(n.procs).every((p) => isAlive(p.pid));

/** True when a previously started local cluster (and its real node, if any) still answers. */
async function clusterIsUp(s: ClusterState | undefined): Promise<boolean> {
  if (!s || !Object.values(s.pids).every(isAlive) || !nodeAlive(s.node) || !existsSync(KUBECONFIG)) return false;
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(KUBECONFIG);
  try {
    await kc.makeApiClient(k8s.CoreV1Api).readNamespace({ name: 'default' });
    return true;
  } catch {
    return false;
  }
}

/** Refuses a real node this host cannot run now (not root, or another real node holds the host). */
function checkRealNodeHost(): void {
  if (process.getuid?.() !== 0) throw new Error('--node=real needs root (it makes a bridge, iptables chains, cgroups)');
  if (existsSync(`/sys/class/net/${REAL_NODE_BRIDGE}`))
    throw new Error(
      `another real node runs on this host (the bridge ${REAL_NODE_BRIDGE} exists): only one fits per host; stop it first`,
    );
}

export async function clusterUp(log: (l: string) => void, mode: NodeMode = 'kwok'): Promise<ClusterState> {
  const prev = readClusterState();
  const decision = upAction(prev?.nodeMode ?? 'kwok', await clusterIsUp(prev), mode);
  if (decision.action === 'conflict') throw new Error(decision.message);
  if (decision.action === 'reuse' && prev) {
    log(`local cluster already running (kubeconfig ${KUBECONFIG})`);
    return prev;
  }
  await clusterDown(() => undefined);
  if (mode === 'real') checkRealNodeHost();
  rmSync(CLUSTER_DIR, { recursive: true, force: true });
  mkdirSync(CLUSTER_DIR, { recursive: true });
  // the real node's kubelet and kube-proxy come from the same build as the plane
  if (mode === 'real') ensureBinaries(log, { node: true });
  // kubectl logs / exec: the API server calls the kubelet with a client certificate the node accepts
  const kubeletClient =
    mode === 'real' ? await RealNode.kubeletClientCredentials(join(CLUSTER_DIR, 'kubelet-client')) : undefined;
  const cp = new ControlPlane({
    dir: CLUSTER_DIR,
    full: true,
    detached: true,
    fakeNodes: mode === 'real' ? [] : ['kwok-node-0'],
    log,
    apiServerArgs: kubeletClient ? [...RealNode.apiServerArgs(), ...kubeletClient.apiServerArgs] : undefined,
  });
  const node = kubeletClient ? new RealNode({ detached: true, log, kubeletClientCa: kubeletClient.ca }) : undefined;
  try {
    await cp.start();
    await node?.start(cp);
  } catch (e) {
    log(`failed: ${String(e)}\n${cp.logTail('kube-apiserver')}`);
    await node?.stop().catch((err: unknown) => log(String(err)));
    await cp.stop();
    throw e;
  }
  const state: ClusterState = { ...cp.state(), nodeMode: mode, ...(node ? { node: node.state() } : {}) };
  writeFileSync(STATE, JSON.stringify(state, null, 2));
  copyFileSync(cp.kubeconfigPath, KUBECONFIG);
  const nodes = node
    ? `real node ${node.nodeName} Ready (pods in ${node.podCidr}; node logs in ${node.paths.logs})`
    : 'fake node kwok-node-0 Ready';
  log(`local cluster up: ${cp.server}, ${nodes}; kubeconfig ${KUBECONFIG}; logs in ${join(CLUSTER_DIR, 'logs')}`);
  log(`try: KUBECONFIG=${KUBECONFIG} ${join(cp.bin, 'kubectl')} get nodes`);
  return state;
}

function adminKubeConfig(): k8s.KubeConfig | undefined {
  if (!existsSync(KUBECONFIG)) return undefined;
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(KUBECONFIG);
  return kc;
}

export async function clusterDown(log: (l: string) => void): Promise<void> {
  const s = readClusterState();
  if (!s) {
    log('no local cluster state; nothing to stop');
    return;
  }
  // the node first: its pods are deleted through the API server while it still answers
  let nodeError: unknown;
  if (s.node) {
    try {
      const now = bridgeIndex(s.node.bridge);
      if (!mayTearDownNode(s.node.bridgeIndex, now))
        throw new Error(
          `the bridge ${s.node.bridge} now belongs to another real node (ifindex ${now}, ours was ${s.node.bridgeIndex}): ` +
            `not touching the host; delete ${STATE} once you have stopped that node`,
        );
      await RealNode.fromState(s.node, adminKubeConfig(), log).stop();
      log(`stopped real node ${s.node.nodeName}: no process, mount, link, iptables chain or cgroup left`);
    } catch (e) {
      nodeError = e;
    }
  }
  const names = Object.keys(s.pids).sort((a, b) => ORDER.indexOf(a) - ORDER.indexOf(b));
  for (const n of names) {
    const pid = s.pids[n];
    if (pid === undefined || pid <= 0) continue; // never 0 or negative: kill() would signal a process group
    await stopPid(pid);
    log(`stopped ${n} (pid ${pid})`);
  }
  if (nodeError) {
    // keep what the node left on record, so another cluster:down can retry its teardown
    writeFileSync(STATE, JSON.stringify({ ...s, pids: {} }, null, 2));
    throw new Error(`${String(nodeError)}\n(npm run cluster:down again retries the real node's teardown)`);
  }
  rmSync(STATE, { force: true });
}
