// Every way a user names our kinds works with the real kubectl: the singular, plural, short and kind
// names with `get`, `annotate` and `wait` on one named object, and the category for `get` without a
// name. (#14: the category used to be `machineidentity`, MachineIdentity's singular name; kubectl
// expanded it to all three kinds, so `kubectl get machineidentity web` failed with "you must specify
// only one resource".)
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { sharedCluster, testNamespace } from '../harness/cluster.ts';
import { CERTIFICATE_AUTHORITY_BINDING, ISSUANCE_POLICY, MACHINE_IDENTITY } from '../../src/crds/kinds.ts';

const GROUP = 'machineidentity.io';
const API_VERSION = `${GROUP}/v1alpha1`;
const CATEGORY = 'machine-identity';
const suffix = randomBytes(3).toString('hex');
// a private discovery cache: kubectl's default (~/.kube/cache) may remember the CRDs of another run
const cacheDir = mkdtempSync(join(tmpdir(), 'mio-kubectl-cache-'));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}
function kubectl(...args: string[]): Promise<Run> {
  const bin = join(sharedCluster().binDir, 'kubectl');
  const all = ['--kubeconfig', sharedCluster().kubeconfigPath, '--cache-dir', cacheDir, ...args];
  return new Promise((resolve) => {
    execFile(bin, all, { timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    );
  });
}
async function kubectlOk(...args: string[]): Promise<string> {
  const r = await kubectl(...args);
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
  return r.stdout;
}

let ns = '';
const objects = (namespace: string) => [
  {
    def: MACHINE_IDENTITY,
    name: 'web',
    namespaced: true,
    body: {
      apiVersion: API_VERSION,
      kind: 'MachineIdentity',
      metadata: { name: 'web', namespace },
      spec: { secretName: 'web-tls', authorityRef: { name: `forms-ca-${suffix}` }, dnsNames: ['web.example.com'] },
    },
  },
  {
    def: CERTIFICATE_AUTHORITY_BINDING,
    name: `forms-ca-${suffix}`,
    namespaced: false,
    body: {
      apiVersion: API_VERSION,
      kind: 'CertificateAuthorityBinding',
      metadata: { name: `forms-ca-${suffix}` },
      spec: { selfSigned: {} },
    },
  },
  {
    def: ISSUANCE_POLICY,
    name: `forms-policy-${suffix}`,
    namespaced: false,
    body: {
      apiVersion: API_VERSION,
      kind: 'IssuancePolicy',
      metadata: { name: `forms-policy-${suffix}` },
      spec: { rules: {} },
    },
  },
];

beforeAll(async () => {
  ns = await testNamespace('kubectl-forms');
  const co = sharedCluster().kubeConfig().makeApiClient(k8s.CustomObjectsApi);
  for (const o of objects(ns)) {
    const plural = o.def.plural;
    if (o.namespaced)
      await co.createNamespacedCustomObject({ group: GROUP, version: 'v1alpha1', plural, namespace: ns, body: o.body });
    else await co.createClusterCustomObject({ group: GROUP, version: 'v1alpha1', plural, body: o.body });
  }
});

afterAll(async () => {
  const kc = sharedCluster().kubeConfig();
  const co = kc.makeApiClient(k8s.CustomObjectsApi);
  for (const o of objects(ns).filter((x) => !x.namespaced)) {
    await co
      .deleteClusterCustomObject({ group: GROUP, version: 'v1alpha1', plural: o.def.plural, name: o.name })
      .catch(() => undefined);
  }
  await kc
    .makeApiClient(k8s.CoreV1Api)
    .deleteNamespace({ name: ns })
    .catch(() => undefined);
  rmSync(cacheDir, { recursive: true, force: true });
});

describe.each(objects('').map((o) => [o.def.kind, o] as const))('%s', (_kind, o) => {
  const forms = [o.def.singular, o.def.plural, ...o.def.shortNames, o.def.kind];
  const where = () => (o.namespaced ? ['-n', ns] : []);
  const fullName = `${o.def.singular}.${GROUP}/${o.name}`;

  it.each(forms)('kubectl get %s <name>', async (form) => {
    expect((await kubectlOk('get', form, o.name, ...where(), '-o', 'name')).trim()).toBe(fullName);
  });

  it.each(forms)('kubectl annotate %s <name>', async (form) => {
    const out = await kubectlOk('annotate', form, o.name, ...where(), `forms.${GROUP}/form=${form}`, '--overwrite');
    expect(out.trim()).toBe(`${fullName} annotated`);
    const value = await kubectlOk(
      'get',
      form,
      o.name,
      ...where(),
      '-o',
      `jsonpath={.metadata.annotations.forms\\.machineidentity\\.io/form}`,
    );
    expect(value).toBe(form);
  });

  it.each(forms)('kubectl wait %s <name>', async (form) => {
    const out = await kubectlOk(
      'wait',
      form,
      o.name,
      ...where(),
      `--for=jsonpath={.metadata.name}=${o.name}`,
      '--timeout=30s',
    );
    expect(out.trim()).toBe(`${fullName} condition met`);
  });
});

describe(`the category ${CATEGORY}`, () => {
  it('is every kind’s only category, and no kind’s name', () => {
    for (const def of [MACHINE_IDENTITY, CERTIFICATE_AUTHORITY_BINDING, ISSUANCE_POLICY]) {
      expect(def.categories).toEqual([CATEGORY]);
    }
  });

  it('kubectl get <category> lists all three kinds', async () => {
    const names = (await kubectlOk('get', CATEGORY, '-n', ns, '-o', 'name')).trim().split('\n');
    for (const o of objects(ns)) expect(names).toContain(`${o.def.singular}.${GROUP}/${o.name}`);
  });
});
