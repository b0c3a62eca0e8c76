// PodCertificateRequest signer throughput: N requests (default 1,000) created as the node
// (system:node:<node>, NodeRestriction applies) as fast as the API server takes them, answered by
// the real operator (compiled, a child process); latency is creation → Issued seen on a watch.
// Params: requests=N concurrency=C pods=P.
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import * as k8s from '@kubernetes/client-node';
import { Registry } from 'prom-client';
import { pino } from 'pino';
import { Informer } from '../src/runtime/informer.ts';
import { sendRaw } from '../src/runtime/kube.ts';
import { withSharedDispatcher } from '../src/runtime/shared-dispatcher.ts';
import { stubCsr } from '../test/harness/stub-csr.ts';
import { REPO_ROOT } from '../test/harness/control-plane.ts';
import { startOperator } from '../test/harness/operator.ts';
import { certificatesVersion, podCertificateVolumes } from '../test/harness/requesters.ts';
import type { Bench } from './run.ts';

async function pool<T>(items: T[], concurrency: number, fn: (t: T) => Promise<unknown>): Promise<void> {
  let i = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (i < items.length) await fn(items[i++]!);
    }),
  );
}
const pct = (xs: number[], p: number): number =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))] ?? NaN;

interface Pcr extends k8s.KubernetesObject {
  status?: { conditions?: { type: string }[] };
}

