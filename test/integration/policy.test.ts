// Acceptance (IssuancePolicy #2, #3): Enforce denials in status and at `kubectl apply` through the
// chart's validating webhook, Audit, deny wins across two policies, {{namespace}}, remediation after
// a policy change, policy status and metrics, `kubectl mi policy check` giving the controller's
// verdicts over 50 manifests, and policy.defaultAction both ways (last: it restarts the operator).
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { execFile } from 'node:child_process';
import { connect } from 'node:net';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as yaml from 'js-yaml';
import * as k8s from '@kubernetes/client-node';
import { sharedCluster, testNamespace } from '../harness/cluster.ts';
import { REPO_ROOT } from '../harness/control-plane.ts';
import { IssuanceEnv, decode, type Identity } from '../harness/identities.ts';
import { freePort, waitFor, sleep } from '../harness/processes.ts';
import { localWebhookConfiguration } from '../harness/webhook.ts';
import { parseCertificate } from '../../src/pki/certs.ts';

const IPOL = { group: 'machineidentity.io', version: 'v1alpha1', plural: 'issuancepolicies' } as const;
const H = 3_600_000;
const env = new IssuanceEnv();
const run = env.uniqueName('pol');
/** Every policy selects only namespaces carrying this label: other test files share the cluster. */
const RUN_LABEL = 'machineidentity.io/policy-test';
let hooked = ''; // namespace the webhook checks
let open = ''; // namespace the webhook does not check (denied identities reach the controller)
let other = ''; // namespace no policy selects
let ca = '';
let webhookPort = 0;
let vwcName = '';
const policies: string[] = [];
const admission = (): k8s.AdmissionregistrationV1Api => env.kc.makeApiClient(k8s.AdmissionregistrationV1Api);

async function createPolicy(name: string, spec: Record<string, unknown>): Promise<void> {
  await env.co.createClusterCustomObject({
    ...IPOL,
    body: { apiVersion: 'machineidentity.io/v1alpha1', kind: 'IssuancePolicy', metadata: { name }, spec },
  });
  policies.push(name);
}
async function patchPolicy(name: string, spec: Record<string, unknown>): Promise<void> {
  await env.co.patchClusterCustomObject(
    { ...IPOL, name, body: { spec } },
    k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
  );
}
const cond = (mi: Identity, type: string): { status: string; reason: string; message: string } | undefined =>
  mi.status?.conditions?.find((c) => c.type === type);
const selectRun = { namespaceSelector: { matchLabels: { [RUN_LABEL]: run } } };

function kubectl(args: string[], input?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = execFile(
      join(sharedCluster().binDir, 'kubectl'),
      ['--kubeconfig', sharedCluster().kubeconfigPath, ...args],
      { timeout: 60_000 },
      (err, stdout, stderr) =>
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    );
    if (input !== undefined) p.stdin!.end(input);
  });
}
function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [join(REPO_ROOT, 'src/cli/main.ts'), ...args],
      { timeout: 60_000, maxBuffer: 32 << 20 },
      (err, stdout, stderr) =>
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    );
  });
}
/** The binding's grants: names under example.com, evil.com and evil.net, so that what these tests see is the IssuancePolicies' verdict. */
const bindingSpec = (name: string): Record<string, unknown> => ({
  ca: { secretRef: { name }, generate: { commonName: 'Policy CA' } },
  grants: [{ dnsNames: ['*.example.com', 'evil.com', '*.evil.net'], allowWildcards: true }],
});
const DENIED = new Set(['PolicyDenied', 'NameNotOwned', 'WildcardNotGranted', 'CANotGranted']);
const manifest = (
  ns: string,
  name: string,
  spec: Record<string, unknown>,
  labels: Record<string, string> = {},
): string =>
  yaml.dump({
    apiVersion: 'machineidentity.io/v1alpha1',
    kind: 'MachineIdentity',
    metadata: { name, namespace: ns, labels },
    spec: { secretName: `${name}-tls`, authorityRef: { name: ca }, ...spec },
  });

