// A restarted operator rewrites nothing it already wrote (issue #17: a restart with 100,000 Ready
// identities makes zero writes): after the first issuance, and after a CA rotation that reissued every
// identity (where `bench scale` found status rewrites). Compared by the resourceVersion of every
// MachineIdentity and Secret in the test's namespace, which any write (a no-op apply included) moves.
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { testNamespace } from '../harness/cluster.ts';
import { IssuanceEnv, MI, CAB } from '../harness/identities.ts';
import { waitFor } from '../harness/processes.ts';

const N = Number(process.env.MIO_RESTART_WRITES_N ?? 12);
const env = new IssuanceEnv();
const merge = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);
let ns = '';
let ca = '';

type Item = { metadata: { name: string; resourceVersion: string }; status?: Record<string, unknown> };

/** name → resourceVersion and status of every MachineIdentity and Secret in the namespace. */
async function snapshot(): Promise<Map<string, { rv: string; status?: Record<string, unknown> }>> {
  const mis = (await env.co.listNamespacedCustomObject({ ...MI, namespace: ns })) as { items: Item[] };
  const secrets = await env.core.listNamespacedSecret({ namespace: ns });
  return new Map([
    ...mis.items.map((m) => [`mi/${m.metadata.name}`, { rv: m.metadata.resourceVersion, status: m.status }] as const),
    ...secrets.items.map((s) => [`secret/${s.metadata!.name!}`, { rv: s.metadata!.resourceVersion! }] as const),
  ]);
}

/** What moved between two snapshots, with the status fields that differ. */
function moved(a: Awaited<ReturnType<typeof snapshot>>, b: Awaited<ReturnType<typeof snapshot>>): string[] {
  const out: string[] = [];
  for (const [k, v] of b) {
    const was = a.get(k);
    if (was?.rv === v.rv) continue;
    const fields = Object.keys({ ...was?.status, ...v.status }).filter(
      (f) => JSON.stringify(was?.status?.[f]) !== JSON.stringify(v.status?.[f]),
    );
    out.push(
      `${k}: ${fields.map((f) => `${f} ${JSON.stringify(was?.status?.[f])} → ${JSON.stringify(v.status?.[f])}`).join('; ') || 'no status change'}`,
    );
  }
  return out;
}

/** Restarts the operator and waits until it has reconciled every identity with its issuance queue empty. */
async function restartAndSettle(): Promise<void> {
  await env.restart({ MIO_REISSUE_RATE: '200' });
  const op = env.operator!;
  await waitFor(
    'the restarted operator to reconcile every identity',
    async () =>
      ((await op.metric('controller_runtime_reconcile_total', { controller: 'issuance' })) ?? 0) >= N &&
      (await op.metric('workqueue_depth', { name: 'issuance' })) === 0,
    60_000,
    200,
  );
  await new Promise((r) => setTimeout(r, 3000)); // anything a reconcile would still write
}

async function allFrom(fingerprint: string): Promise<boolean> {
  const l = (await env.co.listNamespacedCustomObject({ ...MI, namespace: ns })) as {
    items: { status?: { authorityFingerprintSHA256?: string; conditions?: { type: string; status: string }[] } }[];
  };
  return (
    l.items.length === N &&
    l.items.every(
      (m) =>
        m.status?.authorityFingerprintSHA256 === fingerprint &&
        m.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
    )
  );
}

beforeAll(async () => {
  await env.start({ MIO_REISSUE_RATE: '200' });
  ns = await testNamespace('restart-writes');
  ca = env.uniqueName('restart-ca');
  await env.createBinding(ca, {
    ca: { secretRef: { name: ca }, generate: { commonName: 'Restart CA' } },
    caRotation: { propagationDelay: '1s', overlap: '1h' },
  });
  await env.bindingReady(ca);
  for (let i = 0; i < N; i++)
    await env.createIdentity(ns, `id-${i}`, {
      secretName: `id-${i}-tls`,
      authorityRef: { name: ca },
      dnsNames: [`id-${i}.${ns}.svc`],
    });
  for (let i = 0; i < N; i++) await env.ready(ns, `id-${i}`);
});
afterAll(() => env.stop());

describe('a restarted operator writes nothing', () => {
  it('after the first issuance', async () => {
    await new Promise((r) => setTimeout(r, 2000));
    const before = await snapshot();
    await restartAndSettle();
    expect(moved(before, await snapshot())).toEqual([]);
  }, 120_000);

  it('after a CA rotation that reissued every identity', async () => {
    const fp0 = (
      (await env.co.getClusterCustomObject({ ...CAB, name: ca })) as { status: { caFingerprintSHA256: string } }
    ).status.caFingerprintSHA256;
    await env.co.patchClusterCustomObject(
      {
        ...CAB,
        name: ca,
        body: {
          metadata: { annotations: { 'machineidentity.io/regenerate-ca-requested-at': new Date().toISOString() } },
        },
      },
      merge,
    );
    const fp1 = await waitFor(
      'a new CA',
      async () => {
        const fp = (
          (await env.co.getClusterCustomObject({ ...CAB, name: ca })) as {
            status?: { caFingerprintSHA256?: string };
          }
        ).status?.caFingerprintSHA256;
        return fp && fp !== fp0 ? fp : undefined;
      },
      30_000,
      200,
    );
    await waitFor('every identity reissued from the new CA', () => allFrom(fp1), 60_000, 250);
    await new Promise((r) => setTimeout(r, 2000));
    const before = await snapshot();
    await restartAndSettle();
    expect(moved(before, await snapshot())).toEqual([]);
  }, 180_000);
});
