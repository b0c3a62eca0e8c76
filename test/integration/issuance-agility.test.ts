// Acceptance (issuance #5): changing the CA behind a binding re-issues all 200 identities it backs, at a
// bounded rate with progress in the binding's status, and none is left signed by the old CA.
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { testNamespace } from '../harness/cluster.ts';
import * as k8s from '@kubernetes/client-node';
import { IssuanceEnv, MI, CAB, decode, verifySecret, openssl, GRANT_EXAMPLE_COM } from '../harness/identities.ts';
import { waitFor } from '../harness/processes.ts';

const N = 200;
const RATE = 50;
const env = new IssuanceEnv();
let ns = '';
let ca = '';

beforeAll(async () => {
  await env.start({ MIO_REISSUE_RATE: String(RATE), MIO_WORKERS: '8' });
  ns = await testNamespace('agility');
  ca = env.uniqueName('agility-ca');
  // no trust bundle here: the identities move once the (absent) bundles are current plus the propagation delay
  await env.createBinding(ca, {
    ca: { secretRef: { name: ca }, generate: { commonName: 'Agility CA 1' } },
    grants: [GRANT_EXAMPLE_COM],
    caRotation: { propagationDelay: '1s' },
  });
  await env.bindingReady(ca);
});
afterAll(() => env.stop());

async function allOn(fingerprint: string): Promise<number> {
  const l = (await env.co.listNamespacedCustomObject({ ...MI, namespace: ns })) as {
    items: { status?: { authorityFingerprintSHA256?: string; conditions?: { type: string; status: string }[] } }[];
  };
  return l.items.filter(
    (m) =>
      m.status?.authorityFingerprintSHA256 === fingerprint &&
      m.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
  ).length;
}

describe('crypto-agility', () => {
  it(`re-issues all ${N} identities from the new CA when the binding's CA changes`, async () => {
    const old = (await env.bindingReady(ca)).caFingerprintSHA256 as string;
    let next = 0;
    await Promise.all(
      Array.from({ length: 10 }, async () => {
        while (next < N) {
          const i = next++;
          await env.createIdentity(ns, `id-${i}`, {
            secretName: `id-${i}-tls`,
            authorityRef: { name: ca },
            dnsNames: [`id-${i}.example.com`],
          });
        }
      }),
    );
    await waitFor(`${N} identities Ready on the first CA`, async () => (await allOn(old)) === N, 120_000, 500);

    const oldCaPem = decode(await env.core.readNamespacedSecret({ name: ca, namespace: env.opNamespace }), 'tls.crt');
    // a new CA: drop the CA Secret and ask for a new one (a lost CA Secret alone no longer makes a new root)
    await env.core.deleteNamespacedSecret({ name: ca, namespace: env.opNamespace });
    await env.co.patchClusterCustomObject(
      {
        ...CAB,
        name: ca,
        body: {
          metadata: { annotations: { 'machineidentity.io/regenerate-ca-requested-at': new Date().toISOString() } },
        },
      },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
    const fresh = await waitFor(
      'binding on a new CA',
      async () => {
        const s = await env.bindingReady(ca);
        return s.caFingerprintSHA256 !== old ? (s.caFingerprintSHA256 as string) : undefined;
      },
      30_000,
      200,
    );
    const t0 = Date.now();
    let sawProgress = false;
    const stuck = async (): Promise<string> => {
      const l = (await env.co.listNamespacedCustomObject({ ...MI, namespace: ns })) as {
        items: {
          metadata: { name: string };
          status?: {
            authorityFingerprintSHA256?: string;
            conditions?: { type: string; reason: string; message: string }[];
          };
        }[];
      };
      const left = l.items.filter((m) => m.status?.authorityFingerprintSHA256 !== fresh);
      return `${left.length} left, e.g. ${JSON.stringify(left.slice(0, 2).map((m) => [m.metadata.name, m.status?.conditions]))}`;
    };
    const progress = setInterval(() => {
      void stuck().then((x) => process.stderr.write(`[agility] ${x}\n`));
    }, 20_000);
    await waitFor(
      `${N} identities re-issued`,
      async () => {
        const b = await env.bindingReady(ca);
        if ((b.outdatedIdentities as number) > 0 && (b.outdatedIdentities as number) < N) sawProgress = true;
        return (await allOn(fresh)) === N;
      },
      120_000,
      250,
    );
    clearInterval(progress);
    const took = (Date.now() - t0) / 1000;
    process.stderr.write(`[agility] ${N} identities re-issued in ${took.toFixed(1)} s (rate limit ${RATE}/s)\n`);
    expect(took).toBeGreaterThanOrEqual(((N - RATE) / RATE) * 0.8); // paced, not all at once
    expect(sawProgress).toBe(true);
    await waitFor(
      'outdatedIdentities 0',
      async () => (await env.bindingReady(ca)).outdatedIdentities === 0,
      15_000,
      250,
    );

    const caPem = decode(await env.core.readNamespacedSecret({ name: ca, namespace: env.opNamespace }), 'tls.crt');
    for (let i = 0; i < N; i++) {
      const s = await env.secret(ns, `id-${i}-tls`);
      expect(s.metadata?.annotations?.['machineidentity.io/authority-fingerprint']).toBe(fresh);
      // ca.crt is the binding's published bundle: the new CA first, the old one still next to it during the overlap window
      expect(decode(s, 'ca.crt').startsWith(caPem)).toBe(true);
      if (i % 20 === 0) verifySecret(s);
    }
    // none verifies against the old CA any more
    for (const i of [0, 7, 99, N - 1]) {
      const leaf = decode(await env.secret(ns, `id-${i}-tls`), 'tls.crt');
      expect(() => openssl(['verify', '-CAfile', { file: oldCaPem }, { file: leaf }])).toThrow();
    }
  }, 300_000);
});
