// The indexes the target mapping shares (certificate Secrets, Pods, Services, EndpointSlices by Service)
// and the rule every source uses for addresses: ready endpoints the address guard lets through.
import type { PodRefs, TlsRefs } from '../inventory/model.ts';
import { compileAllowed, mayDial, podIndex, type PodIndex } from './address-guard.ts';
import type { ClassRef, ServicePortRef, ServiceRef, SliceEndpoint, SliceRef, WebhookRef } from './projections.ts';
import type { EndpointAddress, EndpointSource, ServeTarget } from './types.ts';
import type { Cidr } from '../policy/ip-ranges.ts';

/** A managed identity: its Secret and the names its certificate carries. */
export interface TargetIdentity {
  namespace: string;
  name: string;
  secretName: string;
  dnsNames: string[];
  ipAddresses: string[];
}

/** A Secret that holds a (leaf) certificate, managed or not (the inventory's facts). */
export interface TargetSecret {
  namespace: string;
  name: string;
  dnsNames: string[];
  ipAddresses: string[];
  /** false: its extended key usage excludes serverAuth (a client certificate): never expected to be served. */
  serverAuth?: boolean;
}

export interface TargetInput {
  identities: readonly TargetIdentity[];
  secrets: readonly TargetSecret[];
  pods: readonly PodRefs[];
  /** Ingress and Gateway projections. */
  tls: readonly TlsRefs[];
  services: readonly ServiceRef[];
  slices: readonly SliceRef[];
  ingressClasses: readonly ClassRef[];
  gatewayClasses: readonly ClassRef[];
  webhooks: readonly WebhookRef[];
}

/** A Service of the operator's own whose pods serve a Secret they do not mount (the webhook reads its Secret). */
export interface KnownServing {
  service: { namespace: string; name: string };
  secret: { namespace: string; name: string };
}

export interface TargetOptions {
  clusterDomain: string;
  allowedCidrs: readonly string[];
  knownServing?: readonly KnownServing[];
}

export type UnresolvedReason =
  | 'NoIngressClass' // no spec.ingressClassName and no (single) default IngressClass; or the named class does not exist
  | 'NoControllerService' // the class has no valid machineidentity.io/controller-service annotation
  | 'ServiceNotFound' // the Service named by the annotation or by a webhook does not exist
  | 'NoServicePort' // that Service has no port to probe
  | 'NoServingSecret' // a webhook's Service has no pods that serve a known certificate Secret
  | 'NoServerName' // a wildcard host the certificate has no name under
  | 'AddressRefused'; // the address guard refused an EndpointSlice address

/** Something that says a certificate is served somewhere, and why no (complete) target came of it. */
export interface Unresolved {
  source: EndpointSource;
  namespace: string;
  name: string;
  secret?: { namespace: string; name: string };
  reason: UnresolvedReason;
  message: string;
}

export interface TargetMap {
  targets: ServeTarget[];
  unresolved: Unresolved[];
}

interface CertNames {
  dnsNames: readonly string[];
}

export interface Ctx {
  certs: Map<string, CertNames>;
  pods: PodIndex;
  services: Map<string, ServiceRef>;
  slices: Map<string, SliceRef[]>;
  allowed: Cidr[];
  known: Map<string, string[]>;
  clusterDomain: string;
  targets: ServeTarget[];
  unresolved: Map<string, Unresolved>;
}

export const nsName = (namespace: string | undefined, name: string): string => `${namespace ?? ''}/${name}`;

function certIndex(input: TargetInput): Map<string, CertNames> {
  const out = new Map<string, CertNames>();
  for (const s of input.secrets) if (s.serverAuth !== false) out.set(nsName(s.namespace, s.name), s);
  // a managed identity's own names win over what the inventory read from its Secret
  for (const i of input.identities) out.set(nsName(i.namespace, i.secretName), i);
  return out;
}

export function groupBy<T>(items: readonly T[], key: (t: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const t of items) {
    const k = key(t);
    const list = out.get(k);
    if (list) list.push(t);
    else out.set(k, [t]);
  }
  return out;
}

export function context(input: TargetInput, o: TargetOptions): Ctx {
  const known = new Map<string, string[]>();
  for (const k of o.knownServing ?? []) {
    const key = nsName(k.service.namespace, k.service.name);
    known.set(key, [...(known.get(key) ?? []), nsName(k.secret.namespace, k.secret.name)]);
  }
  return {
    certs: certIndex(input),
    pods: podIndex(input.pods),
    services: new Map(input.services.map((s) => [nsName(s.metadata.namespace, s.metadata.name), s])),
    slices: groupBy(input.slices, (s) => nsName(s.metadata.namespace, s.service)),
    allowed: compileAllowed(o.allowedCidrs),
    known,
    clusterDomain: o.clusterDomain,
    targets: [],
    unresolved: new Map(),
  };
}

export function note(ctx: Ctx, u: Unresolved): void {
  ctx.unresolved.set(`${u.source}/${u.namespace}/${u.name}/${u.reason}/${u.message}`, u);
}

