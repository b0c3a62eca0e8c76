// Where each certificate should be served, from the informers' projections (DESIGN16 "B targets").
// Pure: the same projections give the same targets, sorted by key. What could not be mapped (an
// Ingress class without a controller Service, an address the guard refused, ...) is returned beside
// the targets, so the controller can say why an identity has no endpoints.
import type { TlsRefs } from '../inventory/model.ts';
import type { ClassRef, ServicePortRef, ServiceRef, WebhookRef } from './projections.ts';
import { hostSni, serviceSni } from './sni.ts';
import {
  context,
  groupBy,
  note,
  nsName,
  push,
  servedSecrets,
  splitKey,
  type Ctx,
  type Owner,
  type TargetInput,
  type TargetMap,
  type TargetOptions,
  type Unresolved,
} from './target-index.ts';
import { tlsPorts } from './tls-ports.ts';
import { CONTROLLER_SERVICE, type ServeTarget } from './types.ts';

function serviceTargets(ctx: Ctx, svc: ServiceRef): void {
  const ports = tlsPorts(svc.ports, svc.tlsPorts);
  if (ports.length === 0) return;
  const ns = svc.metadata.namespace ?? '';
  for (const secretKey of servedSecrets(ctx, svc)) {
    const sni = serviceSni(
      ctx.certs.get(secretKey)?.dnsNames ?? [],
      { namespace: ns, name: svc.metadata.name },
      ctx.clusterDomain,
    );
    for (const port of ports) {
      const t = {
        source: 'Service' as const,
        namespace: ns,
        name: svc.metadata.name,
        secret: splitKey(secretKey),
        sni,
      };
      push(ctx, { ...t, service: { namespace: ns, name: svc.metadata.name, port: port.port } }, svc, port, secretKey);
    }
  }
}

/** `namespace/name[:port]` of a class annotation. */
function parseControllerService(v: string | undefined): { namespace: string; name: string; port?: number } | undefined {
  const m = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?)\/([a-z0-9]([-a-z0-9]*[a-z0-9])?)(?::(\d{1,5}))?$/.exec(v?.trim() ?? '');
  if (!m?.[1] || !m[3]) return undefined;
  const port = m[5] === undefined ? undefined : Number(m[5]);
  return { namespace: m[1], name: m[3], ...(port !== undefined ? { port } : {}) };
}

/** The Service port to probe: `exact` if the Service has it, else the annotation's, else 443, else the one named https. */
function pickPort(svc: ServiceRef, annotationPort: number | undefined, exact?: number): ServicePortRef | undefined {
  const byNumber = (n: number | undefined): ServicePortRef | undefined =>
    n === undefined ? undefined : svc.ports.find((p) => p.port === n);
  if (annotationPort !== undefined) return byNumber(exact) ?? byNumber(annotationPort);
  return byNumber(exact) ?? byNumber(443) ?? svc.ports.find((p) => p.name === 'https');
}

interface Controller {
  svc: ServiceRef;
  port?: number;
}

type Why = Pick<Unresolved, 'reason' | 'message'>;

/** The controller Service a class names, or why there is none. */
function controllerOf(ctx: Ctx, cls: ClassRef | undefined, kind: string, className: string): Controller | Why {
  if (!cls) {
    const message = className
      ? `${kind} ${className} not found`
      : 'no ingressClassName and no single default IngressClass';
    return { reason: 'NoIngressClass', message };
  }
  const ref = parseControllerService(cls.controllerService);
  if (!ref)
    return {
      reason: 'NoControllerService',
      message: `${cls.kind} ${cls.metadata.name} has no valid ${CONTROLLER_SERVICE} annotation (namespace/name[:port])`,
    };
  const svc = ctx.services.get(nsName(ref.namespace, ref.name));
  if (!svc)
    return {
      reason: 'ServiceNotFound',
      message: `controller Service ${ref.namespace}/${ref.name} of ${cls.kind} ${cls.metadata.name} not found`,
    };
  return { svc, ...(ref.port !== undefined ? { port: ref.port } : {}) };
}

