// `npm run cluster:up -- --node=real` and `npm run dev -- --node=real`, as a developer runs them: the
// cluster comes up with a real node that outlives the command; dev builds the image, installs the operator
// with helm into it, applies examples/ and prints a pod-certificate recipe that works when followed
// (the real kubelet asks, the operator in its pod signs); Ctrl-C leaves the cluster up; `cluster:down`
// stops every process and leaves nothing on the host (the real node's own leftovers check).
// Only one real node fits on a host: this file fails at once, touching nothing, when another one runs.
import { afterAll, describe, it, expect } from '@jest/globals';
import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { REPO_ROOT } from '../harness/control-plane.ts';
import { leftovers } from '../harness/node-cleanup.ts';
import { isAlive, waitFor } from '../harness/processes.ts';
import type { ClusterState } from '../../scripts/lib/local-cluster.ts';

const local = mkdtempSync(join(tmpdir(), 'mio-dev-real-'));
const env = { ...process.env, MIO_LOCAL_DIR: local };
const STATE = join(local, 'cluster-state.json');
const log = (l: string): void => void process.stderr.write(`dev-real-node: ${l}\n`);

interface Run {
  out: () => string;
  exited: Promise<number | null>;
  kill: () => void;
  done: () => boolean;
}

/** Each command's output also goes to <MIO_LOCAL_DIR>/<script>.out, to read while the test still runs. */
function runScript(script: string, args: string[]): Run {
  const child = spawn(process.execPath, [join(REPO_ROOT, 'scripts', script), ...args], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const add = (d: Buffer): void => {
    out += d.toString();
    appendFileSync(join(local, `${script}.out`), d);
  };
  child.stdout.on('data', add);
  child.stderr.on('data', add);
  let done = false;
  const exited = new Promise<number | null>((r) =>
    child.once('exit', (code) => {
      done = true;
      r(code);
    }),
  );
  return { out: () => out, exited, kill: () => void child.kill('SIGTERM'), done: () => done };
}

async function finished(script: string, args: string[]): Promise<{ code: number | null; out: string; ms: number }> {
  const t0 = Date.now();
  const r = runScript(script, args);
  const code = await r.exited;
  return { code, out: r.out(), ms: Date.now() - t0 };
}

const state = (): ClusterState => JSON.parse(readFileSync(STATE, 'utf8')) as ClusterState;
const kubeConfig = (): k8s.KubeConfig => {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(join(local, 'kubeconfig'));
  return kc;
};

// recorded before cluster:down removes the state file: what the leftovers check needs
let recorded: ClusterState | undefined;

afterAll(async () => {
  // whatever failed above, never leave the node on the host
  if (existsSync(STATE)) log(`cleanup: ${(await finished('cluster.ts', ['down'])).out}`);
}, 180_000);

describe('npm run cluster:up / dev -- --node=real', () => {
  it('brings the cluster up with a real node that outlives the command', async () => {
    const up = await finished('cluster.ts', ['up', '--node=real']);
    log(`cluster:up --node=real took ${up.ms} ms`);
    expect(up.out).toContain('real node mio-real-node Ready');
    expect(up.code).toBe(0);
    recorded = state();
    expect(recorded.nodeMode).toBe('real');
    const node = recorded.node!;
    expect(Object.keys(node.procs).sort()).toEqual(['containerd', 'endpointslice-controller', 'kube-proxy', 'kubelet']);
    expect(Object.values(node.procs).every((p) => isAlive(p.pid))).toBe(true);
    const kc = kubeConfig();
    const n = await kc.makeApiClient(k8s.CoreV1Api).readNode({ name: 'mio-real-node' });
    expect(n.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
    expect(n.status?.nodeInfo?.containerRuntimeVersion).toMatch(/^containerd:\/\/v?2\./);
    const v = await kc.makeApiClient(k8s.VersionApi).getCode();
    expect(n.status?.nodeInfo?.kubeletVersion).toBe(v.gitVersion);
    // no kwok node: every pod lands on the real node
    const nodes = await kc.makeApiClient(k8s.CoreV1Api).listNode();
    expect(nodes.items.map((i) => i.metadata?.name)).toEqual(['mio-real-node']);
  }, 900_000);

  it('reuses the running cluster, and refuses to replace it with one of the other kind', async () => {
    const again = await finished('cluster.ts', ['up', '--node=real']);
    expect(again.out).toContain('local cluster already running');
    expect(again.code).toBe(0);
    const kwok = await finished('cluster.ts', ['up']);
    expect(kwok.code).toBe(1);
    expect(kwok.out).toContain('a local cluster with a real node is running; `npm run cluster:down` first');
    expect(state().node?.procs.kubelet?.pid).toBe(recorded?.node?.procs.kubelet?.pid);
  });

  it('dev installs the operator with helm from the local image, and its pod-certificate recipe works', async () => {
    const t0 = Date.now();
    const dev = runScript('dev.ts', ['--node=real']);
    try {
      // waitFor retries what throws: a dev that exited must end the wait, not be retried for 15 minutes
      let failed = false;
      await waitFor(
        'dev to finish start-up',
        async () => {
          failed ||= dev.done();
          return failed || dev.out().includes('operator logs follow');
        },
        900_000,
        500,
      );
      if (failed) throw new Error('dev exited before it finished start-up');
      log(`dev --node=real ready in ${Date.now() - t0} ms`);
      const kc = kubeConfig();
      const apps = kc.makeApiClient(k8s.AppsV1Api);
      const d = await apps.readNamespacedDeployment({
        name: 'machine-identity-operator',
        namespace: 'machine-identity-system',
      });
      expect(d.status?.readyReplicas).toBe(2);
      const pods = await kc.makeApiClient(k8s.CoreV1Api).listNamespacedPod({ namespace: 'machine-identity-system' });
      for (const p of pods.items) {
        expect(p.spec?.nodeName).toBe('mio-real-node');
        expect(p.spec?.containers[0]?.image).toBe('localhost/machine-identity-operator:dev');
      }
      // follow the printed recipe as a developer would (not the background `-w` watch)
      const lines = dev
        .out()
        .split('\n')
        .map((l) => /^\[dev\] {3}(.*) \(\+[\d.]+s\)$/.exec(l)?.[1])
        .filter((l): l is string => l !== undefined && !l.includes(' -w &'));
      expect(lines[0]).toMatch(/^export KUBECONFIG=/);
      const script = lines.map((l) => l.replace(/ {3}# .*$/, '')).join('\n');
      log(`running the printed recipe:\n${script}`);
      const r = spawnSync('bash', ['-euo', 'pipefail', '-c', script], { encoding: 'utf8', timeout: 180_000 });
      log(`recipe output:\n${r.stdout}${r.stderr}`);
      expect(r.status).toBe(0);
      expect(r.stdout).toContain('URI:spiffe://cluster.local/ns/demo/sa/default');
      expect(r.stdout).not.toContain('PRIVATE KEY');
    } catch (e) {
      throw new Error(`${(e as Error).message}\n--- npm run dev output ---\n${dev.out().slice(-8000)}`, { cause: e });
    } finally {
      dev.kill();
    }
    expect(await dev.exited).toBe(0);
    expect(dev.out()).toContain('npm run cluster:down stops everything');
    // Ctrl-C left the cluster and its node running
    const n = await kubeConfig().makeApiClient(k8s.CoreV1Api).readNode({ name: 'mio-real-node' });
    expect(n.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
  }, 1_200_000);

  it('cluster:down stops every process and leaves nothing on the host', async () => {
    const s = state();
    const down = await finished('cluster.ts', ['down']);
    log(`cluster:down took ${down.ms} ms:\n${down.out}`);
    expect(down.code).toBe(0);
    const pids = [...Object.values(s.pids), ...Object.values(s.node!.procs).map((p) => p.pid)];
    expect(pids.filter(isAlive)).toEqual([]);
    const left = leftovers(s.node!.traces);
    log(`leftovers after cluster:down: ${JSON.stringify(left)}`);
    expect(left).toEqual([]);
    expect(existsSync(s.node!.dir)).toBe(false);
    expect(existsSync(STATE)).toBe(false);
  }, 180_000);
});
