// CA continuity (issue #13, finding 6): a lost CA Secret does not silently make a new root; a CA change
// (regeneration on request, distrust) publishes old and new CA in every trust bundle (ConfigMaps and the
// signer's ClusterTrustBundle) before any identity is reissued, plus the propagation delay; the old CA
// leaves afterwards. The ordering is asserted with the timestamps the test observes.
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { X509Certificate } from 'node:crypto';
import * as k8s from '@kubernetes/client-node';
import { testNamespace } from '../harness/cluster.ts';
import { IssuanceEnv, MI, CAB, decode, openssl } from '../harness/identities.ts';
import { waitFor } from '../harness/processes.ts';
import { certificatesVersion } from '../harness/requesters.ts';

const N = 5;
const DELAY_MS = 3000;
const env = new IssuanceEnv();
/** v1 on 1.37, v1beta1 on 1.36: where the signer publishes its ClusterTrustBundle. */
const CTB_VERSION = await certificatesVersion(env.kc, 'clustertrustbundles');
const merge = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);
let ns = '';
let ca = '';
const cm = 'continuity-ca';

interface BindingStatus {
  caFingerprintSHA256?: string;
  caPublishedAt?: string;
  reissueNotBefore?: string;
  previousCAs?: { fingerprintSHA256: string; distrusted?: boolean }[];
  conditions?: { type: string; status: string; reason: string; message: string }[];
}
const binding = async (): Promise<BindingStatus> =>
  ((await env.co.getClusterCustomObject({ ...CAB, name: ca })) as { status?: BindingStatus }).status ?? {};
const bundle = async (): Promise<string> => {
  try {
    return (await env.core.readNamespacedConfigMap({ namespace: ns, name: cm })).data?.['ca.crt'] ?? '';
  } catch {
    return '';
  }
};
const ctb = async (): Promise<string> => {
  const r = await env.co
    .getClusterCustomObject({
      group: 'certificates.k8s.io',
      version: CTB_VERSION,
      plural: 'clustertrustbundles',
      name: `machineidentity.io:${ca}:ca`,
    })
    .catch(() => undefined);
  return (r as { spec?: { trustBundle?: string } } | undefined)?.spec?.trustBundle ?? '';
};
const fingerprints = (pem: string): string[] =>
  (pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [])
    .map((p) => new X509Certificate(p).fingerprint256)
    .sort();
const fpsOfIdentities = async (): Promise<Map<string, string | undefined>> => {
  const l = (await env.co.listNamespacedCustomObject({ ...MI, namespace: ns })) as {
    items: { metadata: { name: string }; status?: { authorityFingerprintSHA256?: string } }[];
  };
  return new Map(l.items.map((m) => [m.metadata.name, m.status?.authorityFingerprintSHA256]));
};
const caPem = async (): Promise<string> =>
  decode(await env.core.readNamespacedSecret({ name: ca, namespace: env.opNamespace }), 'tls.crt');
const events = async (reason: string): Promise<k8s.CoreV1Event[]> =>
  (
    await env.core.listNamespacedEvent({
      namespace: 'default',
      fieldSelector: `involvedObject.name=${ca},reason=${reason}`,
    })
  ).items;

/**
 * Polls until every identity is on `to`, noting when the bundles (ConfigMap and ClusterTrustBundle) were
 * first seen carrying `want`, and when each identity was first seen on `to`.
 */
async function watchMove(
  to: string,
  want: string[],
): Promise<{ bundlesAt: number; ctbAt: number; caCrtAt: number; firstMove: number; sawOverlap: boolean }> {
  let bundlesAt = Infinity,
    ctbAt = Infinity,
    caCrtAt = Infinity,
    firstMove = Infinity,
    sawOverlap = false;
  await waitFor(
    `${N} identities on ${to}`,
    async () => {
      const [b, t, ids, s] = await Promise.all([bundle(), ctb(), fpsOfIdentities(), env.secret(ns, `id-${N - 1}-tls`)]);
      const now = Date.now();
      if (bundlesAt === Infinity && want.every((f) => fingerprints(b).includes(f))) bundlesAt = now;
      if (ctbAt === Infinity && want.every((f) => fingerprints(t).includes(f))) ctbAt = now;
      // the identity Secret's ca.crt follows the bundle too, before its own certificate moves
      if (caCrtAt === Infinity && want.every((f) => fingerprints(decode(s, 'ca.crt')).includes(f))) caCrtAt = now;
      if (want.every((f) => fingerprints(b).includes(f) && fingerprints(t).includes(f))) sawOverlap = true;
      const moved = [...ids.values()].filter((f) => f === to).length;
      if (moved > 0 && firstMove === Infinity) firstMove = now;
      return moved === N;
    },
    90_000,
    100,
  );
  return { bundlesAt, ctbAt, caCrtAt, firstMove, sawOverlap };
}