beforeAll(async () => {
  hooked = await testNamespace('pol-hook', { [RUN_LABEL]: run, tier: 'prod' });
  open = await testNamespace('pol-open', { [RUN_LABEL]: run, tier: 'prod' });
  other = await testNamespace('pol-none');
  webhookPort = await freePort();
  vwcName = `mio-${run}`;
  await env.start({
    MIO_WEBHOOK_ADDR: `127.0.0.1:${webhookPort}`,
    MIO_WEBHOOK_HOSTS: '127.0.0.1',
    MIO_WEBHOOK_CONFIG_NAME: vwcName,
    MIO_WEBHOOK_SECRET: `${run}-webhook-tls`,
  });
  ca = env.uniqueName('pol-ca');
  await env.createBinding(ca, bindingSpec(ca));
  await env.bindingReady(ca);
  await admission().createValidatingWebhookConfiguration({
    body: localWebhookConfiguration({
      binDir: sharedCluster().binDir,
      name: vwcName,
      baseUrl: `https://127.0.0.1:${webhookPort}`,
      namespaces: [hooked, other],
    }),
  });
  await createPolicy(`${run}-names`, {
    enforcement: 'Enforce',
    selector: selectRun,
    rules: { dnsNames: { allowed: ['*.{{namespace}}.svc', '*.example.com'], allowWildcardCertificates: false } },
  });
  await createPolicy(`${run}-audit`, { enforcement: 'Audit', selector: selectRun, rules: { requireOwner: true } });
}, 120_000);

afterAll(async () => {
  await admission()
    .deleteValidatingWebhookConfiguration({ name: vwcName })
    .catch(() => undefined);
  for (const p of policies) await env.co.deleteClusterCustomObject({ ...IPOL, name: p }).catch(() => undefined);
  await env.stop();
});