export interface Owner {
  source: EndpointSource;
  namespace: string;
  name: string;
  /** The Secret the addresses are for: a refused address explains that Secret's NoEndpoints. */
  secret?: { namespace: string; name: string };
}

/** Does the endpoint count for `servesSecret` (its Pod mounts it, or the Service is a known server of it)? */
function serves(ctx: Ctx, ns: string, e: SliceEndpoint, servesSecret: string | undefined, known: boolean): boolean {
  return servesSecret === undefined || known || podServes(ctx, ns, e.targetRef, servesSecret);
}

/** The endpoint's address if the guard lets it through; else noted. */
function dialable(
  ctx: Ctx,
  ns: string,
  slice: SliceRef,
  e: SliceEndpoint,
  port: number,
  owner: Owner,
): EndpointAddress | undefined {
  const d = mayDial(e.address, ns, e.targetRef, ctx.pods, ctx.allowed);
  if (!d.ok) {
    note(ctx, {
      ...owner,
      reason: 'AddressRefused',
      message: `EndpointSlice ${ns}/${slice.metadata.name}: ${d.message}`,
    });
    return undefined;
  }
  const a: EndpointAddress = { ip: e.address, port };
  if (d.pod) a.pod = nsName(ns, d.pod.metadata.name);
  if (d.pod?.workload) a.workload = d.pod.workload;
  return a;
}

/**
 * The addresses of `svc`'s port to dial: ready endpoints the guard lets through; when `servesSecret`
 * is given, only those whose Pod (the endpoint's targetRef) serves that Secret.
 */
function addressesOf(
  ctx: Ctx,
  svc: ServiceRef,
  port: ServicePortRef,
  owner: Owner,
  servesSecret?: string,
): EndpointAddress[] {
  const ns = svc.metadata.namespace ?? '';
  const known = isKnown(ctx, svc, servesSecret);
  const out = new Map<string, EndpointAddress>();
  for (const slice of ctx.slices.get(nsName(ns, svc.metadata.name)) ?? []) {
    const sp = slice.ports.find((p) => p.name === port.name);
    for (const e of sp ? slice.endpoints : []) {
      const a =
        e.ready && serves(ctx, ns, e, servesSecret, known)
          ? dialable(ctx, ns, slice, e, sp?.port ?? 0, owner)
          : undefined;
      if (a) out.set(`${a.ip}/${a.port}`, a);
    }
  }
  return [...out.values()].sort(byAddress);
}

const byAddress = (a: EndpointAddress, b: EndpointAddress): number =>
  a.ip === b.ip ? a.port - b.port : a.ip < b.ip ? -1 : 1;

function isKnown(ctx: Ctx, svc: ServiceRef, secret: string | undefined): boolean {
  return (
    secret !== undefined && (ctx.known.get(nsName(svc.metadata.namespace, svc.metadata.name)) ?? []).includes(secret)
  );
}

type Ref = SliceRef['endpoints'][number]['targetRef'];

function podOf(ctx: Ctx, ns: string, ref: Ref): PodRefs | undefined {
  if (ref?.kind !== 'Pod' || (ref.namespace !== undefined && ref.namespace !== ns)) return undefined;
  return ctx.pods.get(nsName(ns, ref.name));
}

function podServes(ctx: Ctx, ns: string, ref: Ref, secret: string): boolean {
  const pod = podOf(ctx, ns, ref);
  return pod !== undefined && pod.mounted.some((m) => nsName(ns, m) === secret);
}

/** The certificate Secrets `svc`'s pods serve: those its endpoints' Pods mount, and the operator's own. */
export function servedSecrets(ctx: Ctx, svc: ServiceRef): string[] {
  const ns = svc.metadata.namespace ?? '';
  const out = new Set<string>(ctx.known.get(nsName(ns, svc.metadata.name)) ?? []);
  const endpoints = (ctx.slices.get(nsName(ns, svc.metadata.name)) ?? []).flatMap((s) => s.endpoints);
  for (const m of endpoints.flatMap((e) => podOf(ctx, ns, e.targetRef)?.mounted ?? []))
    if (ctx.certs.has(nsName(ns, m))) out.add(nsName(ns, m));
  return [...out].sort();
}

export const splitKey = (key: string): { namespace: string; name: string } => {
  const i = key.indexOf('/');
  return { namespace: key.slice(0, i), name: key.slice(i + 1) };
};

export function push(
  ctx: Ctx,
  t: Omit<ServeTarget, 'key' | 'addresses'>,
  svc: ServiceRef,
  port: ServicePortRef,
  servesSecret?: string,
): void {
  const owner = { source: t.source, namespace: t.namespace, name: t.name, secret: t.secret };
  const key = `${t.source}/${t.namespace}/${t.name}/${port.port}/${t.sni}`;
  ctx.targets.push({ key, ...t, addresses: addressesOf(ctx, svc, port, owner, servesSecret) });
}
