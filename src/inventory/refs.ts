// The projections the Pod, Ingress and Gateway informers keep: only the references an object makes to
// Secrets and ConfigMaps, and what the validation layer needs to know where a certificate is served
// (a Pod's IPs, an Ingress's tls hosts, a Gateway's TLS listeners). Pure; no object is kept whole.
import type * as k8s from '@kubernetes/client-node';
import type { GatewayListener, IngressTls, PodRefs, TlsRefs } from './model.ts';

type Meta = k8s.V1ObjectMeta;

/** Bounds on what one hostile object can make the informers keep (the API allows 64 Gateway listeners). */
const MAX_TLS_ENTRIES = 64;
const MAX_HOSTS = 64;
const MAX_LISTENERS = 64;
const MAX_IPS = 4;

const refMeta = (m: Meta | undefined): PodRefs['metadata'] => ({
  name: m?.name ?? '',
  ...(m?.namespace ? { namespace: m.namespace } : {}),
  ...(m?.resourceVersion ? { resourceVersion: m.resourceVersion } : {}),
  ...(m?.uid ? { uid: m.uid } : {}),
});

/** The workload a Pod belongs to: its controller, with a ReplicaSet's hash suffix dropped for Deployments. */
function workloadOf(p: k8s.V1Pod): string | undefined {
  const c = p.metadata?.ownerReferences?.find((r) => r.controller) ?? p.metadata?.ownerReferences?.[0];
  if (!c) return undefined;
  const hash = p.metadata?.labels?.['pod-template-hash'];
  if (c.kind === 'ReplicaSet' && hash && c.name.endsWith(`-${hash}`))
    return `Deployment/${c.name.slice(0, -hash.length - 1)}`;
  return `${c.kind}/${c.name}`;
}

function addName(names: Set<string>, name: string | undefined): void {
  if (name) names.add(name);
}

function volumeRefs(p: k8s.V1Pod, secrets: Set<string>, configMaps: Set<string>): void {
  for (const v of p.spec?.volumes ?? []) {
    addName(secrets, v.secret?.secretName);
    addName(configMaps, v.configMap?.name);
    for (const s of v.projected?.sources ?? []) {
      addName(secrets, s.secret?.name);
      addName(configMaps, s.configMap?.name);
    }
  }
}

function envRefs(c: k8s.V1Container, secrets: Set<string>, configMaps: Set<string>): void {
  for (const e of c.env ?? []) {
    addName(secrets, e.valueFrom?.secretKeyRef?.name);
    addName(configMaps, e.valueFrom?.configMapKeyRef?.name);
  }
  for (const e of c.envFrom ?? []) {
    addName(secrets, e.secretRef?.name);
    addName(configMaps, e.configMapRef?.name);
  }
}

/** A finished Pod's IP may already belong to another Pod; a hostNetwork Pod's IP is its node's. */
function servingIps(p: k8s.V1Pod): string[] {
  const phase = p.status?.phase;
  if (p.spec?.hostNetwork || phase === 'Succeeded' || phase === 'Failed') return [];
  const ips = (p.status?.podIPs ?? []).map((x) => x.ip).filter((ip): ip is string => typeof ip === 'string');
  if (ips.length === 0 && p.status?.podIP) ips.push(p.status.podIP);
  return ips.slice(0, MAX_IPS);
}

export function podRefs(p: k8s.V1Pod): PodRefs {
  const secrets = new Set<string>(),
    configMaps = new Set<string>(),
    mounted = new Set<string>();
  volumeRefs(p, mounted, configMaps);
  for (const n of mounted) secrets.add(n);
  for (const c of [...(p.spec?.containers ?? []), ...(p.spec?.initContainers ?? [])]) envRefs(c, secrets, configMaps);
  const out: PodRefs = {
    kind: 'Pod',
    metadata: refMeta(p.metadata),
    secrets: [...secrets],
    configMaps: [...configMaps],
    mounted: [...mounted],
    ips: servingIps(p),
  };
  const w = workloadOf(p);
  if (w) out.workload = w;
  return out;
}

function ingressTls(t: k8s.V1IngressTLS): IngressTls | undefined {
  if (!t.secretName) return undefined;
  const hosts = (t.hosts ?? []).filter((h) => typeof h === 'string' && h !== '').slice(0, MAX_HOSTS);
  return { hosts, secretName: t.secretName };
}

export function ingressRefs(i: k8s.V1Ingress): TlsRefs {
  const tls = (i.spec?.tls ?? [])
    .slice(0, MAX_TLS_ENTRIES)
    .map(ingressTls)
    .filter((t): t is IngressTls => t !== undefined);
  const out: TlsRefs = {
    kind: 'Ingress',
    metadata: refMeta(i.metadata),
    secrets: [...new Set(tls.map((t) => t.secretName))],
  };
  if (tls.length) out.tls = tls;
  if (i.spec?.ingressClassName) out.className = i.spec.ingressClassName;
  return out;
}

type CertificateRef = { kind?: string; name?: string; namespace?: string };

interface ListenerLike {
  name?: string;
  hostname?: string;
  port?: number;
  protocol?: string;
  tls?: { certificateRefs?: CertificateRef[] };
}

interface GatewayLike {
  metadata?: Meta;
  spec?: { gatewayClassName?: string; listeners?: ListenerLike[] };
}

function listenerOf(l: ListenerLike, namespace: string | undefined): GatewayListener | undefined {
  const secrets = new Set<string>();
  for (const r of l.tls?.certificateRefs ?? []) addName(secrets, localSecretName(r, namespace));
  if (secrets.size === 0) return undefined;
  const out: GatewayListener = {
    name: l.name ?? '',
    port: typeof l.port === 'number' ? l.port : 0,
    protocol: l.protocol ?? '',
    secrets: [...secrets],
  };
  if (l.hostname) out.hostname = l.hostname;
  return out;
}

export function gatewayRefs(g: GatewayLike): TlsRefs {
  const ns = g.metadata?.namespace;
  const listeners = (g.spec?.listeners ?? [])
    .slice(0, MAX_LISTENERS)
    .map((l) => listenerOf(l, ns))
    .filter((l): l is GatewayListener => l !== undefined);
  const out: TlsRefs = {
    kind: 'Gateway',
    metadata: refMeta(g.metadata),
    secrets: [...new Set(listeners.flatMap((l) => l.secrets))],
  };
  if (listeners.length) out.listeners = listeners;
  if (g.spec?.gatewayClassName) out.className = g.spec.gatewayClassName;
  return out;
}

/** refs into other namespaces (with a ReferenceGrant) are listed under the Gateway's namespace only when local */
function localSecretName(r: CertificateRef, namespace: string | undefined): string | undefined {
  const local = !r.namespace || r.namespace === namespace;
  return (r.kind ?? 'Secret') === 'Secret' && local ? r.name : undefined;
}
