// The validation controller on the real control plane, without pods: an Ingress's TLS Secret is probed
// through its ingress controller's Service (an IngressClass annotated machineidentity.io/controller-service,
// whose EndpointSlice points at a TLS listener in a network namespace this test creates (test/harness/tls-farm.ts),
// allowed by MIO_VALIDATION_ALLOWED_CIDRS, the cluster-admin value). The real-node test does it with real pods.
// Covered: Served=True with status.served, a renewal the server does not pick up turning Served=False
// ServingStaleCertificate (with its Event, metrics and `kubectl mi validate` exiting 1), the server reloading
// and `kubectl mi validate --wait` answering 0, a hostile EndpointSlice address never dialled, and a restart
// of the operator writing nothing.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { sharedCluster, testNamespace } from '../harness/cluster.ts';
import { REPO_ROOT } from '../harness/control-plane.ts';
import { IssuanceEnv, MI, type Identity } from '../harness/identities.ts';
import { waitFor } from '../harness/processes.ts';
import { makePki, type Pem } from '../harness/pki.ts';
import { FARM_RANGE, startFarm, type TlsFarm } from '../harness/tls-farm.ts';

const MERGE = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);
const env = new IssuanceEnv();
const net = sharedCluster().kubeConfig().makeApiClient(k8s.NetworkingV1Api);
const disco = sharedCluster().kubeConfig().makeApiClient(k8s.DiscoveryV1Api);
let ns = '';
let ctrlNs = '';
let ca = '';
let cls = '';
let hostileCls = '';
let farm: TlsFarm;
let fallback: Pem;
/** An Ingress host the namespace owns by default (the safe defaults refuse foreign names). */
let HOST = '';

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

const served = (mi: Identity) => mi.status?.conditions?.find((c) => c.type === 'Served');

async function waitServed(name: string, reason: string, timeoutMs = 60_000): Promise<Identity> {
  let last = '';
  try {
    return await waitFor(
      `${name} Served ${reason}`,
      async () => {
        const mi = await env.identity(ns, name);
        const c = served(mi);
        last = c ? `${c.status} ${c.reason}: ${c.message}` : 'no Served condition';
        return c?.reason === reason ? mi : undefined;
      },
      timeoutMs,
      500,
    );
  } catch (e) {
    throw new Error(`${(e as Error).message} (last: ${last}); operator: ${env.operator?.trouble() ?? ''}`);
  }
}

async function controllerService(namespace: string, name: string, addresses: string[], port: number): Promise<void> {
  await env.core.createNamespacedService({
    namespace,
    body: { metadata: { name }, spec: { ports: [{ name: 'https', port: 443, targetPort: port }] } },
  });
  await disco.createNamespacedEndpointSlice({
    namespace,
    body: {
      metadata: { name: `${name}-1`, labels: { 'kubernetes.io/service-name': name } },
      addressType: 'IPv4',
      ports: [{ name: 'https', port, protocol: 'TCP' }],
      endpoints: addresses.map((a) => ({ addresses: [a], conditions: { ready: true } })),
    },
  });
}

async function ingressClass(name: string, service: string): Promise<void> {
  await net.createIngressClass({
    body: {
      metadata: { name, annotations: { 'machineidentity.io/controller-service': service } },
      spec: { controller: 'example.test/stand-in' },
    },
  });
}

async function ingress(name: string, className: string, secretName: string, host: string): Promise<void> {
  await net.createNamespacedIngress({
    namespace: ns,
    body: {
      metadata: { name },
      spec: {
        ingressClassName: className,
        tls: [{ hosts: [host], secretName }],
        defaultBackend: { service: { name: 'backend', port: { number: 80 } } },
      },
    },
  });
}

async function secretPair(name: string): Promise<{ cert: string; key: string }> {
  const s = await env.secret(ns, name);
  return {
    cert: Buffer.from(s.data?.['tls.crt'] ?? '', 'base64').toString(),
    key: Buffer.from(s.data?.['tls.key'] ?? '', 'base64').toString(),
  };
}

