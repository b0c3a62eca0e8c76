// Access to the control plane that test/setup/global-setup.ts started for the integration project.
import * as k8s from '@kubernetes/client-node';
import { withSharedDispatcher } from '../../src/controllers/runtime/shared-dispatcher.ts';
import { randomBytes } from 'node:crypto';

export interface SharedCluster {
  /** Admin (system:masters) kubeconfig file. */
  kubeconfigPath: string;
  server: string;
  /** Directory with pki/, logs/ and the binaries' dir in binDir. */
  dir: string;
  binDir: string;
  kubeConfig(): k8s.KubeConfig;
}

export function sharedCluster(): SharedCluster {
  const kubeconfigPath = process.env.MIO_TEST_KUBECONFIG;
  if (!kubeconfigPath) throw new Error('MIO_TEST_KUBECONFIG is not set: integration tests run through the jest integration project (npm test)');
  return {
    kubeconfigPath,
    server: process.env.MIO_TEST_SERVER ?? '',
    dir: process.env.MIO_TEST_CLUSTER_DIR ?? '',
    binDir: process.env.MIO_BIN_DIR_RESOLVED ?? '',
    kubeConfig(): k8s.KubeConfig {
      const kc = new k8s.KubeConfig();
      kc.loadFromFile(kubeconfigPath);
      return withSharedDispatcher(kc);
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
