// Acceptance (signer #1, #2, #3): PodCertificateRequests created the way the kubelet creates them (as
// system:node:<node> with a node client certificate, so NodeRestriction applies), for a pod with a
// service account running on the kwok node, in both request forms and every key type; issued by the
// operator and accepted by the API server's status validation; denials for key type, annotations and
// policy. CertificateSigningRequests approved and signed, denied by policy, expirationSeconds honoured.
// A ClusterTrustBundle per signer. A 10-minute MachineIdentity renewed twice without Ready going False.
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { generateKeyPairSync, sign, constants, type KeyObject } from 'node:crypto';
import * as k8s from '@kubernetes/client-node';
import { sharedCluster, testNamespace } from '../harness/cluster.ts';
import { IssuanceEnv } from '../harness/identities.ts';
import { waitFor, sleep } from '../harness/processes.ts';
import { buildCsr } from '../../src/pki/csr.ts';
import { stubCsr } from '../harness/stub-csr.ts';
import { parseCertificate, splitPem } from '../../src/pki/certs.ts';
import { withSharedDispatcher } from '../../src/runtime/shared-dispatcher.ts';
import {
  certificatesVersion,
  createPodCertificateRequest,
  podCertificateVolumes,
  readPodCertificateRequest,
  serviceAccountClient,
} from '../harness/requesters.ts';

const env = new IssuanceEnv();
// what the server serves, chosen as the signer chooses: v1 on 1.37 (stubPKCS10Request only), v1beta1 on 1.35/1.36
const PCR_VERSION = await certificatesVersion(sharedCluster().kubeConfig(), 'podcertificaterequests');
const CTB_VERSION = await certificatesVersion(sharedCluster().kubeConfig(), 'clustertrustbundles');
/** v1 has no pkixPublicKey/proofOfPossession: there every key is asked for in the stub form. */
const PKIX = PCR_VERSION === 'v1beta1';
const IPOL = { group: 'machineidentity.io', version: 'v1alpha1', plural: 'issuancepolicies' } as const;
const NODE = 'kwok-node-0';
let ns = '';
let nsPolicy = '';
let binding = '';
let signerName = '';
let policyName = '';
let nodeKc: k8s.KubeConfig;
let nodeUID = '';
const pods: Record<string, { uid: string; saUID: string }> = {};

interface Pcr {
  metadata: { name: string; namespace: string };
  status?: {
    conditions?: { type: string; status: string; reason: string; message: string }[];
    certificateChain?: string;
    notBefore?: string;
    notAfter?: string;
    beginRefreshAt?: string;
  };
}

async function pod(namespace: string, name: string, sa: string): Promise<void> {
  await env.core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: sa } } }).catch(() => undefined);
  const saObj = await env.core.readNamespacedServiceAccount({ namespace, name: sa });
  const p = await env.core.createNamespacedPod({
    namespace,
    body: {
      metadata: { name, labels: { app: name } },
      spec: {
        nodeName: NODE,
        serviceAccountName: sa,
        automountServiceAccountToken: false,
        containers: [{ name: 'c', image: 'example.invalid/app' }],
        volumes: podCertificateVolumes([signerName]),
        tolerations: [{ operator: 'Exists' }],
      },
    },
  });
  pods[`${namespace}/${name}`] = { uid: p.metadata!.uid!, saUID: saObj.metadata!.uid! };
  await waitFor(
    `pod ${name} Running`,
    async () => (await env.core.readNamespacedPod({ namespace, name })).status?.phase === 'Running',
    60_000,
    250,
  );
}

type KeyKind = 'ECDSA-P256' | 'ECDSA-P384' | 'ECDSA-P521' | 'RSA-3072' | 'RSA-4096' | 'RSA-2048' | 'Ed25519';
function keyPair(kind: KeyKind): { privateKey: KeyObject; publicKey: KeyObject } {
  if (kind === 'Ed25519') return generateKeyPairSync('ed25519');
  if (kind.startsWith('RSA')) return generateKeyPairSync('rsa', { modulusLength: Number(kind.slice(4)) });
  return generateKeyPairSync('ec', {
    namedCurve: kind === 'ECDSA-P384' ? 'P-384' : kind === 'ECDSA-P521' ? 'P-521' : 'P-256',
  });
}

