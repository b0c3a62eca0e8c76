// A real local Kubernetes control plane: etcd + kube-apiserver, and on request kube-controller-manager,
// kube-scheduler and kwok (fake Nodes whose Pods reach Running). Binaries come from
// hack/control-plane-bins.sh (built from pinned Go modules, cached outside the repo). The Kubernetes version
// is MIO_K8S_VERSION (see that script); the flags that differ per version come from ./plane-flags.ts.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync, rmSync, existsSync, readFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as yaml from 'js-yaml';
import * as k8s from '@kubernetes/client-node';
import { withSharedDispatcher } from '../../src/runtime/shared-dispatcher.ts';
import { makePki, type Pki, type Pem } from './pki.ts';
import { startProcess, stopProc, freePort, waitFor, sleep, logTail, type Proc } from './processes.ts';
import { gateArgs, planeFlags, runtimeConfigArgs, type PlaneFlags } from './plane-flags.ts';

/** etcd or kube-apiserver ended before the API server was ready (most often: its port was taken). */
class PlaneProcessExited extends Error {}

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

export interface ControlPlaneOptions {
  /** Directory for PKI, etcd data, kubeconfigs and logs; a fresh temp dir when omitted. */
  dir?: string;
  /** Also run kube-controller-manager, kube-scheduler and kwok. */
  full?: boolean;
  /** Fake Nodes (kwok) to create and wait for; only with `full`. */
  fakeNodes?: string[];
  /** Start processes in their own session so they outlive this process (cluster:up). */
  detached?: boolean;
  /** Called with progress lines. */
  log?: (line: string) => void;
  /** Extra kube-apiserver flags (e.g. --etcd-compaction-interval=5s, --watch-cache=false). */
  apiServerArgs?: string[];
  /** etcd's backend quota in bytes (default 8 GiB): a large benchmark must not hit NOSPACE. */
  etcdQuotaBytes?: number;
  /**
   * etcd's own history compaction (--auto-compaction-mode/-retention), e.g. { mode: 'periodic', retention: '5m' };
   * off by default (kube-apiserver compacts every 5 minutes anyway).
   */
  etcdAutoCompaction?: { mode: 'periodic' | 'revision'; retention: string };
}

let binDirMemo: string | undefined;
/**
 * Builds or reuses the binaries of the Kubernetes version MIO_K8S_VERSION selects; returns their directory.
 * `node` also builds kubelet and kube-proxy (only the real node needs them).
 */
export function ensureBinaries(
  log: (l: string) => void = (l) => process.stderr.write(`${l}\n`),
  { node = false }: { node?: boolean } = {},
): string {
  const want = node ? ['kube-apiserver', 'kubelet', 'kube-proxy'] : ['kube-apiserver'];
  const complete = (dir: string | undefined): dir is string => !!dir && want.every((b) => existsSync(join(dir, b)));
  if (complete(binDirMemo)) return binDirMemo;
  const fromEnv = process.env.MIO_BIN_DIR_RESOLVED;
  if (complete(fromEnv)) return (binDirMemo = fromEnv);
  log(`control plane: building or reusing binaries (hack/control-plane-bins.sh${node ? ' --node' : ''})`);
  const out = execFileSync('bash', [join(REPO_ROOT, 'hack/control-plane-bins.sh'), ...(node ? ['--node'] : [])], {
    stdio: ['ignore', 'pipe', 'inherit'],
    encoding: 'utf8',
  });
  const dir = out.trim().split('\n').pop() ?? '';
  if (!complete(dir)) throw new Error(`binaries (${want.join(', ')}) not found in ${dir}`);
  process.env.MIO_BIN_DIR_RESOLVED = dir;
  return (binDirMemo = dir);
}

/** The version a kube-apiserver binary reports, e.g. "v1.37.2". */
function binaryVersion(bin: string): string {
  const out = execFileSync(join(bin, 'kube-apiserver'), ['--version'], { encoding: 'utf8' }).trim();
  return out.replace(/^Kubernetes /, '');
}

