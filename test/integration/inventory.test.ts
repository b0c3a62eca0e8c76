// Acceptance (inventory #1, part): a cluster seeded with certificates of every kind (RSA-1024,
// SHA-1-signed, expired, not yet valid, self-signed, Ed25519, a 3-certificate chain, a PKCS#12, a
// webhook caBundle, a ConfigMap bundle, a managed identity) shows each with the right facts, location
// and owner in `kubectl mi inventory -o json` and in the operator's /metrics; policy findings on
// discovered certificates become Events and violation series; garbage is counted, never fatal.
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { execFile, execFileSync } from 'node:child_process';
import type { webcrypto } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import * as k8s from '@kubernetes/client-node';
import { sharedCluster, testNamespace } from '../harness/cluster.ts';
import { REPO_ROOT } from '../harness/control-plane.ts';
import { IssuanceEnv } from '../harness/identities.ts';
import { waitFor } from '../harness/processes.ts';

const env = new IssuanceEnv();
const IPOL = { group: 'machineidentity.io', version: 'v1alpha1', plural: 'issuancepolicies' } as const;
let ns = '';
let ca = '';
let vwcName = '';
let policyName = '';
const DAY = 86_400_000;
const b64 = (s: string | Buffer): string => Buffer.from(s).toString('base64');

type CryptoKeyPair = webcrypto.CryptoKeyPair;
type Alg = 'RSA1024' | 'RSA2048-SHA1' | 'ECDSA' | 'Ed25519';
async function keys(alg: Alg): Promise<CryptoKeyPair> {
  if (alg === 'Ed25519')
    return crypto.subtle.generateKey({ name: 'Ed25519' }, true, [
      'sign',
      'verify',
    ]) as unknown as Promise<CryptoKeyPair>;
  if (alg === 'ECDSA')
    return crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, [
      'sign',
      'verify',
    ]) as Promise<CryptoKeyPair>;
  return crypto.subtle.generateKey(
    {
      name: 'RSASSA-PKCS1-v1_5',
      modulusLength: alg === 'RSA1024' ? 1024 : 2048,
      publicExponent: new Uint8Array([1, 0, 1]),
      hash: alg === 'RSA2048-SHA1' ? 'SHA-1' : 'SHA-256',
    },
    true,
    ['sign', 'verify'],
  ) as Promise<CryptoKeyPair>;
}
const signAlg = (alg: Alg): webcrypto.Algorithm | webcrypto.EcdsaParams =>
  alg === 'ECDSA'
    ? ({ name: 'ECDSA', hash: 'SHA-256' } as webcrypto.EcdsaParams)
    : alg === 'Ed25519'
      ? { name: 'Ed25519' }
      : { name: 'RSASSA-PKCS1-v1_5' };

interface Made {
  pem: string;
  keyPem: string;
  cert: x509.X509Certificate;
  keys: CryptoKeyPair;
}
async function cert(o: {
  cn: string;
  alg?: Alg;
  notBefore?: Date;
  notAfter?: Date;
  ca?: boolean;
  issuer?: Made;
  dns?: string[];
}): Promise<Made> {
  const alg = o.alg ?? 'ECDSA';
  const k = await keys(alg);
  const signer = o.issuer?.keys ?? k;
  const ext: x509.Extension[] = [
    new x509.BasicConstraintsExtension(o.ca ?? false, undefined, true),
    await x509.SubjectKeyIdentifierExtension.create(k.publicKey),
  ];
  if (o.issuer) ext.push(await x509.AuthorityKeyIdentifierExtension.create(o.issuer.cert));
  if (o.dns) ext.push(new x509.SubjectAlternativeNameExtension(o.dns.map((d) => ({ type: 'dns' as const, value: d }))));
  const c = await x509.X509CertificateGenerator.create({
    serialNumber: String(Math.floor(Math.random() * 1e9)),
    subject: `CN=${o.cn}`,
    issuer: o.issuer ? o.issuer.cert.subject : `CN=${o.cn}`,
    notBefore: o.notBefore ?? new Date(Date.now() - DAY),
    notAfter: o.notAfter ?? new Date(Date.now() + 90 * DAY),
    publicKey: k.publicKey,
    signingKey: signer.privateKey,
    signingAlgorithm: o.issuer ? signAlg('ECDSA') : signAlg(alg),
    extensions: ext,
  });
  const pkcs8 = Buffer.from(await crypto.subtle.exportKey('pkcs8', k.privateKey))
    .toString('base64')
    .match(/.{1,64}/g)!
    .join('\n');
  return {
    pem: c.toString('pem') + '\n',
    keyPem: `-----BEGIN PRIVATE KEY-----\n${pkcs8}\n-----END PRIVATE KEY-----\n`,
    cert: c,
    keys: k,
  };
}