/** Creates a PodCertificateRequest as the node, the kubelet's way; returns its name and the key. */
async function requestPodCertificate(
  namespace: string,
  podName: string,
  sa: string,
  o: { key: KeyKind; form: 'stub' | 'pkix'; annotations?: Record<string, string>; maxExpirationSeconds?: number },
): Promise<{ name: string; publicKey: KeyObject; status: number; body: string }> {
  const { privateKey, publicKey } = keyPair(o.key);
  const p = pods[`${namespace}/${podName}`]!;
  const spec: Record<string, unknown> = {
    signerName,
    podName,
    podUID: p.uid,
    serviceAccountName: sa,
    serviceAccountUID: p.saUID,
    nodeName: NODE,
    nodeUID,
    maxExpirationSeconds: o.maxExpirationSeconds ?? 86400,
  };
  if (o.form === 'stub') {
    spec.stubPKCS10Request = stubCsr(privateKey).toString('base64');
  } else {
    spec.pkixPublicKey = publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
    const data = Buffer.from(p.uid);
    const proof = o.key.startsWith('RSA')
      ? sign('sha256', data, {
          key: privateKey,
          padding: constants.RSA_PKCS1_PSS_PADDING,
          saltLength: constants.RSA_PSS_SALTLEN_DIGEST,
        })
      : sign(o.key === 'Ed25519' ? null : 'sha256', data, privateKey);
    spec.proofOfPossession = proof.toString('base64');
  }
  if (o.annotations) spec.unverifiedUserAnnotations = o.annotations;
  const name = `${podName}-${o.key.toLowerCase()}-${o.form}-${Math.random().toString(36).slice(2, 7)}`;
  const res = await createPodCertificateRequest(nodeKc, PCR_VERSION, namespace, name, spec);
  return { name, publicKey, status: res.status, body: res.body };
}

async function answered(namespace: string, name: string): Promise<Pcr> {
  return waitFor(
    `PCR ${name} answered`,
    async () => {
      const r = await readPodCertificateRequest<Pcr>(env.kc, PCR_VERSION, namespace, name);
      return r.status?.conditions?.length ? r : undefined;
    },
    20_000,
    100,
  );
}

beforeAll(async () => {
  ns = await testNamespace('sig');
  nsPolicy = await testNamespace('sig-pol');
  await env.start();
  binding = env.uniqueName('sig');
  signerName = `machineidentity.io/${binding}`;
  await env.createBinding(binding, {
    ca: { secretRef: { name: binding }, generate: { commonName: 'Pod Signer CA' } },
    signer: {
      podCertificates: true,
      certificateSigningRequests: true,
      trustDomain: 'example.org',
      maxPodCertificateDuration: '2h',
    },
    // names beyond what a namespace owns, granted by the security team (the policy then narrows them to *.example.com)
    grants: [{ dnsNames: ['*.example.com', '*.example.net'] }],
  });
  await env.bindingReady(binding);
  nodeUID = (await env.core.readNode({ name: NODE })).metadata!.uid!;
  nodeKc = withSharedDispatcher(new k8s.KubeConfig());
  nodeKc.loadFromFile(await sharedCluster().userKubeconfig(`system:node:${NODE}`, ['system:nodes']));
  await pod(ns, 'web', 'app');
  await pod(nsPolicy, 'api', 'intruder');
  policyName = env.uniqueName('sig-pol');
  await env.co.createClusterCustomObject({
    ...IPOL,
    body: {
      apiVersion: 'machineidentity.io/v1alpha1',
      kind: 'IssuancePolicy',
      metadata: { name: policyName },
      spec: {
        enforcement: 'Enforce',
        selector: { authorities: [binding] },
        rules: {
          uris: { allowed: [`spiffe://example.org/ns/${ns}/sa/app`] },
          dnsNames: { allowed: ['*.example.com'] },
        },
      },
    },
  });
}, 120_000);

