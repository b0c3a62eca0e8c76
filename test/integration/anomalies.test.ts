// Acceptance (#16 item 4, inventory side) on the real control plane: a managed identity's tls.crt and
// tls.key copied into a Secret of a second namespace raise KeyCopied and KeyReuse (Events, the
// machine_identity_anomalies gauge, `kubectl mi inventory`); the same copy in a namespace whose
// cluster admin muted anomalies is listed muted, without Event or series; an identity renewed more
// often than MIO_VALIDATION_REISSUE_LOOP_THRESHOLD within the hour is a ReissueLoop.
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { sharedCluster, testNamespace } from '../harness/cluster.ts';
import { REPO_ROOT } from '../harness/control-plane.ts';
import { IssuanceEnv, MI } from '../harness/identities.ts';
import { sleep, waitFor } from '../harness/processes.ts';

const MERGE = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);
const env = new IssuanceEnv();
let home = '';
let other = '';
let quiet = '';
let ca = '';

interface Row {
  namespace: string;
  kind: string;
  name: string;
  key: string;
  identity?: string;
  anomalies: { anomaly: string; message: string; muted?: boolean; muteReason?: string }[];
}

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [join(REPO_ROOT, 'src/cli/main.ts'), ...args, '--kubeconfig', sharedCluster().kubeconfigPath],
      { timeout: 120_000, maxBuffer: 64 << 20 },
      (err, stdout, stderr) =>
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    );
  });
}

async function events(namespace: string, name: string, reason: string): Promise<k8s.CoreV1Event[]> {
  const l = await env.core.listNamespacedEvent({
    namespace,
    fieldSelector: `involvedObject.name=${name},reason=${reason}`,
  });
  return l.items;
}

const gauge = (anomaly: string, namespace: string, kind: string, name: string): Promise<number | undefined> =>
  env.operator!.metric('machine_identity_anomalies', { anomaly, namespace, kind, name });

beforeAll(async () => {
  home = await testNamespace('anom-home');
  other = await testNamespace('anom-other');
  quiet = await testNamespace('anom-quiet');
  await env.core.patchNamespace(
    {
      name: quiet,
      body: {
        metadata: {
          annotations: {
            'machineidentity.io/mute-anomalies': 'KeyReuse,KeyCopied',
            'machineidentity.io/mute-reason': 'break-glass copy, ticket SEC-42',
          },
        },
      },
    },
    MERGE,
  );
  await env.start({ MIO_VALIDATION_REISSUE_LOOP_THRESHOLD: '3' });
  ca = env.uniqueName('anom-ca');
  await env.createBinding(ca, { ca: { secretRef: { name: ca }, generate: { commonName: 'Anomalies CA' } } });
  await env.bindingReady(ca);
  for (const name of ['web', 'loop'])
    await env.createIdentity(home, name, {
      secretName: `${name}-tls`,
      authorityRef: { name: ca },
      dnsNames: [`${name}.${home}.svc`],
    });
  await env.ready(home, 'web');
  await env.ready(home, 'loop');
}, 120_000);

afterAll(async () => {
  await env.stop();
});

