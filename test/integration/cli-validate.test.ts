// `kubectl mi validate` against a real API server: it writes machineidentity.io/validate-requested-at with the
// caller's credentials, --wait polls until status.served.lastProbeTime reaches the request, and the exit code
// gates a pipeline. A stand-in for the validation controller answers the request by writing status.served the
// way the operator does (the prober itself is tested elsewhere).
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { sharedCluster, testNamespace } from '../harness/cluster.ts';
import { REPO_ROOT } from '../harness/control-plane.ts';
import { VALIDATE_REQUESTED_AT } from '../../src/validation/types.ts';

const GVR = { group: 'machineidentity.io', version: 'v1alpha1', plural: 'machineidentities' };
const MERGE = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [join(REPO_ROOT, 'src/cli/main.ts'), ...args, '--kubeconfig', sharedCluster().kubeconfigPath],
      { timeout: 120_000 },
      (err, stdout, stderr) =>
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    );
  });
}

interface Mi {
  metadata: { name: string; namespace: string; annotations?: Record<string, string> };
  status?: { served?: { lastProbeTime?: string } };
}

type Answer = 'current' | 'stale' | 'none' | 'silent';
const answers: Record<string, Answer> = { web: 'stale', api: 'current', lone: 'none', mute: 'silent' };

let ns = '';
let co: k8s.CustomObjectsApi;
let stop = false;
let loop: Promise<void> = Promise.resolve();
const seen: Record<string, string[]> = {};

function servedStatus(name: string, probeTime: string): object {
  const ep = (address: string, current: boolean) => ({
    source: 'Service',
    object: `${ns}/${name}`,
    address,
    port: 8443,
    sni: `${name}.${ns}.svc`,
    servedSerialNumber: current ? 'a1' : '9f',
    verdict: current ? 'Current' : 'Stale',
    ...(current ? {} : { message: 'serves serial 9f, replaced 14m ago' }),
  });
  const cond = (status: string, reason: string, message: string) => ({
    type: 'Served',
    status,
    reason,
    message,
    lastTransitionTime: probeTime,
  });
  switch (answers[name]) {
    case 'stale':
      return {
        serialNumber: 'a1',
        conditions: [cond('False', 'ServingStaleCertificate', `1 of 2 endpoints of Service ${name} still serve 9f`)],
        served: {
          lastProbeTime: probeTime,
          endpointCount: 2,
          endpoints: [ep('10.0.0.2', false), ep('10.0.0.1', true)],
        },
      };
    case 'current':
      return {
        serialNumber: 'a1',
        conditions: [cond('True', 'ServingCurrentCertificate', 'every endpoint serves a1')],
        served: { lastProbeTime: probeTime, endpointCount: 1, endpoints: [ep('10.0.0.1', true)] },
      };
    default:
      return {
        serialNumber: 'a1',
        conditions: [cond('Unknown', 'NoEndpoints', 'nothing serves lone-tls')],
        served: { lastProbeTime: probeTime, endpointCount: 0 },
      };
  }
}

/** The stand-in controller: probe (write status) when the request is newer than the last probe. */
async function answerRequests(): Promise<void> {
  while (!stop) {
    const list = (await co.listNamespacedCustomObject({ ...GVR, namespace: ns })) as { items: Mi[] };
    for (const mi of list.items) {
      const req = mi.metadata.annotations?.[VALIDATE_REQUESTED_AT];
      const last = mi.status?.served?.lastProbeTime;
      if (!req || answers[mi.metadata.name] === 'silent' || (last && Date.parse(last) >= Date.parse(req))) continue;
      (seen[mi.metadata.name] ??= []).push(req);
      // second precision like metav1.Time; a probe takes a moment
      const probeTime = new Date(Math.max(Date.now(), Date.parse(req))).toISOString().replace(/\.\d+Z$/, 'Z');
      await co.patchNamespacedCustomObjectStatus(
        { ...GVR, namespace: ns, name: mi.metadata.name, body: { status: servedStatus(mi.metadata.name, probeTime) } },
        MERGE,
      );
    }
    await new Promise((r) => setTimeout(r, 300));
  }
}

