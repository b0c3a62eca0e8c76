// Starts one full real control plane (etcd, kube-apiserver, kube-controller-manager, kube-scheduler,
// kwok with one Ready fake Node) for the whole integration project, and installs the CRDs.
import { ControlPlane } from '../harness/control-plane.ts';
import { installCrds } from '../harness/manifests.ts';

export default async function globalSetup(): Promise<void> {
  const cp = new ControlPlane({ full: true, fakeNodes: ['kwok-node-0'] });
  (globalThis as { __MIO_CP__?: ControlPlane }).__MIO_CP__ = cp;
  try {
    await cp.start();
    await installCrds(cp.kubeConfig());
  } catch (e) {
    process.stderr.write(
      `control plane failed to start: ${String(e)}\n--- apiserver log ---\n${cp.logTail('kube-apiserver')}\n`,
    );
    await cp.stop();
    throw e;
  }
  process.env.MIO_TEST_KUBECONFIG = cp.kubeconfigPath;
  process.env.MIO_TEST_SERVER = cp.server;
  process.env.MIO_TEST_CLUSTER_DIR = cp.dir;
}
