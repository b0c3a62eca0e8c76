// Reconciler: keeps each MachineIdentity's Secret holding a valid key and certificate that match its
// spec and its authority's current CA: issues, renews, repairs and reports. Level-based: every
// decision is made from the caches, never from the event that woke it. The steps, in order:
// prerequisites (spec, authority, Secret ownership) → evaluate (the trigger chain) → maintain (nothing
// to issue: adopt, repair metadata, schedule) or gate (backoff, re-issue pacing) → issue → record.
// This file wires the steps to the informers; each step lives in the file named for it.
import type * as k8s from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { Controller, keyOf, type ReconcileResult } from '../../runtime/reconcile-loop.ts';
import { identityFields, type MachineIdentityModel } from '../../crds/index.ts';
import { Reason } from '../../crds/reasons.ts';
import { caNameConstraints } from '../../policy/ownership.ts';
import type { NameConstraintLists } from '../../pki/name-constraints.ts';
import type { OperatorContext } from '../context.ts';
import { bindingForOwnership } from '../binding-specs.ts';
import { TokenBucket } from './token-bucket.ts';
import { FairShare } from './fair-share.ts';
import { bindingChangeMatters } from './binding-change.ts';
import { RecentlyWritten } from './written.ts';
import { LABEL_IDENTITY } from './secret.ts';
import { forgetSecret } from './inspect.ts';
import { forgetApplied, freshest } from './status.ts';
import { issue, type IssueOutcome } from './issue.ts';
import { NextKeyIndex } from './next-key.ts';
import { issuanceMetrics } from './issuance-metrics.ts';
import { revokeOnDeletion } from './revocation.ts';
import { newRun, type Ready, type Run } from './run.ts';
import { prerequisites } from './prerequisites.ts';
import { evaluate, provenance } from './evaluate.ts';
import { holdForTrustBundles, maintain } from './maintain.ts';
import { caHold, gate } from './gate.ts';
import { nextRevision } from './revision.ts';
import { recordOutcome } from './record-outcome.ts';
import type { Trigger } from './triggers.ts';

export interface IssuanceOptions {
  durableKeys?: boolean;
  reissueRatePerSecond?: number;
}

