// The first step of a reconcile: a valid spec that policy allows, an authority that serves this
// namespace and is Ready, and a Secret that is ours or absent. Anything else is a Ready=False reason.
import type { ReconcileResult } from '../../runtime/reconcile-loop.ts';
import { bindingFields } from '../../crds/index.ts';
import { Reason } from '../../crds/reasons.ts';
import { decideAuthority, type BindingView } from '../authority-access.ts';
import { decideForIdentity, effectiveSpec, policyCondition, recordFindings } from './apply-policies.ts';
import { currentSecret, type NotReady } from './current-secret.ts';
import { syncRevocationFinalizer } from './revocation.ts';
import type { Ready, Run } from './run.ts';

/** Valid spec that policy allows, an authority that serves this namespace and is Ready, and a Secret that is ours or absent. */
export async function prerequisites(run: Run, countDenial: () => void): Promise<Ready | ReconcileResult | undefined> {
  const { ctx, mi } = run;
  const notReady: NotReady = async (reason, message) => {
    if (await run.write({ ready: { type: 'Ready', status: 'False', reason, message } })) run.event('Warning', reason, message);
    return undefined;
  };
  if (!mi.spec) return notReady(Reason.InvalidSpec, mi.invalid.message);
  const raw = mi.spec;
  const ns = mi.metadata.namespace;
  const authority = raw.authorityRef.name;
  const { bindings, namespaces } = ctx.informers;
  // the authority first: what the namespace may hold depends on the binding's grants
  const views = new Map<string, BindingView>(bindings.list().map((b) => [b.metadata.name, { name: b.metadata.name, namespaceSelector: bindingFields(b).namespaceSelector }]));
  const access = decideAuthority(authority, ns, namespaces.get(ns)?.metadata?.labels, views);
  if (!access.allowed) return notReady(access.reason, access.message);
  const decision = decideForIdentity(ctx, mi, raw);
  recordFindings(ctx, mi, decision);
  if (!decision.verdict.allowed) {
    // the current certificate, if any, is left as it is: a spec that violates is reported, never touched
    run.policy = policyCondition(decision, undefined, false);
    if (await run.write({ ready: { type: 'Ready', status: 'False', reason: decision.reason, message: decision.denial } })) {
      run.event('Warning', decision.reason, decision.denial);
      countDenial();
    }
    return undefined;
  }
  const spec = effectiveSpec(raw, decision);
  const entry = ctx.issuers.get(authority);
  if (!entry) {
    const why = bindings.get(authority)?.status?.conditions?.find((x) => x.type === 'Ready')?.message ?? 'not reconciled yet';
    return notReady(Reason.AuthorityNotReady, `CertificateAuthorityBinding ${JSON.stringify(authority)} is not Ready: ${why}`);
  }
  await syncRevocationFinalizer(ctx, mi, spec.deletionPolicy === 'Delete' && typeof entry.issuer.revoke === 'function');
  const held = await currentSecret(run, spec.secretName, notReady);
  if (!held || 'requeueAfterMs' in held) return held;
  return { spec, raw, decision, authority, entry, ...held };
}
