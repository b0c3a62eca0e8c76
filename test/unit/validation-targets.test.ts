// Where each certificate should be served (DESIGN16 "B targets"): the projections the informers keep,
// and the pure mapping from them to ServeTargets, with what could not be mapped and why.
import { describe, it, expect } from '@jest/globals';
import { readFileSync } from 'node:fs';
import type * as k8s from '@kubernetes/client-node';
import { gatewayRefs, ingressRefs, podRefs } from '../../src/inventory/refs.ts';
import {
  apiServiceRef,
  classRef,
  MAX_CA_BUNDLE_CHARS,
  serviceRef,
  sliceRef,
  webhookRef,
  type ServiceCall,
} from '../../src/validation/projections.ts';
import { discoveredSecrets, ownWebhookServing } from '../../src/validation/target-inputs.ts';
import { mapTargets, serveTargets, targetsBySecret, unresolvedBySecret } from '../../src/validation/targets.ts';
import type {
  KnownServing,
  TargetIdentity,
  TargetInput,
  TargetOptions,
  UnresolvedReason,
} from '../../src/validation/target-index.ts';
import { covers, hostSni, serviceSni } from '../../src/validation/sni.ts';
import type { InventoryObject } from '../../src/inventory/model.ts';
import type { CertRecord } from '../../src/inventory/cert-record.ts';

const PEM = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
const b64 = (s: string): string => Buffer.from(s).toString('base64');
const OPTS: TargetOptions = { clusterDomain: 'cluster.local', allowedCidrs: [] };

// ---- object builders (the shapes the API server returns) ----
function pod(
  namespace: string,
  name: string,
  ip: string,
  o: { volumes?: k8s.V1Volume[]; env?: string[]; hostNetwork?: boolean; phase?: string } = {},
): k8s.V1Pod {
  return {
    metadata: {
      namespace,
      name,
      labels: { 'pod-template-hash': 'abc' },
      ownerReferences: [
        { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: `${name.split('-')[0]}-abc`, uid: 'u', controller: true },
      ],
    },
    spec: {
      ...(o.hostNetwork ? { hostNetwork: true } : {}),
      containers: [
        {
          name: 'c',
          env: (o.env ?? []).map((s) => ({ name: 'X', valueFrom: { secretKeyRef: { name: s, key: 'tls.crt' } } })),
        },
      ],
      volumes: o.volumes ?? [],
    },
    status: { phase: o.phase ?? 'Running', podIP: ip, podIPs: [{ ip }] },
  };
}
const secretVol = (secretName: string): k8s.V1Volume => ({ name: secretName, secret: { secretName } });
const projectedVol = (name: string): k8s.V1Volume => ({
  name: `p-${name}`,
  projected: { sources: [{ secret: { name } }] },
});

function service(
  namespace: string,
  name: string,
  ports: k8s.V1ServicePort[],
  annotations: Record<string, string> = {},
): k8s.V1Service {
  return { metadata: { namespace, name, annotations }, spec: { ports } };
}
interface Ep {
  ip: string;
  pod?: string;
  podNs?: string;
  ready?: boolean | null;
}
function slice(
  namespace: string,
  svc: string,
  ports: { name?: string; port: number }[],
  eps: Ep[],
  name = `${svc}-x1`,
): k8s.V1EndpointSlice {
  return {
    metadata: { namespace, name, labels: { 'kubernetes.io/service-name': svc } },
    addressType: 'IPv4',
    ports: ports.map((p) => ({ ...(p.name !== undefined ? { name: p.name } : {}), port: p.port, protocol: 'TCP' })),
    endpoints: eps.map((e) => ({
      addresses: [e.ip],
      ...(e.ready === null ? {} : { conditions: { ready: e.ready ?? true } }),
      ...(e.pod ? { targetRef: { kind: 'Pod', name: e.pod, ...(e.podNs ? { namespace: e.podNs } : {}) } } : {}),
    })),
  };
}
const klass = (name: string, ann: Record<string, string>): k8s.KubernetesObject => ({
  metadata: { name, annotations: ann },
});

interface World {
  pods?: k8s.V1Pod[];
  services?: k8s.V1Service[];
  slices?: k8s.V1EndpointSlice[];
  ingresses?: k8s.V1Ingress[];
  gateways?: Parameters<typeof gatewayRefs>[0][];
  ingressClasses?: k8s.KubernetesObject[];
  gatewayClasses?: k8s.KubernetesObject[];
  vwcs?: Parameters<typeof webhookRef>[1][];
  apiServices?: Parameters<typeof apiServiceRef>[0][];
  identities?: TargetInput['identities'];
  secrets?: TargetInput['secrets'];
}
const WEB: TargetIdentity = {
  namespace: 'web',
  name: 'web',
  secretName: 'web-tls',
  dnsNames: ['web.example.com'],
  ipAddresses: [],
};
const input = (w: World): TargetInput => ({
  identities: w.identities ?? [WEB],
  secrets: w.secrets ?? [],
  pods: (w.pods ?? []).map(podRefs),
  tls: [...(w.ingresses ?? []).map(ingressRefs), ...(w.gateways ?? []).map(gatewayRefs)],
  services: (w.services ?? []).map(serviceRef),
  slices: (w.slices ?? []).map(sliceRef),
  ingressClasses: (w.ingressClasses ?? []).map((c) => classRef('IngressClass', c)),
  gatewayClasses: (w.gatewayClasses ?? []).map((c) => classRef('GatewayClass', c)),
  webhooks: [
    ...(w.vwcs ?? []).map((v) => webhookRef('ValidatingWebhookConfiguration', v)),
    ...(w.apiServices ?? []).map(apiServiceRef),
  ],
});

