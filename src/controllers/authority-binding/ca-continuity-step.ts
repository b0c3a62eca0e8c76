// The I/O edge of CA continuity (decisions in ca-continuity.ts): classifies the CA just resolved, checks that every trust bundle carries the current CA (the ConfigMaps are written by the
// caller; the ClusterTrustBundle by the signer-trust-bundles controller from the issuer cache), counts
// the identities still holding a certificate from a previous CA, and records Events for transitions.
import { identityFields, type BindingModel } from '../../crds/index.ts';
import { Gauge, type Registry } from 'prom-client';
import type { Logger } from 'pino';
import type { OperatorContext } from '../context.ts';
import { recordEvent } from '../events.ts';
import { involved } from './trust-bundle-configmaps.ts';
import { BindingReason } from '../../crds/reasons.ts';
import { getJsonOrNotFound } from '../../runtime/kube.ts';
import { trustBundlePath } from '../signer/trust-bundles.ts';
import { isSigner } from '../signer/common.ts';
import {
  carries,
  classifyCaChange,
  prunePrevious,
  reissueNotBefore,
  retire,
  startOverlap,
  type CaRecord,
  type PreviousCa,
} from './ca-continuity.ts';
import { ContinuityResult, type Resolved } from './ca-continuity-result.ts';
import { ACCEPT_CA_ANNOTATION } from './ca-continuity.ts';
import { DEFAULT_CA_ROTATION, type ResolvedBindingSpec } from '../../crds/binding-model.ts';
import { durationMs } from '../../crds/model.ts';
import type { CaMaterial } from '../../issuers/ca-material.ts';