beforeAll(async () => {
  ns = await testNamespace('val');
  HOST = `web.${ns}.svc`;
  ctrlNs = await testNamespace('val-ctrl');
  // the ingress "controller": the farm's TLS listener in a network namespace of this test, answering on
  // 10.250.0.1; it serves a throwaway certificate until the test hands it the identity's
  fallback = await (await makePki()).serving(['fallback.invalid']);
  farm = await startFarm({ count: 1, certs: { default: fallback } });
  await controllerService(ctrlNs, 'stand-in', [farm.addresses[0] ?? ''], farm.port);
  // outside the allowed range and no Pod behind it: the prober must not dial it (the API server itself
  // already refuses loopback and link-local EndpointSlice addresses)
  await controllerService(ctrlNs, 'hostile', ['10.250.16.1'], farm.port);
  cls = env.uniqueName('val-class');
  hostileCls = env.uniqueName('val-hostile');
  await ingressClass(cls, `${ctrlNs}/stand-in`);
  await ingressClass(hostileCls, `${ctrlNs}/hostile`);
  await env.start({
    MIO_VALIDATION_ALLOWED_CIDRS: FARM_RANGE,
    MIO_VALIDATION_STALE_GRACE: '2s',
  });
  ca = env.uniqueName('val-ca');
  await env.createBinding(ca, { ca: { secretRef: { name: ca }, generate: { commonName: 'Validation CA' } } });
  await env.bindingReady(ca);
  for (const name of ['web', 'lb', 'lonely'])
    await env.createIdentity(ns, name, {
      secretName: `${name}-tls`,
      authorityRef: { name: ca },
      dnsNames: [name === 'web' ? HOST : `${name}.${ns}.svc`],
    });
  await ingress('web', cls, 'web-tls', HOST);
  await ingress('lb', hostileCls, 'lb-tls', `lb.${ns}.svc`);
  await env.ready(ns, 'web');
  await farm.setCertificates({ default: fallback, byName: { [HOST]: await secretPair('web-tls') } });
}, 120_000);

afterAll(async () => {
  await env.stop();
  await farm?.stop();
  for (const c of [cls, hostileCls]) await net.deleteIngressClass({ name: c }).catch(() => undefined);
});