export function kubeconfigYaml(server: string, caPem: string, user: string, cred: Pem): string {
  const b64 = (s: string): string => Buffer.from(s).toString('base64');
  return yaml.dump({
    apiVersion: 'v1',
    kind: 'Config',
    'current-context': 'mio-local',
    clusters: [{ name: 'mio-local', cluster: { server, 'certificate-authority-data': b64(caPem) } }],
    users: [{ name: user, user: { 'client-certificate-data': b64(cred.cert), 'client-key-data': b64(cred.key) } }],
    contexts: [{ name: 'mio-local', context: { cluster: 'mio-local', user } }],
  });
}

export class ControlPlane {
  readonly procs = new Map<string, Proc>();
  pki!: Pki;
  bin = '';
  /** The running Kubernetes version (e.g. "v1.37.2"), known once start() has found the binaries. */
  version = '';
  /** The per-version flags this plane was started with (and which certificates.k8s.io versions it serves). */
  flags!: PlaneFlags;
  etcdPort = 0;
  apiPort = 0;
  private ownsDir: boolean;
  readonly dir: string;

  readonly opts: ControlPlaneOptions;

  constructor(opts: ControlPlaneOptions = {}) {
    this.opts = opts;
    this.ownsDir = !opts.dir;
    this.dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'mio-cp-'));
    mkdirSync(join(this.dir, 'logs'), { recursive: true });
  }

  get server(): string {
    return `https://127.0.0.1:${this.apiPort}`;
  }
  get kubeconfigPath(): string {
    return join(this.dir, 'admin.kubeconfig');
  }
  private log(l: string): void {
    (this.opts.log ?? ((x: string) => process.stderr.write(`${x}\n`)))(l);
  }

  /** An admin (system:masters) client config. */
  kubeConfig(): k8s.KubeConfig {
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(this.kubeconfigPath);
    return withSharedDispatcher(kc);
  }

  /** A kubeconfig file for an arbitrary user (client cert signed by the cluster CA). */
  async userKubeconfig(user: string, groups: string[] = []): Promise<string> {
    const file = join(this.dir, `user-${user.replace(/[^a-zA-Z0-9_.-]/g, '_')}.kubeconfig`);
    writeFileSync(file, kubeconfigYaml(this.server, this.pki.ca.cert, user, await this.pki.client(user, groups)), {
      mode: 0o600,
    });
    return file;
  }

  async start(): Promise<this> {
    const t0 = Date.now();
    this.bin = ensureBinaries((l) => this.log(l));
    this.version = binaryVersion(this.bin);
    this.flags = planeFlags(this.version);
    // for test workers (sharedCluster().version): the binaries of one run are one version
    process.env.MIO_K8S_VERSION_RESOLVED = this.version;
    this.pki = await makePki();
    const pkiDir = join(this.dir, 'pki');
    mkdirSync(pkiDir, { recursive: true, mode: 0o700 });
    const files: Record<string, string> = {
      'ca.crt': this.pki.ca.cert,
      'ca.key': this.pki.ca.key,
      'apiserver.crt': this.pki.apiserver.cert,
      'apiserver.key': this.pki.apiserver.key,
      'sa.key': this.pki.serviceAccount.privateKey,
      'sa.pub': this.pki.serviceAccount.publicKey,
    };
    for (const [f, c] of Object.entries(files)) writeFileSync(join(pkiDir, f), c, { mode: 0o600 });
    for (let attempt = 1; ; attempt++) {
      [this.etcdPort, this.apiPort] = [await freePort(), await freePort()];
      writeFileSync(this.kubeconfigPath, kubeconfigYaml(this.server, this.pki.ca.cert, 'admin', this.pki.admin), {
        mode: 0o600,
      });
      this.startEtcd();
      try {
        await this.startApiServer();
        break;
      } catch (e) {
        // a port taken between our pick and the server's bind: the process exits at once; new ports
        if (!(e instanceof PlaneProcessExited) || attempt >= 3) throw e;
        this.log(`control plane: ${e.message.split('\n')[0]}; starting again on new ports`);
        for (const name of ['kube-apiserver', 'etcd']) {
          const p = this.procs.get(name);
          if (p) await stopProc(p);
        }
      }
    }
    this.log(
      `control plane: Kubernetes ${this.version} apiserver ready at ${this.server} in ${((Date.now() - t0) / 1000).toFixed(1)}s`,
    );
    if (this.opts.full) await this.startControllers();
    return this;
  }

  private spawn(name: string, args: string[]): Proc {
    const p = startProcess(
      name,
      join(this.bin, name.split('#')[0]!),
      args,
      join(this.dir, 'logs', `${name.split('#')[0]}.log`),
      { detached: this.opts.detached },
    );
    this.procs.set(name.split('#')[0]!, p);
    return p;
  }

  private startEtcd(): void {
    const url = `http://127.0.0.1:${this.etcdPort}`;
    this.spawn('etcd', [
      `--data-dir=${join(this.dir, 'etcd')}`,
      `--listen-client-urls=${url}`,
      `--advertise-client-urls=${url}`,
      '--listen-peer-urls=http://127.0.0.1:0',
      '--unsafe-no-fsync=true',
      '--log-level=warn',
      `--quota-backend-bytes=${this.opts.etcdQuotaBytes ?? 8 * 1024 ** 3}`,
      ...(this.opts.etcdAutoCompaction
        ? [
            `--auto-compaction-mode=${this.opts.etcdAutoCompaction.mode}`,
            `--auto-compaction-retention=${this.opts.etcdAutoCompaction.retention}`,
          ]
        : []),
    ]);
  }

  /** Starts (or restarts) kube-apiserver on the same port, and waits for /readyz. */
  async startApiServer(): Promise<void> {
    const pki = join(this.dir, 'pki');
    this.spawn('kube-apiserver', [
      `--etcd-servers=http://127.0.0.1:${this.etcdPort}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      `--secure-port=${this.apiPort}`,
      `--tls-cert-file=${pki}/apiserver.crt`,
      `--tls-private-key-file=${pki}/apiserver.key`,
      `--cert-dir=${pki}`,
      `--client-ca-file=${pki}/ca.crt`,
      `--service-account-issuer=https://127.0.0.1:${this.apiPort}`,
      `--service-account-key-file=${pki}/sa.pub`,
      `--service-account-signing-key-file=${pki}/sa.key`,
      '--authorization-mode=Node,RBAC',
      '--enable-admission-plugins=NodeRestriction',
      '--service-cluster-ip-range=10.0.0.0/24',
      '--allow-privileged=true',
      ...gateArgs(this.flags),
      ...runtimeConfigArgs(this.flags),
      '--endpoint-reconciler-type=none',
      '--profiling=false',
      '--v=0',
      ...(this.opts.apiServerArgs ?? []),
    ]);
    await this.waitApiServerReady(120_000);
    const core = this.kubeConfig().makeApiClient(k8s.CoreV1Api);
    await waitFor(
      'namespace default',
      async () => (await core.readNamespace({ name: 'default' })).metadata?.name,
      60_000,
    );
  }

  /**
   * Polls /readyz until 200; fails at once (PlaneProcessExited) if etcd or kube-apiserver exits, and
   * on timeout, with the tail of both logs either way: a start that never becomes ready must say why.
   */
  private async waitApiServerReady(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const tails = (): string =>
      ['etcd', 'kube-apiserver']
        .map((n) => this.procs.get(n))
        .filter((p): p is Proc => p !== undefined)
        .map((p) => `--- ${p.name} (pid ${p.pid}, ${p.logFile}):\n${logTail(p.logFile)}`)
        .join('\n');
    for (;;) {
      for (const name of ['etcd', 'kube-apiserver']) {
        const p = this.procs.get(name);
        if (p && (p.child.exitCode !== null || p.child.signalCode !== null))
          throw new PlaneProcessExited(
            `${name} exited (${p.child.exitCode ?? p.child.signalCode}) before kube-apiserver was ready\n${tails()}`,
          );
      }
      if (await this.readyz()) return;
      if (Date.now() > deadline)
        throw new Error(`timed out after ${timeoutMs} ms waiting for kube-apiserver /readyz\n${tails()}`);
      await sleep(300);
    }
  }

  async stopApiServer(): Promise<void> {
    const p = this.procs.get('kube-apiserver');
    if (p) await stopProc(p);
  }

  readyz(): Promise<boolean> {
    return new Promise((resolve) => {
      const req = request(
        {
          host: '127.0.0.1',
          port: this.apiPort,
          path: '/readyz',
          method: 'GET',
          ca: this.pki.ca.cert,
          cert: this.pki.admin.cert,
          key: this.pki.admin.key,
          timeout: 2000,
        },
        (res) => {
          res.resume();
          resolve(res.statusCode === 200);
        },
      );
      req.on('error', () => resolve(false));
      req.on('timeout', () => {
        req.destroy();
        resolve(false);
      });
      req.end();
    });
  }

  /** kube-controller-manager, kube-scheduler and kwok, plus the requested fake Nodes. */
  async startControllers(): Promise<void> {
    const pki = join(this.dir, 'pki');
    const kcfg = this.kubeconfigPath;
    this.spawn('kube-controller-manager', [
      `--kubeconfig=${kcfg}`,
      '--leader-elect=false',
      '--bind-address=127.0.0.1',
      `--secure-port=${await freePort()}`,
      `--controllers=${this.flags.controllers.join(',')}`,
      `--cluster-signing-cert-file=${pki}/ca.crt`,
      `--cluster-signing-key-file=${pki}/ca.key`,
      `--root-ca-file=${pki}/ca.crt`,
      `--service-account-private-key-file=${pki}/sa.key`,
      ...gateArgs(this.flags),
      '--kube-api-qps=200',
      '--kube-api-burst=400',
      '--concurrent-gc-syncs=10',
      '--v=0',
    ]);
    this.spawn('kube-scheduler', [
      `--kubeconfig=${kcfg}`,
      `--authentication-kubeconfig=${kcfg}`,
      `--authorization-kubeconfig=${kcfg}`,
      '--leader-elect=false',
      '--bind-address=127.0.0.1',
      `--secure-port=${await freePort()}`,
      ...gateArgs(this.flags),
      '--v=0',
    ]);
    this.spawn('kwok', [
      `--kubeconfig=${kcfg}`,
      `--config=${join(this.bin, 'kwok-stages')}`,
      '--manage-all-nodes=false',
      '--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake',
      '--node-ip=127.0.0.1',
      '--cidr=10.0.0.0/24',
      '--node-lease-duration-seconds=40',
    ]);
    for (const n of this.opts.fakeNodes ?? ['kwok-node-0']) await this.addFakeNode(n);
  }

  /** Creates a kwok-managed Node and waits until it is Ready with no not-ready taint. */
  async addFakeNode(name: string): Promise<void> {
    const core = this.kubeConfig().makeApiClient(k8s.CoreV1Api);
    await core.createNode({
      body: {
        metadata: {
          name,
          annotations: { 'kwok.x-k8s.io/node': 'fake' },
          labels: { 'kubernetes.io/hostname': name, type: 'kwok', 'kubernetes.io/os': 'linux' },
        },
        spec: {},
      },
    });
    await waitFor(
      `node ${name} Ready and untainted`,
      async () => {
        const n = await core.readNode({ name });
        const ready = n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
        const tainted = (n.spec?.taints ?? []).some((t) => t.key.startsWith('node.kubernetes.io/'));
        return ready && !tainted;
      },
      120_000,
      500,
    );
  }

  /** Everything needed to find and stop the processes later (cluster:up / cluster:down). */
  state(): { dir: string; server: string; kubeconfig: string; pids: Record<string, number> } {
    return {
      dir: this.dir,
      server: this.server,
      kubeconfig: this.kubeconfigPath,
      pids: Object.fromEntries([...this.procs].map(([n, p]) => [n, p.pid])),
    };
  }

  /** Stops every process in reverse start order, by PID; removes the temp dir it made. */
  async stop(): Promise<void> {
    for (const p of [...this.procs.values()].reverse()) await stopProc(p);
    this.procs.clear();
    if (this.ownsDir && !process.env.MIO_KEEP_CLUSTER_DIR) rmSync(this.dir, { recursive: true, force: true });
  }

  logTail(name: string, lines = 30): string {
    const f = join(this.dir, 'logs', `${name}.log`);
    return existsSync(f) ? readFileSync(f, 'utf8').split('\n').slice(-lines).join('\n') : '';
  }
}
