// The real node: containerd 2 + runc + the CNI bridge + a kubelet and kube-proxy of the control plane's
// version run real pods; a Service's ClusterIP and the API server (through the `kubernetes` Service) answer
// from inside a pod; teardown leaves no process, mount, link, iptables chain or cgroup behind.
// It runs its own control plane: the API server must listen where pods can reach it (RealNode.apiServerArgs).
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as k8s from '@kubernetes/client-node';
import { ControlPlane } from '../harness/control-plane.ts';
import { RealNode } from '../harness/real-node.ts';
import { waitFor } from '../harness/processes.ts';

const NS = 'real-node';

describe('real node', () => {
  const cp = new ControlPlane({ full: true, fakeNodes: [], apiServerArgs: RealNode.apiServerArgs() });
  const node = new RealNode();
  let core: k8s.CoreV1Api;
  let stopped = false;
  const forwardBefore = readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim();

  beforeAll(async () => {
    await cp.start();
    await node.start(cp);
    core = cp.kubeConfig().makeApiClient(k8s.CoreV1Api);
    await core.createNamespace({ body: { metadata: { name: NS } } });
    await waitFor(
      'default ServiceAccount',
      async () => (await core.readNamespacedServiceAccount({ name: 'default', namespace: NS })).metadata?.uid,
      30_000,
    );
  }, 600_000);

  afterAll(async () => {
    try {
      if (!stopped) await node.stop();
    } finally {
      await cp.stop();
    }
  }, 120_000);

  const pod = (name: string, args: string[], labels: Record<string, string> = {}): k8s.V1Pod => ({
    metadata: { name, namespace: NS, labels },
    spec: {
      nodeName: node.nodeName,
      restartPolicy: 'Never',
      terminationGracePeriodSeconds: 1,
      containers: [
        {
          name: 'main',
          image: node.deps.netcheckImage,
          imagePullPolicy: 'Never',
          args,
          securityContext: { runAsUser: 65532, runAsNonRoot: true, readOnlyRootFilesystem: true },
        },
      ],
    },
  });

  const phase = async (name: string, want: string): Promise<k8s.V1Pod> =>
    waitFor(
      `pod ${name} ${want}`,
      async () => {
        node.assertRunning();
        const p = await core.readNamespacedPod({ name, namespace: NS });
        if (p.status?.phase === 'Failed') throw new Error(`pod ${name} failed: ${JSON.stringify(p.status)}`);
        return p.status?.phase === want ? p : undefined;
      },
      120_000,
      250,
    );

  it('is a kubelet of the control plane version on containerd 2', async () => {
    const v = await cp.kubeConfig().makeApiClient(k8s.VersionApi).getCode();
    const info = (await core.readNode({ name: node.nodeName })).status?.nodeInfo;
    process.stderr.write(`real node: kubelet ${info?.kubeletVersion}, ${info?.containerRuntimeVersion}\n`);
    expect(info?.kubeletVersion).toBe(v.gitVersion);
    expect(info?.containerRuntimeVersion).toMatch(/^containerd:\/\/v?2\./);
  });

  const message = (p: k8s.V1Pod): string => p.status?.containerStatuses?.[0]?.state?.terminated?.message ?? '';

  it('runs a pod with an address on the node bridge', async () => {
    const t0 = Date.now();
    await core.createNamespacedPod({
      namespace: NS,
      body: pod('server', ['serve', ':8080', 'hello from the real node'], { app: 'server' }),
    });
    const p = await phase('server', 'Running');
    process.stderr.write(`real node: pod Running in ${Date.now() - t0} ms, IP ${p.status?.podIP}\n`);
    expect(p.status?.podIP).toMatch(/^10\.244\.77\.\d+$/);
    expect(p.status?.containerStatuses?.[0]?.ready).toBe(true);
  });

  it('answers on a Service ClusterIP from another pod', async () => {
    const svc = await core.createNamespacedService({
      namespace: NS,
      body: {
        metadata: { name: 'server', namespace: NS },
        spec: { selector: { app: 'server' }, ports: [{ port: 80, targetPort: 8080 }] },
      },
    });
    const t0 = Date.now();
    await core.createNamespacedPod({ namespace: NS, body: pod('client', ['get', `http://${svc.spec?.clusterIP}/`]) });
    const p = await phase('client', 'Succeeded');
    process.stderr.write(`real node: ClusterIP ${svc.spec?.clusterIP} answered in ${Date.now() - t0} ms\n`);
    expect(message(p).trim()).toBe('hello from the real node');
  });

  it('reaches the API server through the kubernetes Service', async () => {
    await core.createNamespacedPod({ namespace: NS, body: pod('api-client', ['apiserver']) });
    const t0 = Date.now();
    const p = await phase('api-client', 'Succeeded');
    process.stderr.write(`real node: API server answered a pod in ${Date.now() - t0} ms: ${message(p).length} bytes\n`);
    expect(JSON.parse(message(p))).toMatchObject({ gitVersion: expect.stringMatching(/^v1\./) });
  });

  it("keeps pod traffic on this machine: no masquerade but kube-proxy's marked one, no host-wide forwarding", () => {
    const nat = execFileSync('iptables', ['-w', '-t', 'nat', '-S'], { encoding: 'utf8' }).split('\n');
    expect(nat.filter((l) => l.includes('MASQUERADE') && !l.startsWith('-A KUBE-POSTROUTING '))).toEqual([]);
    expect(readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim()).toBe(forwardBefore);
    const routes = execFileSync('ip', ['route', 'show', 'dev', node.bridge], { encoding: 'utf8' });
    expect(routes.trim()).toBe(`10.244.77.0/24 proto kernel scope link src ${node.nodeIp}`);
  });

  it('leaves nothing behind when stopped', async () => {
    stopped = true;
    await node.stop();
    const left = node.leftovers();
    process.stderr.write(`real node: leftovers after stop: ${JSON.stringify(left)}\n`);
    expect(left).toEqual([]);
  });
});
