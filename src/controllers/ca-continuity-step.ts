// The I/O edge of CA continuity (decisions in ca-continuity.ts): reads the record from the binding's
// status, checks that every trust bundle carries the current CA (the ConfigMaps are written by the
// caller; the ClusterTrustBundle by the signer-trust-bundles controller from the issuer cache), counts
// the identities still holding a certificate from a previous CA, and records Events for transitions.
import { identityFields, type BindingModel } from '../crds/index.ts';
import { Gauge, type Registry } from 'prom-client';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { OperatorContext } from './context.ts';
import { recordEvent } from './events.ts';
import { involved } from './trust-bundle.ts';
import { BindingReason } from '../crds/reasons.ts';
import { getJsonOrNotFound } from '../runtime/kube.ts';
import { bundleName, CTB_PATH, trustBundlesServed } from './signer/trust-bundles.ts';
import {
  bundleContent, carries, classifyCaChange, prunePrevious, reissueNotBefore, retire, startOverlap,
  type CaRecord, type PreviousCa, type Verdict,
} from './ca-continuity.ts';
import { ACCEPT_CA_ANNOTATION } from './ca-continuity.ts';
import { DEFAULT_CA_ROTATION, type ResolvedBindingSpec } from '../crds/binding-model.ts';
import { durationMs } from '../crds/model.ts';
import type { CaMaterial } from '../issuers/ca-material.ts';

type Spec = ResolvedBindingSpec;

// Status is cluster input too: parse what the record needs, field by field, so one odd field loses only itself.
const Fp = z.string().max(95);
const Prev = z.object({ fingerprintSHA256: Fp, trustBundle: z.string().max(65536), retiredAt: z.string().max(64), retireAfter: z.string().max(64), distrusted: z.boolean().optional() });
const field = <T>(schema: z.ZodType<T>, v: unknown): T | undefined => { const r = schema.safeParse(v); return r.success ? r.data : undefined; };

export function caRecordOf(status: BindingModel['status']): CaRecord {
  const s = status ?? {};
  return {
    fingerprint: field(Fp, s.caFingerprintSHA256), trustBundle: field(z.string().max(65536), s.caTrustBundle),
    previous: field(z.array(Prev).max(64), s.previousCAs) ?? [], publishedAt: field(z.string().max(64), s.caPublishedAt),
    regenerationHandled: field(z.string().max(64), s.caRegenerationHandled),
  };
}

interface Resolved { backend?: string; material?: CaMaterial; fingerprint?: string; handles?: string; generatedReplacing?: string; distrusted: ReadonlySet<string> }

export class ContinuityResult {
  /** undefined: not a `ca` binding, no continuity state. */
  record?: CaRecord;
  refusal?: Verdict;
  changed?: { from: string; to: string; why: string };
  propagationDelayMs = 0;
  overlapMs = 0;

  /** What every trust bundle publishes; undefined when nothing is recorded. */
  bundlePem(): string | undefined {
    return this.record?.trustBundle ? bundleContent(this.record.trustBundle, this.record.previous) : undefined;
  }

  /** For the issuer cache: the bundle the ClusterTrustBundle publishes, and when identities may move to the current CA. */
  cacheFields(): { trustBundlePem?: string; reissueNotBefore?: number } {
    if (!this.record) return {};
    const at = reissueNotBefore(this.record.publishedAt, this.propagationDelayMs);
    return { trustBundlePem: this.bundlePem(), reissueNotBefore: at ? at.getTime() : Infinity };
  }
}

export class ContinuityStep {
  private readonly ctx: OperatorContext;

  constructor(ctx: OperatorContext) {
    this.ctx = ctx;
    previousCaGauge(ctx);
  }

  /** Classifies the CA just resolved against the record; the new record (not yet published) on an accepted change. */
  before(b: BindingModel, spec: Spec | undefined, rec: CaRecord, o: Resolved): ContinuityResult {
    const r = new ContinuityResult();
    // an invalid spec must not wipe the record (a later fix would then look like a first CA)
    if (!spec) { if (rec.fingerprint) r.record = rec; return r; }
    if (!spec.ca || o.backend !== 'ca') return r;
    r.propagationDelayMs = spec.caRotation.propagationDelayMs;
    r.overlapMs = spec.caRotation.overlapMs;
    let next: CaRecord = { ...rec, ...(o.handles ? { regenerationHandled: o.handles } : {}) };
    if (o.material && o.fingerprint) {
      const trustBundle = o.material.trustBundlePem.join('');
      const change = classifyCaChange({ secret: `${this.ctx.config.namespace}/${spec.ca.secretRef.name}`, recorded: rec.fingerprint, current: o.fingerprint,
        distrusted: o.distrusted, accept: b.metadata?.annotations?.[ACCEPT_CA_ANNOTATION], generatedReplacing: o.generatedReplacing });
      if (change.kind === 'unexpected') r.refusal = change;
      else if (change.kind === 'accepted') {
        next = retire(next, { fingerprint: o.fingerprint, trustBundle }, this.ctx.now(), r.overlapMs, o.distrusted);
        r.changed = { from: rec.fingerprint!, to: o.fingerprint, why: change.why };
      } else if (next.trustBundle !== trustBundle || next.fingerprint !== o.fingerprint) {
        next = { ...next, fingerprint: o.fingerprint, trustBundle, publishedAt: undefined };
      }
    }
    r.record = next;
    return r;
  }

