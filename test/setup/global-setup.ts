// Starts one full real control plane (etcd, kube-apiserver, kube-controller-manager, kube-scheduler,
// kwok with one Ready fake Node) for the whole integration project, and installs the CRDs (not for a run that
// needs none: MIO_NO_SHARED_PLANE=1).
import { ControlPlane } from '../harness/control-plane.ts';
import { installCrds } from '../harness/manifests.ts';

export default async function globalSetup(): Promise<void> {
  // a run of only the real-node files (scripts/test.js runs them beside the rest): they start their own plane
  if (process.env.MIO_NO_SHARED_PLANE === '1') return;
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
