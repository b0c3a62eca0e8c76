// A binding's spec → a live Issuer and the binding's Ready verdict. Built issuers are reused while
// their inputs (spec, CA material, referenced Secret values) are unchanged, so the issuer cache does
// not see a "new CA" on every resync.
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import { BindingReason } from '../../crds/reasons.ts';
import type { Backend } from '../../crds/certificate-authority-binding.ts';
import type { BindingModel, ResolvedBindingSpec } from '../../crds/binding-model.ts';
import { loadCaMaterial, type CaMaterial } from '../../issuers/ca-material.ts';
import { backendOf, buildIssuer, type BuildResult } from '../../issuers/registry.ts';
import { isoSeconds } from '../../issuers/in-cluster-ca.ts';
import type { Issuer } from '../../issuers/types.ts';
import { lifetimeCapMs } from '../../policy/ownership.ts';
import type { OperatorContext } from '../context.ts';
import type { CaRecord } from './ca-continuity.ts';
import { REPLACES_CA_ANNOTATION } from './ca-continuity.ts';
import { CaGeneration, generatedFor, type CaSecret } from './ca-generation.ts';
import type { CaRecordMemory } from './ca-record-memory.ts';
import { notReady, type Outcome } from './binding-outcome.ts';
import { secretRefs } from './secret-refs.ts';

type Spec = ResolvedBindingSpec;
type CaSpec = NonNullable<Spec['ca']>;

export class IssuerResolution {
  private readonly ctx: OperatorContext;
  private readonly records: CaRecordMemory;
  private readonly generation: CaGeneration;
  /** Built issuers per binding, with the key of their inputs. */
  private readonly built = new Map<string, { key: string; issuer: Issuer }>();

  constructor(ctx: OperatorContext, records: CaRecordMemory) {
    this.ctx = ctx;
    this.records = records;
    this.generation = new CaGeneration(ctx);
  }

  forget(name: string): void {
    this.built.delete(name);
  }

  async resolve(b: BindingModel, name: string, spec: Spec, rec: CaRecord, log: Logger): Promise<Outcome> {
    const backend = backendOf(spec);
    // a binding without maxDuration still has a finite cap (DEFAULT_LIFETIME_CAP): no default grants a longer lifetime
    const maxDurationMs = lifetimeCapMs(spec);
    if (backend !== 'ca' || !spec.ca) return this.resolveRemote(name, backend, spec, maxDurationMs);
    return this.resolveCa(b, name, spec.ca, spec, rec, maxDurationMs, log);
  }

  /** selfSigned and the backends whose CA is elsewhere: the issuer's own health is the binding's Ready. */
  private async resolveRemote(
    name: string,
    backend: Backend | undefined,
    spec: Spec,
    maxDurationMs: number,
  ): Promise<Outcome> {
    const ns = this.ctx.config.namespace;
    const secretValue = (secret: string, key: string): string | undefined => {
      const v = this.ctx.informers.operatorSecrets.get(`${ns}/${secret}`)?.data?.[key];
      return v === undefined ? undefined : Buffer.from(v, 'base64').toString('utf8');
    };
    // the key includes referenced secret values (hashed), so a rotated auth key rebuilds the issuer
    const backendSpec = backend ? spec[backend] : undefined;
    const refs = createHash('sha256')
      .update(JSON.stringify(backendSpec ?? {}))
      .update(JSON.stringify(secretRefs(backendSpec).map(([s, k]) => secretValue(s, k) ?? '')))
      .digest('hex');
    const res = this.reuse(name, `${backend}|${maxDurationMs}|${refs}`, () =>
      buildIssuer(spec, undefined, {
        maxDurationMs,
        kc: this.ctx.kc,
        operatorNamespace: ns,
        secretValue,
        acmeIngress: this.ctx.config.acmeHttp01,
      }),
    );
    if ('reason' in res) return notReady(res.reason, res.message, { backend });
    const h = backend === 'selfSigned' ? undefined : await res.issuer.health();
    if (h && !h.ready) return notReady(h.reason, h.message, { backend });
    return {
      backend,
      issuer: res.issuer,
      ready: {
        type: 'Ready',
        status: 'True',
        reason: BindingReason.Ready,
        message: h?.message ?? 'self-signed: each identity signs its own certificate (development only)',
      },
    };
  }

  /** ca: CA material from the Secret in the operator's namespace (generated when asked). */
  private async resolveCa(
    b: BindingModel,
    name: string,
    ca: CaSpec,
    spec: Spec,
    rec: CaRecord,
    maxDurationMs: number,
    log: Logger,
  ): Promise<Outcome> {
    const found = await this.caSecret(b, name, ca, spec, rec, log);
    if (!('secret' in found)) return found;
    const { secret, handles } = found;
    // a request acted on is remembered at once: a failure later in this reconcile must not make it act twice
    if (handles) this.records.remember(name, b, { ...rec, regenerationHandled: handles });
    const generatedReplacing = generatedFor(secret, name)
      ? secret.metadata?.annotations?.[REPLACES_CA_ANNOTATION]
      : undefined;
    const m = loadCaMaterial(secret.data ?? {}, this.ctx.now());
    if (!m.ok) {
      return notReady(m.reason, `Secret ${this.ctx.config.namespace}/${ca.secretRef.name}: ${m.message}`, {
        backend: 'ca',
        fingerprint: m.fingerprintSHA256,
        notAfter: m.notAfter,
        requeueAt: m.reason === BindingReason.CANotYetValid ? m.notBefore : undefined,
      });
    }
    const data = secret.data ?? {};
    const key = createHash('sha256')
      .update(`${maxDurationMs}|${data['tls.crt']}|${data['tls.key']}|${data['ca.crt'] ?? ''}`)
      .digest('hex');
    const res = this.reuse(name, key, () => buildIssuer(spec, m, { maxDurationMs }));
    if ('reason' in res) return notReady(res.reason, res.message, { backend: 'ca' });
    return caReady(m, res.issuer, handles, generatedReplacing);
  }

  /** The CA Secret from the cache, generated or rotated when asked; an Outcome when there is none to use. */
  private async caSecret(
    b: BindingModel,
    name: string,
    ca: CaSpec,
    spec: Spec,
    rec: CaRecord,
    log: Logger,
  ): Promise<CaSecret | Outcome> {
    const secret = this.ctx.informers.operatorSecrets.get(`${this.ctx.config.namespace}/${ca.secretRef.name}`);
    if (!secret) return this.generation.whenMissing(b, name, ca, spec, rec, log);
    return (await this.generation.rotateOnRequest(b, name, ca, rec, secret, log)) ?? { secret };
  }

  private reuse(name: string, key: string, build: () => BuildResult): BuildResult {
    const prev = this.built.get(name);
    if (prev?.key === key) return { issuer: prev.issuer };
    const res = build();
    if ('issuer' in res) this.built.set(name, { key, issuer: res.issuer });
    else this.built.delete(name);
    return res;
  }
}

function caReady(
  m: CaMaterial,
  issuer: Issuer,
  handles: string | undefined,
  generatedReplacing: string | undefined,
): Outcome {
  return {
    backend: 'ca',
    issuer,
    material: m,
    fingerprint: m.fingerprintSHA256,
    notAfter: m.notAfter,
    handles,
    generatedReplacing,
    ready: {
      type: 'Ready',
      status: 'True',
      reason: BindingReason.Ready,
      message: `CA ${m.cert.subject} (${m.fingerprintSHA256}) is valid until ${isoSeconds(m.notAfter)}`,
    },
  };
}