describe('an Ingress TLS Secret probed through its controller Service', () => {
  it('Served=True once the controller serves the current certificate, with the endpoint in status.served', async () => {
    const mi = await waitServed('web', 'ServingCurrentCertificate');
    const s = mi.status?.served as { endpoints: Record<string, unknown>[]; lastProbeTime: string };
    expect(s.endpoints).toEqual([
      expect.objectContaining({
        source: 'Ingress',
        object: `${ns}/web`,
        address: farm.addresses[0],
        sni: HOST,
        verdict: 'Current',
        servedSerialNumber: mi.status?.serialNumber,
      }),
    ]);
    expect(
      await env.operator?.metric('machine_identity_endpoint_serving_current', { namespace: ns, name: 'web' }),
    ).toBe(1);
  }, 90_000);

  it('a renewal the controller does not pick up: Served=False ServingStaleCertificate, an Event, validate exits 1', async () => {
    const before = await env.identity(ns, 'web');
    await env.co.patchNamespacedCustomObject(
      {
        ...MI,
        namespace: ns,
        name: 'web',
        body: { metadata: { annotations: { 'machineidentity.io/renew-requested-at': new Date().toISOString() } } },
      },
      MERGE,
    );
    await env.ready(ns, 'web', (before.status?.revision ?? 1) + 1);
    const mi = await waitServed('web', 'ServingStaleCertificate');
    expect(served(mi)?.status).toBe('False');
    expect(served(mi)?.message).toContain(`1 of 1 endpoint of Ingress ${ns}/web: serves serial`);
    const events = await env.core.listNamespacedEvent({
      namespace: ns,
      fieldSelector: 'involvedObject.name=web,reason=ServingStaleCertificate',
    });
    expect(events.items.length).toBeGreaterThan(0);
    expect(
      await env.operator?.metric('machine_identity_endpoint_serving_current', { namespace: ns, name: 'web' }),
    ).toBe(0);
    const r = await cli(['validate', 'web', '-n', ns]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('Stale');
  }, 90_000);

  it('the controller reloads: kubectl mi validate --wait probes now, Served=True, exit 0', async () => {
    await farm.setCertificates({ default: fallback, byName: { [HOST]: await secretPair('web-tls') } });
    const r = await cli(['validate', 'web', '-n', ns, '--wait', '--timeout', '60s']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Current');
    expect(served(await env.identity(ns, 'web'))?.reason).toBe('ServingCurrentCertificate');
  }, 90_000);
});

describe('a Secret no MachineIdentity manages', () => {
  it('is validated too: a Warning Event on the Secret, the endpoint metrics and the served anomalies', async () => {
    const host = `plain.${ns}.svc`;
    const pair = await (await makePki()).serving([host]);
    await env.core.createNamespacedSecret({
      namespace: ns,
      body: {
        metadata: { name: 'plain-tls' },
        type: 'kubernetes.io/tls',
        data: {
          'tls.crt': Buffer.from(pair.cert).toString('base64'),
          'tls.key': Buffer.from(pair.key).toString('base64'),
        },
      },
    });
    await ingress('plain', cls, 'plain-tls', host);
    // the farm does not know the host: it serves its fallback certificate, which covers another name and
    // which no Secret holds and no known CA issued
    const [event] = await waitFor(
      'ServingStaleCertificate Event on the Secret',
      async () => {
        const l = await env.core.listNamespacedEvent({
          namespace: ns,
          fieldSelector: 'involvedObject.kind=Secret,involvedObject.name=plain-tls,reason=ServingStaleCertificate',
        });
        return l.items.length ? l.items : undefined;
      },
      60_000,
      1000,
    );
    expect(event?.type).toBe('Warning');
    expect(
      await env.operator?.metric('machine_identity_endpoint_serving_current', { namespace: ns, name: 'plain-tls' }),
    ).toBe(0);
    for (const anomaly of ['UnknownCertificate', 'UnknownAuthority', 'NameMismatch'])
      expect(
        await waitFor(
          `${anomaly} on Ingress ${ns}/plain`,
          () =>
            env.operator?.metric('machine_identity_anomalies', {
              anomaly,
              namespace: ns,
              kind: 'Ingress',
              name: 'plain',
            }) ?? Promise.resolve(undefined),
          30_000,
          1000,
        ),
      ).toBe(1);
  }, 120_000);
});

describe('boundaries', () => {
  it('an EndpointSlice address outside the allowed CIDRs (a metadata address) is never dialled: NoEndpoints says why', async () => {
    await env.ready(ns, 'lb');
    const mi = await waitServed('lb', 'NoEndpoints');
    expect(served(mi)?.message).toContain('10.250.16.1');
  }, 90_000);

  it('nothing references the Secret: Served=Unknown NoEndpoints', async () => {
    await env.ready(ns, 'lonely');
    const mi = await waitServed('lonely', 'NoEndpoints');
    expect(served(mi)?.status).toBe('Unknown');
  }, 90_000);

  it('a restarted operator writes no Served status for what did not change', async () => {
    const validationWrite = (mi: Identity): string | undefined =>
      mi.metadata.managedFields?.find((f) => f.manager === 'mio-validation')?.time?.toString();
    const before = await env.identity(ns, 'web');
    await env.restart({ MIO_VALIDATION_ALLOWED_CIDRS: FARM_RANGE, MIO_VALIDATION_STALE_GRACE: '2s' });
    await new Promise((r) => setTimeout(r, 20_000));
    const after = await env.identity(ns, 'web');
    expect(served(after)).toEqual(served(before));
    expect(after.status?.served).toEqual(before.status?.served);
    expect(validationWrite(after)).toBe(validationWrite(before));
  }, 90_000);
});
