// A real node beside the harness's control plane: containerd 2 + runc, the CNI bridge, a kubelet and
// kube-proxy (iptables mode), all under one temp directory. Pods run for real in network namespaces the
// CNI plugins make for this node; the bridge has no NAT and pods no route but to their /24 and the Service
// range, so nothing leaves the machine. The API server is reached from pods through the `kubernetes`
// Service, which is why the control plane must be started with `RealNode.apiServerArgs()`.
// Teardown stops every process by PID and removes every mount, link, iptables chain and cgroup it made.
import { execFileSync } from 'node:child_process';
import { accessSync, constants, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as yaml from 'js-yaml';
import * as k8s from '@kubernetes/client-node';
import { REPO_ROOT, kubeconfigYaml, type ControlPlane } from './control-plane.ts';
import {
  bridgeIp,
  cniConflist,
  containerdConfig,
  kubeProxyConfig,
  kubeletConfig,
  nodePaths,
  type NodeLayout,
} from './node-config.ts';
import { makePki } from './pki.ts';
import { leftovers, removeTraces, restoreSysctls, run, snapshotHost, type NodeTraces } from './node-cleanup.ts';
import { startProcess, stopProc, stopPid, freePort, waitFor, type Proc } from './processes.ts';

export const DEFAULT_POD_CIDR = '10.244.77.0/24';
const SERVICE_CIDR = '10.0.0.0/24'; // the control plane's --service-cluster-ip-range
const CNI_BIN_DIR = '/usr/lib/cni';
const GUARD_CHAIN = 'MIO-NODE-GUARD';

export interface RealNodeOptions {
  nodeName?: string;
  podCidr?: string;
  bridge?: string;
  /** kubelet and kube-proxy (same version as the control plane); default: MIO_KUBELET_BIN /
   * MIO_KUBE_PROXY_BIN, else the control plane's bin dir. */
  kubeletBin?: string;
  kubeProxyBin?: string;
  /** KubeletConfiguration fields laid over the harness's (e.g. syncFrequency back to the kubelet default). */
  kubeletConfig?: Record<string, unknown>;
  log?: (line: string) => void;
  /** Start the node's processes in their own session so they outlive this process (cluster:up); stop such a
   * node later from its `state()` with `RealNode.fromState(...).stop()`. */
  detached?: boolean;
  /** Another CA the kubelet accepts client certificates from: the API server's, from `kubeletClientCredentials`. */
  kubeletClientCa?: string;
}

/** Everything needed to stop a detached node from another process and remove its traces (cluster:down). */
export interface RealNodeState {
  nodeName: string;
  podCidr: string;
  bridge: string;
  dir: string;
  deps: NodeDeps;
  /** name -> PID and the binary it runs, so a PID reused by another program is never signalled */
  procs: Record<string, { pid: number; bin: string }>;
  /** the bridge's ifindex: a bridge of the same name with another index is another node's (the host lock) */
  bridgeIndex: number;
  traces: NodeTraces;
}

/** The order the node's processes are stopped in. */
const STOP_ORDER = ['kube-proxy', 'kubelet', 'endpointslice-controller', 'containerd'];

/** The ifindex of a link, undefined when there is no such link. */
export function bridgeIndex(name: string): number | undefined {
  try {
    return Number(readFileSync(`/sys/class/net/${name}/ifindex`, 'utf8').trim());
  } catch {
    return undefined;
  }
}

/** True when PID `pid` still runs `bin` (its /proc/<pid>/cmdline starts with it). */
function runs(pid: number, bin: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0] === bin;
  } catch {
    return false;
  }
}

/** What hack/node-deps.sh built: containerd, shim, ctr, the pause and netcheck image archives. */
export interface NodeDeps {
  dir: string;
  pauseImage: string;
  netcheckImage: string;
}

let depsMemo: NodeDeps | undefined;
function ensureNodeDeps(): NodeDeps {
  if (depsMemo) return depsMemo;
  const out = execFileSync('bash', [join(REPO_ROOT, 'hack/node-deps.sh')], {
    stdio: ['ignore', 'pipe', 'inherit'],
    encoding: 'utf8',
  });
  const dir = out.trim().split('\n').pop() ?? '';
  const env = Object.fromEntries(
    execFileSync('cat', [join(dir, 'images.env')], { encoding: 'utf8' })
      .trim()
      .split('\n')
      .map((l) => l.split('=') as [string, string]),
  );
  return (depsMemo = { dir, pauseImage: env.PAUSE_IMAGE ?? '', netcheckImage: env.NETCHECK_IMAGE ?? '' });
}