// ---- a namespace `web` with two pods serving web-tls behind Service web ----
const webPods = [
  pod('web', 'web-0', '10.0.0.5', { volumes: [secretVol('web-tls')] }),
  pod('web', 'web-1', '10.0.0.6', { volumes: [projectedVol('web-tls')] }),
];
const webSvc = service('web', 'web', [
  { name: 'https', port: 443, targetPort: 8443 as never },
  { name: 'http', port: 80 },
]);
const webSlice = (eps: Ep[]) =>
  slice(
    'web',
    'web',
    [
      { name: 'https', port: 8443 },
      { name: 'http', port: 8080 },
    ],
    eps,
  );
const base = (over: World = {}): World => ({
  pods: webPods,
  services: [webSvc],
  slices: [
    webSlice([
      { ip: '10.0.0.5', pod: 'web-0' },
      { ip: '10.0.0.6', pod: 'web-1' },
    ]),
  ],
  ...over,
});
const addrs = (w: World, opts: TargetOptions = OPTS) =>
  serveTargets(input(w), opts).map((t) => [t.key, t.addresses.map((a) => `${a.ip}:${a.port}`)]);

describe('Services whose pods mount the Secret', () => {
  it('one target per TLS port, SNI the first DNS name, both mounts (volume, projected) count', () => {
    const [t, ...rest] = serveTargets(input(base()), OPTS);
    expect(rest).toEqual([]);
    expect(t).toEqual({
      key: 'Service/web/web/443/web.example.com',
      source: 'Service',
      namespace: 'web',
      name: 'web',
      secret: { namespace: 'web', name: 'web-tls' },
      sni: 'web.example.com',
      service: { namespace: 'web', name: 'web', port: 443 },
      addresses: [
        { ip: '10.0.0.5', port: 8443, pod: 'web/web-0', workload: 'Deployment/web' },
        { ip: '10.0.0.6', port: 8443, pod: 'web/web-1', workload: 'Deployment/web' },
      ],
    });
  });

  it.each<{ name: string; world: World; opts?: TargetOptions; want: unknown }>([
    {
      name: 'env-only references are ignored',
      world: base({
        pods: [
          pod('web', 'web-0', '10.0.0.5', { env: ['web-tls'] }),
          pod('web', 'web-1', '10.0.0.6', { env: ['web-tls'] }),
        ],
      }),
      want: [],
    },
    {
      name: 'a not-ready endpoint is skipped (nil ready counts as ready)',
      world: base({
        slices: [
          webSlice([
            { ip: '10.0.0.5', pod: 'web-0', ready: false },
            { ip: '10.0.0.6', pod: 'web-1', ready: null },
          ]),
        ],
      }),
      want: [['Service/web/web/443/web.example.com', ['10.0.0.6:8443']]],
    },
    {
      name: 'all endpoints not ready: the target stays, with no address',
      world: base({ slices: [webSlice([{ ip: '10.0.0.5', pod: 'web-0', ready: false }])] }),
      want: [['Service/web/web/443/web.example.com', []]],
    },
    {
      name: 'only the pods that mount the Secret give addresses',
      world: base({
        pods: [webPods[0]!, pod('web', 'web-1', '10.0.0.6', { volumes: [secretVol('other')] })],
      }),
      want: [['Service/web/web/443/web.example.com', ['10.0.0.5:8443']]],
    },
    {
      name: 'pods of another namespace (a slice naming them) neither map nor dial',
      world: base({
        pods: [...webPods, pod('other', 'db-0', '10.0.0.9', { volumes: [secretVol('web-tls')] })],
        slices: [webSlice([{ ip: '10.0.0.9', pod: 'db-0', podNs: 'other' }])],
      }),
      want: [],
    },
    {
      name: 'a Service without a TLS port has no target',
      world: base({ services: [service('web', 'web', [{ name: 'http', port: 80 }])] }),
      want: [],
    },
    {
      name: 'the tls-ports annotation makes a port TLS',
      world: base({
        services: [service('web', 'web', [{ name: 'admin', port: 9443 }], { 'machineidentity.io/tls-ports': 'admin' })],
        slices: [slice('web', 'web', [{ name: 'admin', port: 9443 }], [{ ip: '10.0.0.5', pod: 'web-0' }])],
      }),
      want: [['Service/web/web/9443/web.example.com', ['10.0.0.5:9443']]],
    },
    {
      name: 'an ExternalName Service is never mapped',
      world: base({
        services: [{ ...webSvc, spec: { ...webSvc.spec, type: 'ExternalName', externalName: 'evil.example' } }],
      }),
      want: [],
    },
    {
      name: 'an FQDN EndpointSlice is never dialled',
      world: base({ slices: [{ ...webSlice([{ ip: 'evil.example', pod: 'web-0' }]), addressType: 'FQDN' }] }),
      want: [],
    },
    {
      name: 'a finished pod keeps no IP: its endpoint is refused',
      world: base({
        pods: [pod('web', 'web-0', '10.0.0.5', { volumes: [secretVol('web-tls')], phase: 'Succeeded' })],
        slices: [webSlice([{ ip: '10.0.0.5', pod: 'web-0' }])],
      }),
      want: [['Service/web/web/443/web.example.com', []]],
    },
    {
      name: "a hostNetwork pod's IP (the node's) is refused",
      world: base({
        pods: [pod('web', 'web-0', '192.168.1.4', { volumes: [secretVol('web-tls')], hostNetwork: true })],
        slices: [webSlice([{ ip: '192.168.1.4', pod: 'web-0' }])],
      }),
      want: [['Service/web/web/443/web.example.com', []]],
    },
    {
      name: 'an allowed CIDR lets an address through that no pod owns',
      world: base({
        slices: [
          webSlice([
            { ip: '10.200.0.1', pod: 'web-0' },
            { ip: '10.201.0.1', pod: 'web-1' },
          ]),
        ],
      }),
      opts: { ...OPTS, allowedCidrs: ['10.200.0.0/16'] },
      want: [['Service/web/web/443/web.example.com', ['10.200.0.1:8443']]],
    },
    {
      name: 'a client certificate (no serverAuth) is not expected to be served',
      world: base({
        identities: [],
        secrets: [{ namespace: 'web', name: 'web-tls', dnsNames: ['c'], ipAddresses: [], serverAuth: false }],
      }),
      want: [],
    },
    {
      name: 'a mounted Secret that holds no certificate is not a target',
      world: base({ identities: [] }),
      want: [],
    },
    {
      name: 'a discovered (unmanaged) certificate Secret counts',
      world: base({
        identities: [],
        secrets: [{ namespace: 'web', name: 'web-tls', dnsNames: [], ipAddresses: ['10.0.0.5'] }],
      }),
      want: [['Service/web/web/443/', ['10.0.0.5:8443', '10.0.0.6:8443']]],
    },
  ])('$name', ({ world, opts, want }) => expect(addrs(world, opts)).toEqual(want));

  it('a hostile EndpointSlice (metadata service, loopback, the API server, another namespace) is refused, and says so', () => {
    const m = mapTargets(
      input(
        base({
          pods: [...webPods, pod('other', 'db-0', '10.0.0.9', { volumes: [secretVol('web-tls')] })],
          slices: [
            webSlice([
              { ip: '169.254.169.254', pod: 'web-0' },
              { ip: '127.0.0.1', pod: 'web-0' },
              { ip: '10.96.0.1', pod: 'web-1' },
              { ip: '10.0.0.9', pod: 'web-1' },
              { ip: '10.0.0.5', pod: 'web-0' },
            ]),
          ],
        }),
      ),
      OPTS,
    );
    expect(m.targets.map((t) => t.addresses.map((a) => a.ip))).toEqual([['10.0.0.5']]);
    expect(m.unresolved.filter((u) => u.reason === 'AddressRefused').map((u) => u.message)).toEqual([
      'EndpointSlice web/web-x1: 169.254.169.254 is in 169.254.0.0/16: never dialled',
      'EndpointSlice web/web-x1: 127.0.0.1 is in 127.0.0.0/8: never dialled',
      'EndpointSlice web/web-x1: 10.96.0.1 is not an IP of Pod web/web-1',
      'EndpointSlice web/web-x1: 10.0.0.9 is not an IP of Pod web/web-1',
    ]);
  });

  it('two certificate Secrets at the same place keep unique keys', () => {
    const w = base({
      identities: [],
      secrets: [
        { namespace: 'web', name: 'a-tls', dnsNames: [], ipAddresses: [] },
        { namespace: 'web', name: 'b-tls', dnsNames: [], ipAddresses: [] },
      ],
      pods: [pod('web', 'web-0', '10.0.0.5', { volumes: [secretVol('a-tls'), secretVol('b-tls')] })],
      slices: [webSlice([{ ip: '10.0.0.5', pod: 'web-0' }])],
    });
    expect(serveTargets(input(w), OPTS).map((t) => [t.key, t.secret.name])).toEqual([
      ['Service/web/web/443/@a-tls#0', 'a-tls'],
      ['Service/web/web/443/@b-tls#1', 'b-tls'],
    ]);
  });
});

