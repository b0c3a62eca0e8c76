// The validation informers against the real control plane: a Service whose EndpointSlice points at a
// Pod that mounts a certificate Secret (plus hostile addresses), an Ingress through an IngressClass
// naming its controller's Service, and a webhook configuration calling the Service. The targets are
// computed from the live projections (kwok gives the Pods their IPs), and follow changes.
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import * as k8s from '@kubernetes/client-node';
import { Registry } from 'prom-client';
import pino from 'pino';
import { sharedCluster, testNamespace } from '../harness/cluster.ts';
import { waitFor } from '../harness/processes.ts';
import { createRefSources, gatewayApiServed, type RefSources } from '../../src/inventory/ref-sources.ts';
import { createValidationSources, type ValidationSources } from '../../src/validation/sources.ts';
import { mapTargets } from '../../src/validation/targets.ts';
import type { TargetMap } from '../../src/validation/target-index.ts';

const log = pino({ level: process.env.MIO_TEST_LOG_LEVEL ?? 'silent' });
const kc = sharedCluster().kubeConfig();
const core = kc.makeApiClient(k8s.CoreV1Api);
const net = kc.makeApiClient(k8s.NetworkingV1Api);
const disc = kc.makeApiClient(k8s.DiscoveryV1Api);
const adm = kc.makeApiClient(k8s.AdmissionregistrationV1Api);
const suffix = randomBytes(3).toString('hex');
const className = `mio-val-${suffix}`;
const vwcName = `mio-val-${suffix}`;
let ns = '';
let ctlNs = '';
let refs: RefSources;
let sources: ValidationSources;
let changes = 0;

const identity = () => ({
  namespace: ns,
  name: 'web',
  secretName: 'web-tls',
  dnsNames: ['web.example.com'],
  ipAddresses: [],
});
const targets = (): TargetMap =>
  mapTargets(
    { identities: [identity()], secrets: [], ...sources.snapshot() },
    { clusterDomain: 'cluster.local', allowedCidrs: [] },
  );

async function podWithIp(namespace: string, name: string, volumes: k8s.V1Volume[]): Promise<string> {
  await core.createNamespacedPod({
    namespace,
    body: { metadata: { name }, spec: { containers: [{ name: 'c', image: 'example.invalid/tls' }], volumes } },
  });
  // kwok runs the Pod on its fake node and gives it an IP from its --cidr (status written through the status subresource)
  return waitFor(
    `${namespace}/${name} has an IP`,
    async () => (await core.readNamespacedPod({ namespace, name })).status?.podIP,
    60_000,
  );
}

async function sliceFor(
  namespace: string,
  svc: string,
  port: { name: string; port: number },
  eps: { ip: string; pod?: string; ready?: boolean }[],
): Promise<void> {
  await disc.createNamespacedEndpointSlice({
    namespace,
    body: {
      metadata: { name: `${svc}-1`, labels: { 'kubernetes.io/service-name': svc } },
      addressType: 'IPv4',
      ports: [{ ...port, protocol: 'TCP' }],
      endpoints: eps.map((e) => ({
        addresses: [e.ip],
        conditions: { ready: e.ready ?? true },
        ...(e.pod ? { targetRef: { kind: 'Pod', name: e.pod, namespace } } : {}),
      })),
    },
  });
}

let webIp = '';
let ctlIp = '';
let hostile: string[] = [];

