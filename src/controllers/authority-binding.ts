// Reconciler: CertificateAuthorityBinding → a live Issuer in ctx.issuers, status Ready / caFingerprintSHA256
// / caNotAfter / backend, the generated CA Secret (spec.ca.generate) and the trust bundle ConfigMaps.
// Status fields identities and observedGeneration belong to the binding-usage controller.
import { lifetimeCapMs } from '../policy/ownership.ts';
import { createHash } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import * as k8s from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { Controller } from './runtime/controller.ts';
import { applyStatus, isAlreadyExists, isNotFound } from './runtime/kube.ts';
import { getCondition, setCondition, type ConditionInput } from './status/conditions.ts';
import { BindingReason } from './status/reasons.ts';
import { BINDING_GVR, type BindingObject, type OperatorContext } from './context.ts';
import { recordEvent } from './events.ts';
import { involved, labelValue, TrustBundles, type Desired } from './trust-bundle.ts';
import { CertificateAuthorityBindingSpec, type Backend } from '../crds/certificate-authority-binding.ts';
import { parseDuration } from '../crds/common.ts';
import { generateCa, loadCaMaterial, type CaMaterial } from '../issuers/ca-material.ts';
import { backendOf, buildIssuer } from '../issuers/registry.ts';
import { normaliseFingerprint } from '../issuers/sign-from-csr.ts';
import { isoSeconds } from '../issuers/in-cluster-ca.ts';
import type { Issuer } from '../issuers/types.ts';

export const FIELD_MANAGER = 'mio-authority-binding';
export const GENERATED_CA_LABEL = 'machineidentity.io/generated-ca';
/** Re-check at least this often (CA expiry, foreign trust-bundle ConfigMaps going away). */
const RESYNC_MS = 6 * 3600_000;
const CONFLICT_RESYNC_MS = 5 * 60_000;

type Spec = CertificateAuthorityBindingSpec;

/** The outcome of resolving a binding's CA: Ready or why not, plus what status and trust bundles show. */
interface Outcome {
  ready: ConditionInput;
  backend?: Backend;
  fingerprint?: string;
  notAfter?: Date;
  issuer?: Issuer;
  material?: CaMaterial;
  /** Not a verdict: wait for the cache (e.g. a Secret we just lost a create race for). */
  waitMs?: number;
  requeueAt?: Date;
}

const notReady = (reason: string, message: string, extra: Partial<Outcome> = {}): Outcome =>
  ({ ready: { type: 'Ready', status: 'False', reason, message }, ...extra });

class AuthorityBindingController extends Controller {
  private readonly trust: TrustBundles;
  constructor(opts: ConstructorParameters<typeof Controller>[0], trust: TrustBundles) {
    super(opts);
    this.trust = trust;
  }
  override async start(): Promise<void> {
    this.trust.informer.start();
    await super.start();
  }
  override async stop(): Promise<void> {
    await super.stop();
    await this.trust.informer.stop();
  }
}

export function authorityBindingController(ctx: OperatorContext): Controller {
  const { bindings, namespaces, operatorSecrets } = ctx.informers;
  const trust = new TrustBundles(ctx, FIELD_MANAGER);
  /** Built issuers, reused while their inputs are unchanged (so the cache does not see a "new CA"). */
  const built = new Map<string, { key: string; issuer: Issuer }>();
  const r = new Reconciler(ctx, trust, built);
  const c = new AuthorityBindingController({
    name: 'authority-binding', logger: ctx.log, registry: ctx.registry, workers: 2,
    informers: [bindings, namespaces, operatorSecrets, trust.informer],
    reconcile: (name, { log }) => r.reconcile(name, log),
  }, trust);
  const enqueue = (name: string | undefined): void => { if (name) c.queue.add(name); };
  bindings.onAdd((b) => enqueue(b.metadata?.name)).onUpdate((_o, b) => enqueue(b.metadata?.name)).onDelete((b) => enqueue(b.metadata?.name));
  const bySecret = (s: k8s.V1Secret): void => {
    for (const b of bindings.list()) if (secretRefsOf(b).includes(s.metadata?.name ?? '')) enqueue(b.metadata?.name);
  };
  operatorSecrets.onAdd(bySecret).onUpdate((_o, s) => bySecret(s)).onDelete(bySecret);
  const withTrustBundle = (): void => { for (const b of bindings.list()) if (b.spec?.trustBundle) enqueue(b.metadata?.name); };
  namespaces.onAdd(withTrustBundle).onDelete(withTrustBundle)
    .onUpdate((o, n) => { if (!isDeepStrictEqual(o.metadata?.labels, n.metadata?.labels) || o.status?.phase !== n.status?.phase) withTrustBundle(); });
  trust.informer.onUpdate((_o, cm) => enqueue(TrustBundles.bindingOf(cm))).onDelete((cm) => enqueue(TrustBundles.bindingOf(cm)));
  return c;
}

