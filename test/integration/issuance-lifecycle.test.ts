// Acceptance (issuance #3, #4, #6 and the lifecycle rules): repair of every tampering within 10 s,
// renewal before expiry with key rotation and one workload restart, rotationPolicy Never, spec
// changes, failure backoff, foreign Secrets left alone, namespaceSelector, deletionPolicy with GC.
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { generateKeyPairSync } from 'node:crypto';
import * as k8s from '@kubernetes/client-node';
import { testNamespace } from '../harness/cluster.ts';
import { IssuanceEnv, MI, decode, verifySecret, publicKeyOf, GRANT_EXAMPLE_COM } from '../harness/identities.ts';
import { waitFor, sleep } from '../harness/processes.ts';

const env = new IssuanceEnv();
let ns = '';
let ca = '';
const MERGE = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);

beforeAll(async () => {
  await env.start();
  ns = await testNamespace('lifecycle', { team: 'a' });
  ca = env.uniqueName('life-ca');
  await env.createBinding(ca, {
    ca: { secretRef: { name: ca }, generate: { commonName: 'Lifecycle CA' } },
    grants: [GRANT_EXAMPLE_COM],
  });
  await env.bindingReady(ca);
});
afterAll(() => env.stop());

async function issued(name: string, extra: Record<string, unknown> = {}): Promise<k8s.V1Secret> {
  await env.createIdentity(ns, name, {
    secretName: `${name}-tls`,
    authorityRef: { name: ca },
    dnsNames: [`${name}.example.com`],
    ...extra,
  });
  await env.ready(ns, name);
  return env.secret(ns, `${name}-tls`);
}

/** Waits for a valid pair at a higher revision than `after`; returns the time it took. */
async function repaired(name: string, after: number): Promise<number> {
  const t0 = Date.now();
  const mi = await env.ready(ns, name, after + 1, 15_000);
  await waitFor(
    'Secret at the new revision',
    async () =>
      (await env.secret(ns, `${name}-tls`)).metadata?.annotations?.['machineidentity.io/revision'] ===
      String(mi.status?.revision),
    15_000,
    100,
  );
  verifySecret(await env.secret(ns, `${name}-tls`));
  return Date.now() - t0;
}

describe('repair', () => {
  it('a deleted Secret is re-issued within 10 s', async () => {
    await issued('rep-del');
    await env.core.deleteNamespacedSecret({ name: 'rep-del-tls', namespace: ns });
    expect(await repaired('rep-del', 1)).toBeLessThan(10_000);
  });

  it('a key that no longer matches the certificate is repaired within 10 s', async () => {
    await issued('rep-key');
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' })
      .privateKey.export({ type: 'pkcs8', format: 'pem' })
      .toString();
    await env.core.patchNamespacedSecret(
      { name: 'rep-key-tls', namespace: ns, body: { data: { 'tls.key': Buffer.from(other).toString('base64') } } },
      MERGE,
    );
    expect(await repaired('rep-key', 1)).toBeLessThan(10_000);
  });

  it('removed data keys are repaired within 10 s', async () => {
    await issued('rep-data');
    await env.core.patchNamespacedSecret(
      { name: 'rep-data-tls', namespace: ns, body: { data: { 'tls.crt': '', 'ca.crt': null } } },
      MERGE,
    );
    expect(await repaired('rep-data', 1)).toBeLessThan(10_000);
  });

  it('a Secret rolled back to an older certificate is re-issued within 10 s', async () => {
    const old = await issued('rep-roll');
    await env.co.patchNamespacedCustomObject(
      {
        ...MI,
        namespace: ns,
        name: 'rep-roll',
        body: { metadata: { annotations: { 'machineidentity.io/renew-requested-at': new Date().toISOString() } } },
      },
      MERGE,
    );
    await env.ready(ns, 'rep-roll', 2);
    await env.core.patchNamespacedSecret(
      {
        name: 'rep-roll-tls',
        namespace: ns,
        body: { data: old.data, metadata: { annotations: old.metadata?.annotations } },
      },
      MERGE,
    );
    expect(await repaired('rep-roll', 2)).toBeLessThan(10_000);
    const now = await env.secret(ns, 'rep-roll-tls');
    expect(decode(now, 'tls.crt')).not.toBe(decode(old, 'tls.crt'));
  });

  it('metadata drift (a removed label or owner annotation) is re-applied without a new certificate', async () => {
    const s = await issued('rep-meta', { owner: { team: 'a' } });
    await env.core.patchNamespacedSecret(
      {
        name: 'rep-meta-tls',
        namespace: ns,
        body: { metadata: { annotations: { 'machineidentity.io/owner-team': null } } },
      },
      MERGE,
    );
    await waitFor(
      'annotation back',
      async () =>
        (await env.secret(ns, 'rep-meta-tls')).metadata?.annotations?.['machineidentity.io/owner-team'] === 'a',
      10_000,
      100,
    );
    expect(decode(await env.secret(ns, 'rep-meta-tls'), 'tls.crt')).toBe(decode(s, 'tls.crt'));
  });
});