type Spec = ResolvedBindingSpec;

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
    if (!spec) {
      if (rec.fingerprint) r.record = rec;
      return r;
    }
    if (!spec.ca || o.backend !== 'ca') return r;
    r.propagationDelayMs = spec.caRotation.propagationDelayMs;
    r.overlapMs = spec.caRotation.overlapMs;
    const next: CaRecord = { ...rec, ...(o.handles ? { regenerationHandled: o.handles } : {}) };
    r.record =
      o.material && o.fingerprint
        ? this.classify(b, spec.ca.secretRef.name, next, { material: o.material, fingerprint: o.fingerprint }, o, r)
        : next;
    return r;
  }

  /** The record after looking at the CA now in the Secret: unchanged, refused (r.refusal), a new CA accepted (r.changed), or a first/updated bundle. */
  private classify(
    b: BindingModel,
    secretName: string,
    next: CaRecord,
    ca: { material: CaMaterial; fingerprint: string },
    o: Resolved,
    r: ContinuityResult,
  ): CaRecord {
    const trustBundle = ca.material.trustBundlePem.join('');
    const change = classifyCaChange({
      secret: `${this.ctx.config.namespace}/${secretName}`,
      recorded: next.fingerprint,
      current: ca.fingerprint,
      distrusted: o.distrusted,
      accept: b.metadata.annotations?.[ACCEPT_CA_ANNOTATION],
      generatedReplacing: o.generatedReplacing,
    });
    if (change.kind === 'unexpected') {
      r.refusal = change;
      return next;
    }
    if (change.kind === 'accepted') {
      r.changed = { from: next.fingerprint ?? '', to: ca.fingerprint, why: change.why };
      return retire(next, { fingerprint: ca.fingerprint, trustBundle }, this.ctx.now(), r.overlapMs, o.distrusted);
    }
    if (next.trustBundle === trustBundle && next.fingerprint === ca.fingerprint) return next;
    return { ...next, fingerprint: ca.fingerprint, trustBundle, publishedAt: undefined };
  }

  /** After the ConfigMaps were synced: is every bundle current, which previous CAs leave, when to look again. */
  async after(
    b: BindingModel,
    spec: Spec | undefined,
    r: ContinuityResult,
    distrusted: ReadonlySet<string>,
    log: Logger,
  ): Promise<{ publishedNow: boolean; retired: boolean; requeueAfterMs?: number }> {
    const rec = r.record;
    if (!rec) return { publishedNow: false, retired: false };
    const name = b.metadata.name;
    if (r.changed) {
      await recordEvent(
        this.ctx,
        involved(b),
        'Normal',
        BindingReason.CAChanged,
        `CA ${r.changed.to} replaces ${r.changed.from} (${r.changed.why}); both are published in the trust bundles, identities are reissued once every bundle carries the new CA plus ${Math.round(r.propagationDelayMs / 1000)}s`,
      );
    }
    const published =
      rec.trustBundle && !rec.publishedAt && !r.refusal
        ? await this.markPublished(b, spec, name, r, rec, rec.trustBundle, log)
        : { now: false };
    if (published.waitMs !== undefined)
      return { publishedNow: false, retired: false, requeueAfterMs: published.waitMs };
    const retired = await this.retirePrevious(b, name, rec, distrusted);
    return { publishedNow: published.now, retired, requeueAfterMs: this.nextLook(rec.previous, r) };
  }

  /**
   * Records the time every trust bundle carries the current CA (the ConfigMaps were just synced; the
   * ClusterTrustBundle is checked), from which the overlap window and the reissue delay count.
   */
  private async markPublished(
    b: BindingModel,
    spec: Spec | undefined,
    name: string,
    r: ContinuityResult,
    rec: CaRecord,
    bundle: string,
    log: Logger,
  ): Promise<{ now: boolean; waitMs?: number }> {
    if (!(await this.signerBundleCarries(spec, name, bundle))) {
      // the signer-trust-bundles controller writes it within moments; a bundle that stays stale (e.g. no RBAC) is polled slowly
      const since = Date.parse(rec.previous[0]?.retiredAt ?? '');
      const fresh = Number.isNaN(since) || this.ctx.now().getTime() - since < 30_000;
      return { now: false, waitMs: fresh ? 500 : 5000 };
    }
    rec.publishedAt = isoMs(this.ctx.now());
    rec.previous = startOverlap(rec.previous, this.ctx.now(), r.overlapMs);
    log.info({ fingerprint: rec.fingerprint }, 'every trust bundle carries the current CA');
    if (rec.previous.length > 0) {
      await recordEvent(
        this.ctx,
        involved(b),
        'Normal',
        BindingReason.TrustBundlesUpdated,
        `every trust bundle carries CA ${rec.fingerprint} next to ${rec.previous.length} previous; identities are reissued from ${reissueNotBefore(rec.publishedAt, r.propagationDelayMs)?.toISOString()}`,
      );
    }
    return { now: true };
  }

  /** Drops the previous CAs whose time is over and that nothing held is signed by (an Event each); true when any left. */
  private async retirePrevious(
    b: BindingModel,
    name: string,
    rec: CaRecord,
    distrusted: ReadonlySet<string>,
  ): Promise<boolean> {
    const { keep, retired } = prunePrevious({
      previous: rec.previous,
      distrusted,
      now: this.ctx.now(),
      published: Boolean(rec.publishedAt),
      holders: (fp) => this.holders(name, fp),
    });
    for (const p of retired) {
      await recordEvent(
        this.ctx,
        involved(b),
        'Normal',
        BindingReason.PreviousCARetired,
        `previous CA ${p.fingerprintSHA256}${p.distrusted ? ' (distrusted)' : ''} left the trust bundles: no identity holds a certificate from it${p.distrusted ? '' : ' and its overlap window is over'}`,
      );
    }
    rec.previous = keep;
    return retired.length > 0;
  }

  statusFields(b: BindingModel, rec: CaRecord | undefined): Record<string, unknown> {
    const previous = rec?.previous.length ? rec.previous : undefined;
    // an invalid spec has no caRotation of its own: the default delay
    const at = previous
      ? reissueNotBefore(rec?.publishedAt, b.spec?.caRotation.propagationDelayMs ?? DEFAULT_PROPAGATION_DELAY_MS)
      : undefined;
    return {
      caTrustBundle: rec?.trustBundle,
      previousCAs: previous,
      caPublishedAt: rec?.publishedAt,
      reissueNotBefore: at ? isoMs(at) : undefined,
      caRegenerationHandled: rec?.regenerationHandled,
    };
  }

  /** A signer binding's ClusterTrustBundle (when the API is served) carries every certificate of `want`. */
  private async signerBundleCarries(spec: Spec | undefined, binding: string, want: string): Promise<boolean> {
    if (!isSigner(spec?.signer)) return true;
    const path = await trustBundlePath(this.ctx, binding);
    if (!path) return true; // not served
    // unreadable (e.g. RBAC) counts as not carrying it: identities stay on the old CA rather than outrun the bundle
    const ctb = await getJsonOrNotFound<{ spec?: { trustBundle?: string } }>(this.ctx.kc, path, {}).catch(
      () => undefined,
    );
    return carries(ctb?.spec?.trustBundle ?? '', want);
  }

  private holders(binding: string, fingerprint: string): number {
    return this.ctx.informers.identities
      .list()
      .filter(
        (mi) =>
          identityFields(mi).authorityRef?.name === binding && mi.status?.authorityFingerprintSHA256 === fingerprint,
      ).length;
  }

  /** Next time a previous CA's window ends (identity progress wakes the binding on its own); a slow resync otherwise. */
  private nextLook(keep: readonly PreviousCa[], r: ContinuityResult): number | undefined {
    if (keep.length === 0) return undefined;
    const now = this.ctx.now().getTime();
    const ends = keep
      .filter((p) => !p.distrusted)
      .map((p) => Date.parse(p.retireAfter))
      .filter((t) => t > now);
    const at = reissueNotBefore(r.record?.publishedAt, r.propagationDelayMs)?.getTime();
    const next = Math.min(...ends, at && at > now ? at : Infinity, now + 60_000);
    return Math.max(1000, next - now + 500);
  }
}

/** What a binding whose spec does not parse waits after publication (it has no caRotation of its own). */
const DEFAULT_PROPAGATION_DELAY_MS = durationMs(DEFAULT_CA_ROTATION.propagationDelay);

/** Status timestamps with milliseconds: the ordering of publication and reissue is measured in seconds or less. */
function isoMs(d: Date): string {
  return d.toISOString();
}

const gauges = new WeakMap<Registry, Gauge>();
function previousCaGauge(ctx: OperatorContext): void {
  if (gauges.has(ctx.registry)) return;
  const { bindings } = ctx.informers;
  gauges.set(
    ctx.registry,
    new Gauge({
      name: 'machine_identity_authority_previous_cas',
      help: 'Previous CAs an authority still publishes in its trust bundles (CA change in overlap)',
      labelNames: ['authority'] as const,
      registers: [ctx.registry],
      collect() {
        this.reset();
        for (const b of bindings.list()) {
          const n = b.status?.previousCAs?.length;
          if (n !== undefined) this.set({ authority: b.metadata.name }, n);
        }
      },
    }),
  );
}
