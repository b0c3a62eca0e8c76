// Acceptance (foundation #6): `npm run dev` on a fresh checkout ends with the operator running and the
// example objects applied; `npm run cluster:down` stops everything it started.
import { describe, it, expect } from '@jest/globals';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { REPO_ROOT } from '../harness/control-plane.ts';
import { isAlive, waitFor, stopPid } from '../harness/processes.ts';
import { readManifests } from '../harness/manifests.ts';

describe('npm run dev', () => {
  it('brings up a cluster, installs CRDs, runs the operator and applies examples/', async () => {
    const local = mkdtempSync(join(tmpdir(), 'mio-dev-'));
    const env = { ...process.env, MIO_LOCAL_DIR: local };
    const dev = spawn(process.execPath, [join(REPO_ROOT, 'scripts/dev.ts')], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    dev.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    dev.stderr.on('data', (d: Buffer) => { out += d.toString(); });
    const exited = new Promise<number | null>((r) => dev.once('exit', r));
    try {
      await waitFor('dev to finish start-up', async () => {
        if (dev.exitCode !== null) throw new Error(`dev exited early:\n${out}`);
        return /operator running; metrics at (\S+)/.exec(out)?.[1];
      }, 150_000, 250);
      const metricsUrl = /operator running; metrics at (\S+);/.exec(out)![1]!;
      expect((await fetch(metricsUrl)).ok).toBe(true);
      expect((await fetch(metricsUrl.replace('/metrics', '/readyz'))).ok).toBe(true);
      const kc = new k8s.KubeConfig();
      kc.loadFromFile(join(local, 'kubeconfig'));
      const client = k8s.KubernetesObjectApi.makeApiClient(kc);
      for (const o of readManifests(join(REPO_ROOT, 'examples'))) {
        const got = await client.read({ apiVersion: o.apiVersion!, kind: o.kind!, metadata: { name: o.metadata!.name!, namespace: o.metadata!.namespace! } });
        expect(got.metadata?.uid).toBeTruthy();
      }
    } finally {
      dev.kill('SIGTERM');
      await exited;
      const state = join(local, 'cluster-state.json');
      const pids = existsSync(state) ? Object.values(JSON.parse(readFileSync(state, 'utf8')).pids as Record<string, number>) : [];
      const down = spawn(process.execPath, [join(REPO_ROOT, 'scripts/cluster.ts'), 'down'], { env, stdio: 'ignore' });
      await new Promise((r) => down.once('exit', r));
      for (const pid of pids) { if (isAlive(pid)) await stopPid(pid); }
      expect(pids.length).toBe(5);
      expect(pids.filter(isAlive)).toEqual([]);
      expect(existsSync(state)).toBe(false);
    }
  });
});
