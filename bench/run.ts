// npm run bench -- <name> [key=value ...]
// Runs bench/<name>.ts against a real control plane (a private one started for the run, or the
// local one from `npm run cluster:up` with --local) and ends with one line of key=value figures.
import { existsSync, readdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as k8s from '@kubernetes/client-node';
import { ControlPlane, type ControlPlaneOptions } from '../test/harness/control-plane.ts';
import { installCrds } from '../test/harness/manifests.ts';
import { withSharedDispatcher } from '../src/runtime/shared-dispatcher.ts';

export interface BenchContext {
  kc: k8s.KubeConfig;
  kubeconfigPath: string;
  cp?: ControlPlane;
  /** key=value arguments from the command line. */
  params: Record<string, string>;
  log(line: string): void;
}
export type Figures = Record<string, number | string>;
export interface Bench {
  description: string;
  run(ctx: BenchContext): Promise<Figures>;
  /** Control plane options this benchmark needs (etcd quota, compaction, API server flags), from its params. */
  controlPlane?(params: Record<string, string>): ControlPlaneOptions;
}

const here = dirname(fileURLToPath(import.meta.url));
const [name, ...rest] = process.argv.slice(2).filter((a) => a !== '--');
const available = readdirSync(here)
  .filter((f) => f.endsWith('.ts') && f !== 'run.ts')
  .map((f) => f.replace(/\.ts$/, ''));
if (!name || !available.includes(name)) {
  process.stderr.write(
    `usage: npm run bench -- <name> [key=value ...] [--local]\navailable: ${available.join(', ')}\n`,
  );
  process.exit(2);
}
const params = Object.fromEntries(
  rest.filter((a) => a.includes('=')).map((a) => [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)]),
);
const log = (l: string): void => void process.stderr.write(`[bench ${name}] ${l}\n`);
const bench = (await import(join(here, `${name}.ts`))).default as Bench;
log(bench.description);

let cp: ControlPlane | undefined;
let kubeconfigPath: string;
const localKubeconfig = join(here, '../.local/kubeconfig');
if (rest.includes('--local') && existsSync(localKubeconfig)) {
  kubeconfigPath = localKubeconfig;
} else {
  cp = await new ControlPlane({ ...bench.controlPlane?.(params), full: params.full === 'true', log }).start();
  kubeconfigPath = cp.kubeconfigPath;
}
const kc = withSharedDispatcher(new k8s.KubeConfig());
kc.loadFromFile(kubeconfigPath);
let code = 0;
try {
  await installCrds(kc);
  const figures = await bench.run({ kc, kubeconfigPath, cp, params, log });
  process.stdout.write(
    `${Object.entries(figures)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ')}\n`,
  );
} catch (e) {
  log(`failed: ${(e as Error).stack ?? String(e)}`);
  code = 1;
} finally {
  await cp?.stop();
}
process.exit(code);
