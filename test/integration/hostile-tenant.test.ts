// Acceptance (#13): the "hostile tenant" suite. A namespace editor, with exactly the rights Kubernetes'
// `edit` role and the chart's aggregated roles give, tries what a reviewer found possible, against the
// operator with the chart's default settings (policy.defaultAction Allow, no IssuancePolicy) and the
// chart's own admission webhook. Each finding is reproduced and shown closed. The other findings have
// their own suites: signers (signer-boundaries.test.ts), hostile bytes (hostile-bytes.test.ts), CA
// continuity (ca-continuity.test.ts), RBAC with the chart's ServiceAccount (rbac.test.ts).
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as yaml from 'js-yaml';
import * as k8s from '@kubernetes/client-node';
import { sharedCluster, testNamespace } from '../harness/cluster.ts';
import { REPO_ROOT } from '../harness/control-plane.ts';
import { IssuanceEnv, decode, openssl, verifySecret, type Identity } from '../harness/identities.ts';
import { freePort, waitFor } from '../harness/processes.ts';
import { localWebhookConfiguration } from '../harness/webhook.ts';
import { generateCa } from '../../src/issuers/ca-material.ts';
import { parseCertificate } from '../../src/pki/certs.ts';
import { writeSecret } from '../../src/controllers/issuance/write-secret.ts';

const env = new IssuanceEnv();
let tenantNs = '',
  grantedNs = '',
  unhookedNs = '',
  ca = '',
  vwcName = '',
  tenantKubeconfig = '';
const cond = (mi: Identity, type: string) => mi.status?.conditions?.find((c) => c.type === type);

/** kubectl as the tenant: a namespace editor (RoleBinding to `edit`, which the chart's roles extend to MachineIdentities). */
function kubectl(args: string[], input?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = execFile(
      join(sharedCluster().binDir, 'kubectl'),
      ['--kubeconfig', tenantKubeconfig, ...args],
      { timeout: 60_000 },
      (err, stdout, stderr) =>
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    );
    if (input !== undefined) p.stdin!.end(input);
  });
}
const manifest = (ns: string, name: string, spec: Record<string, unknown>): string =>
  yaml.dump({
    apiVersion: 'machineidentity.io/v1alpha1',
    kind: 'MachineIdentity',
    metadata: { name, namespace: ns },
    spec: { secretName: `${name}-tls`, authorityRef: { name: ca }, ...spec },
  });

/** The chart's aggregated ClusterRoles, rendered by the real helm with default values. */
function chartAggregatedRoles(): k8s.V1ClusterRole[] {
  const home = mkdtempSync(join(tmpdir(), 'mio-helm-'));
  const out = execFileSync(
    join(sharedCluster().binDir, 'helm'),
    [
      'template',
      'mio',
      join(REPO_ROOT, 'deploy/helm/machine-identity-operator'),
      '--namespace',
      'mio-system',
      '--show-only',
      'templates/aggregate-clusterroles.yaml',
    ],
    {
      encoding: 'utf8',
      env: {
        ...process.env,
        HELM_CACHE_HOME: join(home, 'c'),
        HELM_CONFIG_HOME: join(home, 'f'),
        HELM_DATA_HOME: join(home, 'd'),
      },
    },
  );
  return yaml
    .loadAll(out)
    .filter((d) => (d as { kind?: string } | null)?.kind === 'ClusterRole') as k8s.V1ClusterRole[];
}