// ---- ingress and gateway controllers ----
const ctlPod = pod('ingress-nginx', 'controller-0', '10.0.1.1');
const ctlSvc = service('ingress-nginx', 'controller', [
  { name: 'http', port: 80 },
  { name: 'https', port: 443 },
  { name: 'alt', port: 8443 },
]);
const ctlSlice = slice(
  'ingress-nginx',
  'controller',
  [
    { name: 'http', port: 80 },
    { name: 'https', port: 443 },
    { name: 'alt', port: 8443 },
  ],
  [{ ip: '10.0.1.1', pod: 'controller-0' }],
);
const CTL = { 'machineidentity.io/controller-service': 'ingress-nginx/controller' };
const ingress = (spec: k8s.V1IngressSpec): k8s.V1Ingress => ({ metadata: { namespace: 'web', name: 'web' }, spec });
const ctlWorld = (over: World): World => ({
  pods: [ctlPod],
  services: [ctlSvc],
  slices: [ctlSlice],
  identities: [
    {
      namespace: 'web',
      name: 'web',
      secretName: 'web-tls',
      dnsNames: ['web.example.com', 'a.apps.example.com'],
      ipAddresses: [],
    },
  ],
  ...over,
});

describe('Ingresses through the class controller Service', () => {
  it('the default class: one target per host, wildcard hosts get a name under them', () => {
    const w = ctlWorld({
      ingressClasses: [
        klass('nginx', { ...CTL, 'ingressclass.kubernetes.io/is-default-class': 'true' }),
        klass('other', {}),
      ],
      ingresses: [ingress({ tls: [{ hosts: ['web.example.com', '*.apps.example.com'], secretName: 'web-tls' }] })],
    });
    const ts = serveTargets(input(w), OPTS);
    expect(ts.map((t) => [t.key, t.sni, t.service, t.addresses])).toEqual([
      [
        'Ingress/web/web/443/a.apps.example.com',
        'a.apps.example.com',
        { namespace: 'ingress-nginx', name: 'controller', port: 443 },
        [{ ip: '10.0.1.1', port: 443, pod: 'ingress-nginx/controller-0', workload: 'Deployment/controller' }],
      ],
      [
        'Ingress/web/web/443/web.example.com',
        'web.example.com',
        { namespace: 'ingress-nginx', name: 'controller', port: 443 },
        [{ ip: '10.0.1.1', port: 443, pod: 'ingress-nginx/controller-0', workload: 'Deployment/controller' }],
      ],
    ]);
  });

  it.each<{ name: string; classes: k8s.KubernetesObject[]; spec: k8s.V1IngressSpec; want: unknown }>([
    {
      name: 'a class without the annotation: no target, and why',
      classes: [klass('nginx', {})],
      spec: { ingressClassName: 'nginx', tls: [{ secretName: 'web-tls' }] },
      want: [
        'NoControllerService',
        'IngressClass nginx has no valid machineidentity.io/controller-service annotation (namespace/name[:port])',
      ],
    },
    {
      name: 'a named class that does not exist',
      classes: [klass('nginx', CTL)],
      spec: { ingressClassName: 'traefik', tls: [{ secretName: 'web-tls' }] },
      want: ['NoIngressClass', 'IngressClass traefik not found'],
    },
    {
      name: 'no class and two defaults',
      classes: [
        klass('a', { ...CTL, 'ingressclass.kubernetes.io/is-default-class': 'true' }),
        klass('b', { ...CTL, 'ingressclass.kubernetes.io/is-default-class': 'true' }),
      ],
      spec: { tls: [{ secretName: 'web-tls' }] },
      want: ['NoIngressClass', 'no ingressClassName and no single default IngressClass'],
    },
    {
      name: 'an annotation that is not namespace/name',
      classes: [klass('nginx', { 'machineidentity.io/controller-service': 'http://evil.example:443' })],
      spec: { ingressClassName: 'nginx', tls: [{ secretName: 'web-tls' }] },
      want: [
        'NoControllerService',
        'IngressClass nginx has no valid machineidentity.io/controller-service annotation (namespace/name[:port])',
      ],
    },
    {
      name: 'the controller Service does not exist',
      classes: [klass('nginx', { 'machineidentity.io/controller-service': 'ingress-nginx/gone' })],
      spec: { ingressClassName: 'nginx', tls: [{ secretName: 'web-tls' }] },
      want: ['ServiceNotFound', 'controller Service ingress-nginx/gone of IngressClass nginx not found'],
    },
  ])('$name', ({ classes, spec, want }) => {
    const m = mapTargets(input(ctlWorld({ ingressClasses: classes, ingresses: [ingress(spec)] })), OPTS);
    expect(m.targets).toEqual([]);
    const why = unresolvedBySecret(m.unresolved).get('web/web-tls') ?? [];
    expect(why.map((u) => [u.reason, u.message])).toEqual([want]);
    expect(why[0]).toMatchObject({ source: 'Ingress', namespace: 'web', name: 'web' });
  });

  it('the annotation port wins; no hosts: the SNI is the identity name', () => {
    const w = ctlWorld({
      ingressClasses: [klass('nginx', { 'machineidentity.io/controller-service': 'ingress-nginx/controller:8443' })],
      ingresses: [
        ingress({ ingressClassName: 'nginx', tls: [{ secretName: 'web-tls' }, { secretName: 'unknown-tls' }] }),
      ],
    });
    expect(addrs(w)).toEqual([['Ingress/web/web/8443/web.example.com', ['10.0.1.1:8443']]]);
  });
});

