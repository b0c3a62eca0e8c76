// Least privilege, as the API server judges the chart's own ServiceAccount: the RBAC objects and the
// ClusterTrustBundle admission policy that `helm template` renders are applied to the real API server,
// a token is requested for the ServiceAccount (TokenRequest API), and every check runs with that token
// (SelfSubjectAccessReviews, and real requests where they are cheap) — never with the admin kubeconfig.
// Last, the operator itself runs with that token and issues an identity; the rollout it is not granted
// ends in a RolloutForbidden Event instead of a 403 loop.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as yaml from 'js-yaml';
import * as k8s from '@kubernetes/client-node';
import { sharedCluster, testNamespace } from '../harness/cluster.ts';
import { renderChart } from '../harness/helm.ts';
import { applyManifests } from '../harness/manifests.ts';
import { startOperator, type OperatorProcess } from '../harness/operator.ts';
import { sleep, waitFor } from '../harness/processes.ts';
import { getJsonOrNotFound, sendRaw } from '../../src/runtime/kube.ts';
import { CAB, MI } from '../harness/identities.ts';
import { certificatesVersion } from '../harness/requesters.ts';

const RBAC_KINDS = new Set([
  'ServiceAccount',
  'ClusterRole',
  'ClusterRoleBinding',
  'Role',
  'RoleBinding',
  'ValidatingAdmissionPolicy',
  'ValidatingAdmissionPolicyBinding',
]);
// the version the API server serves ClusterTrustBundles at (v1 on 1.37, v1beta1 on 1.36), as the publisher picks it
const CTB_VERSION = await certificatesVersion(sharedCluster().kubeConfig(), 'clustertrustbundles');
const CTB = `/apis/certificates.k8s.io/${CTB_VERSION}/clustertrustbundles`;
const JSON_CT = 'application/json';
const admin = sharedCluster().kubeConfig();
const CA_PEM = readFileSync(join(sharedCluster().dir, 'pki/ca.crt'), 'utf8');

interface Release {
  name: string;
  ns: string;
  kc: k8s.KubeConfig;
  kubeconfigPath: string;
  objects: k8s.KubernetesObject[];
}
type Attrs = k8s.V1ResourceAttributes;

/** Renders the chart, applies its RBAC objects as admin, and returns a client holding only the ServiceAccount's token. */
async function install(values: Record<string, unknown>): Promise<Release> {
  const ns = await testNamespace('rbac');
  const name = ns; // cluster-scoped names derive from the release: one per run
  const objects = (await renderChart(name, ns, values)).filter((o) => RBAC_KINDS.has(o.kind!));
  await applyManifests(admin, objects, 'mio-rbac-test');
  const sa = objects.find((o) => o.kind === 'ServiceAccount')!.metadata!.name!;
  const tr = await admin.makeApiClient(k8s.CoreV1Api).createNamespacedServiceAccountToken({
    name: sa,
    namespace: ns,
    body: {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenRequest',
      spec: { audiences: [], expirationSeconds: 3600 },
    },
  });
  const kubeconfigPath = join(mkdtempSync(join(tmpdir(), 'mio-rbac-')), 'kubeconfig');
  writeFileSync(
    kubeconfigPath,
    yaml.dump({
      apiVersion: 'v1',
      kind: 'Config',
      'current-context': 'sa',
      clusters: [
        {
          name: 'c',
          cluster: {
            server: admin.getCurrentCluster()!.server,
            'certificate-authority-data': Buffer.from(CA_PEM).toString('base64'),
          },
        },
      ],
      users: [{ name: 'sa', user: { token: tr.status!.token } }],
      contexts: [{ name: 'sa', context: { cluster: 'c', user: 'sa' } }],
    }),
    { mode: 0o600 },
  );
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(kubeconfigPath);
  return { name, ns, kc, kubeconfigPath, objects };
}

