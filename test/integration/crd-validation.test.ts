// The generated CRDs, judged by a real kube-apiserver: hostile and invalid manifests are rejected by the
// server itself with the offending field named; valid ones are accepted and defaulted exactly as zod does.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { loadAll } from 'js-yaml';
import * as k8s from '@kubernetes/client-node';
import { sharedCluster, testNamespace } from '../harness/cluster.ts';
import { buildCrds, parseResource } from '../../src/crds/index.ts';
import {
  CONTRACT_ISSUANCE_POLICY_NAME,
  CONTRACT_MACHINE_IDENTITY_NAME,
  contractIssuancePolicySpec,
  contractMachineIdentitySpec,
} from '../fixtures/contract.ts';

type Obj = Record<string, unknown> & {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
};

const GROUP = 'machineidentity.io';
const VERSION = 'v1alpha1';
const PLURAL: Record<string, string> = {
  MachineIdentity: 'machineidentities',
  CertificateAuthorityBinding: 'certificateauthoritybindings',
  IssuancePolicy: 'issuancepolicies',
};
const suffix = randomBytes(3).toString('hex');
const SSA = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.ServerSideApply);
const MERGE = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);

let co: k8s.CustomObjectsApi;
let core: k8s.CoreV1Api;
let ns: string;
const created: Obj[] = [];

interface KubeError {
  code: number;
  status: { message?: string; reason?: string; details?: { causes?: Array<{ field?: string; message?: string }> } };
}

function toKubeError(e: unknown): KubeError {
  if (e instanceof k8s.ApiException) {
    let status: KubeError['status'] = {};
    try {
      status = JSON.parse(String(e.body)) as KubeError['status'];
    } catch {
      status = { message: String(e.body) };
    }
    return { code: e.code, status };
  }
  throw e;
}

async function create(obj: Obj, dryRun = false): Promise<Obj> {
  const plural = PLURAL[obj.kind]!;
  const opts = { group: GROUP, version: VERSION, plural, body: obj, ...(dryRun ? { dryRun: 'All' } : {}) };
  const out = obj.metadata.namespace
    ? await co.createNamespacedCustomObject({ ...opts, namespace: obj.metadata.namespace })
    : await co.createClusterCustomObject(opts);
  if (!dryRun) created.push(obj);
  return out as Obj;
}

const mi = (spec: Record<string, unknown>, name = 'mi'): Obj => ({
  apiVersion: `${GROUP}/${VERSION}`,
  kind: 'MachineIdentity',
  metadata: { name, namespace: ns },
  spec: { secretName: 'web-tls', authorityRef: { name: 'local-ca' }, dnsNames: ['web.example.com'], ...spec },
});
const cab = (spec: Record<string, unknown>, name = 'cab'): Obj => ({
  apiVersion: `${GROUP}/${VERSION}`,
  kind: 'CertificateAuthorityBinding',
  metadata: { name: `${name}-${suffix}` },
  spec,
});
const ipol = (spec: Record<string, unknown>, name = 'ipol'): Obj => ({
  apiVersion: `${GROUP}/${VERSION}`,
  kind: 'IssuancePolicy',
  metadata: { name: `${name}-${suffix}` },
  spec: { rules: {}, ...spec },
});
const without = (o: Obj, field: string): Obj => {
  const spec = { ...(o.spec as Record<string, unknown>) };
  delete spec[field];
  return { ...o, spec };
};
const FP = 'AB:'.repeat(31) + 'CD';
const BIG = 'x'.repeat(100 * 1024);

/**
 * (Re)applies the committed CRDs. Parsed with client-node's loadAllYaml, so that its typed serializer keeps
 * `default`, `x-kubernetes-validations`, `x-kubernetes-list-type` … (a plain js-yaml object loses them all:
 * the serializer reads the model's property names, `_default` and `x_kubernetes_validations`).
 */