describe('Gateway listeners through the GatewayClass controller Service', () => {
  const gw = (listeners: unknown[]): Parameters<typeof gatewayRefs>[0] =>
    ({ metadata: { namespace: 'web', name: 'gw' }, spec: { gatewayClassName: 'eg', listeners } }) as never;
  const tls = (...refs: { name: string; namespace?: string }[]) => ({
    certificateRefs: refs.map((r) => ({ kind: 'Secret', ...r })),
  });
  it('wildcard hostname, listener port, annotation port, cross-namespace refs skipped', () => {
    const w = ctlWorld({
      gatewayClasses: [klass('eg', { 'machineidentity.io/controller-service': 'ingress-nginx/controller:8443' })],
      gateways: [
        gw([
          { name: 'wild', hostname: '*.example.com', port: 443, protocol: 'HTTPS', tls: tls({ name: 'web-tls' }) },
          { name: 'odd', hostname: 'web.example.com', port: 9999, protocol: 'HTTPS', tls: tls({ name: 'web-tls' }) },
          {
            name: 'cross',
            hostname: 'x.example.com',
            port: 443,
            protocol: 'HTTPS',
            tls: tls({ name: 'web-tls', namespace: 'other' }),
          },
          { name: 'plain', port: 80, protocol: 'HTTP' },
        ]),
      ],
    });
    expect(serveTargets(input(w), OPTS).map((t) => [t.key, t.name, t.sni, t.service.port])).toEqual([
      ['Gateway/web/gw#odd/8443/web.example.com', 'gw#odd', 'web.example.com', 8443],
      ['Gateway/web/gw#wild/443/web.example.com', 'gw#wild', 'web.example.com', 443],
    ]);
  });
  it('a wildcard certificate under a wildcard listener gets a placeholder name; none under it: why', () => {
    const w = ctlWorld({
      identities: [
        { namespace: 'web', name: 'w', secretName: 'web-tls', dnsNames: ['*.example.com'], ipAddresses: [] },
      ],
      gatewayClasses: [klass('eg', CTL)],
      gateways: [
        gw([
          { name: 'wild', hostname: '*.example.com', port: 443, protocol: 'TLS', tls: tls({ name: 'web-tls' }) },
          { name: 'else', hostname: '*.example.org', port: 443, protocol: 'HTTPS', tls: tls({ name: 'web-tls' }) },
        ]),
      ],
    });
    const m = mapTargets(input(w), OPTS);
    expect(m.targets.map((t) => t.sni)).toEqual(['machineidentity-probe.example.com']);
    expect(m.unresolved.map((u) => [u.name, u.reason])).toEqual([['gw#else', 'NoServerName']]);
  });
  it('no GatewayClass annotation: why, per Secret', () => {
    const m = mapTargets(
      input(
        ctlWorld({
          gatewayClasses: [klass('eg', {})],
          gateways: [gw([{ name: 'l', port: 443, protocol: 'HTTPS', tls: tls({ name: 'web-tls' }) }])],
        }),
      ),
      OPTS,
    );
    expect(m.targets).toEqual([]);
    expect(
      unresolvedBySecret(m.unresolved)
        .get('web/web-tls')
        ?.map((u) => u.reason),
    ).toEqual(['NoControllerService']);
  });
});

