// Reconciler: CertificateAuthorityBinding → a live Issuer in ctx.issuers, status Ready / caFingerprintSHA256
// / caNotAfter / backend, the generated CA Secret (spec.ca.generate) and the trust bundle ConfigMaps.
// Status fields identities and observedGeneration belong to the binding-usage controller.
import { bindingFields, identityFields, type BindingModel } from '../crds/index.ts';
import { lifetimeCapMs } from '../policy/ownership.ts';
import { createHash } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import * as k8s from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { Controller } from '../runtime/reconcile-loop.ts';
import { applyStatus, isAlreadyExists, isNotFound, toKubeError } from '../runtime/kube.ts';
import { getCondition, setCondition, type ConditionInput } from './status/conditions.ts';
import { BindingReason } from '../crds/reasons.ts';
import { BINDING_GVR, type OperatorContext } from './context.ts';
import { recordEvent } from './events.ts';
import { involved, labelValue, TrustBundles, type Desired } from './trust-bundle.ts';
import type { Backend } from '../crds/certificate-authority-binding.ts';
import { invalidBindingSpecMessage, type ResolvedBindingSpec } from '../crds/binding-model.ts';
import { generateCa, loadCaMaterial, type CaMaterial } from '../issuers/ca-material.ts';
import { backendOf, buildIssuer } from '../issuers/registry.ts';
import { normaliseFingerprint } from '../issuers/sign-from-csr.ts';
import { isoSeconds } from '../issuers/in-cluster-ca.ts';
import type { Issuer } from '../issuers/types.ts';
import { caRecordOf, ContinuityStep, type ContinuityResult } from './ca-continuity-step.ts';
import { onMissingCaSecret, REGENERATE_CA_ANNOTATION, REPLACES_CA_ANNOTATION, type CaRecord } from './ca-continuity.ts';

export const FIELD_MANAGER = 'mio-authority-binding';
export const GENERATED_CA_LABEL = 'machineidentity.io/generated-ca';
/** Re-check at least this often (CA expiry, foreign trust-bundle ConfigMaps going away). */
const RESYNC_MS = 6 * 3600_000;
const CONFLICT_RESYNC_MS = 5 * 60_000;

type Spec = ResolvedBindingSpec;

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
  /** The regenerate-ca-requested-at value this reconcile acted on. */
  handles?: string;
  /** replaces-ca of a CA Secret we generated for this binding. */
  generatedReplacing?: string;
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
  const r = new Reconciler(ctx, trust, built, new ContinuityStep(ctx));
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
  const withTrustBundle = (): void => { for (const b of bindings.list()) if (bindingFields(b).trustBundle) enqueue(b.metadata?.name); };
  namespaces.onAdd(withTrustBundle).onDelete(withTrustBundle)
    .onUpdate((o, n) => { if (!isDeepStrictEqual(o.metadata?.labels, n.metadata?.labels) || o.status?.phase !== n.status?.phase) withTrustBundle(); });
  trust.informer.onUpdate((_o, cm) => enqueue(TrustBundles.bindingOf(cm))).onDelete((cm) => enqueue(TrustBundles.bindingOf(cm)));
  // a previous CA leaves the bundles once no identity holds a certificate from it: follow their progress (batched)
  const holderChanged = (name: string | undefined): void => {
    if (name && ((bindings.get(name)?.status?.previousCAs as unknown[] | undefined)?.length ?? 0) > 0) c.queue.addAfter(name, 1000);
  };
  ctx.informers.identities.onDelete((mi) => holderChanged(identityFields(mi).authorityRef?.name))
    .onUpdate((o, n) => { if (o.status?.authorityFingerprintSHA256 !== n.status?.authorityFingerprintSHA256) holderChanged(identityFields(n).authorityRef?.name); });
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

function secretRefsOf(b: BindingModel): string[] {
  return secretRefs(bindingFields(b)).map(([name]) => name);
}

class Reconciler {
  private readonly ctx: OperatorContext;
  private readonly trust: TrustBundles;
  private readonly built: Map<string, { key: string; issuer: Issuer }>;
  private readonly core: k8s.CoreV1Api;
  private readonly continuity: ContinuityStep;
  /**
   * The CA record this process last wrote per binding (by uid): the binding cache may not show our own status
   * write yet, and acting on an older record would treat our own new CA as a change again (a second rotation).
   */
  private readonly records = new Map<string, { uid: string | undefined; rec: CaRecord }>();

  constructor(ctx: OperatorContext, trust: TrustBundles, built: Map<string, { key: string; issuer: Issuer }>, continuity: ContinuityStep) {
    this.ctx = ctx;
    this.trust = trust;
    this.built = built;
    this.continuity = continuity;
    this.core = ctx.kc.makeApiClient(k8s.CoreV1Api);
  }

