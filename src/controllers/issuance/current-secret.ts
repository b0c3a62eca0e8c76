// The identity's Secret as the reconcile sees it: ours or absent. A Secret of someone else's, or one
// too large to read after we already reissued into it, stops the reconcile with a reason.
import type * as k8s from '@kubernetes/client-node';
import type { ReconcileResult } from '../../runtime/reconcile-loop.ts';
import type { MachineIdentityModel } from '../../crds/index.ts';
import { Reason } from '../../crds/reasons.ts';
import { inspectSecret, MANAGED_SECRET_MAX_BYTES, type SecretView } from './inspect.ts';
import { readSecret } from './read-secret.ts';
import { nextRevision } from './revision.ts';
import { isOwnedBy, readRecord } from './secret.ts';
import type { Run } from './run.ts';

export type NotReady = (reason: string, message: string) => Promise<undefined>;

/** The identity's Secret (ours or absent) and what it holds; a Secret of someone else's or one too large to read stops here. */
export async function currentSecret(
  run: Run,
  secretName: string,
  notReady: NotReady,
): Promise<{ secret?: k8s.V1Secret; view?: SecretView } | ReconcileResult | undefined> {
  const { ctx, mi } = run;
  const ns = mi.metadata.namespace;
  let secret: k8s.V1Secret | undefined = run.written.get(
    `${ns}/${secretName}`,
    ctx.informers.managedSecrets.get(`${ns}/${secretName}`),
  );
  if (!secret || !isOwnedBy(secret, mi.metadata.name)) {
    // the cache only holds our labelled Secrets: a live read tells "absent" from "someone else's"
    const live = await readSecret(ctx, ns, secretName);
    if (live && !isOwnedBy(live, mi.metadata.name)) {
      await notReady(
        Reason.SecretNotOwned,
        `Secret ${JSON.stringify(secretName)} exists and was not created for this MachineIdentity; it is left untouched: delete it or choose another spec.secretName`,
      );
      return { requeueAfterMs: 60_000 };
    }
    secret = live;
  }
  if (!secret) return {};
  const view = await inspectSecret(ctx.parser, secret, () => readSecret(ctx, ns, secretName));
  if (view.oversize && oversizeAfterOurWrite(mi, secret)) {
    // we already reissued into it and it is still too large (someone else's keys): reissuing again cannot help
    await notReady(
      Reason.SecretOversize,
      `Secret ${JSON.stringify(secretName)} holds more than ${MANAGED_SECRET_MAX_BYTES} bytes of data; it is not read: remove the extra keys`,
    );
    return { requeueAfterMs: 300_000 };
  }
  return { secret, view };
}

/** Identity uid → the revision issued because its Secret was oversize (at most one such reissue per revision). */
const oversizeReissued = new Map<string, number>();

/** The Secret is oversize again right after a reissue made for that reason: the bulk is in keys we do not write. */
function oversizeAfterOurWrite(mi: MachineIdentityModel, secret: k8s.V1Secret): boolean {
  const uid = mi.metadata.uid,
    rev = readRecord(secret).revision;
  const mark = oversizeReissued.get(uid);
  if (mark !== undefined && rev !== undefined && rev >= mark) return true;
  if (oversizeReissued.size > 10_000) oversizeReissued.clear();
  oversizeReissued.set(uid, nextRevision(mi, secret));
  return false;
}