// ---- webhooks and APIServices ----
describe('webhook configurations and APIServices', () => {
  const hookWorld = (vwcs: World['vwcs'], apiServices: World['apiServices'] = []): World => ({
    identities: [],
    secrets: [{ namespace: 'hooks', name: 'hook-tls', dnsNames: ['hook.hooks.svc'], ipAddresses: [] }],
    pods: [pod('hooks', 'hook-0', '10.0.2.1', { volumes: [secretVol('hook-tls')] })],
    services: [service('hooks', 'hook', [{ port: 443, targetPort: 9443 as never }])],
    slices: [slice('hooks', 'hook', [{ port: 9443 }], [{ ip: '10.0.2.1', pod: 'hook-0' }])],
    vwcs,
    apiServices,
  });
  it('a Service reference with its caBundle (an unnamed, unhinted port: only the webhook target)', () => {
    const w = hookWorld([
      {
        metadata: { name: 'hooks' },
        webhooks: [
          {
            name: 'a.example.com',
            clientConfig: { service: { namespace: 'hooks', name: 'hook' }, caBundle: b64(PEM) },
          },
        ],
      },
    ]);
    expect(serveTargets(input(w), OPTS)).toEqual([
      {
        key: 'ValidatingWebhookConfiguration//hooks/443/hook.hooks.svc',
        source: 'ValidatingWebhookConfiguration',
        namespace: '',
        name: 'hooks',
        secret: { namespace: 'hooks', name: 'hook-tls' },
        sni: 'hook.hooks.svc',
        service: { namespace: 'hooks', name: 'hook', port: 443 },
        caBundlePem: PEM,
        addresses: [{ ip: '10.0.2.1', port: 9443, pod: 'hooks/hook-0', workload: 'Deployment/hook' }],
      },
    ]);
  });
  it('an APIService, a URL webhook (ignored), a missing Service, a wrong port', () => {
    const w = hookWorld(
      [
        {
          metadata: { name: 'mixed' },
          webhooks: [
            { name: 'url', clientConfig: { url: 'https://169.254.169.254/' } as never },
            { name: 'gone', clientConfig: { service: { namespace: 'hooks', name: 'gone' } } },
            { name: 'port', clientConfig: { service: { namespace: 'hooks', name: 'hook', port: 8443 } } },
          ],
        },
      ],
      [
        {
          metadata: { name: 'v1.metrics.example.com' },
          spec: { service: { namespace: 'hooks', name: 'hook' }, caBundle: 'bm90IGEgcGVt' },
        },
      ],
    );
    const m = mapTargets(input(w), OPTS);
    expect(m.targets.map((t) => [t.key, t.caBundlePem])).toEqual([
      ['APIService//v1.metrics.example.com/443/hook.hooks.svc', undefined],
    ]);
    expect(m.unresolved.map((u) => [u.source, u.name, u.reason])).toEqual([
      ['ValidatingWebhookConfiguration', 'mixed', 'ServiceNotFound'],
      ['ValidatingWebhookConfiguration', 'mixed', 'NoServicePort'],
    ]);
  });
  it('a caBundle over 64 KiB is not kept', () => {
    const big = 'A'.repeat(MAX_CA_BUNDLE_CHARS + 4);
    const r = webhookRef('MutatingWebhookConfiguration', {
      metadata: { name: 'm' },
      webhooks: [{ name: 'w', clientConfig: { service: { namespace: 'n', name: 's' }, caBundle: big } }],
    });
    const want: ServiceCall[] = [{ webhook: 'w', namespace: 'n', name: 's', port: 443 }];
    expect(r.calls).toEqual(want);
  });
});

