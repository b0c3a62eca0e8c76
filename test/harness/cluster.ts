// Access to the control plane that test/setup/global-setup.ts started for the integration project.
import * as k8s from '@kubernetes/client-node';
import { withSharedDispatcher } from '../../src/runtime/shared-dispatcher.ts';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { kubeconfigYaml } from './control-plane.ts';
import { clientFromCa } from './pki.ts';

export interface SharedCluster {
  /** Admin (system:masters) kubeconfig file. */
  kubeconfigPath: string;
  server: string;
  /** Directory with pki/, logs/ and the binaries' dir in binDir. */
  dir: string;
  binDir: string;
  /** The Kubernetes version of the shared plane, e.g. "v1.37.2" (see ./plane-flags.ts for what it serves). */
  version: string;
  kubeConfig(): k8s.KubeConfig;
  /** A kubeconfig file for another user (client certificate from the cluster CA), e.g. a node: system:node:<name>, [system:nodes]. */
  userKubeconfig(user: string, groups?: string[]): Promise<string>;
}

export function sharedCluster(): SharedCluster {
  const kubeconfigPath = process.env.MIO_TEST_KUBECONFIG;
  if (!kubeconfigPath)
    throw new Error(
      'MIO_TEST_KUBECONFIG is not set: integration tests run through the jest integration project (npm test)',
    );
  return {
    kubeconfigPath,
    server: process.env.MIO_TEST_SERVER ?? '',
    dir: process.env.MIO_TEST_CLUSTER_DIR ?? '',
    binDir: process.env.MIO_BIN_DIR_RESOLVED ?? '',
    version: process.env.MIO_K8S_VERSION_RESOLVED ?? '',
    kubeConfig(): k8s.KubeConfig {
      const kc = new k8s.KubeConfig();
      kc.loadFromFile(kubeconfigPath);
      return withSharedDispatcher(kc);
    },
    async userKubeconfig(user: string, groups: string[] = []): Promise<string> {
      const dir = process.env.MIO_TEST_CLUSTER_DIR ?? '';
      const ca = {
        cert: readFileSync(join(dir, 'pki/ca.crt'), 'utf8'),
        key: readFileSync(join(dir, 'pki/ca.key'), 'utf8'),
      };
      const file = join(
        dir,
        `user-${user.replace(/[^a-zA-Z0-9_.-]/g, '_')}-${randomBytes(3).toString('hex')}.kubeconfig`,
      );
      writeFileSync(
        file,
        kubeconfigYaml(process.env.MIO_TEST_SERVER ?? '', ca.cert, user, await clientFromCa(ca, user, groups)),
        { mode: 0o600 },
      );
      return file;
    },
  };
}

/** Creates a uniquely named namespace for one test file; returns its name. */
export async function testNamespace(prefix: string, labels: Record<string, string> = {}): Promise<string> {
  const core = sharedCluster().kubeConfig().makeApiClient(k8s.CoreV1Api);
  const name = `${prefix}-${randomBytes(3).toString('hex')}`.slice(0, 63);
  await core.createNamespace({ body: { metadata: { name, labels } } });
  return name;
}
