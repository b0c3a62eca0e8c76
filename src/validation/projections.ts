// What the validation informers keep of Services, EndpointSlices, Ingress/Gateway classes, webhook
// configurations and APIServices: only the fields that say where a certificate is served. Pure, and
// bounded per object, so a hostile object cannot make the cache grow past a few kilobytes.
import type * as k8s from '@kubernetes/client-node';
import { CONTROLLER_SERVICE, TLS_PORTS } from './types.ts';

interface RefMeta {
  name: string;
  namespace?: string;
  resourceVersion?: string;
  uid?: string;
}

export interface ServicePortRef {
  /** '' for a Service's single unnamed port (EndpointSlice ports use the same name). */
  name: string;
  port: number;
  targetPort?: number | string;
  appProtocol?: string;
}

export interface ServiceRef {
  kind: 'Service';
  metadata: RefMeta;
  /** TCP ports only (TLS runs over TCP). */
  ports: ServicePortRef[];
  /** The machineidentity.io/tls-ports annotation. */
  tlsPorts?: string;
}

export interface SliceEndpoint {
  /** The first address only: the others are the same endpoint (consumers use the first). */
  address: string;
  ready: boolean;
  targetRef?: { kind: string; name: string; namespace?: string };
}

export interface SliceRef {
  kind: 'EndpointSlice';
  metadata: RefMeta;
  /** The `kubernetes.io/service-name` label. */
  service: string;
  ports: { name: string; port: number }[];
  endpoints: SliceEndpoint[];
}

export interface ClassRef {
  kind: 'IngressClass' | 'GatewayClass';
  metadata: RefMeta;
  /** The machineidentity.io/controller-service annotation (`namespace/name[:port]`). */
  controllerService?: string;
  /** IngressClass annotation ingressclass.kubernetes.io/is-default-class is "true". */
  isDefault: boolean;
}

export interface ServiceCall {
  /** The webhook's name (APIServices: the APIService's name). */
  webhook: string;
  namespace: string;
  name: string;
  port: number;
  /** Base64 as in the object; left out when over MAX_CA_BUNDLE_CHARS. */
  caBundle?: string;
}

export interface WebhookRef {
  kind: 'ValidatingWebhookConfiguration' | 'MutatingWebhookConfiguration' | 'APIService';
  metadata: RefMeta;
  /** The `clientConfig.service` (APIServices: `spec.service`) references; URL webhooks are left out. */
  calls: ServiceCall[];
}

const MAX_PORTS = 100;
const MAX_ENDPOINTS = 1_000;
const MAX_WEBHOOKS = 100;
const MAX_ANNOTATION = 1_024;
/** 64 KiB: a bundle of a few dozen CAs; anything larger is not kept (the inventory still reports it). */
export const MAX_CA_BUNDLE_CHARS = 64 * 1024;
const DEFAULT_CLASS = 'ingressclass.kubernetes.io/is-default-class';
const SERVICE_NAME = 'kubernetes.io/service-name';

const refMeta = (m: k8s.V1ObjectMeta | undefined): RefMeta => ({
  name: m?.name ?? '',
  ...(m?.namespace ? { namespace: m.namespace } : {}),
  ...(m?.resourceVersion ? { resourceVersion: m.resourceVersion } : {}),
  ...(m?.uid ? { uid: m.uid } : {}),
});

const isPort = (n: unknown): n is number => typeof n === 'number' && Number.isInteger(n) && n > 0 && n < 65536;

function servicePort(p: k8s.V1ServicePort): ServicePortRef | undefined {
  if ((p.protocol ?? 'TCP') !== 'TCP' || !isPort(p.port)) return undefined;
  const out: ServicePortRef = { name: p.name ?? '', port: p.port };
  const tp: unknown = p.targetPort;
  if (typeof tp === 'number' || typeof tp === 'string') out.targetPort = tp;
  if (p.appProtocol) out.appProtocol = p.appProtocol.slice(0, 256);
  return out;
}

export function serviceRef(s: k8s.V1Service): ServiceRef {
  // an ExternalName Service points outside the cluster: nothing of it is ever dialled
  const ports =
    s.spec?.type === 'ExternalName'
      ? []
      : (s.spec?.ports ?? [])
          .slice(0, MAX_PORTS)
          .map(servicePort)
          .filter((p): p is ServicePortRef => p !== undefined);
  const out: ServiceRef = { kind: 'Service', metadata: refMeta(s.metadata), ports };
  const tls = s.metadata?.annotations?.[TLS_PORTS];
  if (tls) out.tlsPorts = tls.slice(0, MAX_ANNOTATION);
  return out;
}