async function secret(
  name: string,
  data: Record<string, string | Buffer>,
  annotations: Record<string, string> = {},
): Promise<void> {
  await env.core.createNamespacedSecret({
    namespace: ns,
    body: {
      metadata: { name, annotations },
      type: 'Opaque',
      data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, b64(v)])),
    },
  });
}

interface Row {
  namespace: string;
  kind: string;
  name: string;
  key: string;
  subject: string;
  keyAlgorithm: string;
  keySize?: number;
  signatureAlgorithm: string;
  selfSigned: boolean;
  isCA: boolean;
  expiresInSeconds: number;
  managed: boolean;
  identity?: string;
  authority?: string;
  trusted: boolean;
  owner?: string;
  location: { pods: string[]; workloads: string[]; ingresses: string[] };
  compliant: boolean;
  violations: { rule: string }[];
}

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [join(REPO_ROOT, 'src/cli/main.ts'), ...args, '--kubeconfig', sharedCluster().kubeconfigPath],
      { timeout: 120_000, maxBuffer: 64 << 20 },
      (err, stdout, stderr) =>
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    );
  });
}

let root: Made;
beforeAll(async () => {
  ns = await testNamespace('inv', { team: 'payments-ns' });
  await env.start();
  ca = env.uniqueName('inv-ca');
  await env.createBinding(ca, { ca: { secretRef: { name: ca }, generate: { commonName: 'Inventory CA' } } });
  await env.bindingReady(ca);
  await env.createIdentity(ns, 'managed', {
    secretName: 'managed-tls',
    authorityRef: { name: ca },
    dnsNames: [`managed.${ns}.svc`],
    owner: { team: 'platform' },
  });
  await env.ready(ns, 'managed');

  const weak = await cert({ cn: 'weak', alg: 'RSA1024' });
  const sha1 = await cert({ cn: 'sha1', alg: 'RSA2048-SHA1' });
  const expired = await cert({
    cn: 'expired',
    notBefore: new Date(Date.now() - 400 * DAY),
    notAfter: new Date(Date.now() - 35 * DAY),
  });
  const future = await cert({
    cn: 'future',
    notBefore: new Date(Date.now() + 30 * DAY),
    notAfter: new Date(Date.now() + 400 * DAY),
  });
  const ed = await cert({ cn: 'ed', alg: 'Ed25519' });
  root = await cert({ cn: 'Chain Root', ca: true, notAfter: new Date(Date.now() + 3650 * DAY) });
  const inter = await cert({ cn: 'Chain Intermediate', ca: true, issuer: root });
  const leaf = await cert({ cn: 'chain-leaf', issuer: inter, dns: [`web.${ns}.svc`] });
  await secret('weak-tls', { 'tls.crt': weak.pem, 'tls.key': weak.keyPem });
  await secret('sha1-tls', { 'tls.crt': sha1.pem });
  await secret('old-tls', { 'tls.crt': expired.pem });
  await secret('future-tls', { 'tls.crt': future.pem });
  await secret('ed-tls', { 'tls.crt': ed.pem });
  await secret('chain-tls', { 'tls.crt': leaf.pem + inter.pem + root.pem, 'tls.key': leaf.keyPem });
  await secret('garbage', {
    'bad.pem': '-----BEGIN CERTIFICATE-----\nnot base64 at all!\n-----END CERTIFICATE-----\n',
    'x.crt': Buffer.alloc(5000, 0x30),
  });
  const dir = mkdtempSync(join(tmpdir(), 'mio-inv-'));
  writeFileSync(join(dir, 'leaf.pem'), leaf.pem);
  writeFileSync(join(dir, 'key.pem'), leaf.keyPem);
  writeFileSync(join(dir, 'chain.pem'), inter.pem + root.pem);
  execFileSync('openssl', [
    'pkcs12',
    '-export',
    '-in',
    join(dir, 'leaf.pem'),
    '-inkey',
    join(dir, 'key.pem'),
    '-certfile',
    join(dir, 'chain.pem'),
    '-passout',
    'pass:s3cret',
    '-out',
    join(dir, 'store.p12'),
  ]);
  await secret(
    'keystore',
    { 'store.p12': readFileSync(join(dir, 'store.p12')), pw: 's3cret' },
    { 'machineidentity.io/pkcs12-password-key': 'pw' },
  );
  await env.core.createNamespacedConfigMap({
    namespace: ns,
    body: { metadata: { name: 'trust', labels: { owner: 'security' } }, data: { 'ca-bundle.crt': root.pem } },
  });
  vwcName = env.uniqueName('inv-vwc');
  await env.kc.makeApiClient(k8s.AdmissionregistrationV1Api).createValidatingWebhookConfiguration({
    body: {
      metadata: { name: vwcName },
      webhooks: [
        {
          name: 'check.inventory.example.com',
          admissionReviewVersions: ['v1'],
          sideEffects: 'None',
          failurePolicy: 'Ignore',
          namespaceSelector: { matchLabels: { 'never-matches': ns } },
          clientConfig: { url: 'https://127.0.0.1:1/validate', caBundle: b64(root.pem) },
          rules: [{ apiGroups: ['example.com'], apiVersions: ['v1'], operations: ['CREATE'], resources: ['nothings'] }],
        },
      ],
    },
  });
  await env.core.createNamespacedPod({
    namespace: ns,
    body: {
      metadata: { name: 'web-0' },
      spec: {
        containers: [{ name: 'web', image: 'example.invalid/web' }],
        volumes: [{ name: 'tls', secret: { secretName: 'chain-tls' } }],
      },
    },
  });
  await env.kc.makeApiClient(k8s.NetworkingV1Api).createNamespacedIngress({
    namespace: ns,
    body: {
      metadata: { name: 'web' },
      spec: {
        tls: [{ secretName: 'chain-tls', hosts: [`web.${ns}.svc`] }],
        defaultBackend: { service: { name: 'web', port: { number: 443 } } },
      },
    },
  });
  policyName = env.uniqueName('inv-pol');
  await env.co.createClusterCustomObject({
    ...IPOL,
    body: {
      apiVersion: 'machineidentity.io/v1alpha1',
      kind: 'IssuancePolicy',
      metadata: { name: policyName },
      spec: {
        enforcement: 'Audit',
        selector: { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': ns } } },
        rules: {
          forbidSelfSigned: true,
          allowedSignatureAlgorithms: ['ECDSAWithSHA256', 'SHA256WithRSA', 'Ed25519'],
          privateKey: { minRSASize: 2048 },
        },
      },
    },
  });
}, 120_000);

afterAll(async () => {
  await env.kc
    .makeApiClient(k8s.AdmissionregistrationV1Api)
    .deleteValidatingWebhookConfiguration({ name: vwcName })
    .catch(() => undefined);
  await env.co.deleteClusterCustomObject({ ...IPOL, name: policyName }).catch(() => undefined);
  await env.stop();
});

describe('kubectl mi inventory', () => {
  let rows: Row[] = [];
  const row = (name: string, key = 'tls.crt', kind = 'Secret'): Row => {
    const r = rows.find((x) => x.name === name && x.key === key && x.kind === kind);
    if (!r) throw new Error(`no inventory row for ${kind} ${name} ${key}`);
    return r;
  };
  beforeAll(async () => {
    const out = await cli(['inventory', '-A', '-o', 'json']);
    expect(out.code).toBe(0);
    rows = (JSON.parse(out.stdout) as { certificates: Row[] }).certificates.filter(
      (r) => r.namespace === ns || r.name === vwcName,
    );
  }, 120_000);

  it('shows each certificate with its facts', () => {
    expect(row('weak-tls')).toMatchObject({
      keyAlgorithm: 'RSA',
      keySize: 1024,
      selfSigned: true,
      owner: 'payments-ns',
      managed: false,
      trusted: false,
    });
    expect(row('sha1-tls')).toMatchObject({ signatureAlgorithm: 'SHA1WithRSA', keySize: 2048 });
    expect(row('old-tls').expiresInSeconds).toBeLessThan(-30 * 86_400);
    expect(row('future-tls').expiresInSeconds).toBeGreaterThan(300 * 86_400);
    expect(row('ed-tls')).toMatchObject({ keyAlgorithm: 'Ed25519', signatureAlgorithm: 'Ed25519' });
    expect(row('ed-tls').keySize).toBeUndefined();
  });
  it('splits the chain, and finds where it is used', () => {
    expect(row('chain-tls')).toMatchObject({
      subject: 'CN=chain-leaf',
      isCA: false,
      selfSigned: false,
      location: { pods: ['web-0'], ingresses: ['web'] },
    });
    expect(row('chain-tls', 'tls.crt#1')).toMatchObject({ subject: 'CN=Chain Intermediate', isCA: true });
    expect(row('chain-tls', 'tls.crt#2')).toMatchObject({ subject: 'CN=Chain Root', isCA: true, selfSigned: true });
  });
  it('reads the PKCS#12 with the password its annotation names', () => {
    expect(
      rows
        .filter((r) => r.name === 'keystore')
        .map((r) => r.subject)
        .sort(),
    ).toEqual(['CN=Chain Intermediate', 'CN=Chain Root', 'CN=chain-leaf']);
  });
  it("finds CA bundles in ConfigMaps and webhook configurations, with the object's owner label", () => {
    expect(row('trust', 'ca-bundle.crt', 'ConfigMap')).toMatchObject({ subject: 'CN=Chain Root', owner: 'security' });
    expect(row(vwcName, 'check.inventory.example.com', 'ValidatingWebhookConfiguration')).toMatchObject({
      subject: 'CN=Chain Root',
      namespace: '',
    });
  });
  it("knows the managed identity, its owner team and that its CA is the operator's", () => {
    expect(row('managed-tls')).toMatchObject({
      managed: true,
      identity: 'managed',
      authority: ca,
      trusted: true,
      owner: 'platform',
      compliant: true,
    });
    expect(row('managed-tls', 'ca.crt')).toMatchObject({ isCA: true, trusted: true, authority: ca });
  });
  it('judges discovered certificates by the IssuancePolicies; --non-compliant and --expiring-within filter', async () => {
    expect(row('weak-tls').violations.map((v) => v.rule)).toEqual(['privateKey.minRSASize', 'forbidSelfSigned']);
    expect(row('sha1-tls').violations.map((v) => v.rule)).toEqual(['forbidSelfSigned', 'allowedSignatureAlgorithms']);
    expect(row('chain-tls').compliant).toBe(true);
    const bad = JSON.parse((await cli(['inventory', '-n', ns, '-o', 'json', '--non-compliant'])).stdout) as {
      certificates: Row[];
    };
    expect(bad.certificates.every((r) => !r.compliant)).toBe(true);
    expect(bad.certificates.map((r) => r.name)).toEqual(
      expect.arrayContaining(['weak-tls', 'sha1-tls', 'ed-tls', 'old-tls']),
    );
    const soon = JSON.parse((await cli(['inventory', '-n', ns, '-o', 'json', '--expiring-within', '24h'])).stdout) as {
      certificates: Row[];
    };
    expect(soon.certificates.map((r) => r.name)).toEqual(['old-tls']);
    const csv = (await cli(['inventory', '-n', ns, '-o', 'csv'])).stdout.split('\n');
    expect(csv[0]).toMatch(/^namespace,kind,name,key,subject,issuer,/);
    const table = (await cli(['inventory', '-n', ns])).stdout;
    expect(table).toMatch(/^NAMESPACE\s+KIND\s+NAME\s+KEY\s+SUBJECT\s+EXPIRES IN/);
    expect(table).toMatch(/old-tls .* expired 3\dd ago/);
  });
});

describe('kubectl mi status', () => {
  it('shows a Ready identity with its certificate, authority and owner, exit 0', async () => {
    const r = await cli(['status', 'managed', '-n', ns]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^ {2}Ready: +True {2}Ready {2}the certificate is up to date/m);
    expect(r.stdout).toContain(`Authority:       ${ca} (ca, Ready True)`);
    expect(r.stdout).toContain('Owner:           platform');
    expect(r.stdout).toMatch(/Certificate: +CN=|Certificate: +from/);
    expect(r.stdout).toContain(`DNS managed.${ns}.svc`);
  });
});

describe("the operator's inventory", () => {
  it("exports every certificate in /metrics with the contract's labels, and counts unreadable content", async () => {
    const op = env.operator!;
    await waitFor(
      'inventory metrics',
      async () =>
        (await op.metric('machine_identity_inventory_certificate_expiration_timestamp_seconds', {
          namespace: ns,
          name: 'chain-tls',
          key: 'tls.crt#2',
        })) !== undefined,
      30_000,
      500,
    );
    expect(
      await op.metric('machine_identity_inventory_certificate_expiration_timestamp_seconds', {
        namespace: ns,
        name: 'weak-tls',
        key_algorithm: 'RSA',
        key_size: '1024',
        self_signed: 'true',
        managed: 'false',
      }),
    ).toBeGreaterThan(0);
    expect(
      await op.metric('machine_identity_inventory_certificate_expiration_timestamp_seconds', {
        namespace: ns,
        name: 'sha1-tls',
        signature_algorithm: 'SHA1WithRSA',
      }),
    ).toBeGreaterThan(0);
    expect(
      await op.metric('machine_identity_inventory_certificate_expiration_timestamp_seconds', {
        namespace: ns,
        name: 'old-tls',
      }),
    ).toBeLessThan(Date.now() / 1000);
    expect(
      await op.metric('machine_identity_inventory_certificate_expiration_timestamp_seconds', {
        namespace: ns,
        name: 'ed-tls',
        key_algorithm: 'Ed25519',
      }),
    ).toBeGreaterThan(0);
    expect(
      await op.metric('machine_identity_inventory_certificate_expiration_timestamp_seconds', {
        namespace: ns,
        name: 'keystore',
        key: 'store.p12',
      }),
    ).toBeGreaterThan(0);
    expect(
      await op.metric('machine_identity_inventory_certificate_expiration_timestamp_seconds', {
        kind: 'ValidatingWebhookConfiguration',
        name: vwcName,
      }),
    ).toBeGreaterThan(0);
    expect(
      await op.metric('machine_identity_inventory_certificate_expiration_timestamp_seconds', {
        namespace: ns,
        name: 'managed-tls',
        key: 'tls.crt',
        managed: 'true',
        trusted: 'true',
        owner_team: 'platform',
      }),
    ).toBeGreaterThan(0);
    expect(
      await op.metric('machine_identity_inventory_certificate_not_before_timestamp_seconds', {
        namespace: ns,
        name: 'future-tls',
      }),
    ).toBeGreaterThan(Date.now() / 1000);
    expect(
      await op.metric('machine_identity_inventory_certificates', {
        namespace: ns,
        managed: 'false',
        compliant: 'false',
      }),
    ).toBeGreaterThanOrEqual(4);
    expect(await op.metric('machine_identity_inventory_parse_errors_total', { kind: 'Secret' })).toBeGreaterThanOrEqual(
      1,
    );
    expect(
      await op.metric('machine_identity_policy_violations', {
        policy: policyName,
        rule: 'allowedSignatureAlgorithms',
        namespace: ns,
        kind: 'Secret',
        name: 'sha1-tls',
        enforcement: 'Audit',
      }),
    ).toBe(1);
  });

  // every labelled Secret is watched by the managed-Secret informer only, which carries the inventory's projection:
  // a namespace editor who sets the operator's label must neither hide a certificate nor make it count as managed
  it('a Secret a tenant labels machineidentity.io/identity stays in the inventory, unmanaged, and is judged', async () => {
    const op = env.operator!;
    const LABEL = 'machineidentity.io/identity';
    const claimed = await cert({ cn: 'claimed', alg: 'RSA2048-SHA1' });
    // labelled with the name of a real identity of this namespace, which names another Secret (managed-tls)
    await env.core.createNamespacedSecret({
      namespace: ns,
      body: {
        metadata: { name: 'claimed-tls', labels: { [LABEL]: 'managed', owner: 'tenant-a' } },
        type: 'Opaque',
        data: { 'tls.crt': b64(claimed.pem) },
      },
    });
    const series = (name: string, owner: string): Promise<number | undefined> =>
      op.metric('machine_identity_inventory_certificate_expiration_timestamp_seconds', {
        namespace: ns,
        name,
        managed: 'false',
        owner_team: owner,
      });
    await waitFor(
      'claimed-tls in the inventory, unmanaged',
      async () => (await series('claimed-tls', 'tenant-a')) !== undefined,
      30_000,
      500,
    );
    await waitFor(
      'PolicyViolation event on claimed-tls',
      async () =>
        (
          await env.core.listNamespacedEvent({
            namespace: ns,
            fieldSelector: 'involvedObject.name=claimed-tls,reason=PolicyViolation',
          })
        ).items[0],
      30_000,
      500,
    );
    // a Secret that gains the label moves from the inventory's own watch to the managed one: still there
    const late = await cert({ cn: 'late', alg: 'RSA2048-SHA1' });
    await secret('late-tls', { 'tls.crt': late.pem });
    await waitFor(
      'late-tls in the inventory',
      async () => (await series('late-tls', 'payments-ns')) !== undefined,
      30_000,
      500,
    );
    await env.core.patchNamespacedSecret(
      { namespace: ns, name: 'late-tls', body: { metadata: { labels: { [LABEL]: 'managed', owner: 'tenant-b' } } } },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
    await waitFor(
      'late-tls labelled, still in the inventory, unmanaged',
      async () => (await series('late-tls', 'tenant-b')) !== undefined,
      30_000,
      500,
    );
    expect(await series('late-tls', 'payments-ns')).toBeUndefined();
    // and back: the label removed, the inventory's own watch has it again
    await env.core.patchNamespacedSecret(
      { namespace: ns, name: 'late-tls', body: { metadata: { labels: { [LABEL]: null, owner: 'tenant-c' } } } },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
    await waitFor(
      'late-tls unlabelled, still in the inventory',
      async () => (await series('late-tls', 'tenant-c')) !== undefined,
      30_000,
      500,
    );
    // the identity whose name the label carries is untouched: its own Secret is still the managed one
    expect(
      await op.metric('machine_identity_inventory_certificate_expiration_timestamp_seconds', {
        namespace: ns,
        name: 'managed-tls',
        managed: 'true',
      }),
    ).toBeGreaterThan(0);
    await env.ready(ns, 'managed');
  });

  it('records a PolicyViolation Event on a Secret whose certificate breaks a policy, and the series go with the Secret', async () => {
    const ev = await waitFor(
      'PolicyViolation event',
      async () => {
        const l = await env.core.listNamespacedEvent({
          namespace: ns,
          fieldSelector: 'involvedObject.name=sha1-tls,reason=PolicyViolation',
        });
        return l.items[0];
      },
      30_000,
      500,
    );
    expect(ev.message).toMatch(
      /^tls.crt \(CN=sha1, serial \w+\): violates IssuancePolicy .*: selfSigned true: a self-signed leaf certificate is not allowed; signatureAlgorithm "SHA1WithRSA"/,
    );
    await env.core.deleteNamespacedSecret({ namespace: ns, name: 'sha1-tls' });
    await waitFor(
      'series gone',
      async () =>
        (await env.operator!.metric('machine_identity_inventory_certificate_expiration_timestamp_seconds', {
          namespace: ns,
          name: 'sha1-tls',
        })) === undefined,
      30_000,
      500,
    );
  });
});