export class RealNode {
  /** The node's directory; made by start(), so a node that never starts leaves no directory. */
  dir = '';
  readonly nodeName: string;
  readonly podCidr: string;
  readonly bridge: string;
  readonly procs = new Map<string, Proc>();
  deps!: NodeDeps;
  private traces?: NodeTraces;
  private cp?: ControlPlane;
  /** the binary each process runs (recorded in state()) */
  private readonly bins = new Map<string, string>();
  /** the processes of a node restored by fromState(): stopped by PID */
  private recorded: RealNodeState['procs'] = {};
  /** admin access to the API server of a node restored by fromState() (drain, Node deletion) */
  private adminKc?: k8s.KubeConfig;
  private readonly opts: RealNodeOptions;

  constructor(opts: RealNodeOptions = {}) {
    this.opts = opts;
    this.nodeName = opts.nodeName ?? 'mio-real-node';
    this.podCidr = opts.podCidr ?? DEFAULT_POD_CIDR;
    this.bridge = opts.bridge ?? 'mio-br0';
  }

  /**
   * kube-apiserver flags the control plane needs for pods to reach it: listen beyond loopback (pods dial the
   * bridge address, which does not exist yet when it starts) and advertise the bridge address, so the
   * `kubernetes` Service's endpoint is one kube-proxy can DNAT pod traffic to. The API server reaches the
   * kubelet (logs, exec) at its InternalIP: its hostname resolves nowhere, and looking it up would ask the
   * host's DNS server, off this machine.
   */
  static apiServerArgs(podCidr = DEFAULT_POD_CIDR): string[] {
    return [
      '--bind-address=0.0.0.0',
      `--advertise-address=${bridgeIp(podCidr)}`,
      '--endpoint-reconciler-type=lease',
      '--kubelet-preferred-address-types=InternalIP',
    ];
  }

  /** What `fromState` needs to stop this node from another process. */
  state(): RealNodeState {
    if (!this.traces) throw new Error('real node: not started');
    return {
      nodeName: this.nodeName,
      podCidr: this.podCidr,
      bridge: this.bridge,
      dir: this.dir,
      deps: this.deps,
      procs: Object.fromEntries([...this.procs].map(([n, p]) => [n, { pid: p.pid, bin: this.bins.get(n) ?? '' }])),
      bridgeIndex: bridgeIndex(this.bridge) ?? -1,
      traces: this.traces,
    };
  }

  /**
   * A started node (possibly started by another process, detached) known only by its `state()`: its `stop()`
   * drains its pods through `kc` when the API server still answers, stops each recorded process by PID (only
   * while that PID still runs the recorded binary) and removes every trace, as for a node this process started.
   */
  static fromState(state: RealNodeState, kc?: k8s.KubeConfig, log?: (line: string) => void): RealNode {
    const node = new RealNode({ nodeName: state.nodeName, podCidr: state.podCidr, bridge: state.bridge, log });
    node.dir = state.dir;
    node.deps = state.deps;
    node.traces = state.traces;
    node.recorded = state.procs;
    node.adminKc = kc;
    return node;
  }

  /**
   * A client certificate for the API server to call kubelets with (kubectl logs, exec, port-forward), written
   * under `dir` before the plane starts (its CA does not exist yet): its own CA, which the node must accept
   * (option kubeletClientCa), and a system:masters client, which the kubelet's webhook authorization allows.
   * Without it the kubelet answers the API server "the server has asked for the client to provide credentials".
   */
  static async kubeletClientCredentials(dir: string): Promise<{ apiServerArgs: string[]; ca: string }> {
    const pki = await makePki();
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const cert = join(dir, 'kubelet-client.crt');
    const key = join(dir, 'kubelet-client.key');
    const cred = await pki.client('kube-apiserver-kubelet-client', ['system:masters']);
    writeFileSync(cert, cred.cert, { mode: 0o600 });
    writeFileSync(key, cred.key, { mode: 0o600 });
    return {
      apiServerArgs: [`--kubelet-client-certificate=${cert}`, `--kubelet-client-key=${key}`],
      ca: pki.ca.cert,
    };
  }

  get paths(): ReturnType<typeof nodePaths> {
    return nodePaths(this.dir);
  }
  get nodeIp(): string {
    return bridgeIp(this.podCidr);
  }
  private log(l: string): void {
    (this.opts.log ?? ((x: string) => process.stderr.write(`${x}\n`)))(`real node: ${l}`);
  }