/**
 * Secret keys (operator namespace) a spec reads: every `secretRef` / `*SecretRef` in it (CA, CFSSL auth
 * key, step-ca password, ACME account/EAB/TSIG keys). A reference without a key names a key pair: tls.key.
 */
function secretRefs(spec: unknown): [string, string][] {
  const out: [string, string][] = [];
  const walk = (v: unknown, depth: number): void => {
    if (depth > 8 || typeof v !== 'object' || v === null) return;
    for (const [k, x] of Object.entries(v)) {
      const ref = x as { name?: unknown; key?: unknown } | null;
      if ((k === 'secretRef' || k.endsWith('SecretRef')) && typeof ref?.name === 'string') out.push([ref.name, typeof ref.key === 'string' ? ref.key : 'tls.key']);
      else walk(x, depth + 1);
    }
  };
  walk(spec, 0);
  return out;
}

function secretRefsOf(b: BindingObject): string[] {
  return secretRefs(b.spec).map(([name]) => name);
}

class Reconciler {
  private readonly ctx: OperatorContext;
  private readonly trust: TrustBundles;
  private readonly built: Map<string, { key: string; issuer: Issuer }>;
  private readonly core: k8s.CoreV1Api;

  constructor(ctx: OperatorContext, trust: TrustBundles, built: Map<string, { key: string; issuer: Issuer }>) {
    this.ctx = ctx;
    this.trust = trust;
    this.built = built;
    this.core = ctx.kc.makeApiClient(k8s.CoreV1Api);
  }

  async reconcile(name: string, log: Logger): Promise<{ requeueAfterMs?: number } | undefined> {
    const b = this.ctx.informers.bindings.get(name);
    if (!b?.metadata?.name) {
      this.built.delete(name);
      this.ctx.issuers.delete(name);
      await this.trust.removeAll(name, log);
      return undefined;
    }
    const parsed = CertificateAuthorityBindingSpec.safeParse(b.spec ?? {});
    const spec = parsed.success ? parsed.data : undefined;
    const outcome = spec ? await this.resolve(b, spec, log)
      : notReady(BindingReason.InvalidSpec, `invalid spec: ${parsed.error?.issues.map((i) => `${i.path.join('.') || 'spec'}: ${i.message}`).join('; ')}`);
    if (outcome.waitMs !== undefined) return { requeueAfterMs: outcome.waitMs };
    const distrusted = new Set((spec?.distrust ?? []).map(normaliseFingerprint));
    if (outcome.issuer && outcome.fingerprint && distrusted.has(outcome.fingerprint)) {
      Object.assign(outcome, notReady(BindingReason.CADistrusted, `the CA certificate ${outcome.fingerprint} is listed in spec.distrust; replace the CA (new tls.crt/tls.key) or remove it from distrust`), { issuer: undefined });
    }
    await this.updateCache(name, b, spec, outcome, distrusted);
    await this.writeStatus(b, outcome, log);
    const { conflicts } = await this.trust.sync(b, desiredBundle(spec, outcome, distrusted), log);
    return { requeueAfterMs: requeueDelay(this.ctx.now(), outcome, conflicts) };
  }

  private async resolve(b: BindingObject, spec: Spec, log: Logger): Promise<Outcome> {
    const backend = backendOf(spec);
    // a binding without maxDuration still has a finite cap (DEFAULT_LIFETIME_CAP): no default grants a longer lifetime
    const maxDurationMs = lifetimeCapMs(spec);
    const name = b.metadata!.name!;
    if (backend !== 'ca') return this.resolveRemote(name, backend, spec, maxDurationMs);
    return this.resolveCa(b, spec, name, maxDurationMs, log);
  }