describe("the operator's own webhook (chart shape)", () => {
  const tpl = readFileSync('deploy/helm/machine-identity-operator/templates/webhook.yaml', 'utf8');
  const deployment = readFileSync('deploy/helm/machine-identity-operator/templates/deployment.yaml', 'utf8');
  it('matches the chart: port https-webhook 443 → targetPort webhook; the pods mount no webhook Secret', () => {
    expect(tpl).toMatch(/- name: https-webhook\n\s+port: 443\n\s+targetPort: webhook/);
    expect(tpl.match(/path: \/validate\n\s+port: 443/g)).toHaveLength(2);
    expect(deployment).toMatch(/MIO_WEBHOOK_SECRET\n\s+value: .*-webhook-tls/);
    expect(deployment).not.toMatch(/secretName: .*webhook-tls/);
  });
  const own = (knownServing: readonly KnownServing[] | undefined) => {
    const hook = {
      service: { namespace: 'mio', name: 'mio-machine-identity-operator-webhook', port: 443, path: '/validate' },
      caBundle: b64(PEM),
    };
    const w: World = {
      identities: [],
      secrets: [],
      pods: [pod('mio', 'mio-0', '10.0.3.1', { volumes: [{ name: 'tmp', emptyDir: {} }] })],
      services: [
        service('mio', 'mio-machine-identity-operator-webhook', [
          { name: 'https-webhook', port: 443, targetPort: 'webhook' as never },
        ]),
      ],
      slices: [
        slice(
          'mio',
          'mio-machine-identity-operator-webhook',
          [{ name: 'https-webhook', port: 9443 }],
          [{ ip: '10.0.3.1', pod: 'mio-0' }],
        ),
      ],
      vwcs: [
        {
          metadata: { name: 'mio-machine-identity-operator' },
          webhooks: [
            { name: 'machineidentities.machineidentity.io', clientConfig: hook },
            { name: 'issuancepolicies.machineidentity.io', clientConfig: hook },
          ],
        },
      ],
    };
    return mapTargets(input(w), { ...OPTS, ...(knownServing ? { knownServing } : {}) });
  };
  it('the operator names its own serving Secret: one webhook target (two webhooks, one place) and the Service', () => {
    const m = own([
      {
        service: { namespace: 'mio', name: 'mio-machine-identity-operator-webhook' },
        secret: { namespace: 'mio', name: 'mio-machine-identity-operator-webhook-tls' },
      },
    ]);
    expect(m.targets.map((t) => [t.key, t.secret.name, t.caBundlePem === PEM, t.addresses])).toEqual([
      [
        'Service/mio/mio-machine-identity-operator-webhook/443/',
        'mio-machine-identity-operator-webhook-tls',
        false,
        [{ ip: '10.0.3.1', port: 9443, pod: 'mio/mio-0', workload: 'Deployment/mio' }],
      ],
      [
        'ValidatingWebhookConfiguration//mio-machine-identity-operator/443/mio-machine-identity-operator-webhook.mio.svc',
        'mio-machine-identity-operator-webhook-tls',
        true,
        [{ ip: '10.0.3.1', port: 9443, pod: 'mio/mio-0', workload: 'Deployment/mio' }],
      ],
    ]);
  });
  it('ownWebhookServing: the Services its own configuration calls in its namespace, nothing else', () => {
    const refs = [
      webhookRef('ValidatingWebhookConfiguration', {
        metadata: { name: 'mio-machine-identity-operator' },
        webhooks: [
          { name: 'a', clientConfig: { service: { namespace: 'mio', name: 'mio-machine-identity-operator-webhook' } } },
          { name: 'b', clientConfig: { service: { namespace: 'mio', name: 'mio-machine-identity-operator-webhook' } } },
          { name: 'c', clientConfig: { service: { namespace: 'tenant', name: 'x' } } },
        ],
      }),
      webhookRef('MutatingWebhookConfiguration', {
        metadata: { name: 'mio-machine-identity-operator' },
        webhooks: [{ name: 'm', clientConfig: { service: { namespace: 'mio', name: 'other' } } }],
      }),
    ];
    const own = { configName: 'mio-machine-identity-operator', namespace: 'mio', secretName: 'mio-webhook-tls' };
    expect(ownWebhookServing(refs, own)).toEqual([
      {
        service: { namespace: 'mio', name: 'mio-machine-identity-operator-webhook' },
        secret: { namespace: 'mio', name: 'mio-webhook-tls' },
      },
    ]);
    expect(ownWebhookServing(refs, { ...own, configName: 'nope' })).toEqual([]);
  });
  it('without it: no target, and why', () => {
    const m = own(undefined);
    expect(m.targets).toEqual([]);
    const want: UnresolvedReason[] = ['NoServingSecret'];
    expect(m.unresolved.map((u) => u.reason)).toEqual(want);
  });
});