describe('the webhook', () => {
  it('gets its caBundle from the operator: the CA of the serving Secret', async () => {
    const secret = await env.secret(env.opNamespace, `${run}-webhook-tls`);
    const vwc = await waitFor(
      'caBundle injected',
      async () => {
        const v = await admission().readValidatingWebhookConfiguration({ name: vwcName });
        return v.webhooks?.every((w) => w.clientConfig.caBundle) ? v : undefined;
      },
      20_000,
      200,
    );
    for (const w of vwc.webhooks!)
      expect(Buffer.from(w.clientConfig.caBundle!, 'base64').toString()).toBe(decode(secret, 'ca.crt'));
    expect(parseCertificate(decode(secret, 'tls.crt')).ipAddresses).toEqual(['127.0.0.1']);
  });

  it('rejects `kubectl apply` of a MachineIdentity an Enforce policy denies, with the policy message', async () => {
    const r = await kubectl(
      ['apply', '-f', '-'],
      manifest(hooked, 'evil', { dnsNames: ['evil.com'], owner: { team: 'a' } }),
    );
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(
      `admission webhook "machineidentities.machineidentity.io" denied the request: denied by IssuancePolicy ${run}-names: dnsNames[0] "evil.com" matches none of *.${hooked}.svc, *.example.com`,
    );
    await expect(env.identity(hooked, 'evil')).rejects.toThrow();
  });

  it('rejects a change that would break policy, and admits a compliant one with audit warnings', async () => {
    const ok = await kubectl(['apply', '-f', '-'], manifest(hooked, 'web', { dnsNames: [`web.${hooked}.svc`] }));
    expect(ok.code).toBe(0);
    expect(ok.stderr).toContain(`Warning: audit: IssuancePolicy ${run}-audit: owner.team is required`);
    const bad = await kubectl(['apply', '-f', '-'], manifest(hooked, 'web', { dnsNames: ['*.example.com'] }));
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('is a wildcard name and allowWildcardCertificates is false');
  });

  it('is not called for an UPDATE that changes neither labels nor spec (annotations, finalizers), and is for one that does', async () => {
    const name = 'meta-only';
    expect((await kubectl(['apply', '-f', '-'], manifest(hooked, name, { dnsNames: [`a.${hooked}.svc`] }))).code).toBe(
      0,
    );
    const calls = async (): Promise<number> =>
      (await env.operator!.metric('machine_identity_webhook_requests_total', {
        kind: 'MachineIdentity',
        operation: 'UPDATE',
      })) ?? 0;
    const before = await calls();
    const annotate = await kubectl(['annotate', '-n', hooked, 'machineidentity', name, 'example.com/note=x']);
    expect(annotate.code).toBe(0);
    const finalizer = await kubectl([
      'patch',
      '-n',
      hooked,
      'machineidentity',
      name,
      '--type=merge',
      '-p',
      '{"metadata":{"finalizers":["example.com/hold"]}}',
    ]);
    expect(finalizer.code).toBe(0);
    await kubectl([
      'patch',
      '-n',
      hooked,
      'machineidentity',
      name,
      '--type=merge',
      '-p',
      '{"metadata":{"finalizers":null}}',
    ]);
    expect(await calls()).toBe(before);
    // a label can change which policies select the identity, a spec change is the request itself: both are checked
    expect((await kubectl(['label', '-n', hooked, 'machineidentity', name, 'tier=web'])).code).toBe(0);
    expect(await calls()).toBe(before + 1);
    const bad = await kubectl([
      'patch',
      '-n',
      hooked,
      'machineidentity',
      name,
      '--type=merge',
      '-p',
      '{"spec":{"dnsNames":["evil.com"]}}',
    ]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('denied the request');
    expect(await calls()).toBe(before + 2);
  });
});

describe('Enforce and Audit in the controller', () => {
  it('a denied identity: Ready=False PolicyDenied with the full message, an Event, no certificate, a metric', async () => {
    await env.createIdentity(open, 'denied', {
      secretName: 'denied-tls',
      authorityRef: { name: ca },
      dnsNames: [`a.${open}.svc`, 'evil.com'],
      owner: { team: 'a' },
    });
    const mi = await env.condition(open, 'denied', 'Ready', 'PolicyDenied');
    const message = `denied by IssuancePolicy ${run}-names: dnsNames[1] "evil.com" matches none of *.${open}.svc, *.example.com`;
    expect(cond(mi, 'Ready')).toMatchObject({ status: 'False', reason: 'PolicyDenied', message });
    expect(cond(mi, 'PolicyCompliant')).toMatchObject({ status: 'False', reason: 'PolicyDenied', message });
    const events = await waitFor(
      'PolicyDenied event',
      async () => {
        const l = await env.core.listNamespacedEvent({
          namespace: open,
          fieldSelector: 'involvedObject.name=denied,reason=PolicyDenied',
        });
        return l.items.length ? l.items : undefined;
      },
      10_000,
    );
    expect(events[0]!.message).toBe(message);
    await sleep(1000);
    await expect(env.secret(open, 'denied-tls')).rejects.toThrow();
    expect(
      await env.operator!.metric('machine_identity_policy_violations', {
        policy: `${run}-names`,
        rule: 'dnsNames.allowed',
        namespace: open,
        name: 'denied',
        kind: 'MachineIdentity',
        enforcement: 'Enforce',
      }),
    ).toBe(1);
    expect(
      await env.operator!.metric('machine_identity_issuance_total', { authority: ca, result: 'denied' }),
    ).toBeGreaterThanOrEqual(1);
  });

  it('kubectl mi status says in plain words why it is not Ready', async () => {
    const r = await cli(['status', 'denied', '-n', open, '--kubeconfig', sharedCluster().kubeconfigPath]);
    expect(r.code).toBe(3);
    expect(r.stdout).toContain(`MachineIdentity ${open}/denied`);
    expect(r.stdout).toMatch(/^ {2}Ready: +False {2}PolicyDenied {2}denied by IssuancePolicy/m);
    expect(r.stdout).toContain('Why: An Enforce IssuancePolicy refuses this request');
    expect(r.stdout).toMatch(/Recent events:\n.*Warning {2}PolicyDenied/);
    const json = JSON.parse(
      (await cli(['status', 'denied', '-n', open, '-o', 'json', '--kubeconfig', sharedCluster().kubeconfigPath]))
        .stdout,
    ) as { authority: { backend: string } };
    expect(json.authority.backend).toBe('ca');
    expect((await cli(['status', 'nope', '-n', open, '--kubeconfig', sharedCluster().kubeconfigPath])).code).toBe(1);
  });

  it("{{namespace}} allows names of the identity's own namespace only", async () => {
    await env.createIdentity(open, 'own', {
      secretName: 'own-tls',
      authorityRef: { name: ca },
      dnsNames: [`own.${open}.svc`],
      owner: { team: 'a' },
    });
    await env.createIdentity(open, 'foreign', {
      secretName: 'foreign-tls',
      authorityRef: { name: ca },
      dnsNames: [`own.${hooked}.svc`],
      owner: { team: 'a' },
    });
    const own = await env.ready(open, 'own');
    expect(cond(own, 'PolicyCompliant')).toMatchObject({
      status: 'True',
      reason: 'Compliant',
      message: `complies with IssuancePolicy ${run}-audit, ${run}-names`,
    });
    // another namespace's name: the safe defaults deny it first, and the policy says the same
    const foreign = await env.condition(open, 'foreign', 'Ready', 'NameNotOwned');
    expect(cond(foreign, 'Ready')!.message).toContain(
      `denied by the safe defaults: dnsNames[0] "own.${hooked}.svc" is not a name namespace "${open}" owns`,
    );
    expect(cond(foreign, 'Ready')!.message).toContain(
      `dnsNames[0] "own.${hooked}.svc" matches none of *.${open}.svc, *.example.com`,
    );
  });

  it('Audit issues the certificate and sets PolicyCompliant=False with the finding', async () => {
    await env.createIdentity(open, 'unowned', {
      secretName: 'unowned-tls',
      authorityRef: { name: ca },
      dnsNames: [`u.${open}.svc`],
    });
    const mi = await env.ready(open, 'unowned');
    expect(cond(mi, 'PolicyCompliant')).toMatchObject({
      status: 'False',
      reason: 'PolicyViolation',
      message: `audit: violates IssuancePolicy ${run}-audit: owner.team is required`,
    });
    expect(
      await env.operator!.metric('machine_identity_policy_violations', {
        policy: `${run}-audit`,
        name: 'unowned',
        enforcement: 'Audit',
      }),
    ).toBe(1);
  });

  it('deny wins across two Enforce policies: one that allows everything, one that does not', async () => {
    await createPolicy(`${run}-rsa`, {
      enforcement: 'Enforce',
      selector: { ...selectRun, identitySelector: { matchLabels: { key: 'rsa' } } },
      rules: { privateKey: { minRSASize: 3072 } },
    });
    await createPolicy(`${run}-anything`, {
      enforcement: 'Enforce',
      selector: { ...selectRun, identitySelector: { matchLabels: { key: 'rsa' } } },
      rules: {},
    });
    await env.co.createNamespacedCustomObject({
      ...{ group: 'machineidentity.io', version: 'v1alpha1', plural: 'machineidentities' },
      namespace: open,
      body: {
        apiVersion: 'machineidentity.io/v1alpha1',
        kind: 'MachineIdentity',
        metadata: { name: 'rsa', labels: { key: 'rsa' } },
        spec: {
          secretName: 'rsa-tls',
          authorityRef: { name: ca },
          dnsNames: [`rsa.${open}.svc`],
          owner: { team: 'a' },
          privateKey: { algorithm: 'RSA', size: 2048 },
        },
      },
    });
    const mi = await env.condition(open, 'rsa', 'Ready', 'PolicyDenied');
    expect(cond(mi, 'Ready')!.message).toBe(
      `denied by IssuancePolicy ${run}-rsa: privateKey.size "2048" is below minRSASize 3072`,
    );
  });

  it('an unset RSA size is issued at the size policy asks for', async () => {
    await env.co.createNamespacedCustomObject({
      group: 'machineidentity.io',
      version: 'v1alpha1',
      plural: 'machineidentities',
      namespace: open,
      body: {
        apiVersion: 'machineidentity.io/v1alpha1',
        kind: 'MachineIdentity',
        metadata: { name: 'rsa-auto', labels: { key: 'rsa' } },
        spec: {
          secretName: 'rsa-auto-tls',
          authorityRef: { name: ca },
          dnsNames: [`rsa-auto.${open}.svc`],
          owner: { team: 'a' },
          privateKey: { algorithm: 'RSA' },
        },
      },
    });
    await env.ready(open, 'rsa-auto');
    expect(parseCertificate(decode(await env.secret(open, 'rsa-auto-tls'), 'tls.crt')).keySize).toBe(3072);
  });

  it('policy status counts the identities it selects and those that violate it', async () => {
    const status = await waitFor(
      'policy status',
      async () => {
        const p = (await env.co.getClusterCustomObject({ ...IPOL, name: `${run}-rsa` })) as {
          status?: { matchedIdentities?: number; violations?: number; conditions?: { type: string; status: string }[] };
        };
        return p.status?.matchedIdentities === 2 && p.status.violations === 1 ? p.status : undefined;
      },
      15_000,
      200,
    );
    expect(status.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
  });
});

describe('remediation after a policy change', () => {
  it('Reissue: an identity whose spec leaves the duration open is reissued under a shorter maxDuration; one that asks for more is reported, not touched', async () => {
    const sel = (v: string): Record<string, unknown> => ({
      ...selectRun,
      identitySelector: { matchLabels: { remediate: v } },
    });
    await createPolicy(`${run}-remediate`, {
      enforcement: 'Enforce',
      remediation: 'Reissue',
      selector: sel('yes'),
      rules: { maxDuration: '2160h' },
    });
    await createPolicy(`${run}-report`, {
      enforcement: 'Enforce',
      selector: sel('no'),
      rules: { maxDuration: '2160h' },
    });
    const create = (name: string, label: string, extra: Record<string, unknown> = {}): Promise<unknown> =>
      env.co.createNamespacedCustomObject({
        group: 'machineidentity.io',
        version: 'v1alpha1',
        plural: 'machineidentities',
        namespace: open,
        body: {
          apiVersion: 'machineidentity.io/v1alpha1',
          kind: 'MachineIdentity',
          metadata: { name, labels: { remediate: label } },
          spec: {
            secretName: `${name}-tls`,
            authorityRef: { name: ca },
            dnsNames: [`${name}.${open}.svc`],
            owner: { team: 'a' },
            ...extra,
          },
        },
      });
    await create('fixable', 'yes');
    await create('explicit', 'yes', { duration: '2160h' });
    await create('unremediated', 'no');
    for (const n of ['fixable', 'explicit', 'unremediated']) await env.ready(open, n);
    const lifetime = async (n: string): Promise<number> => {
      const c = parseCertificate(decode(await env.secret(open, `${n}-tls`), 'tls.crt'));
      return c.notAfter.getTime() - c.notBefore.getTime();
    };
    expect(Math.round((await lifetime('fixable')) / H)).toBe(2160);
    const explicitSerial = (await env.identity(open, 'explicit')).status?.serialNumber;

    await patchPolicy(`${run}-remediate`, { rules: { maxDuration: '720h' } });
    await patchPolicy(`${run}-report`, { rules: { maxDuration: '720h' } });

    const fixed = await env.ready(open, 'fixable', 2, 20_000);
    expect(Math.round((await lifetime('fixable')) / H)).toBe(720);
    expect(cond(fixed, 'PolicyCompliant')).toMatchObject({ status: 'True', reason: 'Compliant' });
    const ev = await env.core.listNamespacedEvent({
      namespace: open,
      fieldSelector: 'involvedObject.name=fixable,reason=Issuing',
    });
    expect(
      ev.items.some((e) =>
        e.message?.includes(
          `the current certificate violates IssuancePolicy ${run}-remediate: lifetime "2160h1m" exceeds maxDuration 720h`,
        ),
      ),
    ).toBe(true);

    const explicit = await env.condition(open, 'explicit', 'Ready', 'PolicyDenied');
    expect(cond(explicit, 'Ready')!.message).toBe(
      `denied by IssuancePolicy ${run}-remediate: duration "2160h" exceeds maxDuration 720h`,
    );
    expect(explicit.status?.serialNumber).toBe(explicitSerial);
    expect((await env.secret(open, 'explicit-tls')).metadata?.annotations?.['machineidentity.io/revision']).toBe('1');

    const reported = await env.condition(open, 'unremediated', 'PolicyCompliant', 'CertificateNonCompliant');
    expect(cond(reported, 'PolicyCompliant')!.message).toMatch(
      /^the current certificate violates IssuancePolicy .*-report: lifetime "2160h1m" exceeds maxDuration 720h; /,
    );
    expect(cond(reported, 'Ready')?.status).toBe('True');
    await sleep(2000);
    expect((await env.identity(open, 'unremediated')).status?.revision).toBe(1);
  });
});

describe('kubectl mi policy check', () => {
  it('gives the same verdicts and messages as the controller for 50 manifests', async () => {
    // not labelled with RUN_LABEL: only the three policies of this test select them
    const prod = await testNamespace('pol-prod', { tier: 'prod' });
    const dev = await testNamespace('pol-dev', { tier: 'dev' });
    const dir = mkdtempSync(join(tmpdir(), 'mio-policy-check-'));
    mkdirSync(join(dir, 'policies'));
    mkdirSync(join(dir, 'apps'));
    const nsObjs = await Promise.all([prod, dev].map((n) => env.core.readNamespace({ name: n })));
    writeFileSync(
      join(dir, 'apps', 'namespaces.yaml'),
      nsObjs
        .map((n) =>
          yaml.dump({
            apiVersion: 'v1',
            kind: 'Namespace',
            metadata: { name: n.metadata!.name, labels: n.metadata!.labels },
          }),
        )
        .join('---\n'),
    );
    const onlyThese = {
      matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'In', values: [prod, dev] }],
    };
    const pols: Record<string, Record<string, unknown>> = {
      [`${run}-p-prod`]: {
        enforcement: 'Enforce',
        selector: { namespaceSelector: { ...onlyThese, matchLabels: { tier: 'prod' } } },
        rules: {
          dnsNames: { allowed: ['*.{{namespace}}.svc', '*.example.com'] },
          privateKey: { minRSASize: 3072 },
          maxDuration: '720h',
        },
      },
      [`${run}-p-audit`]: {
        enforcement: 'Audit',
        selector: { namespaceSelector: onlyThese },
        rules: { requireOwner: true },
      },
      [`${run}-p-public`]: {
        enforcement: 'Enforce',
        selector: {
          namespaceSelector: { ...onlyThese, matchLabels: { tier: 'dev' } },
          identitySelector: { matchLabels: { exposure: 'public' } },
        },
        rules: { dnsNames: { allowed: ['*.example.com'], allowWildcardCertificates: false } },
      },
    };
    // the binding with its grants among the CLI's inputs, as a GitOps repository holds it
    writeFileSync(
      join(dir, 'policies', 'binding.yaml'),
      yaml.dump({
        apiVersion: 'machineidentity.io/v1alpha1',
        kind: 'CertificateAuthorityBinding',
        metadata: { name: ca },
        spec: bindingSpec(ca),
      }),
    );
    for (const [name, spec] of Object.entries(pols)) {
      writeFileSync(
        join(dir, 'policies', `${name}.yaml`),
        yaml.dump({ apiVersion: 'machineidentity.io/v1alpha1', kind: 'IssuancePolicy', metadata: { name }, spec }),
      );
      await createPolicy(name, spec);
    }
    const ids: { ns: string; name: string; labels: Record<string, string>; spec: Record<string, unknown> }[] = [];
    for (let i = 0; i < 50; i++) {
      const ns = i % 2 ? prod : dev;
      const name = `app-${i}`;
      const dns = [
        [`${name}.${ns}.svc`],
        [`${name}.example.com`],
        [`${name}.${ns === prod ? dev : prod}.svc`],
        ['*.example.com'],
        [`${name}.evil.net`],
      ][i % 5]!;
      const key = [
        {},
        { privateKey: { algorithm: 'RSA' } },
        { privateKey: { algorithm: 'RSA', size: 2048 } },
        { privateKey: { algorithm: 'RSA', size: 3072 } },
      ][Math.floor(i / 5) % 4]!;
      const duration = [{}, { duration: '24h' }, { duration: '2160h' }][i % 3]!;
      const owner = i % 4 === 0 ? {} : { owner: { team: 'payments' } };
      ids.push({
        ns,
        name,
        labels: i % 7 < 3 ? { exposure: 'public' } : {},
        spec: { dnsNames: dns, ...key, ...duration, ...owner },
      });
    }
    ids.forEach((x, i) =>
      writeFileSync(
        join(dir, 'apps', `${String(i).padStart(2, '0')}-${x.name}.yaml`),
        manifest(x.ns, x.name, x.spec, x.labels),
      ),
    );

    const out = await cli([
      'policy',
      'check',
      '-f',
      join(dir, 'apps'),
      '--policies',
      join(dir, 'policies'),
      '-o',
      'json',
    ]);
    const report = JSON.parse(out.stdout) as {
      results: { namespace: string; name: string; verdict: string; compliant: boolean; message: string }[];
      summary: Record<string, number>;
    };
    expect(report.summary.identities).toBe(50);
    expect(report.summary.denied).toBeGreaterThan(10);
    expect(report.summary.audited).toBeGreaterThan(3);
    expect(report.summary.compliant).toBeGreaterThan(3);
    expect(out.code).toBe(1);

    for (const x of ids) {
      await env.co.createNamespacedCustomObject({
        group: 'machineidentity.io',
        version: 'v1alpha1',
        plural: 'machineidentities',
        namespace: x.ns,
        body: yaml.load(manifest(x.ns, x.name, x.spec, x.labels)) as object,
      });
    }
    const settled = async (x: (typeof ids)[number]): Promise<Identity> =>
      waitFor(
        `${x.ns}/${x.name} settled`,
        async () => {
          const mi = await env.identity(x.ns, x.name);
          const ready = cond(mi, 'Ready');
          return cond(mi, 'PolicyCompliant') && (ready?.status === 'True' || DENIED.has(ready?.reason ?? ''))
            ? mi
            : undefined;
        },
        60_000,
        200,
      );
    const mismatches: string[] = [];
    // denied by a policy, or by the safe defaults (another namespace's name, a wildcard without allowWildcards)
    for (const x of ids) {
      const mi = await settled(x);
      const r = report.results.find((y) => y.namespace === x.ns && y.name === x.name)!;
      const ready = cond(mi, 'Ready')!,
        pc = cond(mi, 'PolicyCompliant')!;
      const controllerVerdict = DENIED.has(ready.reason) ? 'denied' : 'allowed';
      if (controllerVerdict !== r.verdict)
        mismatches.push(`${x.name}: cli ${r.verdict}, controller ${controllerVerdict}`);
      else if (r.verdict === 'denied' && ready.message !== r.message)
        mismatches.push(`${x.name}: message ${JSON.stringify(r.message)} vs ${JSON.stringify(ready.message)}`);
      else if ((pc.status === 'True') !== r.compliant)
        mismatches.push(`${x.name}: compliant cli ${r.compliant}, controller ${pc.status}`);
      else if (r.verdict === 'allowed' && !r.compliant && !pc.message.startsWith(r.message))
        mismatches.push(`${x.name}: audit ${JSON.stringify(r.message)} vs ${JSON.stringify(pc.message)}`);
    }
    expect(mismatches).toEqual([]);

    const text = await cli(['policy', 'check', '-f', join(dir, 'apps'), '--policies', join(dir, 'policies')]);
    expect(text.code).toBe(1);
    expect(text.stdout).toMatch(
      new RegExp(
        `^50 MachineIdentities checked against 3 IssuancePolicies: ${report.summary.denied} denied, 0 invalid, ${report.summary.audited} with audit findings, ${report.summary.compliant} compliant$`,
        'm',
      ),
    );
  }, 180_000);
});