  /** selfSigned and the backends whose CA is elsewhere: the issuer's own health is the binding's Ready. */
  private async resolveRemote(name: string, backend: Backend | undefined, spec: Spec, maxDurationMs: number | undefined): Promise<Outcome> {
    {
      const ns = this.ctx.config.namespace;
      const secretValue = (secret: string, key: string): string | undefined => {
        const v = this.ctx.informers.operatorSecrets.get(`${ns}/${secret}`)?.data?.[key];
        return v === undefined ? undefined : Buffer.from(v, 'base64').toString('utf8');
      };
      // the key includes referenced secret values (hashed), so a rotated auth key rebuilds the issuer
      const refs = createHash('sha256').update(JSON.stringify(spec[backend as Backend] ?? {})).update(JSON.stringify(secretRefs(spec[backend as Backend]).map(([s, k]) => secretValue(s, k) ?? ''))).digest('hex');
      const res = this.reuse(name, `${backend}|${maxDurationMs}|${refs}`,
        () => buildIssuer(spec, undefined, { maxDurationMs, kc: this.ctx.kc, operatorNamespace: ns, secretValue, acmeIngress: this.ctx.config.acmeHttp01 }));
      if ('reason' in res) return notReady(res.reason, res.message, { backend });
      const h = backend === 'selfSigned' ? undefined : await res.issuer.health();
      if (h && !h.ready) return notReady(h.reason, h.message, { backend });
      return { backend, issuer: res.issuer, ready: { type: 'Ready', status: 'True', reason: BindingReason.Ready, message: h?.message ?? 'self-signed: each identity signs its own certificate (development only)' } };
    }
  }

  /** ca: CA material from the Secret in the operator's namespace (generated when asked). */
  private async resolveCa(b: BindingObject, spec: Spec, name: string, maxDurationMs: number | undefined, log: Logger): Promise<Outcome> {
    const backend = 'ca' as const;
    const ns = this.ctx.config.namespace;
    const secretName = spec.ca!.secretRef.name;
    let secret = this.ctx.informers.operatorSecrets.get(`${ns}/${secretName}`);
    if (!secret) {
      if (!spec.ca!.generate) {
        return notReady(BindingReason.CASecretNotFound, `Secret ${ns}/${secretName} does not exist: create it with tls.crt and tls.key (and ca.crt for a chain), or set spec.ca.generate to have one generated`, { backend });
      }
      const created = await this.generate(b, spec, log);
      if (!created) return { ready: { type: 'Ready', status: 'False', reason: '', message: '' }, waitMs: 1000 };
      secret = created;
    }
    const m = loadCaMaterial(secret.data ?? {}, this.ctx.now());
    if (!m.ok) {
      return notReady(m.reason, `Secret ${ns}/${secretName}: ${m.message}`,
        { backend, fingerprint: m.fingerprintSHA256, notAfter: m.notAfter, requeueAt: m.reason === 'CANotYetValid' ? m.notBefore : undefined });
    }
    const key = createHash('sha256').update(`${maxDurationMs}|${secret.data?.['tls.crt']}|${secret.data?.['tls.key']}|${secret.data?.['ca.crt'] ?? ''}`).digest('hex');
    const res = this.reuse(name, key, () => buildIssuer(spec, m, { maxDurationMs }));
    if ('reason' in res) return notReady(res.reason, res.message, { backend });
    return { backend, issuer: res.issuer, material: m, fingerprint: m.fingerprintSHA256, notAfter: m.notAfter,
      ready: { type: 'Ready', status: 'True', reason: BindingReason.Ready,
        message: `CA ${m.cert.subject} (${m.fingerprintSHA256}) is valid until ${isoSeconds(m.notAfter)}` } };
  }

  private reuse(name: string, key: string, build: () => ReturnType<typeof buildIssuer>): ReturnType<typeof buildIssuer> {
    const prev = this.built.get(name);
    if (prev?.key === key) return { issuer: prev.issuer };
    const res = build();
    if ('issuer' in res) this.built.set(name, { key, issuer: res.issuer });
    else this.built.delete(name);
    return res;
  }

