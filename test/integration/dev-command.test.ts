// Acceptance (foundation #6): `npm run dev` on a fresh checkout ends with the operator running and the
// example objects applied; `npm run cluster:down` stops everything it started. It comes up while the
// production ACME HTTP-01 port (0.0.0.0:8089) is taken, refuses a taken port it was told to use with a
// message naming it, and never leaves the operator running when it fails after starting it.
import { afterAll, describe, it, expect } from '@jest/globals';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { REPO_ROOT } from '../harness/control-plane.ts';
import { isAlive, waitFor, stopPid, freePort } from '../harness/processes.ts';
import { readManifests } from '../harness/manifests.ts';

// one local cluster for the whole file: the later runs find it up and reuse it
const local = mkdtempSync(join(tmpdir(), 'mio-dev-'));
const env = { ...process.env, MIO_LOCAL_DIR: local };

interface DevRun {
  out: () => string;
  exited: Promise<number | null>;
  kill: () => void;
}

function runDev(extraEnv: Record<string, string> = {}): DevRun {
  const e: NodeJS.ProcessEnv = { ...env, ...extraEnv };
  if (!('MIO_ACME_HTTP01_ADDR' in extraEnv)) delete e.MIO_ACME_HTTP01_ADDR;
  const dev = spawn(process.execPath, [join(REPO_ROOT, 'scripts/dev.ts')], {
    env: e,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  dev.stdout.on('data', (d: Buffer) => {
    out += d.toString();
  });
  dev.stderr.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const exited = new Promise<number | null>((r) => dev.once('exit', (code) => r(code)));
  return {
    out: () => out,
    exited,
    kill: () => {
      dev.kill('SIGTERM');
    },
  };
}

/** Holds host:port; resolves to undefined when it cannot be bound (then something else holds it already). */
function hold(port: number, host: string): Promise<Server | undefined> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(undefined));
    srv.listen(port, host, () => resolve(srv));
  });
}

const operatorPid = (out: string): number | undefined => {
  const m = /operator started \(pid (\d+)\)/.exec(out);
  return m ? Number(m[1]) : undefined;
};

afterAll(async () => {
  const state = join(local, 'cluster-state.json');
  const pids = existsSync(state)
    ? Object.values(JSON.parse(readFileSync(state, 'utf8')).pids as Record<string, number>)
    : [];
  const down = spawn(process.execPath, [join(REPO_ROOT, 'scripts/cluster.ts'), 'down'], { env, stdio: 'ignore' });
  await new Promise((r) => down.once('exit', r));
  for (const pid of pids) {
    if (isAlive(pid)) await stopPid(pid);
  }
  expect(pids.length).toBe(5);
  expect(pids.filter(isAlive)).toEqual([]);
  expect(existsSync(state)).toBe(false);
});

describe('npm run dev', () => {
  it('brings up a cluster, installs CRDs, runs the operator and applies examples/, with 0.0.0.0:8089 taken', async () => {
    const taken = await hold(8089, '0.0.0.0'); // the production ACME HTTP-01 address; undefined: already taken by someone else
    const dev = runDev();
    try {
      await waitFor(
        'dev to finish start-up',
        async () => {
          if (/\[dev\] (error:|operator exited)/.test(dev.out())) throw new Error(`dev failed:\n${dev.out()}`);
          return /operator running; metrics at (\S+)/.exec(dev.out())?.[1];
        },
        150_000,
        250,
      );
      expect(dev.out()).toMatch(/ACME HTTP-01 listener 127\.0\.0\.1:\d+/);
      const metricsUrl = /operator running; metrics at (\S+);/.exec(dev.out())![1]!;
      expect((await fetch(metricsUrl)).ok).toBe(true);
      expect((await fetch(metricsUrl.replace('/metrics', '/readyz'))).ok).toBe(true);
      const kc = new k8s.KubeConfig();
      kc.loadFromFile(join(local, 'kubeconfig'));
      const client = k8s.KubernetesObjectApi.makeApiClient(kc);
      for (const o of readManifests(join(REPO_ROOT, 'examples'))) {
        const got = await client.read({
          apiVersion: o.apiVersion!,
          kind: o.kind!,
          metadata: { name: o.metadata!.name!, namespace: o.metadata!.namespace! },
        });
        expect(got.metadata?.uid).toBeTruthy();
      }
    } catch (e) {
      // the output says where start-up stopped; keep it with the failure (the finally must not replace it)
      throw new Error(`${(e as Error).message}\n--- npm run dev output ---\n${dev.out().slice(-6000)}`, { cause: e });
    } finally {
      dev.kill();
      await new Promise((r) => (taken ? taken.close(r) : r(undefined)));
    }
    expect(await dev.exited).toBe(0);
    const pid = operatorPid(dev.out());
    expect(pid).toBeDefined();
    expect(isAlive(pid!)).toBe(false);
  });

  it('refuses a taken port it was told to use, naming it, before starting anything', async () => {
    const port = await freePort();
    const taken = (await hold(port, '127.0.0.1'))!;
    try {
      const dev = runDev({ MIO_ACME_HTTP01_ADDR: `127.0.0.1:${port}` });
      const code = await dev.exited;
      expect(code).toBe(1);
      expect(dev.out()).toContain(
        `MIO_ACME_HTTP01_ADDR: the ACME HTTP-01 listener 127.0.0.1:${port} cannot be bound (the port is in use by another process)`,
      );
      expect(dev.out()).not.toContain('EADDRINUSE');
      expect(operatorPid(dev.out())).toBeUndefined();
    } finally {
      await new Promise((r) => taken.close(r));
    }
  });

  it('stops the operator it started and exits non-zero when the readiness wait fails', async () => {
    const dev = runDev({ MIO_DEV_READY_TIMEOUT_MS: '1' });
    const code = await dev.exited;
    expect(code).toBe(1);
    expect(dev.out()).toMatch(/error: timed out after 1 ms waiting for operator \/readyz.*stopping the operator/);
    const pid = operatorPid(dev.out());
    expect(pid).toBeDefined();
    expect(isAlive(pid!)).toBe(false);
  }, 60_000);
});
