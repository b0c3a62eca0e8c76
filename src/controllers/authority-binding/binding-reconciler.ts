// One reconcile of a CertificateAuthorityBinding: resolve its CA (issuer-resolution.ts), let CA
// continuity accept or refuse it (ca-continuity-step.ts), publish the issuer in ctx.issuers, sync the
// trust-bundle ConfigMaps, write status. The steps live in their own files; this is the order.
import type { Logger } from 'pino';
import { BindingReason } from '../../crds/reasons.ts';
import { invalidBindingSpecMessage, type BindingModel, type ResolvedBindingSpec } from '../../crds/binding-model.ts';
import { normaliseFingerprint } from '../../pki/fingerprint.ts';
import { lifetimeCapMs } from '../../policy/ownership.ts';
import type { OperatorContext } from '../context.ts';
import type { TrustBundles } from './trust-bundle-configmaps.ts';
import { ContinuityStep } from './ca-continuity-step.ts';
import type { ContinuityResult } from './ca-continuity-result.ts';
import { CaRecordMemory } from './ca-record-memory.ts';
import type { CaRecord } from './ca-continuity.ts';
import { IssuerResolution } from './issuer-resolution.ts';
import { desiredBundle, notReady, requeueDelay, type Outcome } from './binding-outcome.ts';
import { writeBindingStatus } from './binding-status.ts';

type Spec = ResolvedBindingSpec;

/** A CA listed in spec.distrust is never issued from. */
function refuseDistrusted(o: Outcome, distrusted: ReadonlySet<string>): void {
  if (!o.issuer || !o.fingerprint || !distrusted.has(o.fingerprint)) return;
  Object.assign(
    o,
    notReady(
      BindingReason.CADistrusted,
      `the CA certificate ${o.fingerprint} is listed in spec.distrust; replace the CA (new tls.crt/tls.key, it stays in the trust bundles until its replacement is published and everything it signed reissued) or remove it from distrust`,
    ),
    { issuer: undefined },
  );
}

export class BindingReconciler {
  private readonly ctx: OperatorContext;
  private readonly trust: TrustBundles;
  private readonly continuity: ContinuityStep;
  private readonly records = new CaRecordMemory();
  private readonly issuers: IssuerResolution;

  constructor(ctx: OperatorContext, trust: TrustBundles) {
    this.ctx = ctx;
    this.trust = trust;
    this.continuity = new ContinuityStep(ctx);
    this.issuers = new IssuerResolution(ctx, this.records);
  }

  async reconcile(name: string, log: Logger): Promise<{ requeueAfterMs?: number } | undefined> {
    const b = this.ctx.informers.bindings.get(name);
    if (!b?.metadata.name) {
      await this.forget(name, log);
      return undefined;
    }
    const spec = b.spec;
    const rec = this.records.recordOf(name, b);
    const outcome = spec
      ? await this.issuers.resolve(b, name, spec, rec, log)
      : notReady(BindingReason.InvalidSpec, invalidBindingSpecMessage(b.invalid));
    if (outcome.waitMs !== undefined) return { requeueAfterMs: outcome.waitMs };
    const { distrusted, cont } = this.judge(b, spec, rec, outcome);
    await this.publishIssuer(name, b, spec, outcome, distrusted, cont);
    const bundle = (): ReturnType<typeof desiredBundle> => desiredBundle(spec, outcome, () => cont.bundlePem());
    const { conflicts } = await this.trust.sync(b, bundle(), log);
    const after = await this.continuity.after(b, spec, cont, distrusted, log);
    if (after.publishedNow || after.retired) await this.publishIssuer(name, b, spec, outcome, distrusted, cont);
    this.records.remember(name, b, cont.record); // before the write: a failed write must not make the next reconcile act on the old record
    await writeBindingStatus(this.ctx, this.continuity, name, b, outcome, cont.record, log);
    if (after.retired) await this.trust.sync(b, bundle(), log);
    return {
      requeueAfterMs: Math.min(requeueDelay(this.ctx.now(), outcome, conflicts), after.requeueAfterMs ?? Infinity),
    };
  }

  /**
   * Refuses a distrusted CA, then lets the continuity step refuse a CA that changed unexpectedly: decided
   * before the issuer is published. `outcome` turns not Ready when refused.
   */
  private judge(
    b: BindingModel,
    spec: Spec | undefined,
    rec: CaRecord,
    outcome: Outcome,
  ): { distrusted: Set<string>; cont: ContinuityResult } {
    const distrusted = new Set((spec?.distrust ?? []).map(normaliseFingerprint));
    refuseDistrusted(outcome, distrusted);
    const cont = this.continuity.before(b, spec, rec, { ...outcome, distrusted });
    if (cont.refusal) {
      Object.assign(outcome, notReady(cont.refusal.reason, cont.refusal.message), { issuer: undefined });
    }
    return { distrusted, cont };
  }

  /** The binding is gone: its issuer, its memory and its trust bundles go too. */
  private async forget(name: string, log: Logger): Promise<void> {
    this.issuers.forget(name);
    this.records.forget(name);
    this.ctx.issuers.delete(name);
    await this.trust.removeAll(name, log);
  }

  /** The issuer cache holds a Ready binding's issuer (identities and signers issue from it), nothing otherwise. */
  private async publishIssuer(
    name: string,
    b: BindingModel,
    spec: Spec | undefined,
    o: Outcome,
    distrusted: Set<string>,
    cont: ContinuityResult,
  ): Promise<void> {
    if (!o.issuer || o.ready.status !== 'True') {
      this.ctx.issuers.delete(name);
      return;
    }
    this.ctx.issuers.set(name, {
      issuer: o.issuer,
      health: await o.issuer.health(),
      generation: b.metadata.generation,
      distrusted,
      maxDurationMs: lifetimeCapMs(spec ?? {}),
      ...cont.cacheFields(),
    });
  }
}