describe('renewal', () => {
  it('renews before expiry, rotates the key (Always) and restarts a named Deployment once', async () => {
    const apps = env.kc.makeApiClient(k8s.AppsV1Api);
    await apps.createNamespacedDeployment({
      namespace: ns,
      body: {
        metadata: { name: 'web' },
        spec: {
          replicas: 1,
          selector: { matchLabels: { app: 'web' } },
          template: {
            metadata: { labels: { app: 'web' } },
            spec: { containers: [{ name: 'c', image: 'example.invalid/web' }] },
          },
        },
      },
    });
    // 10 minutes of life, renewed 9m30s before notAfter: about 30 s after issuance
    const first = await issued('renew', {
      duration: '10m',
      renewBefore: '9m30s',
      rollout: { workloads: [{ kind: 'Deployment', name: 'web' }] },
    });
    const gen0 = (await apps.readNamespacedDeployment({ name: 'web', namespace: ns })).metadata!.generation!;
    const mi = await env.ready(ns, 'renew', 2, 90_000);
    const second = await env.secret(ns, 'renew-tls');
    verifySecret(second);
    expect(Date.parse(mi.status!.notBefore as string)).toBeLessThan(
      Date.parse((await env.identity(ns, 'renew')).status!.notAfter as string),
    );
    expect(publicKeyOf(decode(second, 'tls.key'), true)).not.toBe(publicKeyOf(decode(first, 'tls.key'), true));
    const dep = await waitFor(
      'deployment restarted',
      async () => {
        const d = await apps.readNamespacedDeployment({ name: 'web', namespace: ns });
        return d.spec?.template.metadata?.annotations?.['rollout.machineidentity.io/renew'] === '2' ? d : undefined;
      },
      15_000,
      200,
    );
    expect(dep.metadata!.generation).toBe(gen0 + 1);
    await sleep(3000); // no second restart for the same renewal
    // once per revision: renewal is jittered by up to 5% of renewBefore (28.5 s here), so a third revision
    // may legitimately follow within these seconds; each revision restarts the Deployment exactly once
    const later = await apps.readNamespacedDeployment({ name: 'web', namespace: ns });
    const stamped = Number(later.spec?.template.metadata?.annotations?.['rollout.machineidentity.io/renew']);
    expect(later.metadata!.generation).toBe(gen0 + stamped - 1);
  }, 150_000);

  it('keeps the key on renewal with rotationPolicy Never', async () => {
    const first = await issued('never', { privateKey: { rotationPolicy: 'Never' } });
    await env.co.patchNamespacedCustomObject(
      {
        ...MI,
        namespace: ns,
        name: 'never',
        body: { metadata: { annotations: { 'machineidentity.io/renew-requested-at': new Date().toISOString() } } },
      },
      MERGE,
    );
    await env.ready(ns, 'never', 2);
    const second = await env.secret(ns, 'never-tls');
    expect(decode(second, 'tls.crt')).not.toBe(decode(first, 'tls.crt'));
    expect(publicKeyOf(decode(second, 'tls.key'), true)).toBe(publicKeyOf(decode(first, 'tls.key'), true));
  });

  it('re-issues when the spec asks for something the certificate lacks', async () => {
    await issued('spec');
    await env.co.patchNamespacedCustomObject(
      {
        ...MI,
        namespace: ns,
        name: 'spec',
        body: { spec: { dnsNames: ['spec.example.com', 'www.spec.example.com'] } },
      },
      MERGE,
    );
    await env.ready(ns, 'spec', 2);
    expect(decode(await env.secret(ns, 'spec-tls'), 'tls.crt').length).toBeGreaterThan(0);
    const ev = await env.core.listNamespacedEvent({ namespace: ns, fieldSelector: 'involvedObject.name=spec' });
    expect(ev.items.map((e) => e.reason)).toEqual(expect.arrayContaining(['Issuing', 'Issued', 'Renewed']));
  });
});

describe('equal durations written differently', () => {
  it('editing spec.duration from 90m to 1h30m does not reissue; 2h does (SpecChanged)', async () => {
    const first = await issued('dur', { duration: '90m' });
    const serial = first.metadata?.annotations?.['machineidentity.io/serial'];
    await env.co.patchNamespacedCustomObject(
      { ...MI, namespace: ns, name: 'dur', body: { spec: { duration: '1h30m' } } },
      MERGE,
    );
    // the controller has seen the edit once it reports the new generation
    await waitFor(
      'status for the edited generation',
      async () => {
        const mi = await env.identity(ns, 'dur');
        return mi.metadata?.generation === 2 && mi.status?.observedGeneration === 2;
      },
      15_000,
      100,
    );
    await sleep(2000);
    const mi = await env.identity(ns, 'dur');
    expect(mi.status?.revision).toBe(1);
    expect((await env.secret(ns, 'dur-tls')).metadata?.annotations?.['machineidentity.io/serial']).toBe(serial);
    const events = (await env.core.listNamespacedEvent({ namespace: ns, fieldSelector: 'involvedObject.name=dur' }))
      .items;
    expect(events.filter((e) => /SpecChanged|duration changed/.test(`${e.reason} ${e.message}`))).toEqual([]);
    expect(events.map((e) => e.reason)).not.toContain('Renewed');
    // a different lifetime still is a change
    await env.co.patchNamespacedCustomObject(
      { ...MI, namespace: ns, name: 'dur', body: { spec: { duration: '2h' } } },
      MERGE,
    );
    await env.ready(ns, 'dur', 2);
    const after = (await env.core.listNamespacedEvent({ namespace: ns, fieldSelector: 'involvedObject.name=dur' }))
      .items;
    expect(after.some((e) => e.reason === 'Renewed' && e.message?.includes('(SpecChanged)'))).toBe(true);
  });
});