function sliceEndpoint(e: k8s.V1Endpoint, namespace: string | undefined): SliceEndpoint | undefined {
  // a transform sees raw JSON: do not trust the declared shape
  const address: unknown = Array.isArray(e.addresses) ? e.addresses[0] : undefined;
  if (typeof address !== 'string') return undefined;
  // nil means ready (EndpointSlice API: consumers treat an unknown state as ready)
  const out: SliceEndpoint = { address, ready: e.conditions?.ready !== false };
  const t = e.targetRef;
  if (t?.kind && t.name)
    out.targetRef = {
      // one shared string for the common kind; the slice's own namespace is implied (kept only when it differs)
      kind: t.kind === 'Pod' ? 'Pod' : t.kind,
      name: t.name,
      ...(t.namespace && t.namespace !== namespace ? { namespace: t.namespace } : {}),
    };
  return out;
}

export function sliceRef(s: k8s.V1EndpointSlice): SliceRef {
  // FQDN slices name hosts, not addresses: never dialled
  const ipSlice = s.addressType === 'IPv4' || s.addressType === 'IPv6';
  const ports = (s.ports ?? [])
    .filter((p) => (p.protocol ?? 'TCP') === 'TCP' && isPort(p.port))
    .slice(0, MAX_PORTS)
    .map((p) => ({ name: p.name ?? '', port: p.port ?? 0 }));
  const endpoints = ipSlice
    ? (s.endpoints ?? [])
        .slice(0, MAX_ENDPOINTS)
        .map((e) => sliceEndpoint(e, s.metadata?.namespace))
        .filter((e): e is SliceEndpoint => e !== undefined)
    : [];
  return {
    kind: 'EndpointSlice',
    metadata: refMeta(s.metadata),
    service: s.metadata?.labels?.[SERVICE_NAME] ?? '',
    ports,
    endpoints,
  };
}

export function classRef(kind: ClassRef['kind'], c: k8s.KubernetesObject): ClassRef {
  const ann = c.metadata?.annotations;
  const out: ClassRef = { kind, metadata: refMeta(c.metadata), isDefault: ann?.[DEFAULT_CLASS] === 'true' };
  const svc = ann?.[CONTROLLER_SERVICE];
  if (svc) out.controllerService = svc.slice(0, 512);
  return out;
}

interface ServiceReference {
  namespace?: string;
  name?: string;
  port?: number;
}

function call(webhook: string, svc: ServiceReference | undefined, caBundle: unknown): ServiceCall | undefined {
  if (!svc?.namespace || !svc.name) return undefined;
  const out: ServiceCall = {
    webhook,
    namespace: svc.namespace,
    name: svc.name,
    port: isPort(svc.port) ? svc.port : 443,
  };
  if (typeof caBundle === 'string' && caBundle.length > 0 && caBundle.length <= MAX_CA_BUNDLE_CHARS)
    out.caBundle = caBundle;
  return out;
}

interface WebhookLike {
  name?: string;
  clientConfig?: { service?: ServiceReference; caBundle?: string };
}

/** The same bundle in every webhook of a configuration is kept once (one string, shared). */
function shareBundles(calls: ServiceCall[]): ServiceCall[] {
  const seen = new Map<string, string>();
  for (const c of calls) {
    if (c.caBundle === undefined) continue;
    const first = seen.get(c.caBundle);
    if (first === undefined) seen.set(c.caBundle, c.caBundle);
    else c.caBundle = first;
  }
  return calls;
}

export function webhookRef(
  kind: 'ValidatingWebhookConfiguration' | 'MutatingWebhookConfiguration',
  o: k8s.KubernetesObject & { webhooks?: WebhookLike[] },
): WebhookRef {
  const calls = (o.webhooks ?? [])
    .slice(0, MAX_WEBHOOKS)
    .map((w) => call(w.name ?? '', w.clientConfig?.service, w.clientConfig?.caBundle))
    .filter((c): c is ServiceCall => c !== undefined);
  return { kind, metadata: refMeta(o.metadata), calls: shareBundles(calls) };
}

export function apiServiceRef(
  o: k8s.KubernetesObject & { spec?: { service?: ServiceReference; caBundle?: string } },
): WebhookRef {
  const c = call(o.metadata?.name ?? '', o.spec?.service, o.spec?.caBundle);
  return { kind: 'APIService', metadata: refMeta(o.metadata), calls: c ? [c] : [] };
}