beforeAll(async () => {
  tenantNs = await testNamespace('team-a');
  grantedNs = await testNamespace('team-ca', { 'ca-delegation': 'allowed' });
  unhookedNs = await testNamespace('team-b');
  const port = await freePort();
  vwcName = env.uniqueName('mio-hostile');
  await env.start({
    MIO_WEBHOOK_ADDR: `127.0.0.1:${port}`,
    MIO_WEBHOOK_HOSTS: '127.0.0.1',
    MIO_WEBHOOK_CONFIG_NAME: vwcName,
    MIO_WEBHOOK_SECRET: `${vwcName}-tls`,
  });
  ca = env.uniqueName('hostile-ca');
  // the security team's binding: every namespace may use it; one labelled namespace may hold CA certificates
  await env.createBinding(ca, {
    ca: { secretRef: { name: ca }, generate: { commonName: 'Hostile Suite Root' } },
    grants: [{ namespaceSelector: { matchLabels: { 'ca-delegation': 'allowed' } }, allowCA: true }],
  });
  await env.bindingReady(ca);
  const rbac = env.kc.makeApiClient(k8s.RbacAuthorizationV1Api);
  for (const role of chartAggregatedRoles()) {
    role.metadata!.name = `${vwcName}-${role.metadata!.name}`;
    await rbac.createClusterRole({ body: role });
  }
  for (const ns of [tenantNs, grantedNs]) {
    await rbac.createNamespacedRoleBinding({
      namespace: ns,
      body: {
        metadata: { name: 'tenant-edit' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'edit' },
        subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'tenant' }],
      },
    });
  }
  tenantKubeconfig = await sharedCluster().userKubeconfig('tenant');
  await waitFor(
    'edit aggregates MachineIdentities',
    async () => {
      const r = await kubectl(['auth', 'can-i', 'create', 'machineidentities.machineidentity.io', '-n', tenantNs]);
      return r.stdout.trim() === 'yes' ? true : undefined;
    },
    30_000,
    250,
  );
  await env.kc.makeApiClient(k8s.AdmissionregistrationV1Api).createValidatingWebhookConfiguration({
    body: localWebhookConfiguration({
      binDir: sharedCluster().binDir,
      name: vwcName,
      baseUrl: `https://127.0.0.1:${port}`,
      namespaces: [tenantNs, grantedNs],
    }),
  });
  await waitFor(
    'webhook caBundle injected',
    async () => {
      const v = await env.kc
        .makeApiClient(k8s.AdmissionregistrationV1Api)
        .readValidatingWebhookConfiguration({ name: vwcName });
      return v.webhooks?.every((w) => w.clientConfig.caBundle) ? true : undefined;
    },
    20_000,
    200,
  );
}, 120_000);

afterAll(async () => {
  await env.kc
    .makeApiClient(k8s.AdmissionregistrationV1Api)
    .deleteValidatingWebhookConfiguration({ name: vwcName })
    .catch(() => undefined);
  await env.stop();
});