beforeAll(async () => {
  ns = await testNamespace('clival');
  co = sharedCluster().kubeConfig().makeApiClient(k8s.CustomObjectsApi);
  for (const name of Object.keys(answers))
    await co.createNamespacedCustomObject({
      ...GVR,
      namespace: ns,
      body: {
        apiVersion: 'machineidentity.io/v1alpha1',
        kind: 'MachineIdentity',
        metadata: { name },
        spec: { secretName: `${name}-tls`, authorityRef: { name: 'none' }, dnsNames: [`${name}.${ns}.svc`] },
      },
    });
  loop = answerRequests();
}, 60_000);

afterAll(async () => {
  stop = true;
  await loop;
});

describe('kubectl mi validate', () => {
  it('--wait on a stale identity: annotates it, waits for the probe, prints the endpoints, exit 1', async () => {
    const t0 = Date.now();
    const r = await cli(['validate', 'web', '-n', ns, '--wait', '--timeout', '30s']);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 1, stderr: '' });
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^NAMESPACE +IDENTITY +ENDPOINT +SNI +SERVED SERIAL +CURRENT SERIAL +VERDICT$/);
    expect(lines.slice(1)).toEqual([
      expect.stringMatching(
        new RegExp(`^${ns} +web +Service ${ns}/web 10\\.0\\.0\\.2:8443 +web\\.${ns}\\.svc +9f +a1 +Stale$`),
      ),
      expect.stringMatching(/ 10\.0\.0\.1:8443 .* a1 +a1 +Current$/),
    ]);
    const mi = (await co.getNamespacedCustomObject({ ...GVR, namespace: ns, name: 'web' })) as Mi;
    const req = mi.metadata.annotations?.[VALIDATE_REQUESTED_AT] ?? '';
    expect(req).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(Date.parse(req)).toBeGreaterThanOrEqual(t0 - 1000);
    expect(seen.web).toContain(req);
  }, 60_000);

  it('-o json for the namespace: a row for every identity; one never probed makes --wait time out, exit 3', async () => {
    const r = await cli(['validate', '-n', ns, '--wait', '--timeout', '5s', '-o', 'json']);
    // mute never answers: the wait times out and names it
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(`error: timed out after 5s waiting for a probe of: ${ns}/mute`);
    const out = JSON.parse(r.stdout) as {
      requestedAt: string;
      waited: boolean;
      exitCode: number;
      notProbed: string[];
      rows: { identity: string; verdict: string; endpoint: string }[];
    };
    expect(out).toMatchObject({ waited: true, exitCode: 3, notProbed: [`${ns}/mute`] });
    const byIdentity = Object.fromEntries(out.rows.map((x) => [`${x.identity} ${x.endpoint}`, x.verdict]));
    expect(byIdentity).toMatchObject({
      [`api Service ${ns}/api 10.0.0.1:8443`]: 'Current',
      'lone ': 'NoEndpoints',
      [`web Service ${ns}/web 10.0.0.2:8443`]: 'Stale',
      'mute ': 'NotValidated',
    });
  }, 90_000);

  it('exit 0 for a current identity; without --wait it only asks', async () => {
    expect((await cli(['validate', 'api', '-n', ns, '--wait', '--timeout', '30s'])).code).toBe(0);
    const quick = await cli(['validate', 'mute', '-n', ns]);
    expect(quick.code).toBe(0);
    expect(quick.stderr).toContain('warning: ');
  }, 60_000);

  it.each([
    [['validate', '-A', 'web']],
    [['validate', '-A', '-n', 'x']],
    [['validate', 'a', 'b']],
    [['validate', '-o', 'yaml']],
    [['validate', '--timeout', 'soon']],
    [['validate', '--bogus']],
  ])('usage error %j: exit 2', async (args) => {
    const r = await cli(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: /);
  });

  it('an identity that does not exist: exit 1, nothing written', async () => {
    const r = await cli(['validate', 'nope', '-n', ns]);
    expect(r).toMatchObject({ code: 1, stderr: `error: MachineIdentity ${ns}/nope not found\n` });
  });
});
