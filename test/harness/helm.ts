// The real helm binary (from the control-plane bins cache) with a private home, and the chart
// rendered into objects; shared by the chart tests that apply what helm renders.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { sharedCluster } from './cluster.ts';
import { REPO_ROOT } from './control-plane.ts';

export const CHART = join(REPO_ROOT, 'deploy/helm/machine-identity-operator');
export const KUBE_VERSION = 'v1.36.3';

const helmHome = mkdtempSync(join(tmpdir(), 'mio-helm-'));

async function helmOk(...args: string[]): Promise<string> {
  const bin = join(sharedCluster().binDir, 'helm');
  if (!existsSync(bin)) throw new Error(`helm not found at ${bin} (npm run bins builds it)`);
  const env = {
    ...process.env,
    HELM_CACHE_HOME: join(helmHome, 'cache'),
    HELM_CONFIG_HOME: join(helmHome, 'config'),
    HELM_DATA_HOME: join(helmHome, 'data'),
    KUBECONFIG: sharedCluster().kubeconfigPath,
  };
  return new Promise((resolve, reject) => {
    execFile(bin, args, { env, maxBuffer: 64 << 20, timeout: 170_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`helm ${args.join(' ')} failed: ${stderr}\n${stdout}`, { cause: err }));
      else resolve(stdout);
    });
  });
}

/** `helm template` of the chart as release `release` in `namespace`, with these values (YAML or JSON). */
export async function renderChart(
  release: string,
  namespace: string,
  values: Record<string, unknown> = {},
): Promise<k8s.KubernetesObject[]> {
  const file = join(helmHome, `${release}-values.json`);
  writeFileSync(file, JSON.stringify(values));
  const out = await helmOk(
    'template',
    release,
    CHART,
    '--namespace',
    namespace,
    '--kube-version',
    KUBE_VERSION,
    '-f',
    file,
  );
  // document by document: helm emits comment-only documents, which client-node's loadAllYaml cannot type
  return out
    .split(/^---\s*$/m)
    .filter((doc) => /^[^#\s]/m.test(doc))
    .map((doc) => k8s.loadYaml<k8s.KubernetesObject | null>(doc))
    .filter((o): o is k8s.KubernetesObject => !!o?.kind);
}