async function installCrds(kc: k8s.KubeConfig): Promise<void> {
  const client = k8s.KubernetesObjectApi.makeApiClient(kc);
  const dir = join(import.meta.dirname, '../../config/crd');
  for (const f of readdirSync(dir)
    .filter((n) => n.endsWith('.yaml'))
    .sort()) {
    for (const obj of k8s.loadAllYaml(readFileSync(join(dir, f), 'utf8')) as k8s.KubernetesObject[]) {
      await client.patch(obj, undefined, undefined, 'mio-test-setup', true, k8s.PatchStrategy.ServerSideApply);
    }
  }
}

async function servedSchema(name: string): Promise<unknown> {
  const crd = (await co.getClusterCustomObject({
    group: 'apiextensions.k8s.io',
    version: 'v1',
    plural: 'customresourcedefinitions',
    name,
  })) as { spec: { versions: Array<{ schema: { openAPIV3Schema: unknown } }> } };
  return crd.spec.versions[0]!.schema.openAPIV3Schema;
}

beforeAll(async () => {
  const kc = sharedCluster().kubeConfig();
  co = kc.makeApiClient(k8s.CustomObjectsApi);
  core = kc.makeApiClient(k8s.CoreV1Api);
  ns = await testNamespace('crd-validation');
  await installCrds(kc);
  // Wait until the apiserver serves the new schema (CEL included): a dry-run of a CEL-invalid object is refused.
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      await create(mi({ duration: '5m' }, 'probe'), true);
    } catch {
      break;
    }
    if (Date.now() > deadline) throw new Error('the CRDs with CEL rules were not served within 30s');
    await new Promise((r) => setTimeout(r, 200));
  }
});

describe('the installed CRDs', () => {
  it.each(buildCrds().map((c) => [c.metadata.name, c] as const))(
    '%s is served exactly as generated',
    async (name, crd) => {
      const generated = (crd.spec.versions as Array<{ schema: { openAPIV3Schema: unknown } }>)[0]!.schema
        .openAPIV3Schema;
      expect(await servedSchema(name)).toEqual(JSON.parse(JSON.stringify(generated)));
    },
  );
});

afterAll(async () => {
  for (const o of created.reverse()) {
    const base = { group: GROUP, version: VERSION, plural: PLURAL[o.kind]!, name: o.metadata.name };
    try {
      if (o.metadata.namespace) await co.deleteNamespacedCustomObject({ ...base, namespace: o.metadata.namespace });
      else await co.deleteClusterCustomObject(base);
    } catch {
      /* already gone */
    }
  }
  await core.deleteNamespace({ name: ns }).catch(() => undefined);
});

