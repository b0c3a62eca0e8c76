// The contract's metrics for managed identities (computed at scrape time: a deleted identity's series
// disappear), and the canary: no private key in any log line, Event, status or /metrics output.
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { testNamespace } from '../harness/cluster.ts';
import { IssuanceEnv, MI, decode, GRANT_EXAMPLE_COM } from '../harness/identities.ts';
import { waitFor } from '../harness/processes.ts';

const env = new IssuanceEnv();
let ns = '';
let ca = '';

beforeAll(async () => {
  await env.start({ MIO_LOG_LEVEL: 'trace' });
  ns = await testNamespace('observe');
  ca = env.uniqueName('observe-ca');
  await env.createBinding(ca, {
    ca: { secretRef: { name: ca }, generate: { commonName: 'Observe CA' } },
    grants: [GRANT_EXAMPLE_COM],
  });
  await env.bindingReady(ca);
  await env.core.createNamespacedSecret({
    namespace: ns,
    body: { metadata: { name: 'pw' }, stringData: { password: 'canary-password-1' } },
  });
});
afterAll(() => env.stop());

const metricsText = async (): Promise<string> => (await fetch(`${env.operator!.url}/metrics`)).text();

describe('metrics', () => {
  it("exports the contract's per-identity series and drops them when the identity is deleted", async () => {
    await env.createIdentity(ns, 'metered', {
      secretName: 'metered-tls',
      authorityRef: { name: ca },
      dnsNames: ['m.example.com'],
      owner: { team: 'payments' },
    });
    const mi = await env.ready(ns, 'metered');
    const labels = `authority="${ca}",name="metered",namespace="${ns}",owner_team="payments",secret="metered-tls"`;
    const text = await metricsText();
    const value = (name: string): number | undefined => {
      const line = text
        .split('\n')
        .find(
          (l) =>
            l.startsWith(`${name}{`) &&
            ['authority', 'name', 'namespace', 'owner_team', 'secret'].every((k) =>
              l.includes(`${k}="${labels.match(new RegExp(`${k}="([^"]*)"`))![1]}"`),
            ),
        );
      return line ? Number(line.split(' ').pop()) : undefined;
    };
    expect(value('machine_identity_certificate_expiration_timestamp_seconds')).toBe(
      Date.parse(mi.status!.notAfter as string) / 1000,
    );
    expect(value('machine_identity_certificate_not_before_timestamp_seconds')).toBe(
      Date.parse(mi.status!.notBefore as string) / 1000,
    );
    expect(value('machine_identity_certificate_renewal_timestamp_seconds')).toBe(
      Date.parse(mi.status!.renewalTime as string) / 1000,
    );
    const ready = text
      .split('\n')
      .filter((l) => l.startsWith('machine_identity_certificate_ready_status{') && l.includes('name="metered"'));
    expect(ready.find((l) => l.includes('condition="True"'))?.endsWith(' 1')).toBe(true);
    expect(ready.find((l) => l.includes('condition="False"'))?.endsWith(' 0')).toBe(true);
    expect(text).toMatch(new RegExp(`machine_identity_issuance_total\\{authority="${ca}",result="success"\\} [1-9]`));
    expect(text).toMatch(new RegExp(`machine_identity_issuance_duration_seconds_count\\{authority="${ca}"\\} [1-9]`));
    await env.co.deleteNamespacedCustomObject({ ...MI, namespace: ns, name: 'metered' });
    await waitFor('series gone', async () => !(await metricsText()).includes('name="metered"'), 15_000, 200);
  });
});

describe('no private key leaves the Secret', () => {
  it('keeps key material out of logs, Events, status and metrics (RSA, ECDSA, Ed25519, PKCS#12)', async () => {
    const specs = [
      ['canary-rsa', { algorithm: 'RSA', size: 2048, encoding: 'PKCS1' }],
      ['canary-ec', { algorithm: 'ECDSA', size: 384, encoding: 'SEC1' }],
      ['canary-ed', { algorithm: 'Ed25519' }],
    ] as const;
    for (const [name, privateKey] of specs) {
      await env.createIdentity(ns, name, {
        secretName: `${name}-tls`,
        authorityRef: { name: ca },
        dnsNames: [`${name}.example.com`],
        privateKey,
        keystores: { pkcs12: { passwordSecretRef: { name: 'pw', key: 'password' } } },
      });
    }
    const keyBodies: string[] = [];
    for (const [name] of specs) {
      await env.ready(ns, name);
      await env.co.patchNamespacedCustomObject(
        {
          ...MI,
          namespace: ns,
          name,
          body: { metadata: { annotations: { 'machineidentity.io/renew-requested-at': new Date().toISOString() } } },
        },
        (await import('@kubernetes/client-node')).setHeaderOptions('Content-Type', 'application/merge-patch+json'),
      );
      await env.ready(ns, name, 2);
      const s = await env.secret(ns, `${name}-tls`);
      const pem = decode(s, 'tls.key');
      const body = pem
        .split('\n')
        .filter((l) => l && !l.startsWith('-----'))
        .join('');
      keyBodies.push(body.slice(0, 40), body.slice(-40), s.data!['tls.key']!.slice(0, 40));
    }
    const events = await env.core.listNamespacedEvent({ namespace: ns });
    const statuses = await env.co.listNamespacedCustomObject({ ...MI, namespace: ns });
    const haystacks = {
      logs: env.operator!.logs(),
      events: JSON.stringify(events.items),
      status: JSON.stringify(statuses),
      metrics: await metricsText(),
    };
    expect(haystacks.logs.length).toBeGreaterThan(1000); // trace logging was on: there was something to leak into
    for (const [where, text] of Object.entries(haystacks)) {
      expect({ where, leaked: text.includes('PRIVATE KEY') }).toEqual({ where, leaked: false });
      for (const b of keyBodies) expect({ where, leaked: text.includes(b) }).toEqual({ where, leaked: false });
      expect({ where, leaked: text.includes('canary-password-1') }).toEqual({ where, leaked: false });
    }
  });
});