describe('policy.defaultAction', () => {
  it('Allow (the default): an identity no policy selects is issued', async () => {
    await env.createIdentity(other, 'free', {
      secretName: 'free-tls',
      authorityRef: { name: ca },
      dnsNames: ['free.example.com'],
    });
    const mi = await env.ready(other, 'free');
    expect(cond(mi, 'PolicyCompliant')).toMatchObject({
      status: 'True',
      message: 'no IssuancePolicy selects this identity; policy.defaultAction is Allow',
    });
  });

  it('Deny: the same request is refused by the controller and at kubectl apply', async () => {
    await env.restart({
      MIO_WEBHOOK_ADDR: `127.0.0.1:${webhookPort}`,
      MIO_WEBHOOK_HOSTS: '127.0.0.1',
      MIO_WEBHOOK_CONFIG_NAME: vwcName,
      MIO_WEBHOOK_SECRET: `${run}-webhook-tls`,
      MIO_POLICY_DEFAULT_ACTION: 'Deny',
    });
    // the harness waits for /healthz, which answers before the webhook listens
    await waitFor('the restarted webhook listening', () => listening(webhookPort), 30_000, 100);
    const r = await kubectl(['apply', '-f', '-'], manifest(other, 'closed', { dnsNames: ['closed.example.com'] }));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(
      `denied: no Enforce IssuancePolicy selects MachineIdentity ${other}/closed (authority ${ca}) and policy.defaultAction is Deny`,
    );
    const free = await env.condition(other, 'free', 'Ready', 'PolicyDenied');
    expect(cond(free, 'Ready')!.message).toContain('policy.defaultAction is Deny');
    expect((await env.secret(other, 'free-tls')).data?.['tls.crt']).toBeTruthy(); // reported, not touched
  });
});

/** Whether something accepts TCP connections on 127.0.0.1:port. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect(port, '127.0.0.1');
    sock.once('connect', () => {
      sock.destroy();
      resolve(true);
    });
    sock.once('error', () => resolve(false));
  });
}