describe("finding 1: a namespace editor cannot mint a CA or another namespace's names", () => {
  it('isCA is refused at kubectl apply, naming the rule', async () => {
    const r = await kubectl(
      ['apply', '-f', '-'],
      manifest(tenantNs, 'rogue-ca', {
        subject: { commonName: 'Rogue CA' },
        isCA: true,
        usages: ['certSign', 'crlSign'],
      }),
    );
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(
      'denied the request: denied by the safe defaults: isCA "true" asks for a CA certificate and no grant of CertificateAuthorityBinding',
    );
    expect(r.stderr).toContain('(CANotGranted)');
  });

  it.each([
    ["the API server's name", { dnsNames: ['kubernetes.default.svc'] }, 'dnsNames[0] "kubernetes.default.svc"'],
    [
      "another namespace's SPIFFE ID",
      { uris: ['spiffe://cluster.local/ns/payments/sa/api'] },
      'uris[0] "spiffe://cluster.local/ns/payments/sa/api"',
    ],
    ['a cluster-wide Service wildcard', { dnsNames: ['*.kube-system.svc'] }, 'dnsNames[0] "*.kube-system.svc"'],
    [
      "kube-system's admin identity",
      { uris: ['spiffe://cluster.local/ns/kube-system/sa/admin'] },
      'uris[0] "spiffe://cluster.local/ns/kube-system/sa/admin"',
    ],
    ['a loopback address', { ipAddresses: ['127.0.0.1'] }, 'ipAddresses[0] "127.0.0.1"'],
  ])('%s is refused at apply (NameNotOwned)', async (_what, spec, field) => {
    const r = await kubectl(['apply', '-f', '-'], manifest(tenantNs, 'foreign', spec));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`${field} is not`);
    expect(r.stderr).toContain('(NameNotOwned)');
  });

  it('the controller refuses it too where no webhook answers (failurePolicy Ignore, a namespace outside its selector)', async () => {
    await env.createIdentity(unhookedNs, 'bypass', {
      secretName: 'bypass-tls',
      authorityRef: { name: ca },
      dnsNames: ['kubernetes.default.svc'],
      isCA: true,
    });
    const mi = await env.condition(unhookedNs, 'bypass', 'Ready', 'CANotGranted');
    expect(cond(mi, 'Ready')!.message).toMatch(
      /^denied by the safe defaults: isCA "true" asks for a CA certificate .*\(CANotGranted\); dnsNames\[0\] "kubernetes.default.svc" is not a name namespace .*\(NameNotOwned\)/,
    );
    await expect(env.secret(unhookedNs, 'bypass-tls')).rejects.toMatchObject({ code: 404 });
    const ev = await waitFor(
      'CANotGranted event',
      async () =>
        (
          await env.core.listNamespacedEvent({
            namespace: unhookedNs,
            fieldSelector: 'involvedObject.name=bypass,reason=CANotGranted',
          })
        ).items[0],
      10_000,
      200,
    );
    expect(ev.type).toBe('Warning');
  });

  it('its own names are issued with no policy at all, within the default lifetime cap (a 10-year request gets 90 days)', async () => {
    const r = await kubectl(
      ['apply', '-f', '-'],
      manifest(tenantNs, 'web', {
        dnsNames: [`web.${tenantNs}.svc`, `web.${tenantNs}.svc.cluster.local`],
        duration: '87600h',
      }),
    );
    expect(r.stderr).toBe('');
    await env.ready(tenantNs, 'web');
    const leaf = parseCertificate(decode(await env.secret(tenantNs, 'web-tls'), 'tls.crt'));
    expect(leaf.notAfter.getTime() - leaf.notBefore.getTime()).toBeLessThanOrEqual(2160 * 3_600_000 + 5 * 60_000);
  });

  it("a granted CA certificate is constrained: pathlen 0, only the namespace's names; OpenSSL refuses what it signs for kubernetes.default.svc", async () => {
    const r = await kubectl(
      ['apply', '-f', '-'],
      manifest(grantedNs, 'team-ca', {
        subject: { commonName: 'Team CA' },
        isCA: true,
        usages: ['certSign', 'crlSign'],
      }),
    );
    expect(r.stderr).toBe('');
    await env.ready(grantedNs, 'team-ca');
    const s = await env.secret(grantedNs, 'team-ca-tls');
    const ext = openssl([
      'x509',
      '-in',
      { file: decode(s, 'tls.crt') },
      '-noout',
      '-ext',
      'basicConstraints,nameConstraints',
    ]);
    expect(ext).toContain('CA:TRUE, pathlen:0');
    expect(ext).toContain(`DNS:${grantedNs}.svc`);
    // the tenant holds the sub-CA key and signs what it likes with the openssl CLI: only the constraints stand in its way
    const root = decode(s, 'ca.crt'),
      sub = decode(s, 'tls.crt'),
      key = decode(s, 'tls.key');
    expect(mintAndVerify(root, sub, key, `DNS:api.${grantedNs}.svc`)).toMatch(/: OK/);
    expect(mintAndVerify(root, sub, key, 'DNS:kubernetes.default.svc')).toMatch(/permitted subtree violation/);
    expect(mintAndVerify(root, sub, key, `DNS:api.${tenantNs}.svc`)).toMatch(/permitted subtree violation/);
    expect(mintAndVerify(root, sub, key, 'IP:10.0.0.1')).toMatch(
      /excluded subtree violation|permitted subtree violation/,
    );
  });
});