async function remove(r: Release | undefined): Promise<void> {
  if (!r) return;
  const client = k8s.KubernetesObjectApi.makeApiClient(admin);
  for (const o of r.objects) await client.delete(o).catch(() => undefined);
  await admin
    .makeApiClient(k8s.CoreV1Api)
    .deleteNamespace({ name: r.ns })
    .catch(() => undefined);
}

/** What the token may do, asked with the token itself. */
async function can(r: Release, attrs: Attrs): Promise<boolean> {
  const res = await r.kc.makeApiClient(k8s.AuthorizationV1Api).createSelfSubjectAccessReview({
    body: {
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SelfSubjectAccessReview',
      spec: { resourceAttributes: attrs },
    },
  });
  return res.status?.allowed === true;
}

const secretBody = (name: string): string =>
  JSON.stringify({ apiVersion: 'v1', kind: 'Secret', metadata: { name }, type: 'Opaque', data: { x: 'eA==' } });
const configMapBody = (name: string): string =>
  JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name }, data: { x: 'x' } });
const bundleBody = (name: string, signerName?: string): string =>
  JSON.stringify({
    apiVersion: `certificates.k8s.io/${CTB_VERSION}`,
    kind: 'ClusterTrustBundle',
    metadata: { name },
    spec: { ...(signerName ? { signerName } : {}), trustBundle: CA_PEM },
  });
const rolloutPatch = JSON.stringify({
  spec: { template: { metadata: { annotations: { 'rollout.machineidentity.io/x': '2' } } } },
});
const MERGE_CT = 'application/merge-patch+json';
const message = (statusJson: string): string => (JSON.parse(statusJson) as { message?: string }).message ?? statusJson;

let tenant = '';
let outside = '';
const cleanup: string[] = []; // ClusterTrustBundles to remove as admin

beforeAll(async () => {
  tenant = await testNamespace('rbac-tenant');
  outside = await testNamespace('rbac-outside');
});

afterAll(async () => {
  for (const b of cleanup) await sendRaw(admin, 'DELETE', `${CTB}/${b}`, '', JSON_CT).catch(() => undefined);
  const core = admin.makeApiClient(k8s.CoreV1Api);
  for (const ns of [tenant, outside]) await core.deleteNamespace({ name: ns }).catch(() => undefined);
});