beforeAll(async () => {
  await env.start({ MIO_REISSUE_RATE: '50' });
  const label = env.uniqueName('mio-continuity');
  ns = await testNamespace('continuity', { [label]: 'yes' });
  ca = env.uniqueName('continuity-ca');
  await env.bindingWithIdentities(
    ns,
    ca,
    {
      namespaceSelector: { matchLabels: { [label]: 'yes' } },
      ca: { secretRef: { name: ca }, generate: { commonName: 'Continuity CA 1' } },
      trustBundle: { configMapName: cm },
      signer: { certificateSigningRequests: true },
      caRotation: { propagationDelay: `${DELAY_MS / 1000}s`, overlap: '8s' },
    },
    N,
  );
});
afterAll(() => env.stop());

describe('CA continuity', () => {
  let fp1 = '',
    pem1 = '',
    fp2 = '';

  it('a deleted CA Secret leaves the binding not Ready, mints no new root, and keeps the identities and the old trust bundles', async () => {
    fp1 = (await binding()).caFingerprintSHA256!;
    pem1 = await caPem();
    await waitFor(
      'ConfigMap and ClusterTrustBundle carry the CA',
      async () => fingerprints(await bundle()).includes(fp1) && fingerprints(await ctb()).includes(fp1),
      20_000,
      200,
    );
    const serials = await Promise.all(
      Array.from(
        { length: N },
        async (_v, i) => new X509Certificate(decode(await env.secret(ns, `id-${i}-tls`), 'tls.crt')).serialNumber,
      ),
    );

    await env.core.deleteNamespacedSecret({ name: ca, namespace: env.opNamespace });
    const ready = await waitFor(
      'Ready=False CASecretMissing',
      async () => (await binding()).conditions?.find((c) => c.type === 'Ready' && c.reason === 'CASecretMissing'),
      20_000,
      100,
    );
    expect(ready.status).toBe('False');
    expect(ready.message).toContain(fp1);
    await waitFor(
      'Warning event',
      async () => (await events('CASecretMissing')).some((e) => e.type === 'Warning'),
      20_000,
      200,
    ).catch((e: Error) => {
      throw new Error(`${e.message}\n${env.operator?.trouble() ?? ''}`);
    });
    await new Promise((r) => setTimeout(r, 3000)); // long enough for the old behaviour (a new root in 0.4 s, reissue in 10 s) to show
    await expect(env.core.readNamespacedSecret({ name: ca, namespace: env.opNamespace })).rejects.toThrow();
    expect((await binding()).caFingerprintSHA256).toBe(fp1);
    expect(fingerprints(await bundle())).toEqual([fp1]);
    expect(fingerprints(await ctb())).toEqual([fp1]);
    for (let i = 0; i < N; i++) {
      const s = await env.secret(ns, `id-${i}-tls`);
      expect(new X509Certificate(decode(s, 'tls.crt')).serialNumber).toBe(serials[i]);
      expect(s.metadata?.annotations?.['machineidentity.io/authority-fingerprint']).toBe(fp1);
    }
  }, 60_000);

  it('on request, a new CA is published next to the old one in every bundle before any identity moves, plus the propagation delay; the old CA leaves after the overlap', async () => {
    const requested = Date.now();
    await env.co.patchClusterCustomObject(
      {
        ...CAB,
        name: ca,
        body: {
          metadata: {
            annotations: { 'machineidentity.io/regenerate-ca-requested-at': new Date(requested).toISOString() },
          },
        },
      },
      merge,
    );
    fp2 = (await waitFor(
      'new CA recorded',
      async () => {
        const s = await binding();
        return s.caFingerprintSHA256 !== fp1 ? s.caFingerprintSHA256 : undefined;
      },
      20_000,
      100,
    )) as string;
    const seen = await watchMove(fp2, [fp1, fp2]);
    const st = await binding();
    const published = Date.parse(st.caPublishedAt!);
    const notBefore = Date.parse(st.reissueNotBefore!);
    process.stderr.write(
      `[continuity] request→ConfigMap ${seen.bundlesAt - requested} ms, →ClusterTrustBundle ${seen.ctbAt - requested} ms, published→first reissue ${seen.firstMove - published} ms (delay ${DELAY_MS} ms)\n`,
    );
    expect(seen.sawOverlap).toBe(true);
    expect(notBefore - published).toBe(DELAY_MS);
    expect(seen.bundlesAt).toBeLessThan(seen.firstMove);
    expect(seen.ctbAt).toBeLessThan(seen.firstMove);
    expect(seen.caCrtAt).toBeLessThan(seen.firstMove);
    expect(seen.firstMove).toBeGreaterThanOrEqual(notBefore);
    expect(st.previousCAs?.map((p) => p.fingerprintSHA256)).toEqual([fp1]);
    // every reissued certificate was issued after the hold, and verifies against the published bundle
    const trust = await bundle();
    for (let i = 0; i < N; i++) {
      const s = await env.secret(ns, `id-${i}-tls`);
      expect(Date.parse(s.metadata!.annotations!['machineidentity.io/issued-at']!)).toBeGreaterThanOrEqual(
        Math.floor(notBefore / 1000) * 1000,
      );
      openssl(['verify', '-CAfile', { file: trust }, { file: decode(s, 'tls.crt') }]);
    }
    // overlap 8s: then the old CA leaves both bundles
    await waitFor(
      'old CA retired',
      async () => fingerprints(await bundle()).join() === fp2 && fingerprints(await ctb()).join() === fp2,
      30_000,
      250,
    );
    await waitFor(
      'identity ca.crt without the old CA',
      async () => fingerprints(decode(await env.secret(ns, 'id-0-tls'), 'ca.crt')).join() === fp2,
      20_000,
      250,
    );
    expect((await binding()).previousCAs).toBeUndefined();
    expect(Date.now() - published).toBeGreaterThanOrEqual(8000); // the overlap counts from publication
    expect((await events('PreviousCARetired')).length).toBeGreaterThan(0);
    expect((await events('TrustBundlesUpdated')).length).toBeGreaterThan(0);
  }, 120_000);

  it('distrust: the replacement is published with the distrusted CA during the reissue, then the distrusted CA is gone', async () => {
    // a long overlap: the distrusted CA must leave because everything it signed was reissued, not because time passed
    await env.co.patchClusterCustomObject(
      {
        ...CAB,
        name: ca,
        body: { spec: { distrust: [fp2], caRotation: { propagationDelay: `${DELAY_MS / 1000}s`, overlap: '1h' } } },
      },
      merge,
    );
    await waitFor(
      'Ready=False CADistrusted',
      async () => (await binding()).conditions?.find((c) => c.type === 'Ready' && c.reason === 'CADistrusted'),
      20_000,
      100,
    );
    expect(fingerprints(await bundle())).toEqual([fp2]);
    const pem2 = await caPem();
    // the replacement: the Secret of a distrusted CA is regenerated when deleted
    await env.core.deleteNamespacedSecret({ name: ca, namespace: env.opNamespace });
    const fp3 = (await waitFor(
      'replacement CA',
      async () => {
        const s = await binding();
        return s.caFingerprintSHA256 !== fp2 ? s.caFingerprintSHA256 : undefined;
      },
      20_000,
      100,
    )) as string;
    const seen = await watchMove(fp3, [fp2, fp3]);
    expect(seen.sawOverlap).toBe(true);
    expect(seen.bundlesAt).toBeLessThan(seen.firstMove);
    expect(seen.ctbAt).toBeLessThan(seen.firstMove);
    await waitFor(
      'distrusted CA dropped',
      async () => fingerprints(await bundle()).join() === fp3 && fingerprints(await ctb()).join() === fp3,
      30_000,
      250,
    );
    for (let i = 0; i < N; i++) {
      const leaf = decode(await env.secret(ns, `id-${i}-tls`), 'tls.crt');
      expect(() => openssl(['verify', '-CAfile', { file: pem2 }, { file: leaf }])).toThrow();
      expect(() => openssl(['verify', '-CAfile', { file: pem1 }, { file: leaf }])).toThrow();
    }
    const retired = await events('PreviousCARetired');
    expect(retired.some((e) => e.message?.includes(fp2) && e.message.includes('distrusted'))).toBe(true);
  }, 120_000);

  it('logged no reconcile errors', () => {
    const bad = env
      .operator!.logLines()
      .filter(
        (l) =>
          (l.controller === 'authority-binding' || l.controller === 'signer-trust-bundles') && Number(l.level) >= 50,
      );
    expect(bad).toEqual([]);
  });
});
