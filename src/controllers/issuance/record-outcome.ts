// The last step of an issuance attempt: status, Events and the next wake-up for what the CA answered
// (issued, still pending, denied or failed).
import type { ReconcileResult } from '../../runtime/reconcile-loop.ts';
import { Reason } from '../../crds/reasons.ts';
import type { ConditionInput } from '../status/conditions.ts';
import { checkCertificate } from './evaluate.ts';
import { crashPoint } from './fault.ts';
import { primeView, projectSecret } from './inspect.ts';
import type { IssueOutcome } from './issue.ts';
import { RESYNC_MS } from './maintain.ts';
import { cleanupNextKeys } from './next-key.ts';
import type { Ready, Run } from './run.ts';
import { failureBackoffMs } from './schedule.ts';
import { readyTrue, type StatusChange } from './status.ts';
import type { Trigger } from './triggers.ts';

type Issued = Extract<IssueOutcome, { kind: 'issued' }>;
type Refused = Extract<IssueOutcome, { kind: 'denied' | 'failed' }>;

/** What an attempt was for: the trigger, the revision it issues, and the current certificate's notAfter (if any). */
export interface Attempt {
  trigger: Trigger;
  revision: number;
  currentNotAfter?: Date;
}

/** Status, Events and the next wake-up for an issuance outcome. */
export async function recordOutcome(run: Run, pre: Ready, a: Attempt, out: IssueOutcome): Promise<ReconcileResult> {
  if (out.kind === 'issued') return recordIssued(run, pre, a, out);
  const t = a.trigger;
  const ready: ConditionInput =
    t.stillValid && a.currentNotAfter
      ? readyTrue(a.currentNotAfter)
      : { type: 'Ready', status: 'False', reason: t.reason, message: t.message };
  if (out.kind === 'pending') {
    await run.write({
      ready,
      issuing: { type: 'Issuing', status: 'True', reason: Reason.Pending, message: out.message },
      pendingRequest: out.pendingRequest ?? null,
    });
    crashPoint('after-pending-status');
    return { requeueAfterMs: out.retryAfterMs };
  }
  return recordRefused(run, t, ready, out);
}

async function recordIssued(run: Run, pre: Ready, a: Attempt, out: Issued): Promise<ReconcileResult> {
  const { ctx, mi } = run;
  const now = ctx.now();
  const { revision, trigger: t } = a;
  // the cache and the parse pool need not see what we just wrote: its projection, and its facts known from issuance
  run.written.remember(projectSecret(out.written));
  primeView(out.written, { hasData: true, leaf: out.leaf, keyMatches: true });
  checkCertificate(run, pre, out.leaf, pre.spec.durationMs);
  await run.write({ ready: readyTrue(out.notAfter), cert: out.cert, failures: { count: 0 }, pendingRequest: null });
  crashPoint('after-status-write');
  const verb = revision > 1 ? 'renewed' : 'issued';
  run.event(
    'Normal',
    revision > 1 ? Reason.Renewed : Reason.Issued,
    `${verb} revision ${revision}, serial ${out.cert.serialNumber}, valid until ${out.cert.notAfter} (${t.reason})`,
  );
  if (revision > 1 && out.keyRotated)
    run.event('Normal', Reason.KeyRotated, `new private key for revision ${revision}`);
  await cleanupNextKeys(ctx, run.nextKeys, mi);
  return { requeueAfterMs: Math.min(RESYNC_MS, Math.max(1000, out.renewal.getTime() - now.getTime() + 1000)) };
}

async function recordRefused(run: Run, t: Trigger, ready: ConditionInput, out: Refused): Promise<ReconcileResult> {
  const count = (run.mi.status?.failedIssuanceAttempts ?? 0) + 1;
  const reason = out.kind === 'denied' ? Reason.Denied : Reason.Failed;
  const change: StatusChange = {
    ready: t.stillValid ? ready : { type: 'Ready', status: 'False', reason, message: out.message },
    issuing: {
      type: 'Issuing',
      status: 'False',
      reason,
      message: `${out.reason}: ${out.message}; retrying in ${Math.round(failureBackoffMs(count) / 1000)}s`,
    },
    failures: {
      count,
      lastFailureTime: run.ctx
        .now()
        .toISOString()
        .replace(/\.\d{3}Z$/, 'Z'),
    },
    // a refusal ends the request; a failure (CA unreachable) keeps it to resume
    ...(out.kind === 'denied' ? { pendingRequest: null } : {}),
  };
  await run.write(change);
  run.event('Warning', reason, `${out.reason}: ${out.message}`);
  return { requeueAfterMs: Math.max(out.kind === 'failed' ? (out.retryAfterMs ?? 0) : 0, failureBackoffMs(count)) };
}
