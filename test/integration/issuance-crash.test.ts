// Acceptance (issuance #2): the operator is SIGKILLed at each step of an issuance and restarted; every
// time the Secret ends with a matching key and certificate and no stored next key is left behind.
// The kill is real (the process SIGKILLs itself at the named step: MIO_CRASH_AT, a test-only hook).
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { testNamespace } from '../harness/cluster.ts';
import { IssuanceEnv, MI, decode, verifySecret, publicKeyOf, GRANT_EXAMPLE_COM } from '../harness/identities.ts';
import { waitFor } from '../harness/processes.ts';

const env = new IssuanceEnv();
let ns = '';
let ca = '';
const MERGE = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);

beforeAll(async () => {
  await env.start();
  ns = await testNamespace('crash');
  ca = env.uniqueName('crash-ca');
  await env.createBinding(ca, {
    ca: { secretRef: { name: ca }, generate: { commonName: 'Crash CA' } },
    grants: [GRANT_EXAMPLE_COM],
  });
  await env.bindingReady(ca);
});
afterAll(() => env.stop());

/** Returns the public key of the stored next key found while the operator was down, if any. */
async function crashedAt(
  point: string,
  durable: boolean,
  name: string,
  act: () => Promise<void>,
): Promise<string | undefined> {
  await env.restart({ MIO_CRASH_AT: point, MIO_DURABLE_KEYS: String(durable) });
  const op = env.operator!;
  await act();
  await waitFor(`operator killed at ${point}`, async () => op.proc.child.signalCode === 'SIGKILL', 30_000, 50);
  const stored = await env.core.listNamespacedSecret({
    namespace: ns,
    labelSelector: `machineidentity.io/identity=${name},machineidentity.io/role=next-key`,
  });
  const storedKey = stored.items[0] ? publicKeyOf(decode(stored.items[0], 'tls.key'), true) : undefined;
  await env.start({ MIO_DURABLE_KEYS: String(durable) }); // restart without the crash hook
  return storedKey;
}

async function noNextKeys(name: string): Promise<void> {
  await waitFor(
    'no stored next key left',
    async () => {
      const l = await env.core.listNamespacedSecret({
        namespace: ns,
        labelSelector: `machineidentity.io/identity=${name},machineidentity.io/role=next-key`,
      });
      return l.items.length === 0;
    },
    15_000,
    100,
  );
}

const points: [string, boolean][] = [
  ['after-keygen', false],
  ['after-sign', false],
  ['after-secret-write', false],
  ['after-status-write', false],
  ['after-key-stored', true],
  ['after-keygen', true],
  ['after-sign', true],
  ['after-secret-write', true],
];

describe('crash during a first issuance', () => {
  it.each(points.map(([point, durable]) => ({ point, durable })))(
    'killed $point (durable keys: $durable)',
    async ({ point, durable }) => {
      const name = `first-${point}-${durable ? 'd' : 'm'}`;
      const storedKey = await crashedAt(point, durable, name, () =>
        env.createIdentity(ns, name, {
          secretName: `${name}-tls`,
          authorityRef: { name: ca },
          dnsNames: [`${name}.example.com`],
        }),
      );
      const mi = await env.ready(ns, name, 1, 30_000);
      const s = await env.secret(ns, `${name}-tls`);
      verifySecret(s);
      if (durable && point !== 'after-secret-write') {
        // the key stored before the CSR left was kept and is the one the certificate was issued for
        expect(storedKey).toBeDefined();
        expect(publicKeyOf(decode(s, 'tls.key'), true)).toBe(storedKey);
      }
      expect(s.metadata?.annotations?.['machineidentity.io/revision']).toBe(String(mi.status?.revision));
      expect(s.metadata?.annotations?.['machineidentity.io/serial']).toBe(mi.status?.serialNumber);
      await noNextKeys(name);
    },
  );
});

describe('crash during a renewal', () => {
  it.each(points.map(([point, durable]) => ({ point, durable })))(
    'killed $point (durable keys: $durable): old pair or new pair, never a mix',
    async ({ point, durable }) => {
      const name = `renew-${point}-${durable ? 'd' : 'm'}`;
      await env.createIdentity(ns, name, {
        secretName: `${name}-tls`,
        authorityRef: { name: ca },
        dnsNames: [`${name}.example.com`],
      });
      await env.ready(ns, name, 1);
      const before = await env.secret(ns, `${name}-tls`);
      await crashedAt(point, durable, name, async () => {
        await env.co.patchNamespacedCustomObject(
          {
            ...MI,
            namespace: ns,
            name,
            body: { metadata: { annotations: { 'machineidentity.io/renew-requested-at': new Date().toISOString() } } },
          },
          MERGE,
        );
      });
      // between the kill and the restart's first write the Secret holds one whole pair, old or new
      const mid = await env.secret(ns, `${name}-tls`);
      verifySecret(mid);
      const mi = await env.ready(ns, name, 2, 30_000);
      const after = await env.secret(ns, `${name}-tls`);
      verifySecret(after);
      expect(decode(after, 'tls.crt')).not.toBe(decode(before, 'tls.crt'));
      expect(after.metadata?.annotations?.['machineidentity.io/serial']).toBe(mi.status?.serialNumber);
      await noNextKeys(name);
    },
  );
});