afterAll(async () => {
  await env.co.deleteClusterCustomObject({ ...IPOL, name: policyName }).catch(() => undefined);
  await env.stop();
});

const FORMS: { key: KeyKind; form: 'stub' | 'pkix' }[] = [
  { key: 'ECDSA-P256', form: 'stub' },
  { key: 'ECDSA-P384', form: 'pkix' },
  { key: 'RSA-3072', form: 'stub' },
  { key: 'RSA-3072', form: 'pkix' },
  { key: 'Ed25519', form: 'stub' },
  { key: 'Ed25519', form: 'pkix' },
  { key: 'ECDSA-P521', form: 'stub' },
  { key: 'ECDSA-P521', form: 'pkix' },
  { key: 'RSA-4096', form: 'pkix' },
  { key: 'ECDSA-P256', form: 'pkix' },
];
/** In v1 every key type once, in the stub form (the pkix rows' keys included). */
const ISSUE_CASES = PKIX ? FORMS : [...new Set(FORMS.map((f) => f.key))].map((key) => ({ key, form: 'stub' as const }));

describe(`PodCertificateRequest signer (certificates.k8s.io/${PCR_VERSION})`, () => {
  it.each(ISSUE_CASES)(
    'issues $key in the $form form, as the node asked, and the API server accepts it',
    async ({ key, form }) => {
      const t0 = Date.now();
      const req = await requestPodCertificate(ns, 'web', 'app', { key, form });
      expect({ status: req.status, body: req.status === 201 ? '' : req.body }).toEqual({ status: 201, body: '' });
      const pcr = await answered(ns, req.name);
      expect(pcr.status!.conditions!.map((c) => [c.type, c.status, c.reason])).toEqual([['Issued', 'True', 'Issued']]);
      const chain = splitPem(pcr.status!.certificateChain!);
      expect(chain.length).toBeGreaterThanOrEqual(1);
      const leaf = parseCertificate(chain[0]!);
      expect(leaf.uris).toEqual([`spiffe://example.org/ns/${ns}/sa/app`]);
      expect(leaf.publicKey.equals(req.publicKey)).toBe(true);
      expect(leaf.extKeyUsage).toEqual(expect.arrayContaining(['clientAuth', 'serverAuth']));
      expect(leaf.notAfter.getTime() - leaf.notBefore.getTime()).toBe(2 * 3600_000); // min(maxExpirationSeconds 24h, signer 2h)
      expect(leaf.notBefore.getTime()).toBeLessThan(t0);
      expect(t0 - leaf.notBefore.getTime()).toBeLessThan(5 * 60_000);
      expect(Date.parse(pcr.status!.beginRefreshAt!)).toBe(leaf.notBefore.getTime() + 80 * 60_000);
      expect(pcr.status!.notAfter).toBe(leaf.notAfter.toISOString().replace('.000Z', 'Z'));
    },
  );

  it('honours maxExpirationSeconds down to the 1-hour minimum', async () => {
    const req = await requestPodCertificate(ns, 'web', 'app', {
      key: 'ECDSA-P256',
      form: 'stub',
      maxExpirationSeconds: 3600,
    });
    const pcr = await answered(ns, req.name);
    const leaf = parseCertificate(splitPem(pcr.status!.certificateChain!)[0]!);
    expect(leaf.notAfter.getTime() - leaf.notBefore.getTime()).toBe(3600_000);
  });

  it('refuses unsupported key types (the API server already, the signer too)', async () => {
    const req = await requestPodCertificate(ns, 'web', 'app', { key: 'RSA-2048', form: PKIX ? 'pkix' : 'stub' });
    if (req.status === 201) {
      const pcr = await answered(ns, req.name);
      expect(pcr.status!.conditions![0]).toMatchObject({ type: 'Denied', reason: 'UnsupportedKeyType' });
    } else {
      expect(req.status).toBe(422);
      expect(req.body).toMatch(/RSA|key/i);
    }
  });

  it('denies unknown unverifiedUserAnnotations with InvalidUnverifiedUserAnnotations', async () => {
    const req = await requestPodCertificate(ns, 'web', 'app', {
      key: 'ECDSA-P256',
      form: 'stub',
      annotations: { 'example.com/role': 'admin' },
    });
    expect(req.status).toBe(201);
    const pcr = await answered(ns, req.name);
    expect(pcr.status!.conditions![0]).toMatchObject({
      type: 'Denied',
      status: 'True',
      reason: 'InvalidUnverifiedUserAnnotations',
    });
    expect(pcr.status!.certificateChain).toBeUndefined();
  });

  it('denies what an IssuancePolicy denies, with its message', async () => {
    const req = await requestPodCertificate(nsPolicy, 'api', 'intruder', { key: 'ECDSA-P256', form: 'stub' });
    expect(req.status).toBe(201);
    const pcr = await answered(nsPolicy, req.name);
    expect(pcr.status!.conditions![0]).toMatchObject({
      type: 'Denied',
      reason: 'PolicyDenied',
      message: `denied by IssuancePolicy ${policyName}: uris[0] "spiffe://example.org/ns/${nsPolicy}/sa/intruder" matches none of spiffe://example.org/ns/${ns}/sa/app`,
    });
  });

  it('counts requests and latency in metrics', async () => {
    expect(
      await env.operator!.metric('machine_identity_signer_requests_total', {
        signer: signerName,
        kind: 'PodCertificateRequest',
        result: 'issued',
      }),
    ).toBeGreaterThanOrEqual(ISSUE_CASES.length + 1);
    expect(
      await env.operator!.metric('machine_identity_signer_requests_total', {
        signer: signerName,
        kind: 'PodCertificateRequest',
        result: 'denied',
      }),
    ).toBeGreaterThanOrEqual(2);
    expect(
      await env.operator!.metric('machine_identity_signer_request_duration_seconds_count', {
        signer: signerName,
        kind: 'PodCertificateRequest',
      }),
    ).toBeGreaterThanOrEqual(ISSUE_CASES.length + 3);
  });

  it('reports the certificates.k8s.io version it uses for each resource', async () => {
    for (const [resource, version] of [
      ['podcertificaterequests', PCR_VERSION],
      ['clustertrustbundles', CTB_VERSION],
    ] as const) {
      expect(await env.operator!.metric('machine_identity_signer_api_info', { resource, version })).toBe(1);
      expect(await env.operator!.metric('machine_identity_signer_api_info', { resource, version: 'none' })).toBe(0);
    }
  });

  it("publishes the signer's CA as a ClusterTrustBundle linked to the signer", async () => {
    const ctb = await waitFor(
      'ClusterTrustBundle',
      async () => {
        const r = await env.co
          .getClusterCustomObject({
            group: 'certificates.k8s.io',
            version: CTB_VERSION,
            plural: 'clustertrustbundles',
            name: `machineidentity.io:${binding}:ca`,
          })
          .catch(() => undefined);
        return r as { spec: { signerName: string; trustBundle: string } } | undefined;
      },
      20_000,
      200,
    );
    expect(ctb.spec.signerName).toBe(signerName);
    expect(parseCertificate(splitPem(ctb.spec.trustBundle)[0]!).subjectDN).toBe('CN=Pod Signer CA');
  });
});