  async start(cp: ControlPlane): Promise<this> {
    const t0 = Date.now();
    this.cp = cp;
    this.deps = ensureNodeDeps();
    this.dir = mkdtempSync(join(tmpdir(), 'mio-node-'));
    const p = this.paths;
    for (const d of [p.logs, p.cniConfDir, p.podLogs, p.kubeletRoot]) mkdirSync(d, { recursive: true });
    // one real node per machine, and before any trace is recorded: stop() removes the recorded bridge, which must
    // never be another node's. Another test's node (its bridge, or its guard chain, which goes last) is waited for.
    await waitFor('no other real node on this machine', async () => !otherNodeTrace(this.bridge), 600_000, 1000).catch(
      () => {
        throw new Error(
          `${otherNodeTrace(this.bridge)} exists: another real node runs on this machine (one at a time)`,
        );
      },
    );
    const before = snapshotHost();
    // creating the bridge is the host-wide lock: the kubelet's and kube-proxy's chains, the kubepods cgroups
    // and the kernel settings are per host, so a second node must fail here, before it owns (and so would
    // tear down) anything
    try {
      run('ip', ['link', 'add', this.bridge, 'type', 'bridge']);
    } catch (e) {
      throw new Error(`another real node runs on this host (bridge ${this.bridge} exists): ${String(e)}`);
    }
    this.traces = {
      dir: this.dir,
      bridge: this.bridge,
      containerdSocket: p.containerdSocket,
      podLogs: p.podLogs,
      before,
    };
    this.makeBridge();
    const layout = await this.layout();
    writeFileSync(p.containerdConfig, containerdConfig(layout));
    writeFileSync(join(p.cniConfDir, '10-mio-pods.conflist'), cniConflist(layout));
    writeFileSync(p.kubeletConfig, withOverrides(kubeletConfig(layout), this.opts.kubeletConfig));
    writeFileSync(p.proxyConfig, kubeProxyConfig(layout));
    // one PEM per line block: a bundle whose blocks run together is refused ("data does not contain any valid ... certificates")
    writeFileSync(p.caFile, [cp.pki.ca.cert, this.opts.kubeletClientCa ?? ''].map((c) => c.trim()).join('\n') + '\n');
    await this.writeKubeconfig(p.kubeletKubeconfig, `system:node:${this.nodeName}`, ['system:nodes']);
    await this.writeKubeconfig(p.proxyKubeconfig, 'system:kube-proxy', []);

    this.spawn('containerd', join(this.deps.dir, 'containerd'), ['--config', p.containerdConfig, '--log-level=info']);
    await waitFor('containerd socket', async () => this.ctrOk(), 30_000, 100);
    for (const img of ['pause.tar', 'netcheck.tar']) await this.importImage(join(this.deps.dir, img));
    this.log(`containerd ready, images imported in ${secs(t0)}`);

    await this.startEndpointSliceController(cp);
    this.spawn('kubelet', this.opts.kubeletBin ?? process.env.MIO_KUBELET_BIN ?? join(cp.bin, 'kubelet'), [
      `--config=${p.kubeletConfig}`,
      `--kubeconfig=${p.kubeletKubeconfig}`,
      `--root-dir=${p.kubeletRoot}`,
      `--cert-dir=${p.kubeletCerts}`,
      `--hostname-override=${this.nodeName}`,
      `--node-ip=${this.nodeIp}`,
      '--v=2',
    ]);
    await this.waitReady(cp);
    // the kubelet rewrites a few kernel settings once, at start-up: put them back at once
    const errors = restoreSysctls(this.traces.before.sysctls);
    if (errors.length > 0) throw new Error(errors.join('\n'));
    this.log(`node ${this.nodeName} Ready in ${secs(t0)}`);
    this.spawn('kube-proxy', this.opts.kubeProxyBin ?? process.env.MIO_KUBE_PROXY_BIN ?? join(cp.bin, 'kube-proxy'), [
      `--config=${p.proxyConfig}`,
      '--v=2',
    ]);
    this.log(`started in ${secs(t0)}`);
    return this;
  }

  /** Imports an OCI image archive into the CRI namespace (pods then use it with imagePullPolicy Never). */
  async importImage(archive: string): Promise<void> {
    this.ctr(['images', 'import', '--all-platforms', archive]);
    return Promise.resolve();
  }