  async reconcile(name: string, log: Logger): Promise<{ requeueAfterMs?: number } | undefined> {
    const b = this.ctx.informers.bindings.get(name);
    if (!b?.metadata?.name) {
      this.built.delete(name);
      this.records.delete(name);
      this.ctx.issuers.delete(name);
      await this.trust.removeAll(name, log);
      return undefined;
    }
    const spec = b.spec;
    const rec = this.recordOf(b);
    const outcome = spec ? await this.resolve(b, spec, rec, log) : notReady(BindingReason.InvalidSpec, invalidBindingSpecMessage(b.invalid));
    if (outcome.waitMs !== undefined) return { requeueAfterMs: outcome.waitMs };
    const distrusted = new Set((spec?.distrust ?? []).map(normaliseFingerprint));
    if (outcome.issuer && outcome.fingerprint && distrusted.has(outcome.fingerprint)) {
      Object.assign(outcome, notReady(BindingReason.CADistrusted, `the CA certificate ${outcome.fingerprint} is listed in spec.distrust; replace the CA (new tls.crt/tls.key, it stays in the trust bundles until its replacement is published and everything it signed reissued) or remove it from distrust`), { issuer: undefined });
    }
    // the continuity step may refuse the CA (changed unexpectedly): decide before the issuer is published
    const cont = this.continuity.before(b, spec, rec, { ...outcome, distrusted });
    if (cont.refusal) Object.assign(outcome, notReady(cont.refusal.reason, cont.refusal.message), { issuer: undefined });
    await this.updateCache(name, b, spec, outcome, distrusted, cont);
    const { conflicts } = await this.trust.sync(b, desiredBundle(spec, outcome, cont), log);
    const after = await this.continuity.after(b, spec, cont, distrusted, log);
    if (after.publishedNow || after.retired) await this.updateCache(name, b, spec, outcome, distrusted, cont);
    this.remember(b, cont.record); // before the write: a failed write must not make the next reconcile act on the old record
    await this.writeStatus(b, outcome, cont.record, log);
    if (after.retired) await this.trust.sync(b, desiredBundle(spec, outcome, cont), log);
    return { requeueAfterMs: Math.min(requeueDelay(this.ctx.now(), outcome, conflicts), after.requeueAfterMs ?? Infinity) };
  }

  private recordOf(b: BindingModel): CaRecord {
    const mem = this.records.get(b.metadata!.name!);
    return mem && mem.uid === b.metadata?.uid ? structuredClone(mem.rec) : caRecordOf(b.status);
  }

  private remember(b: BindingModel, rec: CaRecord | undefined): void {
    if (rec) this.records.set(b.metadata!.name!, { uid: b.metadata?.uid, rec: structuredClone(rec) });
    else this.records.delete(b.metadata!.name!);
  }