describe('lookups', () => {
  it('targets by Secret', () => {
    const w = base({
      ...ctlWorld({}),
      pods: [...webPods, ctlPod],
      services: [webSvc, ctlSvc],
      slices: [webSlice([{ ip: '10.0.0.5', pod: 'web-0' }]), ctlSlice],
      ingressClasses: [klass('nginx', CTL)],
      ingresses: [ingress({ ingressClassName: 'nginx', tls: [{ hosts: ['web.example.com'], secretName: 'web-tls' }] })],
    });
    const by = targetsBySecret(serveTargets(input(w), OPTS));
    expect([...by.keys()]).toEqual(['web/web-tls']);
    expect(by.get('web/web-tls')?.map((t) => t.source)).toEqual(['Ingress', 'Service']);
  });
  it('discovered Secrets: the tls.crt leaf, serverAuth from its extended key usage', () => {
    const cert = (key: string, o: Partial<CertRecord>): CertRecord =>
      ({ key, isCA: false, dnsNames: [], ipAddresses: [], extKeyUsage: [], ...o }) as CertRecord;
    const obj = (kind: string, name: string, certs: CertRecord[]): InventoryObject => ({
      kind,
      metadata: { namespace: 'web', name },
      certs,
      problems: [],
    });
    expect(
      discoveredSecrets([
        obj('Secret', 'a', [cert('ca.crt', { isCA: true }), cert('tls.crt', { dnsNames: ['a'] })]),
        obj('Secret', 'client', [cert('tls.crt', { extKeyUsage: ['clientAuth'] })]),
        obj('Secret', 'ca-only', [cert('ca.crt', { isCA: true })]),
        obj('ConfigMap', 'cm', [cert('x.crt', {})]),
      ]),
    ).toEqual([
      { namespace: 'web', name: 'a', dnsNames: ['a'], ipAddresses: [], serverAuth: true },
      { namespace: 'web', name: 'client', dnsNames: [], ipAddresses: [], serverAuth: false },
    ]);
  });
});

describe('SNI choice', () => {
  const svc = { namespace: 'web', name: 'api' };
  it.each([
    { names: ['api.example.com', 'b'], want: 'api.example.com' },
    { names: ['*.web.svc', 'api.example.com'], want: 'api.web.svc' },
    { names: ['*.web.svc.cluster.local'], want: 'api.web.svc.cluster.local' },
    { names: ['*.example.com', 'x.example.com'], want: 'x.example.com' },
    { names: ['*.example.com'], want: '' },
    { names: [], want: '' },
  ])('service $names → $want', ({ names, want }) => expect(serviceSni(names, svc, 'cluster.local')).toBe(want));
  it.each([
    { host: 'a.example.com', names: [], deep: false, want: 'a.example.com' },
    { host: '*.example.com', names: ['x.y.example.com', 'b.example.com'], deep: false, want: 'b.example.com' },
    { host: '*.example.com', names: ['x.y.example.com', 'b.example.com'], deep: true, want: 'x.y.example.com' },
    { host: '*.example.com', names: ['*.example.com'], deep: true, want: 'machineidentity-probe.example.com' },
    { host: '*.example.com', names: ['other.org'], deep: true, want: undefined },
  ])('host $host $names → $want', ({ host, names, deep, want }) => expect(hostSni(host, names, deep)).toBe(want));
  it.each([
    ['*.a.com', 'x.a.com', true],
    ['*.a.com', 'x.y.a.com', false],
    ['*.a.com', 'a.com', false],
    ['A.com', 'a.COM', true],
  ] as const)('covers(%s, %s) = %s', (p, h, want) => expect(covers(p, h)).toBe(want));
});

