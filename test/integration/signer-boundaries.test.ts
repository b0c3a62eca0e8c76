// Acceptance (issue #13, "signers obey the same boundaries"), against the real API server with
// NodeRestriction: bindings restricted to namespaces labelled tier=prod.
// - PodCertificateRequests created as the node (the kubelet's way): Denied for a pod in an unlabelled
//   namespace, Issued for a pod in a selected one, Denied by a namespaced IssuancePolicy; one created by
//   someone else for a ServiceAccount the pod does not run as: Denied (PodMismatch).
// - CertificateSigningRequests: a ServiceAccount of an unselected namespace Denied, of a selected one
//   signed; a node's CSR Denied by default (RequesterNotAllowed), answered for the namespace a binding
//   lists `group: system:nodes` under, where that namespace's IssuancePolicy applies to it; names the
//   requester's namespace does not own (kubernetes.default.svc, another namespace's) Denied; a request a
//   person approved outside these boundaries Failed, not signed.
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { generateKeyPairSync } from 'node:crypto';
import * as k8s from '@kubernetes/client-node';
import { sharedCluster, testNamespace } from '../harness/cluster.ts';
import { IssuanceEnv } from '../harness/identities.ts';
import { waitFor } from '../harness/processes.ts';
import {
  certificatesVersion,
  createPodCertificateRequest,
  podCertificateVolumes,
  grantCsrCreate,
  readPodCertificateRequest,
  serviceAccountClient,
} from '../harness/requesters.ts';
import { stubCsr } from '../harness/stub-csr.ts';
import { buildCsr } from '../../src/pki/csr.ts';
import { parseCertificate, splitPem } from '../../src/pki/certs.ts';
import { withSharedDispatcher } from '../../src/runtime/shared-dispatcher.ts';

const env = new IssuanceEnv();
// v1 on 1.37, v1beta1 on 1.35/1.36: the version the signer answers at (stubPKCS10Request in both)
const PCR_VERSION = await certificatesVersion(sharedCluster().kubeConfig(), 'podcertificaterequests');
const IPOL = { group: 'machineidentity.io', version: 'v1alpha1', plural: 'issuancepolicies' } as const;
const NODE = 'kwok-node-0';
const STRICT = 'mio-test/strict-signer';
let nsProd = '',
  nsDev = '',
  nsStrict = '';
/** tier=prod only, nobody listed; and the same with `group: system:nodes` listed under nsStrict. */
let closed = '',
  listing = '';
let policy = '';
let nodeKc: k8s.KubeConfig;
let nodeUID = '';
const pods: Record<string, { uid: string; saUID: string }> = {};

interface Condition {
  type: string;
  status: string;
  reason: string;
  message: string;
}
interface Pcr {
  status?: { conditions?: Condition[]; certificateChain?: string };
}