describe('the API server rejects invalid and hostile objects, naming the field', () => {
  // [case, object (built lazily: ns is known only after beforeAll), field path that the error must name]
  const cases: Array<[string, () => Obj, string]> = [
    // MachineIdentity
    ['secretName that is not a DNS-1123 name', () => mi({ secretName: 'Bad_Name' }), 'spec.secretName'],
    ['missing secretName', () => without(mi({}), 'secretName'), 'spec.secretName'],
    ['missing authorityRef', () => without(mi({}), 'authorityRef'), 'spec.authorityRef'],
    [
      'renewBefore together with renewBeforePercentage',
      () => mi({ renewBefore: '24h', renewBeforePercentage: 30 }),
      'spec.renewBeforePercentage',
    ],
    ['renewBefore not shorter than duration', () => mi({ duration: '24h', renewBefore: '48h' }), 'spec.renewBefore'],
    ['renewBefore not shorter than the default duration', () => mi({ renewBefore: '2161h' }), 'spec.renewBefore'],
    ['renewBefore below 5m', () => mi({ renewBefore: '1m' }), 'spec.renewBefore'],
    ['renewBeforePercentage of 100', () => mi({ renewBeforePercentage: 100 }), 'spec.renewBeforePercentage'],
    ['duration below 10m', () => mi({ duration: '5m' }), 'spec.duration'],
    ['duration that is not a Go duration', () => mi({ duration: '90 days' }), 'spec.duration'],
    ['duration that overflows int64 nanoseconds', () => mi({ duration: '9999999999h' }), 'spec.duration'],
    [
      'ECDSA with an RSA key size',
      () => mi({ privateKey: { algorithm: 'ECDSA', size: 2048 } }),
      'spec.privateKey.size',
    ],
    ['RSA with an ECDSA key size', () => mi({ privateKey: { algorithm: 'RSA', size: 384 } }), 'spec.privateKey.size'],
    ['Ed25519 with a key size', () => mi({ privateKey: { algorithm: 'Ed25519', size: 256 } }), 'spec.privateKey.size'],
    [
      'PKCS1 encoding of an ECDSA key',
      () => mi({ privateKey: { algorithm: 'ECDSA', encoding: 'PKCS1' } }),
      'spec.privateKey.encoding',
    ],
    [
      'PKCS1 encoding of the default (ECDSA) key',
      () => mi({ privateKey: { encoding: 'PKCS1' } }),
      'spec.privateKey.encoding',
    ],
    [
      'SEC1 encoding of an RSA key',
      () => mi({ privateKey: { algorithm: 'RSA', encoding: 'SEC1' } }),
      'spec.privateKey.encoding',
    ],
    ['an unknown key algorithm', () => mi({ privateKey: { algorithm: 'DSA' } }), 'spec.privateKey.algorithm'],
    ['an unknown usage', () => mi({ usages: ['serverAuth', 'world domination'] }), 'spec.usages[1]'],
    ['duplicate usages', () => mi({ usages: ['serverAuth', 'serverAuth'] }), 'spec.usages[1]'],
    ['an invalid IP address', () => mi({ ipAddresses: ['10.0.0.256'] }), 'spec.ipAddresses[0]'],
    ['an invalid DNS name', () => mi({ dnsNames: ['ok.example.com', 'not ok'] }), 'spec.dnsNames[1]'],
    [
      '10,000 DNS names',
      () => mi({ dnsNames: Array.from({ length: 10_000 }, (_, i) => `h${i}.example.com`) }),
      'spec.dnsNames',
    ],
    ['a 100 KB common name', () => mi({ subject: { commonName: BIG } }), 'spec.subject.commonName'],
    ['a 100 KB DNS name', () => mi({ dnsNames: [BIG] }), 'spec.dnsNames[0]'],
    [
      'a 100 KB Secret annotation',
      () => mi({ secretTemplate: { annotations: { big: BIG } } }),
      'spec.secretTemplate.annotations.big',
    ],
    [
      'rollout of a Pod',
      () => mi({ rollout: { workloads: [{ kind: 'Pod', name: 'web' }] } }),
      'spec.rollout.workloads[0].kind',
    ],
    [
      'the same workload twice',
      () =>
        mi({
          rollout: {
            workloads: [
              { kind: 'Deployment', name: 'web' },
              { kind: 'Deployment', name: 'web' },
            ],
          },
        }),
      'spec.rollout.workloads[1]',
    ],
    ['no subject and no SAN', () => mi({ dnsNames: [] }), 'spec'],
    ['an unknown deletionPolicy', () => mi({ deletionPolicy: 'Orphan' }), 'spec.deletionPolicy'],
    ['isCA that is not a boolean', () => mi({ isCA: 'yes' }), 'spec.isCA'],
    ['a name longer than 63 characters', () => mi({}, 'n'.repeat(64)), 'metadata.name'],
    // CertificateAuthorityBinding
    ['a binding without a backend', () => cab({ maxDuration: '24h' }), 'spec'],
    [
      'a binding with two backends',
      () => cab({ selfSigned: {}, kubernetes: { signerName: 'example.com/signer' } }),
      'spec',
    ],
    [
      'vault with two auth methods',
      () =>
        cab({
          vault: {
            server: 'https://vault:8200',
            path: 'pki/sign/web',
            auth: { tokenSecretRef: { name: 't', key: 'token' }, kubernetes: { role: 'mio' } },
          },
        }),
      'spec.vault.auth',
    ],
    [
      'a generated CA key of the wrong size',
      () =>
        cab({
          ca: { secretRef: { name: 'c' }, generate: { commonName: 'C', privateKey: { algorithm: 'RSA', size: 1024 } } },
        }),
      'spec.ca.generate.privateKey.size',
    ],
    [
      'an ACME solver with http01 and dns01',
      () =>
        cab({
          acme: {
            directoryURL: 'https://acme.example/dir',
            accountKeySecretRef: { name: 'a' },
            solvers: [{ http01: { ingress: {} }, dns01: { webhook: { groupName: 'g', solverName: 's' } } }],
          },
        }),
      'spec.acme.solvers[0]',
    ],
    ['a maxDuration in days', () => cab({ selfSigned: {}, maxDuration: '90d' }), 'spec.maxDuration'],
    [
      'pod certificates longer than maxDuration',
      () => cab({ selfSigned: {}, maxDuration: '12h', signer: { podCertificates: true } }),
      'spec.signer.maxPodCertificateDuration',
    ],
    [
      'pod certificates shorter than 1h',
      () => cab({ selfSigned: {}, signer: { podCertificates: true, maxPodCertificateDuration: '30m' } }),
      'spec.signer.maxPodCertificateDuration',
    ],
    [
      'a distrust entry that is not a fingerprint',
      () => cab({ selfSigned: {}, distrust: ['not-a-fingerprint'] }),
      'spec.distrust[0]',
    ],
    [
      'a malformed Kubernetes signer name',
      () => cab({ kubernetes: { signerName: 'no slash' } }),
      'spec.kubernetes.signerName',
    ],
    [
      'a CSR requester with both user and group',
      () =>
        cab({ selfSigned: {}, signer: { csrRequesters: [{ user: 'alice', group: 'system:nodes', namespace: 'a' }] } }),
      'spec.signer.csrRequesters[0]',
    ],
    [
      'a CSR requester without a namespace',
      () => cab({ selfSigned: {}, signer: { csrRequesters: [{ group: 'system:nodes' }] } }),
      'spec.signer.csrRequesters[0].namespace',
    ],
    [
      'a ServiceAccount listed as a CSR requester',
      () => cab({ selfSigned: {}, signer: { csrRequesters: [{ user: 'system:serviceaccount:a:b', namespace: 'c' }] } }),
      'spec.signer.csrRequesters[0]',
    ],
    // IssuancePolicy
    [
      'minDuration above maxDuration',
      () => ipol({ rules: { minDuration: '48h', maxDuration: '24h' } }),
      'spec.rules.minDuration',
    ],
    ['an unknown enforcement', () => ipol({ enforcement: 'Warn' }), 'spec.enforcement'],
    ['an unknown remediation', () => ipol({ remediation: 'Delete' }), 'spec.remediation'],
    [
      'an invalid CIDR',
      () => ipol({ rules: { ipAddresses: { allowedCIDRs: ['10.0.0.0/33'] } } }),
      'spec.rules.ipAddresses.allowedCIDRs[0]',
    ],
    [
      'an unknown signature algorithm',
      () => ipol({ rules: { allowedSignatureAlgorithms: ['ROT13'] } }),
      'spec.rules.allowedSignatureAlgorithms[0]',
    ],
    [
      'an unknown ECDSA curve',
      () => ipol({ rules: { privateKey: { allowedECDSACurves: ['P-192'] } } }),
      'spec.rules.privateKey.allowedECDSACurves[0]',
    ],
    ['a policy without rules', () => ({ ...ipol({}), spec: { enforcement: 'Audit' } }), 'spec.rules'],
    [
      '10,000 allowed DNS patterns',
      () => ipol({ rules: { dnsNames: { allowed: Array.from({ length: 10_000 }, (_, i) => `*.n${i}.svc`) } } }),
      'spec.rules.dnsNames.allowed',
    ],
  ];

  it('covers at least 25 cases across all three kinds', () => {
    expect(cases.length).toBeGreaterThanOrEqual(25);
  });

  it.each(cases)('rejects %s', async (_name, build, field) => {
    const obj = build();
    let err: KubeError | undefined;
    try {
      await create(obj, true);
    } catch (e) {
      err = toKubeError(e);
    }
    expect(err).toBeDefined();
    expect(err!.code).toBe(422);
    expect(err!.status.reason).toBe('Invalid');
    const message = err!.status.message ?? '';
    expect(message).toContain(`${field}: `);
    // The in-process validation (same source) rejects it too, naming the same field.
    const local = parseResource(obj);
    expect(local.success ? [] : local.error.issues.map((i) => i.path)).toContain(field);
  });
});

