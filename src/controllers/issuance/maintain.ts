// Nothing to issue: adopt what the Secret holds, repair metadata drift, and schedule the next look; or,
// for a move to the authority's new CA, hold until every trust bundle carries it.
import type * as k8s from '@kubernetes/client-node';
import type { ReconcileResult } from '../../runtime/reconcile-loop.ts';
import type { LeafFacts, SecretView } from './inspect.ts';
import { cleanupNextKeys } from './next-key.ts';
import { repairMetadata } from './repair.ts';
import { currentRevision } from './revision.ts';
import type { Ready, Run } from './run.ts';
import { readRecord, RENEW_REQUESTED_AT } from './secret.ts';
import { certStatus, readyTrue } from './status.ts';

/** Re-check an identity at least this often. */
export const RESYNC_MS = 10 * 60 * 60_000;

/** The Secret holds a certificate: the Secret, what was read of it, and its leaf. */
export interface Held {
  secret: k8s.V1Secret;
  view: SecretView;
  leaf: LeafFacts;
}

/** Nothing to issue: adopt what the Secret holds (also after a crash between the Secret and status writes), repair drift, schedule. */
export async function maintain(run: Run, p: Ready, held: Held, renewal: Date): Promise<ReconcileResult> {
  const { ctx, mi } = run;
  const rec = readRecord(held.secret);
  const revision = currentRevision(mi, held.secret);
  await repairFrom(run, p, held, p.authority);
  await run.write({
    ready: readyTrue(held.leaf.notAfter),
    cert: certStatus(held.leaf, rec.authorityFingerprint ?? '', renewal, revision),
    failures: { count: 0 },
  });
  if (await cleanupNextKeys(ctx, run.nextKeys, mi)) run.log.debug('removed stored next keys');
  const now = ctx.now().getTime();
  const requested = Date.parse(mi.metadata.annotations?.[RENEW_REQUESTED_AT] ?? '');
  const wakeAt = requested > now ? Math.min(requested, renewal.getTime()) : renewal.getTime();
  return { requeueAfterMs: Math.min(RESYNC_MS, Math.max(1000, wakeAt - now + 1000)) };
}

/**
 * A move to the authority's new CA waits until every trust bundle carries it plus the propagation delay;
 * meanwhile the Secret's ca.crt already follows the published bundle (old and new CA), so this workload
 * trusts peers that move first.
 */
export async function holdForTrustBundles(run: Run, p: Ready, held: Held, holdMs: number): Promise<ReconcileResult> {
  if (p.entry.trustBundlePem) await repairFrom(run, p, held, readRecord(held.secret).authority ?? p.authority);
  return { requeueAfterMs: holdMs };
}

/** Re-applies the Secret's metadata and CA bundle from what it already holds (same key and certificate). */
async function repairFrom(run: Run, p: Ready, held: Held, authority: string): Promise<void> {
  const rec = readRecord(held.secret);
  const revision = currentRevision(run.mi, held.secret);
  await repairMetadata(
    run.ctx,
    run.mi,
    p.spec,
    authority,
    held.secret,
    held.leaf,
    revision,
    rec,
    run.log,
    p.entry.trustBundlePem,
  );
}
