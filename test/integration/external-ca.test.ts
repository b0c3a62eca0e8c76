// Acceptance (external CAs #2 for CFSSL, #4): a CA outage (the server stopped) shows the backend and
// the reason in status, backs off, and recovers by itself when the server is back; a CA's refusal
// names the backend and carries the CA's own error text in status, Events and metrics.
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { testNamespace } from '../harness/cluster.ts';
import { IssuanceEnv, verifySecret, GRANT_EXAMPLE_COM } from '../harness/identities.ts';
import { startCfssl, startStepCa, type CfsslServer, type StepCaServer } from '../harness/ca-servers.ts';
import { postJson } from '../../src/issuers/https-json.ts';
import { parseCertificate, splitPem } from '../../src/pki/certs.ts';
import { decode } from '../harness/identities.ts';
import { waitFor } from '../harness/processes.ts';

const env = new IssuanceEnv();
let ns = '';
let cfssl: CfsslServer;
let authority = '';
let step: StepCaServer;
let stepAuthority = '';

beforeAll(async () => {
  ns = await testNamespace('extca');
  await env.start();
  cfssl = await startCfssl();
  await env.core.createNamespacedSecret({
    namespace: env.opNamespace,
    body: { metadata: { name: 'cfssl-auth' }, data: { key: Buffer.from(cfssl.authKeyHex).toString('base64') } },
  });
  authority = env.uniqueName('cfssl');
  await env.createBinding(authority, {
    cfssl: {
      url: cfssl.url,
      profile: cfssl.profile,
      authKeySecretRef: { name: 'cfssl-auth', key: 'key' },
      caBundle: cfssl.caPem,
    },
    grants: [GRANT_EXAMPLE_COM],
  });
  await env.bindingReady(authority);
  step = await startStepCa();
  await env.core.createNamespacedSecret({
    namespace: env.opNamespace,
    body: { metadata: { name: 'step-pw' }, data: { password: Buffer.from(step.password).toString('base64') } },
  });
  stepAuthority = env.uniqueName('step');
  await env.createBinding(stepAuthority, {
    stepCA: {
      url: step.url,
      provisioner: { name: step.provisioner, passwordSecretRef: { name: 'step-pw', key: 'password' } },
      caBundle: step.rootPem,
    },
    grants: [GRANT_EXAMPLE_COM],
  });
  await env.bindingReady(stepAuthority);
}, 120_000);

afterAll(async () => {
  await env.stop();
  await cfssl.stop();
  await step.stop();
});

describe('stepCA', () => {
  it('revokes the certificate at step-ca when the identity is deleted (deletionPolicy Delete)', async () => {
    await env.createIdentity(ns, 'revoked', {
      secretName: 'revoked-tls',
      authorityRef: { name: stepAuthority },
      dnsNames: ['revoked.example.com'],
    });
    const mi = await env.ready(ns, 'revoked');
    expect(mi.metadata.finalizers).toContain('machineidentity.io/revoke-on-delete');
    const leaf = parseCertificate(splitPem(decode(await env.secret(ns, 'revoked-tls'), 'tls.crt'))[0]!);
    expect(leaf.issuerDN).toBe('CN=Step Test Intermediate');
    const serial = BigInt(`0x${leaf.serialNumber}`).toString(10);
    await env.co.deleteNamespacedCustomObject({
      group: 'machineidentity.io',
      version: 'v1alpha1',
      plural: 'machineidentities',
      namespace: ns,
      name: 'revoked',
    });
    await waitFor(
      'identity gone',
      async () => !(await env.identity(ns, 'revoked').catch(() => undefined)),
      30_000,
      200,
    );
    // step-ca knows the serial as revoked: revoking it again is refused as already revoked
    const again = await postJson(
      `${step.url}/1.0/revoke`,
      { serial, ott: await step.revokeToken(serial), reasonCode: 0, passive: true },
      { ca: step.rootPem },
    );
    expect(again.status).toBeGreaterThanOrEqual(400);
    expect(JSON.stringify(again.body)).toMatch(/already (been )?revoked/i);
    // Events are written asynchronously: the identity may be gone before its Revoked Event is stored
    const ev = await waitFor(
      'Revoked event',
      async () =>
        (
          await env.core.listNamespacedEvent({
            namespace: ns,
            fieldSelector: 'involvedObject.name=revoked,reason=Revoked',
          })
        ).items[0],
      10_000,
      200,
    );
    expect(ev.message).toBe('revoked the certificate at stepCA before deletion');
  }, 60_000);

  it('deletionPolicy Retain keeps the certificate valid (no finalizer, no revocation)', async () => {
    await env.createIdentity(ns, 'kept', {
      secretName: 'kept-tls',
      authorityRef: { name: stepAuthority },
      dnsNames: ['kept.example.com'],
      deletionPolicy: 'Retain',
    });
    const mi = await env.ready(ns, 'kept');
    expect(mi.metadata.finalizers ?? []).not.toContain('machineidentity.io/revoke-on-delete');
  });
});