describe('failures and refusals', () => {
  it('backs off on failures, shows them in status, and recovers by itself', async () => {
    await env.createIdentity(ns, 'fail', {
      secretName: 'fail-tls',
      authorityRef: { name: ca },
      dnsNames: ['fail.example.com'],
      keystores: { pkcs12: { passwordSecretRef: { name: 'fail-pw', key: 'password' } } },
    });
    const mi = await waitFor(
      'a recorded failure',
      async () => {
        const m = await env.identity(ns, 'fail');
        return (m.status?.failedIssuanceAttempts as number) >= 1 ? m : undefined;
      },
      20_000,
      100,
    );
    expect(mi.status?.lastFailureTime).toBeTruthy();
    expect(mi.status?.conditions?.find((c) => c.type === 'Issuing')?.message).toMatch(/fail-pw/);
    await env.core.createNamespacedSecret({
      namespace: ns,
      body: { metadata: { name: 'fail-pw' }, stringData: { password: 'pw-123456' } },
    });
    const ok = await env.ready(ns, 'fail', 1, 60_000);
    expect(ok.status?.failedIssuanceAttempts).toBe(0);
    expect(ok.status?.lastFailureTime ?? null).toBeNull();
  }, 90_000);

  it('never takes over a Secret it did not create', async () => {
    await env.core.createNamespacedSecret({
      namespace: ns,
      body: { metadata: { name: 'foreign-tls' }, stringData: { keep: 'me' } },
    });
    await env.createIdentity(ns, 'foreign', {
      secretName: 'foreign-tls',
      authorityRef: { name: ca },
      dnsNames: ['foreign.example.com'],
    });
    const mi = await env.condition(ns, 'foreign', 'Ready', 'SecretNotOwned');
    expect(mi.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('False');
    const s = await env.secret(ns, 'foreign-tls');
    expect(s.data).toEqual({ keep: Buffer.from('me').toString('base64') });
    expect(s.metadata?.labels?.['machineidentity.io/identity']).toBeUndefined();
  });

  it('refuses an authority whose namespaceSelector does not match, with AuthorityNotAllowed', async () => {
    const prodOnly = env.uniqueName('prod-only');
    await env.createBinding(prodOnly, {
      namespaceSelector: { matchLabels: { tier: 'prod' } },
      selfSigned: {},
      grants: [GRANT_EXAMPLE_COM],
    });
    await env.createIdentity(ns, 'not-allowed', {
      secretName: 'not-allowed-tls',
      authorityRef: { name: prodOnly },
      dnsNames: ['x.example.com'],
    });
    const mi = await env.condition(ns, 'not-allowed', 'Ready', 'AuthorityNotAllowed');
    expect(mi.status?.conditions?.find((c) => c.type === 'Ready')?.message).toMatch(/does not serve namespace/);
    await env.core.patchNamespace({ name: ns, body: { metadata: { labels: { tier: 'prod' } } } }, MERGE);
    await env.ready(ns, 'not-allowed');
  });
});

describe('deletionPolicy (garbage collector running)', () => {
  it('Delete removes the Secret with the MachineIdentity', async () => {
    await issued('del-delete', { deletionPolicy: 'Delete' });
    await env.co.deleteNamespacedCustomObject({ ...MI, namespace: ns, name: 'del-delete' });
    await waitFor(
      'Secret garbage-collected',
      async () => {
        try {
          await env.secret(ns, 'del-delete-tls');
          return false;
        } catch {
          return true;
        }
      },
      60_000,
      250,
    );
  });

  it('Retain keeps the Secret, without an owner reference', async () => {
    const s = await issued('del-retain', { deletionPolicy: 'Retain' });
    expect(s.metadata?.ownerReferences ?? []).toEqual([]);
    await env.co.deleteNamespacedCustomObject({ ...MI, namespace: ns, name: 'del-retain' });
    await sleep(3000);
    const still = await env.secret(ns, 'del-retain-tls');
    expect(decode(still, 'tls.crt')).toBe(decode(s, 'tls.crt'));
  });
});
