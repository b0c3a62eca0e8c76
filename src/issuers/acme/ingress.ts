// http01.ingress / http01.gatewayHTTPRoute: route a challenge through the cluster's ingress controller
// or Gateway to the operator's own listener. One Service without a selector plus an EndpointSlice naming this replica's pod IP (only
// the replica that presented a challenge knows its answer, so traffic must reach that one), and one
// temporary Ingress or HTTPRoute per challenge (host = the name, path = the token), deleted when the order ends.
import { createHash } from 'node:crypto';
import type * as k8s from '@kubernetes/client-node';
import { applyNamespaced, sendRaw } from '../../runtime/kube.ts';

export interface IngressRouting {
  kc: k8s.KubeConfig;
  namespace: string;
  /** Service (and EndpointSlice) name, e.g. <release>-acme-http01. */
  serviceName: string;
  /** The operator's HTTP-01 listener port. */
  port: number;
  /** This replica's pod IP (downward API); without it no EndpointSlice is written. */
  podIP?: string;
}

const FIELD_MANAGER = 'machine-identity-operator-acme';
const LABELS = {
  'app.kubernetes.io/managed-by': 'machine-identity-operator',
  'machineidentity.io/acme-http01': 'true',
};

/** A challenge's Ingress or HTTPRoute: always named (challengeIngressName). */
export type ChallengeRoute = k8s.KubernetesObject & { kind: string; metadata: { name: string; namespace: string } };

function challengeIngressName(host: string, token: string): string {
  return `mio-acme-${createHash('sha256').update(`${host}/${token}`).digest('hex').slice(0, 16)}`;
}

/** The metadata of either route kind: named for the challenge, labelled as ours, with the host it answers for. */
function challengeMetadata(
  namespace: string,
  host: string,
  token: string,
): ChallengeRoute['metadata'] & k8s.V1ObjectMeta {
  return {
    name: challengeIngressName(host, token),
    namespace,
    labels: LABELS,
    annotations: { 'machineidentity.io/acme-challenge-host': host },
  };
}

export function challengeIngress(
  r: Pick<IngressRouting, 'namespace' | 'serviceName'>,
  host: string,
  token: string,
  ingressClassName?: string,
): k8s.V1Ingress & ChallengeRoute {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: challengeMetadata(r.namespace, host, token),
    spec: {
      ...(ingressClassName ? { ingressClassName } : {}),
      rules: [
        {
          host,
          http: {
            paths: [
              {
                path: `/.well-known/acme-challenge/${token}`,
                pathType: 'Exact',
                backend: { service: { name: r.serviceName, port: { number: 80 } } },
              },
            ],
          },
        },
      ],
    },
  };
}

async function ensureBackend(r: IngressRouting): Promise<void> {
  await applyNamespaced(
    r.kc,
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: r.serviceName, namespace: r.namespace, labels: LABELS },
      spec: { ports: [{ name: 'http', port: 80, targetPort: r.port as unknown as k8s.IntOrString, protocol: 'TCP' }] },
    } as k8s.V1Service,
    FIELD_MANAGER,
  );
  if (!r.podIP) return;
  await applyNamespaced(
    r.kc,
    {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: {
        name: r.serviceName,
        namespace: r.namespace,
        labels: {
          ...LABELS,
          'kubernetes.io/service-name': r.serviceName,
          'endpointslice.kubernetes.io/managed-by': 'machine-identity-operator',
        },
      },
      addressType: r.podIP.includes(':') ? 'IPv6' : 'IPv4',
      endpoints: [{ addresses: [r.podIP], conditions: { ready: true } }],
      ports: [{ name: 'http', port: r.port, protocol: 'TCP' }],
    } as k8s.V1EndpointSlice,
    FIELD_MANAGER,
  );
}

export class RoutingError extends Error {}

/** The API server's own message for a failed write (a 403 names the missing RBAC rule, a 422 the invalid field). */
async function step<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw new RoutingError(`HTTP-01 through an Ingress: ${what}: ${apiMessage(e).slice(0, 400)}`);
  }
}

const messageField = (v: unknown): string | undefined =>
  typeof v === 'object' && v !== null && 'message' in v && typeof v.message === 'string' ? v.message : undefined;

/** A failed client-node call's message: the Status in its body (JSON text or parsed), else the error's own. */
export function apiMessage(e: unknown): string {
  const body = typeof e === 'object' && e !== null && 'body' in e ? e.body : undefined;
  if (typeof body !== 'string') return messageField(body) ?? (e as Error).message;
  try {
    return messageField(JSON.parse(body)) ?? body;
  } catch {
    return body;
  }
}

export interface ParentRef {
  name: string;
  namespace?: string;
  sectionName?: string;
}

/** The Gateway API form: an HTTPRoute attached to the given Gateways (their allowedRoutes must admit the operator's namespace). */
export function challengeHTTPRoute(
  r: Pick<IngressRouting, 'namespace' | 'serviceName'>,
  host: string,
  token: string,
  parentRefs: readonly ParentRef[],
): ChallengeRoute & { spec: unknown } {
  return {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'HTTPRoute',
    metadata: challengeMetadata(r.namespace, host, token),
    spec: {
      parentRefs: parentRefs.map((p) => ({
        group: 'gateway.networking.k8s.io',
        kind: 'Gateway',
        name: p.name,
        ...(p.namespace ? { namespace: p.namespace } : {}),
        ...(p.sectionName ? { sectionName: p.sectionName } : {}),
      })),
      hostnames: [host],
      rules: [
        {
          matches: [{ path: { type: 'Exact', value: `/.well-known/acme-challenge/${token}` } }],
          backendRefs: [{ name: r.serviceName, port: 80 }],
        },
      ],
    },
  };
}

/** Writes one challenge's route (an Ingress or HTTPRoute from above) and the Service behind it; returns its removal. */
export async function routeChallenge(
  r: IngressRouting,
  route: ChallengeRoute,
  plural: 'ingresses' | 'httproutes',
): Promise<() => Promise<void>> {
  await step(`writing Service/EndpointSlice ${r.namespace}/${r.serviceName}`, () => ensureBackend(r));
  const where = `${route.kind} ${r.namespace}/${route.metadata.name}`;
  await step(`writing ${where}${plural === 'httproutes' ? ' (is the Gateway API installed?)' : ''}`, () =>
    applyNamespaced(r.kc, route, FIELD_MANAGER),
  );
  const path = `/apis/${route.apiVersion}/namespaces/${encodeURIComponent(r.namespace)}/${plural}/${route.metadata.name}`;
  return async () => {
    const res = await sendRaw(r.kc, 'DELETE', path, '', 'application/json');
    if (res.status >= 300 && res.status !== 404) throw new Error(`deleting ${where}: HTTP ${res.status}`);
  };
}