describe("chart defaults, as the operator ServiceAccount's token is authorized", () => {
  let r: Release;
  beforeAll(async () => {
    r = await install({});
  });
  afterAll(() => remove(r));

  it.each<[string, Attrs]>([
    [
      'patch a Deployment in kube-system (rollout is off by default)',
      { group: 'apps', resource: 'deployments', verb: 'patch', namespace: 'kube-system', name: 'coredns' },
    ],
    [
      'get a Deployment in a tenant namespace',
      { group: 'apps', resource: 'deployments', verb: 'get', namespace: 'TENANT' },
    ],
    ['patch a DaemonSet anywhere', { group: 'apps', resource: 'daemonsets', verb: 'patch' }],
    [
      'write an EndpointSlice in a tenant namespace (validation only reads them)',
      { group: 'discovery.k8s.io', resource: 'endpointslices', verb: 'create', namespace: 'TENANT' },
    ],
    [
      'create a ConfigMap in kube-system (trust-bundle ConfigMaps are off by default)',
      { group: '', resource: 'configmaps', verb: 'create', namespace: 'kube-system' },
    ],
    [
      'update a ConfigMap in a tenant namespace',
      { group: '', resource: 'configmaps', verb: 'update', namespace: 'TENANT' },
    ],
    [
      'create CertificateSigningRequests (kubernetes backend off by default)',
      { group: 'certificates.k8s.io', resource: 'certificatesigningrequests', verb: 'create' },
    ],
    [
      'delete CertificateSigningRequests',
      { group: 'certificates.k8s.io', resource: 'certificatesigningrequests', verb: 'delete' },
    ],
    [
      "attest for another domain's signer",
      { group: 'certificates.k8s.io', resource: 'signers', verb: 'attest', name: 'example.com/*' },
    ],
  ])('may not %s', async (_what, attrs) => {
    expect(await can(r, attrs.namespace === 'TENANT' ? { ...attrs, namespace: tenant } : attrs)).toBe(false);
  });

  it.each<[string, Attrs]>([
    [
      'create Secrets in any namespace (managed Secrets live with their MachineIdentity)',
      { group: '', resource: 'secrets', verb: 'create', namespace: 'TENANT' },
    ],
    ['delete Secrets in its own namespace', { group: '', resource: 'secrets', verb: 'delete', namespace: 'RELEASE' }],
    ['list Secrets and ConfigMaps cluster-wide (its informers)', { group: '', resource: 'configmaps', verb: 'list' }],
    [
      'attest for its own signers',
      { group: 'certificates.k8s.io', resource: 'signers', verb: 'attest', name: 'machineidentity.io/*' },
    ],
    ['update its Lease', { group: 'coordination.k8s.io', resource: 'leases', verb: 'update', namespace: 'RELEASE' }],
    [
      'watch EndpointSlices cluster-wide (validation)',
      { group: 'discovery.k8s.io', resource: 'endpointslices', verb: 'watch' },
    ],
    ['list IngressClasses (validation)', { group: 'networking.k8s.io', resource: 'ingressclasses', verb: 'list' }],
  ])('may %s', async (_what, attrs) => {
    const ns = attrs.namespace === 'TENANT' ? tenant : attrs.namespace === 'RELEASE' ? r.ns : attrs.namespace;
    expect(await can(r, { ...attrs, ...(ns ? { namespace: ns } : {}) })).toBe(true);
  });

  it('is refused a real patch of a kube-system Deployment and a real ConfigMap write, and may write a Secret', async () => {
    const patch = await sendRaw(
      r.kc,
      'PATCH',
      '/apis/apps/v1/namespaces/kube-system/deployments/coredns',
      rolloutPatch,
      MERGE_CT,
    );
    expect(patch.status).toBe(403); // authorization comes before the lookup: no Deployment needed
    expect(message(patch.text)).toContain(
      'cannot patch resource "deployments" in API group "apps" in the namespace "kube-system"',
    );
    expect(
      (await sendRaw(r.kc, 'POST', `/api/v1/namespaces/${tenant}/configmaps`, configMapBody('trust'), JSON_CT)).status,
    ).toBe(403);
    expect(
      (await sendRaw(r.kc, 'POST', `/api/v1/namespaces/${tenant}/secrets`, secretBody('ok'), JSON_CT)).status,
    ).toBe(201);
    expect((await sendRaw(r.kc, 'DELETE', `/api/v1/namespaces/${tenant}/secrets/ok`, '', JSON_CT)).status).toBe(200);
  });

  it('may write a ClusterTrustBundle of its own signer, and none of another signer or without a signer', async () => {
    const ours = `machineidentity.io:${r.name}:ca`;
    cleanup.push(ours, 'example.com:other:ca', `${r.name}-unsigned`, `${r.name}-foreign`);
    // another signer: the API server demands attest on example.com/other, which the chart does not grant
    const foreign = await sendRaw(r.kc, 'POST', CTB, bundleBody('example.com:other:ca', 'example.com/other'), JSON_CT);
    expect(foreign.status).toBe(403);
    expect(message(foreign.text)).toMatch(/attest/);
    // no signer: no attest check; the chart's ValidatingAdmissionPolicy refuses it (it takes effect within a few seconds)
    const unsigned = await waitFor(
      'the ClusterTrustBundle policy to refuse an unsigned bundle',
      async () => {
        const res = await sendRaw(r.kc, 'POST', CTB, bundleBody(`${r.name}-unsigned`), JSON_CT);
        if (res.status === 201) {
          await sendRaw(admin, 'DELETE', `${CTB}/${r.name}-unsigned`, '', JSON_CT);
          return undefined;
        }
        return res;
      },
      30_000,
      500,
    );
    expect(unsigned.status).toBe(403);
    expect(message(unsigned.text)).toContain('may only write ClusterTrustBundles of its own signers');
    // ... nor change or delete one that someone else made
    expect((await sendRaw(admin, 'POST', CTB, bundleBody(`${r.name}-foreign`), JSON_CT)).status).toBe(201);
    expect((await sendRaw(r.kc, 'DELETE', `${CTB}/${r.name}-foreign`, '', JSON_CT)).status).toBe(403);
    expect(
      (
        await sendRaw(
          r.kc,
          'PATCH',
          `${CTB}/${r.name}-foreign`,
          JSON.stringify({ metadata: { labels: { taken: 'over' } } }),
          MERGE_CT,
        )
      ).status,
    ).toBe(403);
    // its own signer, the way the operator writes it (server-side apply creates it), then removes it
    const applied = await sendRaw(
      r.kc,
      'PATCH',
      `${CTB}/${encodeURIComponent(ours)}?fieldManager=mio-signer&force=true`,
      bundleBody(ours, `machineidentity.io/${r.name}`),
      'application/apply-patch+yaml',
    );
    expect([applied.status, applied.text.slice(0, 300)]).toEqual([201, expect.any(String)]);
    expect((await sendRaw(r.kc, 'DELETE', `${CTB}/${encodeURIComponent(ours)}`, '', JSON_CT)).status).toBe(200);
  });

  describe('the operator running with that token', () => {
    let op: OperatorProcess | undefined;
    const binding = `rbac-ca-${Math.random().toString(16).slice(2, 8)}`;
    const co = admin.makeApiClient(k8s.CustomObjectsApi);
    afterAll(async () => {
      await op?.stop();
      for (const name of [binding, `${binding}-kube`])
        await co.deleteClusterCustomObject({ ...CAB, name }).catch(() => undefined);
      cleanup.push(`machineidentity.io:${binding}:ca`);
    });

    it("issues an identity, publishes its signer's ClusterTrustBundle, and reports the trust bundle and rollout it may not write", async () => {
      op = await startOperator(r.kubeconfigPath, {
        MIO_NAMESPACE: r.ns,
        MIO_LEADER_ELECT: 'true',
        POD_NAME: 'rbac-test',
      });
      await co.createClusterCustomObject({
        ...CAB,
        body: {
          apiVersion: 'machineidentity.io/v1alpha1',
          kind: 'CertificateAuthorityBinding',
          metadata: { name: binding },
          spec: {
            ca: { secretRef: { name: binding }, generate: { commonName: 'RBAC test CA' } },
            signer: { certificateSigningRequests: true },
            namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': tenant } },
            trustBundle: { configMapName: 'rbac-ca-bundle' },
          },
        },
      });
      await admin.makeApiClient(k8s.AppsV1Api).createNamespacedDeployment({
        namespace: tenant,
        body: {
          metadata: { name: 'web' },
          spec: {
            replicas: 0,
            selector: { matchLabels: { app: 'web' } },
            template: {
              metadata: { labels: { app: 'web' } },
              spec: { containers: [{ name: 'web', image: 'example.invalid/web' }] },
            },
          },
        },
      });
      await co.createNamespacedCustomObject({
        ...MI,
        namespace: tenant,
        body: {
          apiVersion: 'machineidentity.io/v1alpha1',
          kind: 'MachineIdentity',
          metadata: { name: 'web' },
          spec: {
            secretName: 'web-tls',
            authorityRef: { name: binding },
            dnsNames: [`web.${tenant}.svc`],
            rollout: { workloads: [{ kind: 'Deployment', name: 'web' }] },
          },
        },
      });
      const revision = async (): Promise<number> => {
        const mi = (await co.getNamespacedCustomObject({ ...MI, namespace: tenant, name: 'web' })) as {
          status?: { revision?: number; conditions?: { type: string; status: string }[] };
        };
        return mi.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')
          ? (mi.status.revision ?? 0)
          : 0;
      };
      await waitFor('web Ready with the least-privilege token', async () => (await revision()) >= 1, 60_000, 200);
      const secret = await admin
        .makeApiClient(k8s.CoreV1Api)
        .readNamespacedSecret({ name: 'web-tls', namespace: tenant });
      expect(Object.keys(secret.data ?? {})).toEqual(expect.arrayContaining(['tls.crt', 'tls.key']));
      await admin.makeApiClient(k8s.CoreV1Api).readNamespacedSecret({ name: binding, namespace: r.ns }); // the generated CA, in its own namespace
      await waitFor(
        "the signer's ClusterTrustBundle, written with the token",
        async () =>
          (
            await getJsonOrNotFound<{ spec: { signerName?: string } }>(
              admin,
              `${CTB}/${encodeURIComponent(`machineidentity.io:${binding}:ca`)}`,
              {},
            )
          )?.spec.signerName === `machineidentity.io/${binding}`,
        30_000,
        250,
      );
      // the trust-bundle ConfigMap the chart does not grant by default: a Warning on the binding, not a silent skip
      const bundleEvent = await waitFor(
        'a TrustBundleForbidden Event',
        async () =>
          (
            await admin
              .makeApiClient(k8s.CoreV1Api)
              .listEventForAllNamespaces({ fieldSelector: `involvedObject.name=${binding}` })
          ).items.find((e) => e.reason === 'TrustBundleForbidden'),
        30_000,
        250,
      );
      expect(bundleEvent.message).toContain(`ConfigMap ${tenant}/rbac-ca-bundle`);
      expect(bundleEvent.message).toContain('rbac.trustBundleConfigMaps');
      // a renewal asks for a rollout the chart does not grant by default
      await co.patchNamespacedCustomObject(
        {
          ...MI,
          namespace: tenant,
          name: 'web',
          body: { metadata: { annotations: { 'machineidentity.io/renew-requested-at': new Date().toISOString() } } },
        },
        k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
      );
      await waitFor('revision 2', async () => (await revision()) >= 2, 60_000, 200);
      const event = await waitFor(
        'a RolloutForbidden Event',
        async () =>
          (await admin.makeApiClient(k8s.CoreV1Api).listNamespacedEvent({ namespace: tenant })).items.find(
            (e) => e.reason === 'RolloutForbidden' && e.involvedObject.name === 'web',
          ),
        // as the revision wait above: the renewal, then the rollout's attempt, under a loaded CI machine
        60_000,
        250,
      );
      expect(event.type).toBe('Warning');
      expect(event.message).toContain(`Deployment ${tenant}/web`);
      expect(event.message).toContain('rbac.rollout');
      const dep = await admin.makeApiClient(k8s.AppsV1Api).readNamespacedDeployment({ name: 'web', namespace: tenant });
      expect(dep.spec?.template.metadata?.annotations?.['rollout.machineidentity.io/web']).toBeUndefined();
      // a binding with the kubernetes backend, which the chart does not grant by default: refused, with the API server's reason
      await co.createClusterCustomObject({
        ...CAB,
        body: {
          apiVersion: 'machineidentity.io/v1alpha1',
          kind: 'CertificateAuthorityBinding',
          metadata: { name: `${binding}-kube` },
          spec: { kubernetes: { signerName: 'kubernetes.io/kube-apiserver-client' } },
        },
      });
      await co.createNamespacedCustomObject({
        ...MI,
        namespace: tenant,
        body: {
          apiVersion: 'machineidentity.io/v1alpha1',
          kind: 'MachineIdentity',
          metadata: { name: 'client' },
          spec: {
            secretName: 'client-tls',
            authorityRef: { name: `${binding}-kube` },
            subject: { commonName: `client.${tenant}.svc` },
            usages: ['clientAuth'],
          },
        },
      });
      const refused = await waitFor(
        'the kubernetes-backend identity refused',
        async () => {
          const mi = (await co.getNamespacedCustomObject({ ...MI, namespace: tenant, name: 'client' })) as {
            status?: { conditions?: { type: string; status: string; message: string }[] };
          };
          const ready = mi.status?.conditions?.find((c) => c.type === 'Ready');
          return ready?.status === 'False' && /CertificateSigningRequest/.test(ready.message) ? ready : undefined;
        },
        30_000,
        250,
      );
      expect(refused.message).toContain('cannot create resource "certificatesigningrequests"');
      // one denial reported, not a retry loop: the restart is tried again only every 10 minutes
      await sleep(2000);
      // (this test's namespace only: the operator sees the whole shared cluster, other suites' identities included)
      expect(
        op
          .logLines()
          .filter((l) => l.msg === 'workload restart forbidden' && String(l.key ?? '').startsWith(`${tenant}/`)),
      ).toHaveLength(1);
      expect((await op.metric('controller_runtime_reconcile_errors_total', { controller: 'rollout' })) ?? 0).toBe(0);
    }, 150_000);
  });
});

