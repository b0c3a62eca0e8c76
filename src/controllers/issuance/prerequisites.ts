// The first step of a reconcile: a valid spec that policy allows, an authority that serves this
// namespace and is Ready, and a Secret that is ours or absent. Anything else is a Ready=False reason.
import type { ReconcileResult } from '../../runtime/reconcile-loop.ts';
import { bindingFields } from '../../crds/index.ts';
import { Reason } from '../../crds/reasons.ts';
import { decideAuthority, type AuthorityDecision, type BindingView } from '../authority-access.ts';
import type { IdentityDecision } from '../../policy/decide.ts';
import { decideForIdentity, effectiveSpec, policyCondition, recordFindings } from './apply-policies.ts';
import { currentSecret, type NotReady } from './current-secret.ts';
import { syncRevocationFinalizer } from './revocation.ts';
import type { Ready, Run } from './run.ts';

/** Whether the identity's namespace may use the authority (the binding's namespaceSelector). */
function authorityAccess(run: Run, authority: string): AuthorityDecision {
  const { bindings, namespaces } = run.ctx.informers;
  const ns = run.mi.metadata.namespace;
  const views = new Map<string, BindingView>(
    bindings
      .list()
      .map((b) => [b.metadata.name, { name: b.metadata.name, namespaceSelector: bindingFields(b).namespaceSelector }]),
  );
  return decideAuthority(authority, ns, namespaces.get(ns)?.metadata?.labels, views);
}

/** The policies deny the request: the current certificate, if any, is left as it is; a spec that violates is reported, never touched. */
async function denied(run: Run, decision: IdentityDecision, countDenial: () => void): Promise<undefined> {
  run.policy = policyCondition(decision, undefined, false);
  if (
    await run.write({ ready: { type: 'Ready', status: 'False', reason: decision.reason, message: decision.denial } })
  ) {
    run.event('Warning', decision.reason, decision.denial);
    countDenial();
  }
  return undefined;
}

/** The binding's Ready condition, from its status. */
const bindingReady = (run: Run, authority: string): { status: string; message: string } | undefined =>
  run.ctx.informers.bindings.get(authority)?.status?.conditions?.find((x) => x.type === 'Ready');

/** A Ready binding whose issuer this process has not loaded yet: re-checked this often (its load wakes the identity at once). */
const ISSUER_LOADING_RECHECK_MS = 5000;

/** Valid spec that policy allows, an authority that serves this namespace and is Ready, and a Secret that is ours or absent. */
export async function prerequisites(run: Run, countDenial: () => void): Promise<Ready | ReconcileResult | undefined> {
  const { ctx, mi } = run;
  const notReady: NotReady = async (reason, message) => {
    if (await run.write({ ready: { type: 'Ready', status: 'False', reason, message } }))
      run.event('Warning', reason, message);
    return undefined;
  };
  if (!mi.spec) return notReady(Reason.InvalidSpec, mi.invalid.message);
  const raw = mi.spec;
  const authority = raw.authorityRef.name;
  // the authority first: what the namespace may hold depends on the binding's grants
  const access = authorityAccess(run, authority);
  if (!access.allowed) return notReady(access.reason, access.message);
  const decision = decideForIdentity(ctx, mi, raw);
  recordFindings(ctx, mi, decision);
  if (!decision.verdict.allowed) return denied(run, decision, countDenial);
  const spec = effectiveSpec(raw, decision);
  const entry = ctx.issuers.get(authority);
  if (!entry) {
    const ready = bindingReady(run, authority);
    // Ready by its status but not in the issuer cache: a process that just started and has not loaded it yet
    // (its load wakes every identity of it). Ready=False now would be set back to True moments later: two
    // status writes and an Event per identity on every restart. A binding that fails to load turns not Ready.
    if (ready?.status === 'True') return { requeueAfterMs: ISSUER_LOADING_RECHECK_MS };
    return notReady(
      Reason.AuthorityNotReady,
      `CertificateAuthorityBinding ${JSON.stringify(authority)} is not Ready: ${ready?.message ?? 'not reconciled yet'}`,
    );
  }
  await syncRevocationFinalizer(ctx, mi, spec.deletionPolicy === 'Delete' && typeof entry.issuer.revoke === 'function');
  const held = await currentSecret(run, spec.secretName, notReady);
  if (!held || 'requeueAfterMs' in held) return held;
  return { spec, raw, decision, authority, entry, ...held };
}