/** Notes why for each Secret the object names (what the Served condition of its identity can say). */
function unmapped(ctx: Ctx, owner: Owner, secrets: readonly string[], why: Why): void {
  for (const name of new Set(secrets)) note(ctx, { ...owner, secret: { namespace: owner.namespace, name }, ...why });
}

function defaultIngressClass(classes: readonly ClassRef[]): ClassRef | undefined {
  const defaults = classes.filter((c) => c.isDefault);
  return defaults.length === 1 ? defaults[0] : undefined;
}

const noPort = (svc: ServiceRef): Why => ({
  reason: 'NoServicePort',
  message: `Service ${svc.metadata.namespace ?? ''}/${svc.metadata.name} has no port to probe`,
});

/** Where an Ingress or Gateway sends a host: the controller's Service port. */
interface Via {
  svc: ServiceRef;
  port: ServicePortRef;
  owner: Owner;
}

/** One target for `secret` at `host` ('' = none given) through the controller, or why not (noted). */
function hostTarget(ctx: Ctx, via: Via, secret: string, host: string, suffixMatch: boolean): void {
  const ns = via.owner.namespace;
  const service = { namespace: via.svc.metadata.namespace ?? '', name: via.svc.metadata.name, port: via.port.port };
  const names = ctx.certs.get(nsName(ns, secret))?.dnsNames ?? [];
  const sni = host === '' ? serviceSni(names, service, ctx.clusterDomain) : hostSni(host, names, suffixMatch);
  const ref = { namespace: ns, name: secret };
  if (sni === undefined)
    return note(ctx, {
      ...via.owner,
      secret: ref,
      reason: 'NoServerName',
      message: `Secret ${secret} has no name under ${host}`,
    });
  push(ctx, { ...via.owner, secret: ref, sni, service }, via.svc, via.port);
}

function ingressTargets(ctx: Ctx, ing: TlsRefs, classes: readonly ClassRef[]): void {
  const ns = ing.metadata.namespace ?? '';
  const owner = { source: 'Ingress' as const, namespace: ns, name: ing.metadata.name };
  const tls = (ing.tls ?? []).filter((t) => ctx.certs.has(nsName(ns, t.secretName)));
  if (tls.length === 0) return;
  const secrets = tls.map((t) => t.secretName);
  const cls = ing.className ? classes.find((c) => c.metadata.name === ing.className) : defaultIngressClass(classes);
  const ctl = controllerOf(ctx, cls, 'IngressClass', ing.className ?? '');
  if (!('svc' in ctl)) return unmapped(ctx, owner, secrets, ctl);
  const port = pickPort(ctl.svc, ctl.port);
  if (!port) return unmapped(ctx, owner, secrets, noPort(ctl.svc));
  for (const t of tls)
    for (const h of t.hosts.length ? t.hosts : [''])
      hostTarget(ctx, { svc: ctl.svc, port, owner }, t.secretName, h, false);
}

const TLS_PROTOCOLS = new Set(['HTTPS', 'TLS']);

function gatewayTargets(ctx: Ctx, gw: TlsRefs, classes: readonly ClassRef[]): void {
  const ns = gw.metadata.namespace ?? '';
  const owner = { source: 'Gateway' as const, namespace: ns, name: gw.metadata.name };
  const listeners = (gw.listeners ?? []).filter(
    (l) => TLS_PROTOCOLS.has(l.protocol) && l.secrets.some((s) => ctx.certs.has(nsName(ns, s))),
  );
  if (listeners.length === 0) return;
  const cls = classes.find((c) => c.metadata.name === gw.className);
  const ctl = controllerOf(ctx, cls, 'GatewayClass', gw.className ?? '');
  if (!('svc' in ctl))
    return unmapped(
      ctx,
      owner,
      listeners.flatMap((l) => l.secrets),
      ctl,
    );
  for (const l of listeners) {
    const at = { ...owner, name: `${gw.metadata.name}#${l.name}` };
    const port = pickPort(ctl.svc, ctl.port, l.port);
    if (!port) {
      unmapped(ctx, at, l.secrets, noPort(ctl.svc));
      continue;
    }
    for (const s of l.secrets.filter((x) => ctx.certs.has(nsName(ns, x))))
      hostTarget(ctx, { svc: ctl.svc, port, owner: at }, s, l.hostname ?? '', true);
  }
}