describe('CertificateSigningRequest signer', () => {
  // created by a ServiceAccount of a namespace the binding selects (nobody else gets a certificate by default)
  let requester: k8s.KubeConfig;
  beforeAll(async () => {
    requester = await serviceAccountClient(env.kc, ns, 'csr-requester');
  });
  const certs = (): k8s.CertificatesV1Api => requester.makeApiClient(k8s.CertificatesV1Api);
  async function csr(name: string, dns: string, expirationSeconds?: number): Promise<void> {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const request = await buildCsr(privateKey, {
      subject: { commonName: dns },
      dnsNames: [dns],
      ipAddresses: [],
      uris: [],
      emailAddresses: [],
      usages: ['serverAuth'],
      isCA: false,
    });
    await certs().createCertificateSigningRequest({
      body: {
        metadata: { name },
        spec: {
          signerName,
          request: Buffer.from(request).toString('base64'),
          usages: ['digital signature', 'server auth'],
          ...(expirationSeconds ? { expirationSeconds } : {}),
        },
      },
    });
  }
  const done = (name: string): Promise<k8s.V1CertificateSigningRequest> =>
    waitFor(
      `CSR ${name} done`,
      async () => {
        const c = await certs().readCertificateSigningRequest({ name });
        return c.status?.certificate || c.status?.conditions?.some((x) => x.type === 'Denied' || x.type === 'Failed')
          ? c
          : undefined;
      },
      20_000,
      100,
    );

  it('approves by policy and signs, honouring expirationSeconds', async () => {
    const name = env.uniqueName('csr-ok');
    await csr(name, 'svc.example.com', 3600);
    const c = await done(name);
    expect(c.status!.conditions!.find((x) => x.type === 'Approved')).toMatchObject({
      status: 'True',
      reason: 'PolicyAllowed',
    });
    const leaf = parseCertificate(splitPem(Buffer.from(c.status!.certificate!, 'base64').toString())[0]!);
    expect(leaf.dnsNames).toEqual(['svc.example.com']);
    expect(Math.round((leaf.notAfter.getTime() - Date.now()) / 60_000)).toBe(60);
    await certs().deleteCertificateSigningRequest({ name });
  });

  it('denies by policy with its message', async () => {
    const name = env.uniqueName('csr-bad');
    await csr(name, 'evil.example.net');
    const c = await done(name);
    expect(c.status!.conditions!.find((x) => x.type === 'Denied')).toMatchObject({
      status: 'True',
      reason: 'PolicyDenied',
      message: `denied by IssuancePolicy ${policyName}: dnsNames[0] "evil.example.net" matches none of *.example.com`,
    });
    expect(c.status!.certificate).toBeUndefined();
    await certs().deleteCertificateSigningRequest({ name });
  });

  it("leaves other signers' requests alone", async () => {
    const name = env.uniqueName('csr-other');
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const request = await buildCsr(privateKey, {
      subject: { commonName: 'x' },
      dnsNames: ['x.example.com'],
      ipAddresses: [],
      uris: [],
      emailAddresses: [],
      usages: ['clientAuth'],
      isCA: false,
    });
    await certs().createCertificateSigningRequest({
      body: {
        metadata: { name },
        spec: {
          signerName: 'example.com/other',
          request: Buffer.from(request).toString('base64'),
          usages: ['client auth'],
        },
      },
    });
    await sleep(2000);
    const c = await certs().readCertificateSigningRequest({ name });
    expect(c.status?.conditions ?? []).toEqual([]);
    await certs().deleteCertificateSigningRequest({ name });
  });
});

