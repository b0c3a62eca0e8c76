// Applies YAML manifests (CRDs, examples) with server-side apply, as `kubectl apply --server-side` would.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { REPO_ROOT } from './control-plane.ts';
import { waitFor } from './processes.ts';

export function readManifests(path: string): k8s.KubernetesObject[] {
  const files = statSync(path).isDirectory()
    ? readdirSync(path)
        .filter((n) => /\.ya?ml$/.test(n))
        .sort()
        .map((n) => join(path, n))
    : [path];
  // k8s.loadAllYaml, not js-yaml: KubernetesObjectApi re-serializes known kinds through client-node's
  // models, which silently drop plain-JSON keys such as `default` and `x-kubernetes-validations`.
  return files
    .flatMap((f) => k8s.loadAllYaml(readFileSync(f, 'utf8')) as k8s.KubernetesObject[])
    .filter((o) => o?.kind);
}

export async function applyManifests(
  kc: k8s.KubeConfig,
  objs: k8s.KubernetesObject[],
  fieldManager = 'mio-dev',
): Promise<void> {
  const client = k8s.KubernetesObjectApi.makeApiClient(kc);
  for (const obj of objs)
    await client.patch(obj, undefined, undefined, fieldManager, true, k8s.PatchStrategy.ServerSideApply);
}

/** Applies config/crd/*.yaml and waits until every CRD is Established. */
export async function installCrds(kc: k8s.KubeConfig): Promise<void> {
  const objs = readManifests(join(REPO_ROOT, 'config/crd'));
  await applyManifests(kc, objs, 'mio-crd-install');
  const ext = kc.makeApiClient(k8s.ApiextensionsV1Api);
  for (const o of objs) {
    await waitFor(
      `CRD ${o.metadata?.name} Established`,
      async () => {
        const crd = await ext.readCustomResourceDefinition({ name: o.metadata!.name! });
        return crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True');
      },
      60_000,
    );
  }
}
