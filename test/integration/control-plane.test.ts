// The test harness's own guarantees: the real components the rest of the suite relies on.
import { describe, it, expect, beforeAll } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, lstatSync, readlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPairSync } from 'node:crypto';
import * as k8s from '@kubernetes/client-node';
import { sharedCluster, testNamespace } from '../harness/cluster.ts';
import { REPO_ROOT } from '../harness/control-plane.ts';
import { minorOf, planeFlags } from '../harness/plane-flags.ts';
import { waitFor } from '../harness/processes.ts';

describe('local control plane', () => {
  const kc = sharedCluster().kubeConfig();
  const core = kc.makeApiClient(k8s.CoreV1Api);
  let ns = '';
  beforeAll(async () => {
    ns = await testNamespace('cp');
  });

  it('runs the selected Kubernetes version (MIO_K8S_VERSION) with the version stamped', async () => {
    const v = await kc.makeApiClient(k8s.VersionApi).getCode();
    expect(v.gitVersion).toMatch(/^v1\.\d+\.\d+$/);
    expect(v.gitVersion).toBe(sharedCluster().version);
    expect(v.minor).toBe(String(minorOf(v.gitVersion)));
  });

  it('serves PodCertificateRequest and ClusterTrustBundle in exactly the version plane-flags.ts says', async () => {
    const flags = planeFlags(sharedCluster().version);
    const group = (await kc.makeApiClient(k8s.ApisApi).getAPIVersions()).groups.find(
      (g) => g.name === 'certificates.k8s.io',
    );
    const servedAt: Record<string, string[]> = {};
    for (const { version } of group?.versions ?? []) {
      const resources =
        version === 'v1'
          ? await kc.makeApiClient(k8s.CertificatesV1Api).getAPIResources()
          : version === 'v1beta1'
            ? await kc.makeApiClient(k8s.CertificatesV1beta1Api).getAPIResources()
            : { resources: [] };
      for (const r of resources.resources) (servedAt[r.name] ??= []).push(version);
    }
    const expected = (v: string | null): string[] => (v ? [v] : []);
    expect(servedAt['podcertificaterequests'] ?? []).toEqual(expected(flags.podCertificateRequest));
    expect(servedAt['podcertificaterequests/status'] ?? []).toEqual(expected(flags.podCertificateRequest));
    expect(servedAt['clustertrustbundles'] ?? []).toEqual(expected(flags.clusterTrustBundle));
  });

  it('schedules a Pod onto the kwok Node, which marks it Running', async () => {
    await waitFor(
      'default ServiceAccount',
      async () => (await core.readNamespacedServiceAccount({ name: 'default', namespace: ns })).metadata?.uid,
      30_000,
    );
    await core.createNamespacedPod({
      namespace: ns,
      body: { metadata: { name: 'p' }, spec: { containers: [{ name: 'c', image: 'example.invalid/none' }] } },
    });
    const pod = await waitFor(
      'pod Running',
      async () => {
        const p = await core.readNamespacedPod({ name: 'p', namespace: ns });
        return p.status?.phase === 'Running' ? p : undefined;
      },
      60_000,
      250,
    );
    expect(pod.spec?.nodeName).toBe('kwok-node-0');
  });

  it('garbage-collects dependents when their owner is deleted (kube-controller-manager)', async () => {
    const owner = await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'owner' } } });
    await core.createNamespacedConfigMap({
      namespace: ns,
      body: {
        metadata: {
          name: 'dependent',
          ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'owner', uid: owner.metadata!.uid! }],
        },
      },
    });
    await core.deleteNamespacedConfigMap({ name: 'owner', namespace: ns });
    await waitFor(
      'dependent collected',
      async () => {
        try {
          await core.readNamespacedConfigMap({ name: 'dependent', namespace: ns });
          return false;
        } catch {
          return true;
        }
      },
      60_000,
      250,
    );
  });

  it("signs approved CSRs with kube-controller-manager's signer", async () => {
    const certs = kc.makeApiClient(k8s.CertificatesV1Api);
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const keyFile = join(mkdtempSync(join(tmpdir(), 'mio-csr-')), 'k.pem');
    execFileSync('sh', ['-c', `cat > ${keyFile}`], { input: privateKey.export({ type: 'pkcs8', format: 'pem' }) });
    const csr = execFileSync('openssl', ['req', '-new', '-key', keyFile, '-subj', '/CN=harness-user']);
    const name = `harness-${Date.now()}`;
    await certs.createCertificateSigningRequest({
      body: {
        metadata: { name },
        spec: {
          request: csr.toString('base64'),
          signerName: 'kubernetes.io/kube-apiserver-client',
          usages: ['client auth'],
          expirationSeconds: 3600,
        },
      },
    });
    const obj = await certs.readCertificateSigningRequest({ name });
    obj.status = {
      conditions: [{ type: 'Approved', status: 'True', reason: 'Test', message: 'approved by the harness test' }],
    };
    await certs.replaceCertificateSigningRequestApproval({ name, body: obj });
    const signed = await waitFor(
      'certificate',
      async () => (await certs.readCertificateSigningRequest({ name })).status?.certificate,
      60_000,
      250,
    );
    expect(Buffer.from(signed, 'base64').toString()).toContain('BEGIN CERTIFICATE');
    await certs.deleteCertificateSigningRequest({ name });
  });

  it('honours KUBEBUILDER_ASSETS and per-binary overrides instead of building', () => {
    const bin = sharedCluster().binDir;
    const dir = mkdtempSync(join(tmpdir(), 'mio-bins-'));
    const out = execFileSync('bash', [join(REPO_ROOT, 'hack/control-plane-bins.sh')], {
      env: {
        ...process.env,
        MIO_BIN_DIR: dir,
        KUBEBUILDER_ASSETS: bin,
        MIO_KWOK_BIN: join(bin, 'kwok'),
        MIO_HELM_BIN: join(bin, 'helm'),
      },
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    expect(out.trim().split('\n').pop()).toBe(dir);
    for (const b of [
      'kube-apiserver',
      'kube-controller-manager',
      'kube-scheduler',
      'kubectl',
      'etcd',
      'kwok',
      'helm',
    ]) {
      expect(lstatSync(join(dir, b)).isSymbolicLink()).toBe(true);
      expect(readlinkSync(join(dir, b))).toBe(join(bin, b));
    }
  });
});