describe('a managed key copied out of its Secret', () => {
  beforeAll(async () => {
    const managed = await env.secret(home, 'web-tls');
    const data = { 'tls.crt': managed.data?.['tls.crt'] ?? '', 'tls.key': managed.data?.['tls.key'] ?? '' };
    // the muted copy first: when the unmuted copy's Events exist, the rebuild that saw the muted one is done
    await env.core.createNamespacedSecret({
      namespace: quiet,
      body: { metadata: { name: 'copy' }, type: 'kubernetes.io/tls', data },
    });
    await sleep(3000);
    await env.core.createNamespacedSecret({
      namespace: other,
      body: {
        // a tenant's own annotation on its Secret mutes nothing (only the Namespace's count)
        metadata: { name: 'copy', annotations: { 'machineidentity.io/mute-anomalies': '*' } },
        type: 'kubernetes.io/tls',
        data,
      },
    });
  }, 30_000);

  it('raises KeyCopied and KeyReuse Events that name both places, and the gauge', async () => {
    const [copied] = await waitFor(
      'KeyCopied event',
      async () => {
        const l = await events(other, 'copy', 'KeyCopied');
        return l.length ? l : undefined;
      },
      60_000,
      500,
    );
    expect(copied?.type).toBe('Warning');
    expect(copied?.message).toContain(`MachineIdentity ${home}/web (Secret ${home}/web-tls)`);
    const [reuse] = await waitFor(
      'KeyReuse event',
      async () => {
        const l = await events(other, 'copy', 'KeyReuse');
        return l.length ? l : undefined;
      },
      30_000,
      500,
    );
    expect(reuse?.message).toContain(`Secret ${other}/copy`);
    expect(reuse?.message).toContain(`Secret ${home}/web-tls`);
    expect(reuse?.message).not.toMatch(/PRIVATE|BEGIN/);
    const [homeReuse] = await waitFor(
      'KeyReuse event on the managed Secret',
      async () => {
        const l = await events(home, 'web-tls', 'KeyReuse');
        return l.length ? l : undefined;
      },
      30_000,
      500,
    );
    // announced when the first copy appeared (the managed Secret's namespace is not muted): it names a copy
    expect(homeReuse?.message).toMatch(
      new RegExp(
        `Secret ${home}/web-tls holds public key SHA256 [0-9A-F:]+…, which is also in Secret (${other}|${quiet})/copy`,
      ),
    );
    expect(await gauge('KeyCopied', other, 'Secret', 'copy')).toBe(1);
    expect(await gauge('KeyReuse', other, 'Secret', 'copy')).toBe(1);
    expect(await gauge('KeyReuse', home, 'Secret', 'web-tls')).toBe(1);
    // the managed Secret itself is not a copy
    expect(await gauge('KeyCopied', home, 'Secret', 'web-tls')).toBeUndefined();
  }, 120_000);

  it('in a muted namespace: no Event and no series, but listed muted with the reason', async () => {
    await waitFor(
      'KeyCopied series of the unmuted copy',
      async () => (await gauge('KeyCopied', other, 'Secret', 'copy')) === 1,
      60_000,
      500,
    );
    expect(await events(quiet, 'copy', 'KeyCopied')).toEqual([]);
    expect(await events(quiet, 'copy', 'KeyReuse')).toEqual([]);
    expect(await gauge('KeyCopied', quiet, 'Secret', 'copy')).toBeUndefined();
    expect(await gauge('KeyReuse', quiet, 'Secret', 'copy')).toBeUndefined();
    const out = await cli(['inventory', '-A', '-o', 'json']);
    expect(out.code).toBe(0);
    const rows = (JSON.parse(out.stdout) as { certificates: Row[] }).certificates;
    const at = (ns: string, name: string): Row | undefined =>
      rows.find((r) => r.namespace === ns && r.name === name && r.key === 'tls.crt');
    expect(at(quiet, 'copy')?.anomalies).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ anomaly: 'KeyCopied', muted: true, muteReason: 'break-glass copy, ticket SEC-42' }),
        expect.objectContaining({ anomaly: 'KeyReuse', muted: true }),
      ]),
    );
    expect(
      at(other, 'copy')
        ?.anomalies.map((a) => [a.anomaly, a.muted ?? false])
        .sort(),
    ).toEqual([
      ['KeyCopied', false],
      ['KeyReuse', false],
    ]);
    expect(at(home, 'web-tls')?.anomalies.map((a) => a.anomaly)).toEqual(['KeyReuse']);
    const table = (await cli(['inventory', '-n', other])).stdout;
    expect(table).toMatch(/ANOMALIES/);
  }, 120_000);

  it('the findings go with the copies', async () => {
    await env.core.deleteNamespacedSecret({ namespace: other, name: 'copy' });
    await env.core.deleteNamespacedSecret({ namespace: quiet, name: 'copy' });
    await waitFor(
      'series gone',
      async () => (await gauge('KeyCopied', other, 'Secret', 'copy')) === undefined,
      60_000,
      500,
    );
    expect(await gauge('KeyReuse', home, 'Secret', 'web-tls')).toBeUndefined();
  }, 90_000);
});

describe('a reissue loop', () => {
  it('an identity issued more than the threshold (3) times within the hour: ReissueLoop Event and series', async () => {
    for (let rev = 2; rev <= 4; rev++) {
      await env.co.patchNamespacedCustomObject(
        {
          ...MI,
          namespace: home,
          name: 'loop',
          body: { metadata: { annotations: { 'machineidentity.io/renew-requested-at': new Date().toISOString() } } },
        },
        MERGE,
      );
      await env.ready(home, 'loop', rev);
      await sleep(1100); // the next request must be later than this issuance (seconds in the record)
    }
    const [ev] = await waitFor(
      'ReissueLoop event',
      async () => {
        const l = await events(home, 'loop', 'ReissueLoop');
        return l.length ? l : undefined;
      },
      30_000,
      500,
    );
    expect(ev?.involvedObject.kind).toBe('MachineIdentity');
    expect(ev?.message).toMatch(/issued at least 4 times in the last hour \(more than 3\)/);
    expect(await gauge('ReissueLoop', home, 'MachineIdentity', 'loop')).toBe(1);
    // the identity that was issued once is no loop
    expect(await gauge('ReissueLoop', home, 'MachineIdentity', 'web')).toBeUndefined();
  }, 120_000);
});
