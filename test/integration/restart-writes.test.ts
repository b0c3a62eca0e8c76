// A restarted operator rewrites nothing it already wrote (issue #17: a restart with 100,000 Ready
// identities makes zero writes): after the first issuance, and after a CA rotation that reissued every
// identity (where `bench scale` found status rewrites). Compared by the resourceVersion of every
// MachineIdentity and Secret in the test's namespace, which any write (a no-op apply included) moves;
// and for ClusterTrustBundles by the API server's own apiserver_request_total (the publisher's old
// start-up DELETE of a bundle that does not exist moved no resourceVersion). The bundle writes the
// restart must still make are asserted too: a binding that stopped signing, or was deleted, while no
// operator ran loses its bundle at start.
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { testNamespace } from '../harness/cluster.ts';
import { IssuanceEnv, MI, CAB } from '../harness/identities.ts';
import { waitFor } from '../harness/processes.ts';
import { certificatesVersion } from '../harness/requesters.ts';
import { requestTotalsWith, writesBetween } from '../../bench/lib/apiserver-requests.ts';

const N = Number(process.env.MIO_RESTART_WRITES_N ?? 12);
const env = new IssuanceEnv();
const merge = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);
/** v1 on 1.37, v1beta1 on 1.36: where the signer publishes its ClusterTrustBundles. */
const CTB_VERSION = await certificatesVersion(env.kc, 'clustertrustbundles');
let ns = '';
let ca = ''; // signs CSRs, so it has a ClusterTrustBundle
let plain = ''; // signs nothing: it has none

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

const ctbPath = (binding: string) => ({
  group: 'certificates.k8s.io',
  version: CTB_VERSION,
  plural: 'clustertrustbundles',
  name: `machineidentity.io:${binding}:ca`,
});
const ctb = async (binding: string): Promise<{ spec: { trustBundle: string } } | undefined> =>
  (await env.co.getClusterCustomObject(ctbPath(binding)).catch(() => undefined)) as
    { spec: { trustBundle: string } } | undefined;

/** Restarts the operator and waits until it has reconciled every identity and every binding's trust bundle, queues empty. */
async function restartAndSettle(): Promise<void> {
  await env.restart({ MIO_REISSUE_RATE: '200' });
  const op = env.operator!;
  const done = async (controller: string, queue: string, n: number): Promise<boolean> =>
    ((await op.metric('controller_runtime_reconcile_total', { controller })) ?? 0) >= n &&
    (await op.metric('workqueue_depth', { name: queue })) === 0;
  await waitFor(
    'the restarted operator to reconcile every identity and both bindings’ trust bundles',
    async () =>
      (await done('issuance', 'issuance', N)) && (await done('signer-trust-bundles', 'signer-trust-bundles', 2)),
    60_000,
    200,
  );
  await new Promise((r) => setTimeout(r, 3000)); // anything a reconcile would still write
}

/** Restarts the operator; returns the ClusterTrustBundle writes the API server counted meanwhile (no other writer runs). */
async function restartCountingBundleWrites(): Promise<[string, number][]> {
  const before = await requestTotalsWith(env.kc);
  await restartAndSettle();
  const writes = writesBetween(before, await requestTotalsWith(env.kc));
  return [...writes].filter(([k]) => k.split(' ')[1]?.startsWith('clustertrustbundles'));
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
  plain = env.uniqueName('restart-plain');
  await env.createBinding(plain, { ca: { secretRef: { name: plain }, generate: { commonName: 'Plain CA' } } });
  await env.bindingWithIdentities(
    ns,
    ca,
    {
      ca: { secretRef: { name: ca }, generate: { commonName: 'Restart CA' } },
      caRotation: { propagationDelay: '1s', overlap: '1h' },
      signer: { certificateSigningRequests: true },
    },
    N,
  );
  await env.bindingReady(plain);
});
afterAll(() => env.stop());

describe('a restarted operator writes nothing', () => {
  it('after the first issuance', async () => {
    await waitFor('the signer binding’s ClusterTrustBundle', () => ctb(ca), 20_000, 200);
    await new Promise((r) => setTimeout(r, 2000));
    const before = await snapshot();
    // no apply of the signer's unchanged bundle, no DELETE of the bundle the other binding never had
    expect(await restartCountingBundleWrites()).toEqual([]);
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
    const bundle = (await ctb(ca))?.spec.trustBundle;
    const before = await snapshot();
    expect(await restartCountingBundleWrites()).toEqual([]);
    expect(moved(before, await snapshot())).toEqual([]);
    expect((await ctb(ca))?.spec.trustBundle).toBe(bundle); // old and new CA, as published before
  }, 180_000);
});

describe('a restarted operator still removes what is stale', () => {
  it('deletes the ClusterTrustBundle of a binding that stopped signing, and of one deleted, while no operator ran', async () => {
    const quit = env.uniqueName('restart-quit');
    const gone = env.uniqueName('restart-gone');
    for (const b of [quit, gone]) {
      await env.createBinding(b, {
        ca: { secretRef: { name: b }, generate: { commonName: `CA ${b}` } },
        signer: { certificateSigningRequests: true },
      });
      await waitFor(`the ClusterTrustBundle of ${b}`, () => ctb(b), 30_000, 200);
    }
    const kept = (await ctb(ca))?.spec.trustBundle;
    await env.operator!.stop();
    await env.co.patchClusterCustomObject({ ...CAB, name: quit, body: { spec: { signer: null } } }, merge);
    await env.co.deleteClusterCustomObject({ ...CAB, name: gone });
    const writes = await restartCountingBundleWrites();
    expect(await ctb(quit)).toBeUndefined();
    expect(await ctb(gone)).toBeUndefined();
    expect((await ctb(ca))?.spec.trustBundle).toBe(kept);
    // exactly the two stale bundles were written (deleted), nothing else
    expect(writes).toEqual([[`DELETE clustertrustbundles`, 2]]);
  }, 120_000);
});