beforeAll(async () => {
  ns = await testNamespace('val-src');
  ctlNs = await testNamespace('val-ctl');
  const registry = new Registry();
  const hasGateways = await gatewayApiServed(kc);
  refs = createRefSources({ kc, registry, logger: log, hasGateways });
  sources = createValidationSources({ kc, registry, logger: log, hasGateways, refs });
  sources.onChange(() => changes++);
  for (const i of [refs.pods, ...refs.tls, ...sources.all()]) i.start();
  await Promise.all([refs.pods, ...refs.tls, ...sources.all()].map((i) => i.synced));

  webIp = await podWithIp(ns, 'web-0', [{ name: 'tls', secret: { secretName: 'web-tls' } }]);
  ctlIp = await podWithIp(ctlNs, 'controller-0', []);
  await core.createNamespacedService({
    namespace: ns,
    body: { metadata: { name: 'web' }, spec: { ports: [{ name: 'https', port: 443, targetPort: 8443 as never }] } },
  });
  // The API server itself refuses loopback and link-local EndpointSlice addresses (the guard's unit tests
  // cover them). What a tenant can write: the API server's Service IP, another namespace's Pod IP, any
  // other address. (This plane's Service range and kwok's Pod range are both 10.0.0.0/24, so the
  // kubernetes Service IP can be a Pod's too: then it stands for nothing and TEST-NET stands in.)
  const clusterIp = (await core.readNamespacedService({ namespace: 'default', name: 'kubernetes' })).spec?.clusterIP;
  hostile = [clusterIp && clusterIp !== webIp && clusterIp !== ctlIp ? clusterIp : '192.0.2.1', ctlIp, '192.0.2.10'];
  await sliceFor(ns, 'web', { name: 'https', port: 8443 }, [
    { ip: webIp, pod: 'web-0' },
    ...hostile.map((ip) => ({ ip, pod: 'web-0' })),
    { ip: '10.0.0.250', pod: 'web-0', ready: false },
  ]);
  await core.createNamespacedService({
    namespace: ctlNs,
    body: {
      metadata: { name: 'controller' },
      spec: {
        ports: [
          { name: 'http', port: 80 },
          { name: 'https', port: 443, appProtocol: 'https' },
        ],
      },
    },
  });
  await sliceFor(ctlNs, 'controller', { name: 'https', port: 443 }, [{ ip: ctlIp, pod: 'controller-0' }]);
  await net.createIngressClass({
    body: {
      metadata: { name: className, annotations: { 'machineidentity.io/controller-service': `${ctlNs}/controller` } },
      spec: { controller: 'example.com/ingress' },
    },
  });
  await net.createNamespacedIngress({
    namespace: ns,
    body: {
      metadata: { name: 'web' },
      spec: {
        ingressClassName: className,
        tls: [{ hosts: ['web.example.com'], secretName: 'web-tls' }],
        defaultBackend: { service: { name: 'web', port: { number: 443 } } },
      },
    },
  });
  const ca = readFileSync(join(sharedCluster().dir, 'pki/ca.crt'));
  await adm.createValidatingWebhookConfiguration({
    body: {
      metadata: { name: vwcName },
      webhooks: [
        {
          name: 'web.example.com',
          admissionReviewVersions: ['v1'],
          sideEffects: 'None',
          failurePolicy: 'Ignore',
          clientConfig: { service: { namespace: ns, name: 'web', port: 443 }, caBundle: ca.toString('base64') },
          rules: [{ apiGroups: ['example.com'], apiVersions: ['v1'], operations: ['CREATE'], resources: ['nothings'] }],
        },
      ],
    },
  });
}, 180_000);

afterAll(async () => {
  await adm.deleteValidatingWebhookConfiguration({ name: vwcName }).catch(() => undefined);
  await net.deleteIngressClass({ name: className }).catch(() => undefined);
  for (const i of [refs.pods, ...refs.tls, ...sources.all()]) await i.stop();
  for (const n of [ns, ctlNs]) await core.deleteNamespace({ name: n }).catch(() => undefined);
});

describe('targets from the live informers', () => {
  it('maps the Service, the Ingress and the webhook; refuses the hostile addresses', async () => {
    const m = await waitFor(
      'three targets with addresses',
      async () => {
        const t = targets();
        return t.targets.length === 3 && t.targets.every((x) => x.addresses.length > 0) ? t : undefined;
      },
      60_000,
    );
    const ca = readFileSync(join(sharedCluster().dir, 'pki/ca.crt'), 'utf8');
    expect(m.targets.map((t) => [t.key, t.sni, t.service, t.addresses, t.caBundlePem === ca])).toEqual([
      [
        `Ingress/${ns}/web/443/web.example.com`,
        'web.example.com',
        { namespace: ctlNs, name: 'controller', port: 443 },
        [{ ip: ctlIp, port: 443, pod: `${ctlNs}/controller-0` }],
        false,
      ],
      [
        `Service/${ns}/web/443/web.example.com`,
        'web.example.com',
        { namespace: ns, name: 'web', port: 443 },
        [{ ip: webIp, port: 8443, pod: `${ns}/web-0` }],
        false,
      ],
      [
        `ValidatingWebhookConfiguration//${vwcName}/443/web.${ns}.svc`,
        `web.${ns}.svc`,
        { namespace: ns, name: 'web', port: 443 },
        [{ ip: webIp, port: 8443, pod: `${ns}/web-0` }],
        true,
      ],
    ]);
    const refused = m.unresolved.filter(
      (u) => u.reason === 'AddressRefused' && u.namespace === ns && u.source === 'Service',
    );
    expect(refused.map((u) => u.message).sort()).toEqual(
      hostile.map((ip) => `EndpointSlice ${ns}/web-1: ${ip} is not an IP of Pod ${ns}/web-0`).sort(),
    );
    expect(changes).toBeGreaterThan(0);
  });

  it('follows changes: a class without the annotation says why', async () => {
    await net.patchIngressClass(
      { name: className, body: [{ op: 'remove', path: '/metadata/annotations' }] },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.JsonPatch),
    );
    const why = await waitFor('the Ingress unmapped', async () => {
      const t = targets();
      return t.targets.some((x) => x.source === 'Ingress')
        ? undefined
        : t.unresolved.filter((u) => u.source === 'Ingress');
    });
    expect(why.map((u) => [u.reason, u.secret])).toEqual([['NoControllerService', { namespace: ns, name: 'web-tls' }]]);
  });
});