  /** After the ConfigMaps were synced: is every bundle current, which previous CAs leave, when to look again. */
  async after(b: BindingModel, spec: Spec | undefined, r: ContinuityResult, distrusted: ReadonlySet<string>, log: Logger): Promise<{ publishedNow: boolean; retired: boolean; requeueAfterMs?: number }> {
    const rec = r.record;
    if (!rec) return { publishedNow: false, retired: false };
    const name = b.metadata!.name!;
    if (r.changed) {
      await recordEvent(this.ctx, involved(b), 'Normal', BindingReason.CAChanged,
        `CA ${r.changed.to} replaces ${r.changed.from} (${r.changed.why}); both are published in the trust bundles, identities are reissued once every bundle carries the new CA plus ${Math.round(r.propagationDelayMs / 1000)}s`);
    }
    let publishedNow = false;
    if (rec.trustBundle && !rec.publishedAt && !r.refusal) {
      if (!(await this.signerBundleCarries(spec, name, rec.trustBundle))) {
        // the signer-trust-bundles controller writes it within moments; a bundle that stays stale (e.g. no RBAC) is polled slowly
        const since = Date.parse(rec.previous[0]?.retiredAt ?? '');
        const fresh = Number.isNaN(since) || this.ctx.now().getTime() - since < 30_000;
        return { publishedNow, retired: false, requeueAfterMs: fresh ? 500 : 5000 };
      }
      rec.publishedAt = isoMs(this.ctx.now());
      rec.previous = startOverlap(rec.previous, this.ctx.now(), r.overlapMs);
      publishedNow = true;
      log.info({ fingerprint: rec.fingerprint }, 'every trust bundle carries the current CA');
      if (rec.previous.length > 0) {
        await recordEvent(this.ctx, involved(b), 'Normal', BindingReason.TrustBundlesUpdated,
          `every trust bundle carries CA ${rec.fingerprint} next to ${rec.previous.length} previous; identities are reissued from ${reissueNotBefore(rec.publishedAt, r.propagationDelayMs)!.toISOString()}`);
      }
    }
    const { keep, retired } = prunePrevious({ previous: rec.previous, distrusted, now: this.ctx.now(), published: Boolean(rec.publishedAt), holders: (fp) => this.holders(name, fp) });
    for (const p of retired) {
      await recordEvent(this.ctx, involved(b), 'Normal', BindingReason.PreviousCARetired,
        `previous CA ${p.fingerprintSHA256}${p.distrusted ? ' (distrusted)' : ''} left the trust bundles: no identity holds a certificate from it${p.distrusted ? '' : ' and its overlap window is over'}`);
    }
    rec.previous = keep;
    return { publishedNow, retired: retired.length > 0, requeueAfterMs: this.nextLook(keep, r) };
  }

  statusFields(b: BindingModel, rec: CaRecord | undefined): Record<string, unknown> {
    // an invalid spec has no caRotation of its own: the default delay
    const delayMs = b.spec?.caRotation.propagationDelayMs ?? durationMs(DEFAULT_CA_ROTATION.propagationDelay);
    const at = rec ? reissueNotBefore(rec.publishedAt, delayMs) : undefined;
    return { caTrustBundle: rec?.trustBundle, previousCAs: rec?.previous.length ? rec.previous : undefined, caPublishedAt: rec?.publishedAt,
      reissueNotBefore: rec?.previous.length && at ? isoMs(at) : undefined, caRegenerationHandled: rec?.regenerationHandled };
  }

  /** A signer binding's ClusterTrustBundle (when the API is served) carries every certificate of `want`. */
  private async signerBundleCarries(spec: Spec | undefined, binding: string, want: string): Promise<boolean> {
    const s = spec?.signer;
    if (!s || !(s.podCertificates || s.certificateSigningRequests)) return true;
    if (!(await trustBundlesServed(this.ctx))) return true;
    // unreadable (e.g. RBAC) counts as not carrying it: identities stay on the old CA rather than outrun the bundle
    const ctb = await getJsonOrNotFound<{ spec?: { trustBundle?: string } }>(this.ctx.kc, `${CTB_PATH}/${encodeURIComponent(bundleName(binding))}`, {}).catch(() => undefined);
    return carries(ctb?.spec?.trustBundle ?? '', want);
  }

  private holders(binding: string, fingerprint: string): number {
    return this.ctx.informers.identities.list()
      .filter((mi) => identityFields(mi).authorityRef?.name === binding && mi.status?.authorityFingerprintSHA256 === fingerprint).length;
  }

  /** Next time a previous CA's window ends (identity progress wakes the binding on its own); a slow resync otherwise. */
  private nextLook(keep: readonly PreviousCa[], r: ContinuityResult): number | undefined {
    if (keep.length === 0) return undefined;
    const now = this.ctx.now().getTime();
    const ends = keep.filter((p) => !p.distrusted).map((p) => Date.parse(p.retireAfter)).filter((t) => t > now);
    const at = reissueNotBefore(r.record?.publishedAt, r.propagationDelayMs)?.getTime();
    const next = Math.min(...ends, at && at > now ? at : Infinity, now + 60_000);
    return Math.max(1000, next - now + 500);
  }
}

/** Status timestamps with milliseconds: the ordering of publication and reissue is measured in seconds or less. */
function isoMs(d: Date): string {
  return d.toISOString();
}

const gauges = new WeakMap<Registry, Gauge>();
function previousCaGauge(ctx: OperatorContext): void {
  if (gauges.has(ctx.registry)) return;
  const { bindings } = ctx.informers;
  gauges.set(ctx.registry, new Gauge({ name: 'machine_identity_authority_previous_cas', help: 'Previous CAs an authority still publishes in its trust bundles (CA change in overlap)',
    labelNames: ['authority'] as const, registers: [ctx.registry], collect() {
      this.reset();
      for (const b of bindings.list()) {
        const n = (b.status?.previousCAs as unknown[] | undefined)?.length;
        if (n !== undefined) this.set({ authority: b.metadata!.name! }, n);
      }
    } }));
}