  private async resolve(b: BindingModel, spec: Spec, rec: CaRecord, log: Logger): Promise<Outcome> {
    const backend = backendOf(spec);
    // a binding without maxDuration still has a finite cap (DEFAULT_LIFETIME_CAP): no default grants a longer lifetime
    const maxDurationMs = lifetimeCapMs(spec);
    const name = b.metadata!.name!;
    if (backend !== 'ca') return this.resolveRemote(name, backend, spec, maxDurationMs);
    return this.resolveCa(b, spec, rec, maxDurationMs, log);
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
  private async resolveCa(b: BindingModel, spec: Spec, rec: CaRecord, maxDurationMs: number | undefined, log: Logger): Promise<Outcome> {
    const backend = 'ca' as const;
    const name = b.metadata!.name!;
    const ns = this.ctx.config.namespace;
    const secretName = spec.ca!.secretRef.name;
    let secret = this.ctx.informers.operatorSecrets.get(`${ns}/${secretName}`);
    let handles: string | undefined;
    if (!secret) {
      const m = await this.whenMissing(b, spec, rec, log);
      if (!('secret' in m)) return m;
      ({ secret, handles } = m);
    } else {
      const r = await this.rotateOnRequest(b, spec, rec, secret, log);
      if (r && !('secret' in r)) return r;
      if (r) ({ secret, handles } = r);
    }
    // a request acted on is remembered at once: a failure later in this reconcile must not make it act twice
    if (handles) this.remember(b, { ...rec, regenerationHandled: handles });
    const ours = secret.metadata?.labels?.[GENERATED_CA_LABEL] === labelValue(name);
    const generatedReplacing = ours ? secret.metadata?.annotations?.[REPLACES_CA_ANNOTATION] : undefined;
    const m = loadCaMaterial(secret.data ?? {}, this.ctx.now());
    if (!m.ok) {
      return notReady(m.reason, `Secret ${ns}/${secretName}: ${m.message}`,
        { backend, fingerprint: m.fingerprintSHA256, notAfter: m.notAfter, requeueAt: m.reason === 'CANotYetValid' ? m.notBefore : undefined });
    }
    const key = createHash('sha256').update(`${maxDurationMs}|${secret.data?.['tls.crt']}|${secret.data?.['tls.key']}|${secret.data?.['ca.crt'] ?? ''}`).digest('hex');
    const res = this.reuse(name, key, () => buildIssuer(spec, m, { maxDurationMs }));
    if ('reason' in res) return notReady(res.reason, res.message, { backend });
    return { backend, issuer: res.issuer, material: m, fingerprint: m.fingerprintSHA256, notAfter: m.notAfter, handles, generatedReplacing,
      ready: { type: 'Ready', status: 'True', reason: BindingReason.Ready,
        message: `CA ${m.cert.subject} (${m.fingerprintSHA256}) is valid until ${isoSeconds(m.notAfter)}` } };
  }

  /** The CA Secret is missing: generate one only for a first CA or when the security team asked (ca-continuity.ts). */
  private async whenMissing(b: BindingModel, spec: Spec, rec: CaRecord, log: Logger): Promise<{ secret: k8s.V1Secret; handles?: string } | Outcome> {
    const d = onMissingCaSecret({ secret: `${this.ctx.config.namespace}/${spec.ca!.secretRef.name}`, recordedFingerprint: rec.fingerprint, generate: spec.ca!.generate,
      requested: b.metadata?.annotations?.[REGENERATE_CA_ANNOTATION], handled: rec.regenerationHandled,
      recordedDistrusted: rec.fingerprint !== undefined && (spec.distrust ?? []).map(normaliseFingerprint).includes(rec.fingerprint) });
    if (d.action === 'notReady') return notReady(d.reason, d.message, { backend: 'ca' });
    const created = await this.generate(b, spec, rec.fingerprint, log);
    if (!created) return { ready: { type: 'Ready', status: 'False', reason: '', message: '' }, waitMs: 1000 };
    return { secret: created, handles: d.handles };
  }

  /**
   * A regeneration request while the CA Secret exists rotates a CA we generated (replaced in place, old and new
   * overlap). A Secret we did not generate is never overwritten: the request is marked handled with a Warning,
   * so it cannot fire later when that Secret happens to go missing.
   */
  private async rotateOnRequest(b: BindingModel, spec: Spec, rec: CaRecord, secret: k8s.V1Secret, log: Logger): Promise<{ secret: k8s.V1Secret; handles: string } | Outcome | undefined> {
    const requested = b.metadata?.annotations?.[REGENERATE_CA_ANNOTATION];
    if (!requested || requested === rec.regenerationHandled) return undefined;
    const ours = secret.metadata?.labels?.[GENERATED_CA_LABEL] === labelValue(b.metadata!.name!);
    if (!spec.ca!.generate || !ours) {
      await recordEvent(this.ctx, involved(b), 'Warning', BindingReason.CAGenerationFailed,
        `${REGENERATE_CA_ANNOTATION}=${requested} ignored: Secret ${this.ctx.config.namespace}/${spec.ca!.secretRef.name} ${ours ? 'exists and spec.ca.generate is not set' : 'was not generated by the operator'}; replace its tls.crt/tls.key yourself and approve the new CA with machineidentity.io/accept-ca-fingerprint`);
      return { secret, handles: requested };
    }
    const replaced = await this.generate(b, spec, rec.fingerprint, log, secret);
    if (!replaced) return { ready: { type: 'Ready', status: 'False', reason: '', message: '' }, waitMs: 1000 };
    return { secret: replaced, handles: requested };
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
  /** Creates the CA Secret, or replaces `existing` (ours) under a resourceVersion precondition; undefined when we lost a race. */
  private async generate(b: BindingModel, spec: Spec, replaces: string | undefined, log: Logger, existing?: k8s.V1Secret): Promise<k8s.V1Secret | undefined> {
    const g = spec.ca!.generate!;
    const ns = this.ctx.config.namespace;
    const name = spec.ca!.secretRef.name;
    const binding = b.metadata!.name!;
    try {
      const ca = await generateCa({ commonName: g.commonName, organizations: g.organizations, durationMs: g.durationMs,
        key: { algorithm: g.privateKey.algorithm, size: g.privateKey.size } });
      const body: k8s.V1Secret = {
        apiVersion: 'v1', kind: 'Secret', type: 'kubernetes.io/tls',
        metadata: { name, namespace: ns, labels: { [GENERATED_CA_LABEL]: labelValue(binding) }, annotations: { 'machineidentity.io/binding': binding, [REPLACES_CA_ANNOTATION]: replaces ?? '' },
          ...(existing ? { resourceVersion: existing.metadata?.resourceVersion } : {}) },
        data: { 'tls.crt': Buffer.from(ca.certPem).toString('base64'), 'tls.key': Buffer.from(ca.keyPem).toString('base64') },
      };
      const created = existing ? await this.core.replaceNamespacedSecret({ name, namespace: ns, fieldManager: FIELD_MANAGER, body })
        : await this.core.createNamespacedSecret({ namespace: ns, fieldManager: FIELD_MANAGER, body });
      log.info({ secret: `${ns}/${name}`, rotated: Boolean(existing) }, 'generated CA Secret');
      const what = existing ? `, rotating CA ${replaces} on request (both stay in the trust bundles)` : replaces ? `, replacing the lost CA ${replaces} (both stay in the trust bundles)` : '';
      await recordEvent(this.ctx, involved(b), replaces && !existing ? 'Warning' : 'Normal', BindingReason.CAGenerated,
        `generated a ${g.privateKey.algorithm} CA "${g.commonName}" into Secret ${ns}/${name}${what}`);
      return created;
    } catch (e) {
      if (isAlreadyExists(e) || toKubeError(e).code === 409) return undefined; // lost a race: the informer will deliver the winner
      await recordEvent(this.ctx, involved(b), 'Warning', BindingReason.CAGenerationFailed, `could not create CA Secret ${ns}/${name}: ${(e as Error).message}`);
      throw new Error(`create CA Secret ${ns}/${name} failed`, { cause: e });
    }
  }

  private async updateCache(name: string, b: BindingModel, spec: Spec | undefined, o: Outcome, distrusted: Set<string>, cont: ContinuityResult): Promise<void> {
    if (!o.issuer || o.ready.status !== 'True') {
      this.ctx.issuers.delete(name);
      return;
    }
    this.ctx.issuers.set(name, { issuer: o.issuer, health: await o.issuer.health(), generation: b.metadata?.generation, distrusted,
      maxDurationMs: lifetimeCapMs(spec ?? {}), ...cont.cacheFields() });
  }

  private async writeStatus(b: BindingModel, o: Outcome, rec: CaRecord | undefined, log: Logger): Promise<void> {
    const gen = b.metadata?.generation;
    const prev = getCondition(b.status?.conditions, 'Ready');
    const ready = getCondition(setCondition(b.status?.conditions, o.ready, gen, this.ctx.now()), 'Ready')!;
    // a ca binding's caFingerprintSHA256 is the recorded CA (kept while its Secret is lost or replaced unexpectedly)
    const fields: Record<string, unknown> = { backend: o.backend, caFingerprintSHA256: rec ? rec.fingerprint : o.fingerprint, caNotAfter: o.notAfter ? isoSeconds(o.notAfter) : undefined,
      ...this.continuity.statusFields(b, rec) };
    const st: Record<string, unknown> = b.status ?? {};
    if (isDeepStrictEqual(prev, ready) && Object.entries(fields).every(([k, v]) => isDeepStrictEqual(st[k], v))) return;
    const status = Object.fromEntries(Object.entries({ conditions: [ready], ...fields }).filter(([, v]) => v !== undefined));
    const body = { apiVersion: 'machineidentity.io/v1alpha1', kind: 'CertificateAuthorityBinding', metadata: { name: b.metadata.name }, status };
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

/** The recorded CA and the previous ones still in their overlap window; nothing recorded yet: leave what is published. */
function desiredBundle(spec: Spec | undefined, o: Outcome, cont: ContinuityResult): Desired {
  if (!spec?.trustBundle || o.backend === 'selfSigned') return { kind: 'remove' };
  const bundlePem = cont.bundlePem();
  if (bundlePem === undefined) return { kind: 'keep' };
  return { kind: 'publish', configMapName: spec.trustBundle.configMapName, key: spec.trustBundle.key, bundlePem,
    namespaceSelector: spec.namespaceSelector };
}

/** Wake up just after the CA expires (or becomes valid), and at least every RESYNC_MS. */
function requeueDelay(now: Date, o: Outcome, conflicts: number): number {
  let delay = conflicts > 0 ? CONFLICT_RESYNC_MS : RESYNC_MS;
  const at = o.requeueAt ?? (o.ready.status === 'True' ? o.notAfter : undefined);
  if (at) delay = Math.min(delay, Math.max(1000, at.getTime() - now.getTime() + 1000));
  return delay;
}