export function issuanceController(ctx: OperatorContext, opts: IssuanceOptions = {}): Controller {
  const { identities, bindings, namespaces, managedSecrets } = ctx.informers;
  const m = issuanceMetrics(ctx.registry);
  const nextKeys = new NextKeyIndex();
  // a key parked for a full authority is woken into the queue when a slot frees (c is set by then)
  const share = new FairShare(ctx.config.workers, (key) => c.queue.add(key));
  const written = new RecentlyWritten();
  const buckets = new Map<string, TokenBucket>();
  const rate = opts.reissueRatePerSecond ?? 20;
  const pace = (authority: string): number => {
    let b = buckets.get(authority);
    if (!b) buckets.set(authority, (b = new TokenBucket(rate, rate)));
    return b.take();
  };

  const c = new Controller({
    name: 'issuance',
    logger: ctx.log,
    registry: ctx.registry,
    workers: ctx.config.workers,
    // policies too: nothing is issued before every IssuancePolicy is known
    informers: [identities, bindings, namespaces, managedSecrets, ctx.policies.informer],
    reconcile: async (key, { log }) => {
      const ticket = share.ticket();
      try {
        const cached = identities.get(key);
        if (!cached?.metadata.uid) return undefined;
        return await (cached.metadata.deletionTimestamp
          ? revokeOnDeletion(ctx, cached, ctx.issuers.get(identityFields(cached).authorityRef?.name ?? '')?.issuer)
          : live(cached, log));
      } finally {
        // woken for a slot but did not take it (deleted, denied, nothing to issue): the next parked key gets it
        share.settle(key, ticket);
      }
    },
  });

  async function live(cached: MachineIdentityModel, log: Logger): Promise<ReconcileResult | undefined> {
    const mi = freshest(cached);
    const authority = identityFields(mi).authorityRef?.name ?? '';
    // a new identity certainly needs an issuance: wait for a slot before doing any I/O for it
    if (mi.status?.revision === undefined && !share.hasRoom(authority, keyOf(mi))) {
      share.park(authority, keyOf(mi));
      return undefined;
    }
    const run = newRun(ctx, { nextKeys, written }, mi, log);
    const pre = await prerequisites(run, () => m.total.inc({ authority, result: 'denied' }));
    if (!pre || !('spec' in pre)) return pre;
    return decide(run, pre);
  }

  /** Evaluate, then maintain, hold, or attempt an issuance. */
  async function decide(run: Run, pre: Ready): Promise<ReconcileResult> {
    const { trigger, renewal, leaf } = evaluate(run, pre, await provenance(run, pre));
    const held = pre.secret && pre.view && leaf ? { secret: pre.secret, view: pre.view, leaf } : undefined;
    if (!trigger && held && renewal) return maintain(run, pre, held, renewal);
    const hold = caHold(pre, trigger);
    if (hold > 0 && held) return holdForTrustBundles(run, pre, held, hold);
    return attempt(run, pre, trigger, leaf?.notAfter);
  }

  /** Gate (backoff, pacing, fair share), issue, and record the outcome. */
  async function attempt(
    run: Run,
    pre: Ready,
    trigger: Trigger | undefined,
    currentNotAfter: Date | undefined,
  ): Promise<ReconcileResult> {
    const { mi } = run;
    const t: Trigger = trigger ?? { reason: Reason.DoesNotExist, message: 'no certificate yet', stillValid: false };
    const wait = gate(mi, t, pre.authority, pace);
    if (wait > 0) return { requeueAfterMs: wait };
    if (!share.tryAcquire(pre.authority, keyOf(mi))) {
      share.park(pre.authority, keyOf(mi));
      return {};
    }
    let out: IssueOutcome;
    const revision = nextRevision(mi, pre.secret);
    const stop = m.duration.startTimer({ authority: pre.authority });
    try {
      run.event('Normal', Reason.Issuing, `issuing: ${t.message}`);
      out = await issue(run.ctx, {
        mi,
        spec: pre.spec,
        authority: pre.authority,
        entry: pre.entry,
        current: pre.view,
        revision,
        durableKeys: opts.durableKeys ?? false,
        ...(pre.secret?.metadata?.resourceVersion
          ? { secretResourceVersion: pre.secret.metadata.resourceVersion }
          : {}),
        ...(pre.spec.isCA ? { caConstraints: caConstraintsFor(run.ctx, mi, pre.authority) } : {}),
      });
    } finally {
      share.release(pre.authority);
    }
    if (out.kind === 'issued') stop();
    countOutcome(pre, out);
    return recordOutcome(run, pre, { trigger: t, revision, currentNotAfter }, out);
  }

  function countOutcome(pre: Ready, out: IssueOutcome): void {
    // a CA still working (pending) is not an attempt's result: the attempt is counted when it ends
    if (out.kind !== 'pending')
      m.total.inc({ authority: pre.authority, result: out.kind === 'issued' ? 'success' : out.kind });
    if (out.kind === 'failed' || out.kind === 'denied')
      m.caErrors.inc({ authority: pre.authority, backend: pre.entry.issuer.backend, reason: out.reason });
  }

  const enqueue = (o: MachineIdentityModel): void => c.queue.add(`${o.metadata.namespace}/${o.metadata.name}`);
  identities
    .onAdd(enqueue)
    .onUpdate((_o, n) => enqueue(n))
    .onDelete((o) => {
      forgetApplied(o.metadata.uid);
      ctx.findings.delete(`${o.metadata.namespace}/${o.metadata.name}`);
      enqueue(o);
    });
  // a policy change may deny, allow, reshape or remediate any identity
  ctx.policies.onChange(() => {
    for (const mi of identities.list()) enqueue(mi);
  });
  // a stored next key wakes its identity too, so one that appears after its cleanup ran is removed
  const bySecret = (s: k8s.V1Secret): void => {
    const owner = s.metadata?.labels?.[LABEL_IDENTITY];
    if (owner) c.queue.add(`${s.metadata?.namespace}/${owner}`);
  };
  managedSecrets
    .onAdd((s) => {
      nextKeys.add(s);
      bySecret(s);
    })
    .onUpdate((_o, s) => {
      nextKeys.add(s);
      bySecret(s);
    })
    .onDelete((s) => {
      nextKeys.remove(s);
      forgetSecret(s.metadata?.uid);
      written.forget(`${s.metadata?.namespace}/${s.metadata?.name}`);
      bySecret(s);
    });
  const byAuthority = (name: string | undefined): void => {
    for (const mi of identities.list()) if (identityFields(mi).authorityRef?.name === name) enqueue(mi);
  };
  bindings
    .onAdd((b) => byAuthority(b.metadata.name))
    .onUpdate((o, b) => {
      if (bindingChangeMatters(o, b)) byAuthority(b.metadata.name);
    })
    .onDelete((b) => byAuthority(b.metadata.name));
  ctx.issuers.onChange(byAuthority);
  namespaces.onUpdate((o, n) => {
    if (JSON.stringify(o.metadata?.labels ?? {}) === JSON.stringify(n.metadata?.labels ?? {})) return;
    for (const mi of identities.list()) if (mi.metadata.namespace === n.metadata?.name) enqueue(mi);
  });
  return c;
}

/** The name constraints of a CA certificate for this identity: what its namespace may hold under the binding. */
function caConstraintsFor(ctx: OperatorContext, mi: MachineIdentityModel, authority: string): NameConstraintLists {
  const ns = mi.metadata.namespace;
  return caNameConstraints(bindingForOwnership(ctx, authority), {
    namespace: ns,
    namespaceLabels: ctx.informers.namespaces.get(ns)?.metadata?.labels ?? {},
    clusterDomain: ctx.config.clusterDomain,
  });
}