describe('the API server accepts valid objects and applies the defaults', () => {
  it('defaults a minimal MachineIdentity exactly like the zod schema', async () => {
    const input = mi({}, 'minimal');
    const out = await create(input);
    const spec = out.spec as Record<string, unknown>;
    expect(spec.duration).toBeUndefined(); // left to the operator: 2160h, or shorter when a policy asks
    expect(spec.usages).toEqual(['serverAuth']);
    expect(spec.isCA).toBe(false);
    expect(spec.deletionPolicy).toBe('Delete');
    expect(spec.privateKey).toEqual({ algorithm: 'ECDSA', rotationPolicy: 'Always', encoding: 'PKCS8' });
    const local = parseResource(input);
    expect(local.success && local.data.spec).toEqual(spec);
  });

  it('accepts the full MachineIdentity of the contract unchanged', async () => {
    const input = mi(contractMachineIdentitySpec(), CONTRACT_MACHINE_IDENTITY_NAME.name);
    const out = await create(input);
    expect(out.spec).toEqual(input.spec);
    expect(parseResource(out, { strict: true }).success).toBe(true);
  });

  it('accepts RSA keys with PKCS1, Ed25519 without size, and renewBeforePercentage', async () => {
    await create(
      mi({ privateKey: { algorithm: 'RSA', size: 4096, encoding: 'PKCS1' }, renewBeforePercentage: 33 }, 'rsa'),
    );
    await create(mi({ privateKey: { algorithm: 'Ed25519' }, ipAddresses: ['fd00::1'], dnsNames: [] }, 'ed'));
    await create(
      mi(
        { privateKey: { algorithm: 'ECDSA', size: 521, encoding: 'SEC1' }, duration: '1h30m', renewBefore: '30m' },
        'sec1',
      ),
    );
  });

  it('accepts every backend of a CertificateAuthorityBinding and defaults the signer', async () => {
    const backends: Array<Record<string, unknown>> = [
      { selfSigned: {} },
      {
        ca: {
          secretRef: { name: 'corp-issuing-ca' },
          generate: {
            commonName: 'Corp Issuing CA',
            duration: '87600h',
            privateKey: { algorithm: 'ECDSA', size: 384 },
          },
        },
      },
      {
        acme: {
          directoryURL: 'https://acme-v02.api.letsencrypt.org/directory',
          email: 'pki@example.com',
          accountKeySecretRef: { name: 'acme-account' },
          solvers: [
            { http01: { ingress: { ingressClassName: 'nginx' } } },
            {
              selector: { dnsZones: ['example.com'] },
              dns01: {
                webhook: { groupName: 'acme.example.com', solverName: 'x', config: { any: { nested: ['thing'] } } },
              },
            },
          ],
        },
      },
      {
        vault: {
          server: 'https://vault.example.com:8200',
          path: 'pki/sign/web',
          auth: { kubernetes: { role: 'mio' } },
        },
      },
      {
        stepCA: {
          url: 'https://step.example.com',
          provisioner: { name: 'mio', passwordSecretRef: { name: 'step', key: 'password' } },
        },
      },
      {
        cfssl: { url: 'https://cfssl.example.com', profile: 'server', authKeySecretRef: { name: 'cfssl', key: 'key' } },
      },
      { kubernetes: { signerName: 'kubernetes.io/kube-apiserver-client' } },
    ];
    for (const [i, backend] of backends.entries()) {
      const input = cab(backend, `backend-${i}`);
      const out = await create(input);
      const local = parseResource(input);
      expect(local.success && local.data.spec).toEqual(out.spec);
    }
    const full = await create(
      cab(
        {
          namespaceSelector: { matchLabels: { tier: 'prod' } },
          maxDuration: '2160h',
          ca: { secretRef: { name: 'corp-issuing-ca' } },
          signer: {
            podCertificates: true,
            trustDomain: 'cluster.local',
            certificateSigningRequests: true,
            maxPodCertificateDuration: '1h',
            csrRequesters: [
              { group: 'system:nodes', namespace: 'node-identities' },
              { user: 'alice', namespace: 'team-a' },
            ],
          },
          trustBundle: { configMapName: 'corp-ca-bundle' },
          distrust: [FP],
        },
        'full',
      ),
    );
    expect((full.spec as { trustBundle: unknown }).trustBundle).toEqual({
      configMapName: 'corp-ca-bundle',
      key: 'ca.crt',
    });
    const defaulted = await create(cab({ selfSigned: {}, signer: { podCertificates: true } }, 'signer'));
    expect((defaulted.spec as { signer: unknown }).signer).toEqual({
      podCertificates: true,
      certificateSigningRequests: false,
      trustDomain: 'cluster.local',
      maxPodCertificateDuration: '24h',
    });
  });

  it('accepts the IssuancePolicy of the contract and defaults a minimal one', async () => {
    const minimal = await create(ipol({}, 'minimal'));
    expect(minimal.spec).toEqual({ enforcement: 'Enforce', remediation: 'None', rules: {} });
    const input = ipol(contractIssuancePolicySpec(), CONTRACT_ISSUANCE_POLICY_NAME);
    const out = await create(input);
    expect(out.spec).toEqual(input.spec);
  });

  it('takes status through the status subresource, conditions in metav1.Condition shape', async () => {
    const obj = await create(mi({}, 'status'));
    const base = {
      group: GROUP,
      version: VERSION,
      plural: 'machineidentities',
      namespace: ns,
      name: obj.metadata.name,
    };
    const condition = {
      type: 'Ready',
      status: 'True',
      reason: 'Issued',
      message: 'certificate issued',
      lastTransitionTime: '2026-11-28T10:00:00Z',
      observedGeneration: 1,
    };
    const out = (await co.patchNamespacedCustomObjectStatus(
      {
        ...base,
        fieldManager: 'crd-validation-test',
        force: true,
        body: {
          apiVersion: `${GROUP}/${VERSION}`,
          kind: 'MachineIdentity',
          metadata: { name: obj.metadata.name },
          status: {
            observedGeneration: 1,
            conditions: [condition],
            notAfter: '2027-02-26T10:00:00Z',
            lastFailureTime: null,
          },
        },
      },
      SSA,
    )) as Obj;
    expect((out.status as { conditions: unknown[] }).conditions).toEqual([condition]);
    // A second manager adds its own condition type without removing Ready (list-map keyed by type).
    const out2 = (await co.patchNamespacedCustomObjectStatus(
      {
        ...base,
        fieldManager: 'crd-validation-test-2',
        body: {
          apiVersion: `${GROUP}/${VERSION}`,
          kind: 'MachineIdentity',
          metadata: { name: obj.metadata.name },
          status: { conditions: [{ ...condition, type: 'Issuing', status: 'False', reason: 'Idle' }] },
        },
      },
      SSA,
    )) as Obj;
    expect((out2.status as { conditions: Array<{ type: string }> }).conditions.map((c) => c.type).sort()).toEqual([
      'Issuing',
      'Ready',
    ]);
    let err: KubeError | undefined;
    try {
      await co.patchNamespacedCustomObjectStatus(
        { ...base, body: { status: { conditions: [{ ...condition, status: 'Maybe' }] } } },
        MERGE,
      );
    } catch (e) {
      err = toKubeError(e);
    }
    expect(err?.code).toBe(422);
    expect(err?.status.message).toContain('status.conditions[0].status: ');
  });

  it('applies the examples/ manifests', async () => {
    const dir = join(import.meta.dirname, '../../examples');
    const docs = readdirSync(dir)
      .filter((f) => f.endsWith('.yaml'))
      .sort()
      .flatMap((f) => loadAll(readFileSync(join(dir, f), 'utf8')) as Obj[])
      .filter((d) => d?.kind);
    expect(docs.map((d) => d.kind)).toEqual([
      'Namespace',
      'CertificateAuthorityBinding',
      'MachineIdentity',
      'IssuancePolicy',
    ]);
    const client = k8s.KubernetesObjectApi.makeApiClient(sharedCluster().kubeConfig());
    for (const doc of docs) {
      if (doc.kind !== 'Namespace') expect(parseResource(doc, { strict: true }).success).toBe(true);
      await client.patch(
        doc as k8s.KubernetesObject,
        undefined,
        undefined,
        'crd-validation-test',
        true,
        k8s.PatchStrategy.ServerSideApply,
      );
      if (doc.kind !== 'Namespace') created.push(doc);
    }
    const web = (await co.getNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      plural: 'machineidentities',
      namespace: 'demo',
      name: 'demo-web',
    })) as Obj;
    expect((web.spec as { privateKey: unknown }).privateKey).toEqual({
      algorithm: 'ECDSA',
      size: 256,
      rotationPolicy: 'Always',
      encoding: 'PKCS8',
    });
  });
});