describe('a 10-minute workload identity', () => {
  it('is renewed at least twice, the Secret rewritten each time, without Ready ever going False', async () => {
    await env.createIdentity(ns, 'short', {
      secretName: 'short-tls',
      authorityRef: { name: binding },
      dnsNames: ['short.example.com'],
      duration: '10m',
      renewBefore: '9m30s',
    });
    await env.ready(ns, 'short');
    const seen = new Set<string>();
    let notReady = 0;
    let serials = new Set<string>();
    const deadline = Date.now() + 150_000;
    while (Date.now() < deadline && serials.size < 3) {
      const mi = await env.identity(ns, 'short');
      const ready = mi.status?.conditions?.find((c) => c.type === 'Ready');
      seen.add(`${ready?.status}:${ready?.reason}`);
      if (ready?.status !== 'True') notReady++;
      const s = await env.secret(ns, 'short-tls');
      serials = new Set([...serials, s.metadata?.annotations?.['machineidentity.io/serial'] ?? '']);
      await sleep(200);
    }
    expect(serials.size).toBeGreaterThanOrEqual(3);
    expect(notReady).toBe(0);
    const leaf = parseCertificate(
      splitPem(Buffer.from((await env.secret(ns, 'short-tls')).data!['tls.crt']!, 'base64').toString())[0]!,
    );
    expect(Math.round((leaf.notAfter.getTime() - leaf.notBefore.getTime()) / 60_000)).toBe(11); // 10m + the 1-minute back-dating
  }, 200_000);
});