const bench: Bench = {
  description: 'PodCertificateRequest signer: requests per second and creation → Issued latency',
  async run({ kc, kubeconfigPath, cp, params, log }) {
    const n = Number(params.requests ?? 1000),
      conc = Number(params.concurrency ?? 32),
      podCount = Number(params.pods ?? 10);
    if (!cp) throw new Error('the signer bench needs its own control plane (no --local)');
    const core = kc.makeApiClient(k8s.CoreV1Api);
    const co = kc.makeApiClient(k8s.CustomObjectsApi);
    const node = 'bench-node';
    const nodeObj = await core.createNode({ body: { metadata: { name: node } } });
    for (const name of ['bench-signer', 'mio-bench']) await core.createNamespace({ body: { metadata: { name } } });
    await core.createNamespacedServiceAccount({ namespace: 'bench-signer', body: { metadata: { name: 'app' } } });
    const sa = await core.readNamespacedServiceAccount({ namespace: 'bench-signer', name: 'app' });
    const pods: k8s.V1Pod[] = [];
    for (let i = 0; i < podCount; i++) {
      pods.push(
        await core.createNamespacedPod({
          namespace: 'bench-signer',
          body: {
            metadata: { name: `p-${i}` },
            spec: {
              nodeName: node,
              serviceAccountName: 'app',
              automountServiceAccountToken: false,
              containers: [{ name: 'c', image: 'example.invalid/x' }],
              // since 1.37 a node may request a pod certificate only for a signer the pod mounts
              volumes: podCertificateVolumes(['machineidentity.io/pods']),
            },
          },
        }),
      );
    }
    await co.createClusterCustomObject({
      group: 'machineidentity.io',
      version: 'v1alpha1',
      plural: 'certificateauthoritybindings',
      body: {
        apiVersion: 'machineidentity.io/v1alpha1',
        kind: 'CertificateAuthorityBinding',
        metadata: { name: 'pods' },
        spec: {
          ca: { secretRef: { name: 'pods-ca' }, generate: { commonName: 'Bench Pod CA' } },
          signer: { podCertificates: true, trustDomain: 'bench.local' },
        },
      },
    });
    execFileSync(
      process.execPath,
      [join(REPO_ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(REPO_ROOT, 'tsconfig.build.json')],
      { stdio: 'inherit' },
    );
    const op = await startOperator(
      kubeconfigPath,
      {
        MIO_NAMESPACE: 'mio-bench',
        MIO_LEADER_ELECT: 'false',
        MIO_LOG_LEVEL: 'warn',
        MIO_INVENTORY: 'false',
        NODE_OPTIONS: `--max-old-space-size=192 ${params.nodeOptions ?? ''}`,
      },
      join(REPO_ROOT, 'dist/main.js'),
    );
    try {
      // the binding's CA is ready once its trust bundle exists
      for (let t = Date.now(); Date.now() - t < 60_000;) {
        const b = (await co.getClusterCustomObject({
          group: 'machineidentity.io',
          version: 'v1alpha1',
          plural: 'certificateauthoritybindings',
          name: 'pods',
        })) as { status?: { conditions?: { type: string; status: string }[] } };
        if (b.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      const nodeKc = withSharedDispatcher(new k8s.KubeConfig());
      nodeKc.loadFromFile(await cp.userKubeconfig(`system:node:${node}`, ['system:nodes']));
      // the version the server serves (v1 on 1.37, v1beta1 on 1.36), as the signer picks it
      const version = await certificatesVersion(kc, 'podcertificaterequests');
      const pcrPath = `/apis/certificates.k8s.io/${version}/namespaces/bench-signer/podcertificaterequests`;
      log(`generating ${n} ECDSA P-256 keys and stub CSRs (certificates.k8s.io/${version})`);
      const bodies = Array.from({ length: n }, (_v, i) => {
        const p = pods[i % pods.length]!;
        return JSON.stringify({
          apiVersion: `certificates.k8s.io/${version}`,
          kind: 'PodCertificateRequest',
          metadata: { name: `r-${i}` },
          spec: {
            signerName: 'machineidentity.io/pods',
            podName: p.metadata!.name,
            podUID: p.metadata!.uid,
            serviceAccountName: 'app',
            serviceAccountUID: sa.metadata!.uid,
            nodeName: node,
            nodeUID: nodeObj.metadata!.uid,
            maxExpirationSeconds: 86400,
            stubPKCS10Request: stubCsr(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey).toString(
              'base64',
            ),
          },
        });
      });
      const created = new Map<string, number>();
      const latency: number[] = [];
      let lastIssued = 0;
      const watch = new Informer<Pcr>({
        kc,
        path: pcrPath,
        registry: new Registry(),
        logger: pino({ level: 'warn' }),
      });
      watch.onUpdate((_o, x) => {
        const t0 = created.get(x.metadata!.name!);
        if (t0 === undefined || !x.status?.conditions?.some((c) => c.type === 'Issued')) return;
        created.delete(x.metadata!.name!);
        lastIssued = performance.now();
        latency.push(lastIssued - t0);
      });
      watch.start();
      await watch.synced;
      const cpu = (pid: number): number => {
        const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
        return (Number(f[11]) + Number(f[12])) / 100;
      };
      const cpu0 = cpu(op.proc.pid);
      const start = performance.now();
      let failures = 0;
      await pool([...bodies.keys()], conc, async (i) => {
        created.set(`r-${i}`, performance.now());
        const r = await sendRaw(nodeKc, 'POST', pcrPath, bodies[i]!, 'application/json');
        if (r.status !== 201) {
          failures++;
          created.delete(`r-${i}`);
          if (failures < 3) log(`create failed: ${r.status} ${r.text.slice(0, 200)}`);
        }
      });
      const createdIn = (performance.now() - start) / 1000;
      for (let t = Date.now(); latency.length < n - failures && Date.now() - t < 120_000;)
        await new Promise((r) => setTimeout(r, 50));
      await watch.stop();
      const total = (lastIssued - start) / 1000;
      log(`operator CPU during the run: ${(cpu(op.proc.pid) - cpu0).toFixed(2)}s`);
      log(
        `created ${n - failures} in ${createdIn.toFixed(2)}s (${((n - failures) / createdIn).toFixed(0)}/s); ${latency.length} issued, the last after ${total.toFixed(2)}s`,
      );
      return {
        requests: n,
        issued: latency.length,
        create_failures: failures,
        requests_per_second: Math.round(latency.length / total),
        p50_ms: pct(latency, 0.5).toFixed(0),
        p99_ms: pct(latency, 0.99).toFixed(0),
      };
    } finally {
      await op.stop();
    }
  },
};
export default bench;