describe('cfssl', () => {
  it('an outage is reported with the backend and reason, backed off, and recovered from without help', async () => {
    await cfssl.stop();
    await env.createIdentity(ns, 'during-outage', {
      secretName: 'during-outage-tls',
      authorityRef: { name: authority },
      dnsNames: ['svc.example.com'],
    });
    const failing = await env.condition(ns, 'during-outage', 'Issuing', 'Failed', 30_000);
    const issuing = failing.status!.conditions!.find((c) => c.type === 'Issuing')!;
    expect(issuing.message).toMatch(
      /^CAUnreachable: cfssl: server https:\/\/127\.0\.0\.1:\d+ cannot be reached: ECONNREFUSED; retrying in \d+s$/,
    );
    expect(failing.status?.failedIssuanceAttempts).toBeGreaterThanOrEqual(1);
    // Events are written asynchronously, after the status
    const ev = await waitFor(
      'the Failed Event',
      async () => {
        const list = await env.core.listNamespacedEvent({
          namespace: ns,
          fieldSelector: 'involvedObject.name=during-outage,reason=Failed',
        });
        return list.items.length > 0 ? list : undefined;
      },
      10_000,
      200,
    );
    expect(ev.items[0]?.message).toContain('cfssl: server https://127.0.0.1');
    expect(
      await env.operator!.metric('machine_identity_issuance_total', { authority, result: 'failed' }),
    ).toBeGreaterThanOrEqual(1);
    await cfssl.start();
    const t0 = Date.now();
    await env.ready(ns, 'during-outage', 1, 60_000);
    verifySecret(await env.secret(ns, 'during-outage-tls'));
    expect(Date.now() - t0).toBeLessThan(60_000);
    expect((await env.identity(ns, 'during-outage')).status?.failedIssuanceAttempts).toBe(0);
  }, 120_000);

  it('a CA certificate is refused before anything is sent: CFSSL cannot add the name constraints a granted CA must carry', async () => {
    const caAuthority = env.uniqueName('cfssl-ca');
    await env.createBinding(caAuthority, {
      cfssl: {
        url: cfssl.url,
        profile: cfssl.profile,
        authKeySecretRef: { name: 'cfssl-auth', key: 'key' },
        caBundle: cfssl.caPem,
      },
      grants: [{ ...GRANT_EXAMPLE_COM, allowCA: true }],
    });
    await env.bindingReady(caAuthority);
    await env.createIdentity(ns, 'sub-ca', {
      secretName: 'sub-ca-tls',
      authorityRef: { name: caAuthority },
      isCA: true,
      usages: ['certSign'],
      dnsNames: ['ca.example.com'],
    });
    const mi = await env.condition(ns, 'sub-ca', 'Issuing', 'Denied', 30_000);
    expect(mi.status!.conditions!.find((c) => c.type === 'Issuing')!.message).toMatch(
      /^CAConstraintsUnsupported: cfssl: a CA certificate must carry pathLenConstraint 0 and name constraints/,
    );
  });

  it("a refusal names the backend and carries the CA's own words", async () => {
    // an auth key CFSSL does not know: it refuses the request in its own words
    const wrongKey = env.uniqueName('cfssl-wrong');
    await env.core.createNamespacedSecret({
      namespace: env.opNamespace,
      body: {
        metadata: { name: 'cfssl-wrong-auth' },
        data: { key: Buffer.from('00112233445566778899aabbccddeeff').toString('base64') },
      },
    });
    await env.createBinding(wrongKey, {
      cfssl: {
        url: cfssl.url,
        profile: cfssl.profile,
        authKeySecretRef: { name: 'cfssl-wrong-auth', key: 'key' },
        caBundle: cfssl.caPem,
      },
      grants: [GRANT_EXAMPLE_COM],
    });
    await env.bindingReady(wrongKey);
    const authority = wrongKey;
    await env.createIdentity(ns, 'refused', {
      secretName: 'refused-tls',
      authorityRef: { name: authority },
      dnsNames: ['refused.example.com'],
    });
    const mi = await env.condition(ns, 'refused', 'Issuing', 'Denied', 30_000);
    const msg = mi.status!.conditions!.find((c) => c.type === 'Issuing')!.message;
    expect(msg).toMatch(/^CARefused: cfssl: the CA refused the request \(HTTP \d+\): .+/);
    await waitFor(
      'Denied event',
      async () =>
        (
          await env.core.listNamespacedEvent({
            namespace: ns,
            fieldSelector: 'involvedObject.name=refused,reason=Denied',
          })
        ).items[0],
      10_000,
    );
    expect(
      await env.operator!.metric('machine_identity_issuance_total', { authority, result: 'denied' }),
    ).toBeGreaterThanOrEqual(1);
  });
});