describe('kubectl get, as the real kubectl prints it', () => {
  const kubectl = (args: string[]): Promise<string> =>
    new Promise((resolve, reject) => {
      execFile(
        join(sharedCluster().binDir, 'kubectl'),
        ['--kubeconfig', sharedCluster().kubeconfigPath, ...args],
        { timeout: 60_000 },
        (err, stdout, stderr) => (err ? reject(new Error(`kubectl ${args.join(' ')}: ${stderr}`)) : resolve(stdout)),
      );
    });
  // a `date` column prints the age of a past time; a future one (every valid certificate's notAfter) printed <invalid>
  const inAYear = new Date(Date.now() + 365 * 86_400_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
  const inEightMonths = new Date(Date.now() + 240 * 86_400_000).toISOString().replace(/\.\d{3}Z$/, 'Z');

  it("shows a MachineIdentity's expiry and renewal as timestamps, never <invalid>", async () => {
    await create(mi({}, 'columns'));
    await co.patchNamespacedCustomObjectStatus(
      {
        group: GROUP,
        version: VERSION,
        plural: PLURAL.MachineIdentity!,
        namespace: ns,
        name: 'columns',
        body: { status: { notAfter: inAYear, renewalTime: inEightMonths, revision: 1 } },
      },
      MERGE,
    );
    const out = await kubectl(['get', 'machineidentities', 'columns', '-n', ns, '-o', 'wide']);
    const [header, row] = out.trim().split('\n');
    expect(header).toMatch(/EXPIRY\s+RENEWAL/);
    expect(row).toContain(`${inAYear}   ${inEightMonths}`);
    expect(out).not.toContain('<invalid>');
  });

  it("shows a binding's CA expiry as a timestamp", async () => {
    const b = await create(cab({ selfSigned: {} }, 'columns'));
    await co.patchClusterCustomObjectStatus(
      {
        group: GROUP,
        version: VERSION,
        plural: PLURAL.CertificateAuthorityBinding!,
        name: b.metadata.name,
        body: { status: { caNotAfter: inAYear } },
      },
      MERGE,
    );
    const out = await kubectl(['get', 'certificateauthoritybindings', b.metadata.name, '-o', 'wide']);
    expect(out).toContain(inAYear);
    expect(out).not.toContain('<invalid>');
  });
});