async function pod(namespace: string, name: string, sa: string): Promise<void> {
  await env.core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: sa } } }).catch(() => undefined);
  const saObj = await env.core.readNamespacedServiceAccount({ namespace, name: sa });
  const p = await env.core.createNamespacedPod({
    namespace,
    body: {
      metadata: { name },
      spec: {
        nodeName: NODE,
        serviceAccountName: sa,
        automountServiceAccountToken: false,
        containers: [{ name: 'c', image: 'example.invalid/app' }],
        volumes: podCertificateVolumes([closed, listing].map((b) => `machineidentity.io/${b}`)),
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

/** A PodCertificateRequest for namespace/podName, created with `as` (the node by default); its name and the create answer. */
async function requestPodCertificate(
  namespace: string,
  podName: string,
  o: { binding: string; as?: k8s.KubeConfig; serviceAccountName?: string },
): Promise<{ name: string; status: number; body: string }> {
  const p = pods[`${namespace}/${podName}`]!;
  const name = `${podName}-${Math.random().toString(36).slice(2, 8)}`;
  const spec = {
    signerName: `machineidentity.io/${o.binding}`,
    podName,
    podUID: p.uid,
    serviceAccountName: o.serviceAccountName ?? 'app',
    serviceAccountUID: p.saUID,
    nodeName: NODE,
    nodeUID,
    maxExpirationSeconds: 86400,
    stubPKCS10Request: stubCsr(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey).toString('base64'),
  };
  const res = await createPodCertificateRequest(o.as ?? nodeKc, PCR_VERSION, namespace, name, spec);
  return { name, ...res };
}

const answered = (namespace: string, name: string): Promise<Pcr> =>
  waitFor(
    `PCR ${name} answered`,
    async () => {
      const r = await readPodCertificateRequest<Pcr>(env.kc, PCR_VERSION, namespace, name);
      return r.status?.conditions?.length ? r : undefined;
    },
    20_000,
    100,
  );

/** A CSR for `dns` to the binding's signer, created with `as`; waits for the certificate or a Denied/Failed condition. */
async function csr(as: k8s.KubeConfig, binding: string, dns: string): Promise<k8s.V1CertificateSigningRequest> {
  const api = as.makeApiClient(k8s.CertificatesV1Api);
  const name = env.uniqueName('csr');
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
  await api.createCertificateSigningRequest({
    body: {
      metadata: { name },
      spec: {
        signerName: `machineidentity.io/${binding}`,
        request: Buffer.from(request).toString('base64'),
        usages: ['digital signature', 'server auth'],
        expirationSeconds: 3600,
      },
    },
  });
  const admin = env.kc.makeApiClient(k8s.CertificatesV1Api);
  const done = await waitFor(
    `CSR ${name} answered`,
    async () => {
      const c = await admin.readCertificateSigningRequest({ name });
      return c.status?.certificate || c.status?.conditions?.some((x) => x.type === 'Denied' || x.type === 'Failed')
        ? c
        : undefined;
    },
    20_000,
    100,
  );
  await admin.deleteCertificateSigningRequest({ name }).catch(() => undefined);
  return done;
}
const verdict = (c: k8s.V1CertificateSigningRequest): string[] =>
  (c.status?.conditions ?? []).map((x) => `${x.type}/${x.reason}`);
const leafDns = (c: k8s.V1CertificateSigningRequest): string[] =>
  parseCertificate(splitPem(Buffer.from(c.status!.certificate!, 'base64').toString())[0]!).dnsNames;

beforeAll(async () => {
  nsProd = await testNamespace('sb-prod', { tier: 'prod' });
  nsDev = await testNamespace('sb-dev');
  nsStrict = await testNamespace('sb-strict', { tier: 'prod', [STRICT]: 'true' });
  await env.start();
  closed = env.uniqueName('sb-closed');
  listing = env.uniqueName('sb-nodes');
  const signer = { podCertificates: true, certificateSigningRequests: true, trustDomain: 'example.org' };
  await env.createBinding(closed, {
    namespaceSelector: { matchLabels: { tier: 'prod' } },
    ca: { secretRef: { name: closed }, generate: { commonName: 'Closed CA' } },
    signer,
  });
  await env.createBinding(listing, {
    namespaceSelector: { matchLabels: { tier: 'prod' } },
    ca: { secretRef: { name: listing }, generate: { commonName: 'Listing CA' } },
    signer: { ...signer, csrRequesters: [{ group: 'system:nodes', namespace: nsStrict }] },
  });
  policy = env.uniqueName('sb-strict');
  await env.co.createClusterCustomObject({
    ...IPOL,
    body: {
      apiVersion: 'machineidentity.io/v1alpha1',
      kind: 'IssuancePolicy',
      metadata: { name: policy },
      spec: {
        enforcement: 'Enforce',
        selector: { namespaceSelector: { matchLabels: { [STRICT]: 'true' } } },
        rules: {
          uris: { allowed: [`spiffe://example.org/ns/${nsStrict}/sa/allowed`] },
          dnsNames: { allowed: [`node.${nsStrict}.svc`] },
        },
      },
    },
  });
  nodeUID = (await env.core.readNode({ name: NODE })).metadata!.uid!;
  nodeKc = withSharedDispatcher(new k8s.KubeConfig());
  nodeKc.loadFromFile(await sharedCluster().userKubeconfig(`system:node:${NODE}`, ['system:nodes']));
  // kubelets hold CSR create for their own certificates; this cluster has no kubeadm bindings, so grant it here
  await grantCsrCreate(env.kc, { kind: 'Group', name: 'system:nodes', apiGroup: 'rbac.authorization.k8s.io' });
  await Promise.all([pod(nsProd, 'web', 'app'), pod(nsDev, 'web', 'app'), pod(nsStrict, 'web', 'app')]);
  await Promise.all([env.bindingReady(closed), env.bindingReady(listing)]);
}, 120_000);

afterAll(async () => {
  await env.co.deleteClusterCustomObject({ ...IPOL, name: policy }).catch(() => undefined);
  await env.stop();
});

describe("PodCertificateRequests obey the binding's namespaceSelector", () => {
  it('denies a pod of an unlabelled namespace, naming the binding and the namespace', async () => {
    const req = await requestPodCertificate(nsDev, 'web', { binding: closed });
    expect({ status: req.status, body: req.status === 201 ? '' : req.body }).toEqual({ status: 201, body: '' });
    const pcr = await answered(nsDev, req.name);
    expect(pcr.status!.conditions).toEqual([
      expect.objectContaining({ type: 'Denied', status: 'True', reason: 'AuthorityNotAllowed' }),
    ]);
    expect(pcr.status!.conditions![0]!.message).toContain(
      `CertificateAuthorityBinding "${closed}" does not serve namespace "${nsDev}"`,
    );
    expect(pcr.status!.certificateChain).toBeUndefined();
  });

  it("issues the kubelet's request for a pod of a selected namespace: the SPIFFE ID of its namespace and ServiceAccount only", async () => {
    const req = await requestPodCertificate(nsProd, 'web', { binding: closed });
    expect(req.status).toBe(201);
    const pcr = await answered(nsProd, req.name);
    expect(pcr.status!.conditions!.map((c) => c.reason)).toEqual(['Issued']);
    const leaf = parseCertificate(splitPem(pcr.status!.certificateChain!)[0]!);
    expect({ uris: leaf.uris, dns: leaf.dnsNames, ips: leaf.ipAddresses, ca: leaf.isCA }).toEqual({
      uris: [`spiffe://example.org/ns/${nsProd}/sa/app`],
      dns: [],
      ips: [],
      ca: false,
    });
  });

  it("applies the IssuancePolicies that select the pod's namespace", async () => {
    const req = await requestPodCertificate(nsStrict, 'web', { binding: closed });
    const pcr = await answered(nsStrict, req.name);
    expect(pcr.status!.conditions![0]).toMatchObject({
      type: 'Denied',
      reason: 'PolicyDenied',
      message: `denied by IssuancePolicy ${policy}: uris[0] "spiffe://example.org/ns/${nsStrict}/sa/app" matches none of spiffe://example.org/ns/${nsStrict}/sa/allowed`,
    });
  });

  it('denies a request for a ServiceAccount its pod does not run as (NodeRestriction checks only nodes; the signer checks everyone)', async () => {
    await env.core
      .createNamespacedServiceAccount({ namespace: nsProd, body: { metadata: { name: 'admin' } } })
      .catch(() => undefined);
    const asNode = await requestPodCertificate(nsProd, 'web', { binding: closed, serviceAccountName: 'admin' });
    expect(asNode.status).toBe(403); // NodeRestriction
    const asAdmin = await requestPodCertificate(nsProd, 'web', {
      binding: closed,
      serviceAccountName: 'admin',
      as: env.kc,
    });
    expect(asAdmin.status).toBe(201);
    const pcr = await answered(nsProd, asAdmin.name);
    expect(pcr.status!.conditions![0]).toMatchObject({
      type: 'Denied',
      reason: 'PodMismatch',
      message: expect.stringContaining('runs as ServiceAccount "app", not "admin"'),
    });
  });
});

describe("CertificateSigningRequests obey the binding's boundaries", () => {
  it('denies a ServiceAccount of an unselected namespace', async () => {
    const c = await csr(await serviceAccountClient(env.kc, nsDev, 'requester'), closed, `web.${nsDev}.svc`);
    expect(verdict(c)).toEqual(['Denied/AuthorityNotAllowed']);
    expect(c.status!.conditions![0]!.message).toContain(`does not serve namespace "${nsDev}"`);
    expect(c.status!.certificate).toBeUndefined();
  });

  it('approves and signs for a ServiceAccount of a selected namespace', async () => {
    const c = await csr(await serviceAccountClient(env.kc, nsProd, 'requester'), closed, `web.${nsProd}.svc`);
    expect(verdict(c)).toEqual(['Approved/PolicyAllowed']);
    expect(c.status!.conditions![0]!.message).toContain(
      `requester ServiceAccount ${nsProd}/requester in namespace ${nsProd}`,
    );
    expect(leafDns(c)).toEqual([`web.${nsProd}.svc`]);
  });

  it("denies a ServiceAccount a name its namespace does not own (another namespace's, the API server's)", async () => {
    const sa = await serviceAccountClient(env.kc, nsProd, 'requester');
    for (const dns of [`web.${nsStrict}.svc`, 'kubernetes.default.svc']) {
      const c = await csr(sa, closed, dns);
      expect(verdict(c)).toEqual(['Denied/NameNotOwned']);
      expect(c.status!.conditions![0]!.message).toContain(
        `dnsNames[0] "${dns}" is not a name namespace "${nsProd}" owns`,
      );
    }
  });

  it('denies a node by default, whatever the name (a node has no namespace)', async () => {
    for (const dns of ['kubernetes.default.svc', `node.${nsStrict}.svc`]) {
      const c = await csr(nodeKc, closed, dns);
      expect(verdict(c)).toEqual(['Denied/RequesterNotAllowed']);
      expect(c.status!.conditions![0]!.message).toContain(
        `requester "system:node:${NODE}" (groups "system:nodes") is not a ServiceAccount and CertificateAuthorityBinding "${closed}" does not list it`,
      );
    }
  });

  it("answers a node the binding lists under a namespace, with that namespace's IssuancePolicies", async () => {
    const ok = await csr(nodeKc, listing, `node.${nsStrict}.svc`);
    expect(verdict(ok)).toEqual(['Approved/PolicyAllowed']);
    expect(ok.status!.conditions![0]!.message).toContain(`listed as group "system:nodes" in namespace "${nsStrict}"`);
    expect(ok.status!.conditions![0]!.message).toContain(`complies with IssuancePolicy ${policy}`);
    expect(leafDns(ok)).toEqual([`node.${nsStrict}.svc`]);
    const denied = await csr(nodeKc, listing, `other.${nsStrict}.svc`);
    expect(verdict(denied)).toEqual(['Denied/PolicyDenied']);
    expect(denied.status!.conditions![0]!.message).toBe(
      `denied by IssuancePolicy ${policy}: dnsNames[0] "other.${nsStrict}.svc" matches none of node.${nsStrict}.svc`,
    );
  });

  it('fails, instead of signing, a request a person approved outside the boundaries', async () => {
    // approved before its binding exists, so the signer first sees it approved
    const late = env.uniqueName('sb-late');
    const admin = env.kc.makeApiClient(k8s.CertificatesV1Api);
    const name = env.uniqueName('csr-approved');
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const request = await buildCsr(privateKey, {
      subject: { commonName: 'kubernetes.default.svc' },
      dnsNames: ['kubernetes.default.svc'],
      ipAddresses: [],
      uris: [],
      emailAddresses: [],
      usages: ['serverAuth'],
      isCA: false,
    });
    await nodeKc.makeApiClient(k8s.CertificatesV1Api).createCertificateSigningRequest({
      body: {
        metadata: { name },
        spec: {
          signerName: `machineidentity.io/${late}`,
          request: Buffer.from(request).toString('base64'),
          usages: ['digital signature', 'server auth'],
        },
      },
    });
    const created = await admin.readCertificateSigningRequest({ name });
    await admin.replaceCertificateSigningRequestApproval({
      name,
      body: {
        ...created,
        status: {
          conditions: [{ type: 'Approved', status: 'True', reason: 'ByHand', message: 'a person approved it' }],
        },
      },
    });
    await env.createBinding(late, {
      namespaceSelector: { matchLabels: { tier: 'prod' } },
      ca: { secretRef: { name: late }, generate: { commonName: 'Late CA' } },
      signer: { certificateSigningRequests: true, trustDomain: 'example.org' },
    });
    const c = await waitFor(
      `CSR ${name} failed`,
      async () => {
        const x = await admin.readCertificateSigningRequest({ name });
        return x.status?.certificate || x.status?.conditions?.some((y) => y.type === 'Failed') ? x : undefined;
      },
      30_000,
      200,
    );
    await admin.deleteCertificateSigningRequest({ name }).catch(() => undefined);
    expect(c.status!.certificate).toBeUndefined();
    expect(verdict(c)).toEqual(['Approved/ByHand', 'Failed/RequesterNotAllowed']);
    expect(c.status!.conditions![1]!.message).toMatch(
      /^approved, but outside the signer's boundaries: requester "system:node:/,
    );
  });

  it('denies a listed node a name its namespace does not own: kubernetes.default.svc', async () => {
    const c = await csr(nodeKc, listing, 'kubernetes.default.svc');
    expect(verdict(c)).toEqual(['Denied/NameNotOwned']);
    expect(c.status!.conditions![0]!.message).toContain(
      `dnsNames[0] "kubernetes.default.svc" is not a name namespace "${nsStrict}" owns and no grant of CertificateAuthorityBinding "${listing}" allows it`,
    );
  });
});