/** The PEM text of a base64 caBundle, when it is one. */
function caBundlePem(b64: string | undefined): string | undefined {
  if (!b64) return undefined;
  const pem = Buffer.from(b64, 'base64').toString('utf8');
  return pem.includes('-----BEGIN CERTIFICATE-----') ? pem : undefined;
}

function webhookTargets(ctx: Ctx, w: WebhookRef): void {
  const owner = { source: w.kind, namespace: '', name: w.metadata.name };
  for (const c of w.calls) {
    const svc = ctx.services.get(nsName(c.namespace, c.name));
    if (!svc) {
      note(ctx, {
        ...owner,
        reason: 'ServiceNotFound',
        message: `Service ${c.namespace}/${c.name} of ${c.webhook} not found`,
      });
      continue;
    }
    const port = svc.ports.find((p) => p.port === c.port);
    if (!port) {
      note(ctx, { ...owner, ...noPort(svc) });
      continue;
    }
    const secrets = servedSecrets(ctx, svc);
    if (secrets.length === 0)
      note(ctx, {
        ...owner,
        reason: 'NoServingSecret',
        message: `no Pod of Service ${c.namespace}/${c.name} mounts a certificate Secret`,
      });
    const pem = caBundlePem(c.caBundle);
    for (const secretKey of secrets) {
      const t = { ...owner, secret: splitKey(secretKey), sni: `${c.name}.${c.namespace}.svc` };
      push(
        ctx,
        { ...t, service: { namespace: c.namespace, name: c.name, port: c.port }, ...(pem ? { caBundlePem: pem } : {}) },
        svc,
        port,
        secretKey,
      );
    }
  }
}

const sameTarget = (a: ServeTarget, b: ServeTarget): boolean =>
  a.secret.namespace === b.secret.namespace && a.secret.name === b.secret.name && a.caBundlePem === b.caBundlePem;

/**
 * One target per key: identical ones (two webhooks of a configuration calling the same Service) are
 * kept once; different Secrets at the same place keep the key with `@<secret>` appended (and `#n` when
 * even that repeats: webhooks with different bundles), so keys stay unique.
 */
function uniqueKeys(targets: ServeTarget[]): ServeTarget[] {
  const out: ServeTarget[] = [];
  for (const group of groupBy(targets, (t) => t.key).values()) {
    const distinct = group.filter((t, i) => group.findIndex((u) => sameTarget(t, u)) === i);
    if (distinct.length === 1) out.push(...distinct);
    else out.push(...distinct.map((t, i) => ({ ...t, key: `${t.key}@${t.secret.name}#${i}` })));
  }
  return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/** Every target and everything that could not be mapped. */
export function mapTargets(input: TargetInput, options: TargetOptions): TargetMap {
  const ctx = context(input, options);
  for (const svc of input.services) serviceTargets(ctx, svc);
  for (const t of input.tls) {
    if (t.kind === 'Ingress') ingressTargets(ctx, t, input.ingressClasses);
    else if (t.kind === 'Gateway') gatewayTargets(ctx, t, input.gatewayClasses);
  }
  for (const w of input.webhooks) webhookTargets(ctx, w);
  return { targets: uniqueKeys(ctx.targets), unresolved: [...ctx.unresolved.values()] };
}

export function serveTargets(input: TargetInput, options: TargetOptions): ServeTarget[] {
  return mapTargets(input, options).targets;
}

/** Targets by Secret (`namespace/name`): where the controller and the inventory look up one Secret's endpoints. */
export function targetsBySecret(targets: readonly ServeTarget[]): Map<string, ServeTarget[]> {
  return groupBy(targets, (t) => nsName(t.secret.namespace, t.secret.name));
}

/** Why a Secret has no target (what the Served condition's NoEndpoints message can say). */
export function unresolvedBySecret(unresolved: readonly Unresolved[]): Map<string, Unresolved[]> {
  return groupBy(
    unresolved.filter((u) => u.secret),
    (u) => nsName(u.secret?.namespace, u.secret?.name ?? ''),
  );
}