  /** Creates the CA Secret (never applies over an existing one); undefined when someone else created it first. */
  private async generate(b: BindingObject, spec: Spec, log: Logger): Promise<k8s.V1Secret | undefined> {
    const g = spec.ca!.generate!;
    const ns = this.ctx.config.namespace;
    const name = spec.ca!.secretRef.name;
    const binding = b.metadata!.name!;
    try {
      const ca = await generateCa({ commonName: g.commonName, organizations: g.organizations, durationMs: parseDuration(g.duration) ?? 87600 * 3600_000,
        key: { algorithm: g.privateKey.algorithm, size: g.privateKey.size } });
      const created = await this.core.createNamespacedSecret({ namespace: ns, fieldManager: FIELD_MANAGER, body: {
        apiVersion: 'v1', kind: 'Secret', type: 'kubernetes.io/tls',
        metadata: { name, namespace: ns, labels: { [GENERATED_CA_LABEL]: labelValue(binding) }, annotations: { 'machineidentity.io/binding': binding } },
        data: { 'tls.crt': Buffer.from(ca.certPem).toString('base64'), 'tls.key': Buffer.from(ca.keyPem).toString('base64') },
      } });
      log.info({ secret: `${ns}/${name}` }, 'generated CA Secret');
      await recordEvent(this.ctx, involved(b), 'Normal', BindingReason.CAGenerated,
        `generated a ${g.privateKey.algorithm} CA "${g.commonName}" into Secret ${ns}/${name}`);
      return created;
    } catch (e) {
      if (isAlreadyExists(e)) return undefined; // the informer will deliver it
      await recordEvent(this.ctx, involved(b), 'Warning', BindingReason.CAGenerationFailed, `could not create CA Secret ${ns}/${name}: ${(e as Error).message}`);
      throw new Error(`create CA Secret ${ns}/${name} failed`, { cause: e });
    }
  }

  private async updateCache(name: string, b: BindingObject, spec: Spec | undefined, o: Outcome, distrusted: Set<string>): Promise<void> {
    if (!o.issuer || o.ready.status !== 'True') {
      this.ctx.issuers.delete(name);
      return;
    }
    this.ctx.issuers.set(name, { issuer: o.issuer, health: await o.issuer.health(), generation: b.metadata?.generation, distrusted,
      maxDurationMs: lifetimeCapMs(spec ?? {}) });
  }

  private async writeStatus(b: BindingObject, o: Outcome, log: Logger): Promise<void> {
    const gen = b.metadata?.generation;
    const prev = getCondition(b.status?.conditions, 'Ready');
    const ready = getCondition(setCondition(b.status?.conditions, o.ready, gen, this.ctx.now()), 'Ready')!;
    const fields = { backend: o.backend, caFingerprintSHA256: o.fingerprint, caNotAfter: o.notAfter ? isoSeconds(o.notAfter) : undefined };
    const st = b.status ?? {};
    if (isDeepStrictEqual(prev, ready) && st.backend === fields.backend && st.caFingerprintSHA256 === fields.caFingerprintSHA256 && st.caNotAfter === fields.caNotAfter) return;
    const status = Object.fromEntries(Object.entries({ conditions: [ready], ...fields }).filter(([, v]) => v !== undefined));
    const body: BindingObject = { apiVersion: 'machineidentity.io/v1alpha1', kind: 'CertificateAuthorityBinding', metadata: { name: b.metadata!.name! }, status };
    try {
      await applyStatus(this.ctx.co, BINDING_GVR, body, FIELD_MANAGER);
    } catch (e) {
      if (isNotFound(e)) return;
      throw new Error('apply CertificateAuthorityBinding status failed', { cause: e });
    }
    log.debug({ reason: ready.reason, status: ready.status }, 'status updated');
    if (!prev || prev.status !== ready.status || prev.reason !== ready.reason) {
      await recordEvent(this.ctx, involved(b), ready.status === 'True' ? 'Normal' : 'Warning', ready.reason, ready.message);
    }
  }
}

function desiredBundle(spec: Spec | undefined, o: Outcome, distrusted: Set<string>): Desired {
  if (!spec?.trustBundle || o.backend === 'selfSigned') return { kind: 'remove' };
  if (!o.material) return { kind: 'keep' }; // CA unusable for now: leave published bundles as they are
  const pems = o.material.trustBundlePem.filter((p) => !distrusted.has(fingerprintOfPem(p)));
  return { kind: 'publish', configMapName: spec.trustBundle.configMapName, key: spec.trustBundle.key, bundlePem: pems.join(''),
    namespaceSelector: spec.namespaceSelector };
}

function fingerprintOfPem(pem: string): string {
  const der = Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
  return normaliseFingerprint(createHash('sha256').update(der).digest('hex'));
}

/** Wake up just after the CA expires (or becomes valid), and at least every RESYNC_MS. */
function requeueDelay(now: Date, o: Outcome, conflicts: number): number {
  let delay = conflicts > 0 ? CONFLICT_RESYNC_MS : RESYNC_MS;
  const at = o.requeueAt ?? (o.ready.status === 'True' ? o.notAfter : undefined);
  if (at) delay = Math.min(delay, Math.max(1000, at.getTime() - now.getTime() + 1000));
  return delay;
}