describe('projections', () => {
  it('a Pod: mounted (volumes, projected) apart from env refs; IPs only while it can serve', () => {
    const p = podRefs(pod('web', 'web-0', '10.0.0.5', { volumes: [secretVol('a'), projectedVol('b')], env: ['c'] }));
    expect(p).toMatchObject({ secrets: ['a', 'b', 'c'], mounted: ['a', 'b'], ips: ['10.0.0.5'] });
    expect(podRefs(pod('web', 'x', '10.0.0.5', { phase: 'Failed' })).ips).toEqual([]);
    expect(podRefs(pod('web', 'x', '10.0.0.5', { hostNetwork: true })).ips).toEqual([]);
    expect(podRefs({ metadata: { name: 'x' }, status: { podIP: '10.0.0.7' } }).ips).toEqual(['10.0.0.7']);
    const dual = {
      metadata: { name: 'x' },
      status: { podIP: '10.0.0.7', podIPs: [{ ip: '10.0.0.7' }, { ip: 'fd00::7' }] },
    };
    expect(podRefs(dual).ips).toEqual(['10.0.0.7', 'fd00::7']);
  });
  it('an Ingress: tls hosts and class, bounded', () => {
    const hosts = [...Array(100).keys()].map((i) => `h${i}.example.com`);
    const r = ingressRefs({
      metadata: { name: 'i', namespace: 'web' },
      spec: {
        ingressClassName: 'nginx',
        tls: [{ hosts, secretName: 's' }, { hosts: ['x'] }, ...Array(100).fill({ secretName: 't' })],
      },
    });
    expect(r.className).toBe('nginx');
    expect(r.secrets).toEqual(['s', 't']);
    expect(r.tls?.[0]?.hosts).toHaveLength(64);
    expect(r.tls).toHaveLength(63);
  });
  it('a Gateway: class and TLS listeners with local Secrets only', () => {
    const r = gatewayRefs({
      metadata: { name: 'g', namespace: 'web' },
      spec: {
        gatewayClassName: 'eg',
        listeners: [
          {
            name: 'a',
            hostname: 'a.example.com',
            port: 443,
            protocol: 'HTTPS',
            tls: { certificateRefs: [{ name: 's' }] },
          },
          { name: 'b', port: 443, protocol: 'HTTPS', tls: { certificateRefs: [{ name: 's', namespace: 'other' }] } },
        ],
      },
    });
    expect(r).toMatchObject({
      className: 'eg',
      secrets: ['s'],
      listeners: [{ name: 'a', hostname: 'a.example.com', port: 443, protocol: 'HTTPS', secrets: ['s'] }],
    });
  });
  it('an EndpointSlice: first address only, nil ready is ready, UDP ports dropped', () => {
    const s = sliceRef({
      metadata: { name: 's', namespace: 'web', labels: { 'kubernetes.io/service-name': 'web' } },
      addressType: 'IPv6',
      ports: [
        { name: 'dns', port: 53, protocol: 'UDP' },
        { name: 'https', port: 8443 },
      ],
      endpoints: [
        { addresses: ['fd00::1', 'fd00::2'], targetRef: { kind: 'Pod', name: 'p' } },
        { addresses: undefined as never },
        { addresses: [] },
      ],
    });
    expect(s).toEqual({
      kind: 'EndpointSlice',
      metadata: { name: 's', namespace: 'web' },
      service: 'web',
      ports: [{ name: 'https', port: 8443 }],
      endpoints: [{ address: 'fd00::1', ready: true, targetRef: { kind: 'Pod', name: 'p' } }],
    });
  });
  it('webhooks of one configuration share one caBundle string', () => {
    const bundle = b64(PEM);
    const r = webhookRef('ValidatingWebhookConfiguration', {
      metadata: { name: 'v' },
      webhooks: [
        { name: 'a', clientConfig: { service: { namespace: 'n', name: 's' }, caBundle: `${bundle}` } },
        { name: 'b', clientConfig: { service: { namespace: 'n', name: 's', port: 8443 }, caBundle: bundle.slice(0) } },
      ],
    });
    expect(r.calls.map((c) => [c.webhook, c.port, c.caBundle === bundle])).toEqual([
      ['a', 443, true],
      ['b', 8443, true],
    ]);
  });
});