/** Signs a leaf for `san` with the sub-CA key through the openssl CLI, then verifies it against the root. */
function mintAndVerify(rootPem: string, subCaPem: string, subCaKeyPem: string, san: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'mio-hostile-'));
  const w = (name: string, text: string): string => {
    const f = join(dir, name);
    execFileSync('sh', ['-c', 'cat > "$1"', 'sh', f], { input: text });
    return f;
  };
  const root = w('root.pem', rootPem),
    subCa = w('sub.pem', subCaPem),
    subKey = w('sub.key', subCaKeyPem),
    ext = w('ext.cnf', `subjectAltName=${san}\n`);
  const key = join(dir, 'leaf.key'),
    csr = join(dir, 'leaf.csr'),
    crt = join(dir, 'leaf.pem');
  execFileSync('openssl', ['ecparam', '-genkey', '-name', 'prime256v1', '-noout', '-out', key]);
  execFileSync('openssl', ['req', '-new', '-key', key, '-subj', '/CN=leaf', '-out', csr]);
  execFileSync(
    'openssl',
    [
      'x509',
      '-req',
      '-in',
      csr,
      '-CA',
      subCa,
      '-CAkey',
      subKey,
      '-CAserial',
      join(dir, 'serial'),
      '-CAcreateserial',
      '-days',
      '30',
      '-extfile',
      ext,
      '-out',
      crt,
    ],
    { stdio: 'ignore' },
  );
  try {
    return execFileSync('openssl', ['verify', '-CAfile', root, '-untrusted', subCa, crt], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (e) {
    return `${String((e as { stdout?: string }).stdout ?? '')}${String((e as { stderr?: string }).stderr ?? '')}`;
  }
}

describe('finding 5: a swapped key pair is not accepted', () => {
  it('a self-signed pair for the same names, 10 years long, written by the namespace editor, is replaced (CertificateReplaced)', async () => {
    const name = 'swapped';
    const r = await kubectl(['apply', '-f', '-'], manifest(tenantNs, name, { dnsNames: [`${name}.${tenantNs}.svc`] }));
    expect(r.stderr).toBe('');
    const before = await env.ready(tenantNs, name);
    const forged = await generateCa({
      commonName: `${name}.${tenantNs}.svc`,
      durationMs: 3650 * 86_400_000,
      key: { algorithm: 'ECDSA', size: 256 },
    });
    const patch = {
      data: {
        'tls.crt': Buffer.from(forged.certPem).toString('base64'),
        'tls.key': Buffer.from(forged.keyPem).toString('base64'),
      },
    };
    const p = await kubectl([
      'patch',
      'secret',
      `${name}-tls`,
      '-n',
      tenantNs,
      '--type',
      'merge',
      '-p',
      JSON.stringify(patch),
    ]);
    expect(p.code).toBe(0);
    const ev = await waitFor(
      'Issuing event for the swapped pair',
      async () =>
        (
          await env.core.listNamespacedEvent({
            namespace: tenantNs,
            fieldSelector: `involvedObject.name=${name},reason=Issuing`,
          })
        ).items.find((e) => e.message?.includes('was not issued for this identity')),
      30_000,
      200,
    );
    expect(ev.message).toMatch(
      /^issuing: the Secret holds a certificate \(SHA-256 [0-9A-F:]+\) that was not issued for this identity \(status records [0-9A-F:]+; it does not chain to the authority's CA\)$/,
    );
    const after = await env.ready(tenantNs, name, (before.status?.revision ?? 1) + 1);
    const s = await env.secret(tenantNs, `${name}-tls`);
    verifySecret(s);
    expect(parseCertificate(decode(s, 'tls.crt')).fingerprintSHA256).toBe(after.status?.fingerprintSHA256);
    expect(decode(s, 'tls.crt')).not.toContain(forged.certPem.trim());
  });
});

describe('finding 8: the first write of a Secret never overwrites one that appeared meanwhile', () => {
  it('create when there was none (409 if one appeared), apply conditional on the version read (409 if it changed)', async () => {
    const body = (v: string): k8s.V1Secret => ({
      apiVersion: 'v1',
      kind: 'Secret',
      type: 'kubernetes.io/tls',
      metadata: { name: 'raced-tls', namespace: tenantNs, labels: { 'machineidentity.io/identity': 'raced' } },
      data: { 'tls.crt': Buffer.from(v).toString('base64'), 'tls.key': '' },
    });
    // someone else's Secret appears between our read (absent) and our write
    await env.core.createNamespacedSecret({
      namespace: tenantNs,
      body: { metadata: { name: 'raced-tls' }, stringData: { mine: 'tenant data' } },
    });
    await expect(writeSecret(env.kc, body('ours'), undefined)).rejects.toMatchObject({ code: 409 });
    const kept = await env.secret(tenantNs, 'raced-tls');
    expect(decode(kept, 'mine')).toBe('tenant data');
    // the version we read is replaced before our write
    const rv = kept.metadata!.resourceVersion!;
    await env.core.patchNamespacedSecret(
      { namespace: tenantNs, name: 'raced-tls', body: { stringData: { mine: 'changed' } } },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
    await expect(writeSecret(env.kc, body('ours'), rv)).rejects.toMatchObject({ code: 409 });
    expect(decode(await env.secret(tenantNs, 'raced-tls'), 'mine')).toBe('changed');
  });
});