  ctr(args: string[]): string {
    return execFileSync(
      join(this.deps.dir, 'ctr'),
      ['--address', this.paths.containerdSocket, '-n', 'k8s.io', ...args],
      {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
  }

  private ctrOk(): boolean {
    try {
      this.ctr(['version']);
      return true;
    } catch {
      return false;
    }
  }

  private async layout(): Promise<NodeLayout> {
    return {
      dir: this.dir,
      nodeName: this.nodeName,
      bridge: this.bridge,
      podCidr: this.podCidr,
      serviceCidr: SERVICE_CIDR,
      pauseImage: this.deps.pauseImage,
      cniBinDir: CNI_BIN_DIR,
      runc: execFileSync('sh', ['-c', 'command -v runc'], { encoding: 'utf8' }).trim(),
      shim: join(this.deps.dir, 'containerd-shim-runc-v2'),
      kubeletPort: await freePort(),
      kubeletHealthzPort: await freePort(),
      proxyHealthzPort: await freePort(),
      proxyMetricsPort: await freePort(),
    };
  }

  /**
   * The bridge is made here, not by the CNI plugin: as a gateway the plugin would switch on IP forwarding
   * for the whole host. Forwarding is on for this bridge only (ClusterIP -> pod on the same bridge), and a
   * guard chain drops anything that would be forwarded from it to another interface.
   */
  private makeBridge(): void {
    const ip = (...a: string[]): string => run('ip', a);
    ip('addr', 'add', `${this.nodeIp}/24`, 'dev', this.bridge);
    ip('link', 'set', this.bridge, 'up');
    writeFileSync(`/proc/sys/net/ipv4/conf/${this.bridge}/forwarding`, '1');
    const ipt = (...a: string[]): string => run('iptables', ['-w', ...a]);
    ipt('-N', GUARD_CHAIN);
    ipt('-A', GUARD_CHAIN, '-i', this.bridge, '!', '-o', this.bridge, '-j', 'DROP');
    ipt('-I', 'FORWARD', '1', '-j', GUARD_CHAIN);
  }

  private async writeKubeconfig(file: string, user: string, groups: string[]): Promise<void> {
    const cp = this.cp;
    if (!cp) throw new Error('no control plane');
    writeFileSync(file, kubeconfigYaml(cp.server, cp.pki.ca.cert, user, await cp.pki.client(user, groups)), {
      mode: 0o600,
    });
  }

  /**
   * The harness's controller-manager runs without the EndpointSlice controller (kwok pods serve nothing);
   * real Services need it, so the node brings one limited to that controller.
   */
  private async startEndpointSliceController(cp: ControlPlane): Promise<void> {
    this.spawn('endpointslice-controller', join(cp.bin, 'kube-controller-manager'), [
      `--kubeconfig=${cp.kubeconfigPath}`,
      '--leader-elect=false',
      '--bind-address=127.0.0.1',
      `--secure-port=${await freePort()}`,
      '--controllers=endpointslice-controller',
      '--v=0',
    ]);
  }

  private async waitReady(cp: ControlPlane): Promise<void> {
    const core = cp.kubeConfig().makeApiClient(k8s.CoreV1Api);
    await waitFor(
      `node ${this.nodeName} Ready`,
      async () => {
        this.assertRunning();
        const n = await core.readNode({ name: this.nodeName });
        return n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
      },
      120_000,
      500,
    );
  }

  /** Fails fast (with the log's tail) when one of the node's processes died. */
  assertRunning(): void {
    for (const [name, p] of this.procs) {
      if (p.child.exitCode !== null || p.child.signalCode !== null)
        throw new Error(`${name} exited (${p.child.exitCode ?? p.child.signalCode}):\n${this.logTail(name)}`);
    }
  }

  logTail(name: string, lines = 40): string {
    try {
      return execFileSync('tail', ['-n', String(lines), join(this.paths.logs, `${name}.log`)], { encoding: 'utf8' });
    } catch {
      return '';
    }
  }

  private spawn(name: string, bin: string, args: string[]): Proc {
    // a missing binary would otherwise surface as an unhandled 'error' event that ends the test process
    try {
      accessSync(bin, constants.X_OK);
    } catch {
      throw new Error(
        `${name}: ${bin} is not an executable; kubelet and kube-proxy are built with the control plane by ` +
          '`hack/control-plane-bins.sh --node` (or set MIO_KUBELET_BIN / MIO_KUBE_PROXY_BIN)',
      );
    }
    // our shim first on PATH: Debian's containerd 1.6 shim, when installed, does not speak containerd 2's
    // bootstrap protocol ("start failed: io.containerd.runc.v2: type with url <sandbox id>: not found")
    const env = { ...process.env, PATH: `${this.deps.dir}:${process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin'}` };
    const p = startProcess(name, bin, args, join(this.paths.logs, `${name}.log`), {
      env,
      detached: this.opts.detached,
    });
    this.procs.set(name, p);
    this.bins.set(name, bin);
    return p;
  }

  /**
   * Deletes this node's pods (the kubelet then stops their sandboxes, which releases their network), stops
   * every process by PID, then removes what is left: container processes, shims, mounts, links, chains,
   * cgroups. Throws with the list when something could not be removed.
   */
  async stop(): Promise<void> {
    const t0 = Date.now();
    if (!this.traces) {
      // never got the host (another node held it): nothing on it is ours
      if (this.dir) rmSync(this.dir, { recursive: true, force: true });
      return;
    }
    const kc = this.adminKc ?? this.cp?.kubeConfig();
    if (kc && this.kubeletRunning()) await this.drain(kc);
    const drained = secs(t0);
    for (const name of STOP_ORDER) {
      const p = this.procs.get(name);
      const r = this.recorded[name];
      if (p) await stopProc(p);
      else if (r && runs(r.pid, r.bin)) await stopPid(r.pid);
    }
    this.procs.clear();
    this.recorded = {};
    const stopped = secs(t0);
    const errors = await removeTraces(this.traces);
    if (kc) await this.deleteNodeObject(kc);
    const left = this.leftovers();
    if (left.length === 0 && !process.env.MIO_KEEP_CLUSTER_DIR) rmSync(this.dir, { recursive: true, force: true });
    this.log(`stopped in ${secs(t0)} (pods gone at ${drained}, processes at ${stopped})`);
    if (errors.length > 0 || left.length > 0)
      throw new Error(`real node teardown left:\n${[...errors, ...left].join('\n')}\n(dir ${this.dir})`);
  }

  /** What is still on the host from this node (empty after a clean stop). */
  leftovers(): string[] {
    return this.traces ? leftovers(this.traces) : [];
  }

  private kubeletRunning(): boolean {
    const r = this.recorded.kubelet;
    return this.procs.get('kubelet')?.child.exitCode === null || (r !== undefined && runs(r.pid, r.bin));
  }

  private async drain(kc: k8s.KubeConfig): Promise<void> {
    const core = kc.makeApiClient(k8s.CoreV1Api);
    try {
      // cordoned first: a Deployment's pods (the helm-installed operator's) would otherwise come straight back
      await core.patchNode(
        { name: this.nodeName, body: { spec: { unschedulable: true } } },
        k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
      );
      const pods = await core.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${this.nodeName}` });
      for (const pod of pods.items) {
        const { name = '', namespace = '' } = pod.metadata ?? {};
        await core.deleteNamespacedPod({ name, namespace, gracePeriodSeconds: 0 }).catch(() => undefined);
      }
      await waitFor('the node to stop its pods', async () => this.tasks() === 0, 30_000, 250);
    } catch (e) {
      this.log(`drain incomplete (teardown removes the rest): ${String(e)}`);
    }
  }

  /** Running containerd tasks (sandboxes and containers); exited ones are the teardown's to remove. */
  private tasks(): number {
    return this.ctr(['tasks', 'ls'])
      .split('\n')
      .filter((l) => / RUNNING\s*$/.test(l)).length;
  }

  private async deleteNodeObject(kc: k8s.KubeConfig): Promise<void> {
    const core = kc.makeApiClient(k8s.CoreV1Api);
    await core.deleteNode({ name: this.nodeName }).catch(() => undefined);
  }
}

/** What of a running (or stopping) real node is on this host: its bridge or its guard chain; '' when none. */
function otherNodeTrace(bridge: string): string {
  const ok = (cmd: string, args: string[]): boolean => {
    try {
      execFileSync(cmd, args, { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  };
  if (ok('ip', ['link', 'show', 'dev', bridge])) return `bridge ${bridge}`;
  return ok('iptables', ['-w', '-S', GUARD_CHAIN]) ? `iptables chain ${GUARD_CHAIN}` : '';
}

/** A YAML document with some top-level fields replaced. */
function withOverrides(doc: string, overrides: Record<string, unknown> | undefined): string {
  return overrides ? yaml.dump({ ...(yaml.load(doc) as Record<string, unknown>), ...overrides }) : doc;
}

const secs = (t0: number): string => `${((Date.now() - t0) / 1000).toFixed(1)}s`;