describe('chart with every write scoped to a namespace list', () => {
  let r: Release;
  beforeAll(async () => {
    r = await install({
      rbac: {
        secrets: { scope: 'namespaces', namespaces: [tenant] },
        trustBundleConfigMaps: { scope: 'namespaces', namespaces: [tenant] },
        rollout: { scope: 'namespaces', namespaces: [tenant] },
        kubernetesBackend: true,
      },
    });
  });
  afterAll(() => remove(r));

  it.each<[string, string, Attrs, boolean]>([
    ['create a Secret in a listed namespace', 'TENANT', { resource: 'secrets', verb: 'create' }, true],
    [
      'create a Secret in its own namespace (CA, webhook, ACME account)',
      'RELEASE',
      { resource: 'secrets', verb: 'create' },
      true,
    ],
    ['create a Secret in a namespace outside the list', 'OUTSIDE', { resource: 'secrets', verb: 'create' }, false],
    ['delete a Secret in kube-system', 'kube-system', { resource: 'secrets', verb: 'delete' }, false],
    ['patch a trust-bundle ConfigMap in a listed namespace', 'TENANT', { resource: 'configmaps', verb: 'patch' }, true],
    ['patch a ConfigMap outside the list', 'OUTSIDE', { resource: 'configmaps', verb: 'patch' }, false],
    [
      'patch a Deployment in a listed namespace',
      'TENANT',
      { group: 'apps', resource: 'deployments', verb: 'patch' },
      true,
    ],
    [
      'patch a StatefulSet outside the list',
      'OUTSIDE',
      { group: 'apps', resource: 'statefulsets', verb: 'patch' },
      false,
    ],
    [
      'patch a Deployment in kube-system',
      'kube-system',
      { group: 'apps', resource: 'deployments', verb: 'patch' },
      false,
    ],
    [
      'create CertificateSigningRequests (kubernetesBackend: true)',
      '',
      { group: 'certificates.k8s.io', resource: 'certificatesigningrequests', verb: 'create' },
      true,
    ],
  ])('%s', async (_what, where, attrs, allowed) => {
    const namespace = { TENANT: tenant, RELEASE: r.ns, OUTSIDE: outside }[where] ?? where;
    expect(await can(r, { group: '', ...attrs, ...(namespace ? { namespace } : {}) })).toBe(allowed);
  });

  it('is refused a real Secret write outside the list and allowed one inside', async () => {
    const denied = await sendRaw(r.kc, 'POST', `/api/v1/namespaces/${outside}/secrets`, secretBody('nope'), JSON_CT);
    expect(denied.status).toBe(403);
    expect(message(denied.text)).toContain(
      `cannot create resource "secrets" in API group "" in the namespace "${outside}"`,
    );
    expect(
      (await sendRaw(r.kc, 'POST', `/api/v1/namespaces/${tenant}/secrets`, secretBody('scoped'), JSON_CT)).status,
    ).toBe(201);
    expect((await sendRaw(r.kc, 'DELETE', `/api/v1/namespaces/${tenant}/secrets/scoped`, '', JSON_CT)).status).toBe(
      200,
    );
  });

  it('runs the operator with that token: issues inside the list, and cannot write a Secret outside it', async () => {
    const co = admin.makeApiClient(k8s.CustomObjectsApi);
    const core = admin.makeApiClient(k8s.CoreV1Api);
    const binding = `rbac-scoped-${Math.random().toString(16).slice(2, 8)}`;
    const op = await startOperator(r.kubeconfigPath, { MIO_NAMESPACE: r.ns, MIO_LEADER_ELECT: 'false' });
    try {
      await co.createClusterCustomObject({
        ...CAB,
        body: {
          apiVersion: 'machineidentity.io/v1alpha1',
          kind: 'CertificateAuthorityBinding',
          metadata: { name: binding },
          spec: { ca: { secretRef: { name: binding }, generate: { commonName: 'RBAC scoped CA' } } },
        },
      });
      for (const ns of [tenant, outside])
        await co.createNamespacedCustomObject({
          ...MI,
          namespace: ns,
          body: {
            apiVersion: 'machineidentity.io/v1alpha1',
            kind: 'MachineIdentity',
            metadata: { name: 'api' },
            spec: { secretName: 'api-tls', authorityRef: { name: binding }, dnsNames: [`api.${ns}.svc`] },
          },
        });
      await waitFor(
        'api-tls in the listed namespace',
        async () =>
          (await core.readNamespacedSecret({ name: 'api-tls', namespace: tenant }).catch(() => undefined))?.data?.[
            'tls.crt'
          ],
        60_000,
        200,
      );
      await core.readNamespacedSecret({ name: binding, namespace: r.ns }); // the generated CA, in the release namespace
      // the refused write is a condition naming the chart value, not a retry loop of generic errors
      const mi = await waitFor(
        'Issuing=False SecretForbidden',
        async () => {
          const o = (await co.getNamespacedCustomObject({ ...MI, namespace: outside, name: 'api' })) as {
            status?: { conditions?: { type: string; status: string; message: string }[] };
          };
          return o.status?.conditions?.find((c) => c.type === 'Issuing')?.message.startsWith('SecretForbidden: ')
            ? o
            : undefined;
        },
        30_000,
        250,
      );
      expect(mi.status!.conditions!.find((c) => c.type === 'Issuing')!.message).toContain(
        `may not write Secrets in namespace "${outside}": add it to the chart's rbac.secrets.namespaces`,
      );
      await expect(core.readNamespacedSecret({ name: 'api-tls', namespace: outside })).rejects.toMatchObject({
        code: 404,
      });
      expect(mi.status?.conditions?.find((c) => c.type === 'Ready')?.status).not.toBe('True');
    } finally {
      await op.stop();
      await co.deleteClusterCustomObject({ ...CAB, name: binding }).catch(() => undefined);
    }
  }, 120_000);

  it('renders one Role and RoleBinding per grant and namespace, and no cluster-wide write', () => {
    const roles = r.objects
      .filter((o) => o.kind === 'Role')
      .map((o) => `${o.metadata!.namespace}/${o.metadata!.name!.replace(r.name, 'R')}`)
      .sort();
    expect(roles).toEqual(
      [
        `${r.ns}/R-machine-identity-operator-acme-http01`,
        `${r.ns}/R-machine-identity-operator-leader-election`,
        `${r.ns}/R-machine-identity-operator-secrets`,
        `${tenant}/R-machine-identity-operator-rollout`,
        `${tenant}/R-machine-identity-operator-secrets`,
        `${tenant}/R-machine-identity-operator-trust-bundles`,
      ].sort(),
    );
    const clusterWrites = r.objects
      .filter((o) => o.kind === 'ClusterRole' && !/-(edit|view)$/.test(o.metadata!.name!))
      .flatMap((o) => (o as k8s.V1ClusterRole).rules ?? [])
      .filter((rule) =>
        rule.resources?.some((res) =>
          ['secrets', 'configmaps', 'deployments', 'statefulsets', 'daemonsets'].includes(res),
        ),
      )
      .flatMap((rule) => rule.verbs);
    expect([...new Set(clusterWrites)].sort()).toEqual(['get', 'list', 'watch']);
  });
});
