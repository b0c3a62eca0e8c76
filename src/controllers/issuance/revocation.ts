// Revocation on deletion: for deletionPolicy Delete and a backend that can revoke, the identity carries
// a finalizer; when it is deleted, its current certificate is revoked at the CA before the finalizer
// goes (and the Secret with it, by garbage collection). A CA that stays unreachable does not hold the
// deletion forever: after GIVE_UP_MS the finalizer is removed with a Warning Event.
import { identityFields, type MachineIdentityModel } from '../../crds/index.ts';
import type * as k8s from '@kubernetes/client-node';
import { sendRaw, getJsonOrNotFound } from '../../runtime/kube.ts';
import { recordEvent } from '../events.ts';
import { IssuanceReason } from '../../crds/reasons.ts';
import type { OperatorContext } from '../context.ts';
import type { Issuer } from '../../issuers/types.ts';

const REVOKE_FINALIZER = 'machineidentity.io/revoke-on-delete';
const GIVE_UP_MS = 10 * 60_000;

const path = (mi: MachineIdentityModel): string =>
  `/apis/machineidentity.io/v1alpha1/namespaces/${encodeURIComponent(mi.metadata.namespace)}/machineidentities/${encodeURIComponent(mi.metadata.name)}`;

/** Sets metadata.finalizers, guarded by the resourceVersion read (a concurrent change makes it retry). */
async function setFinalizers(ctx: OperatorContext, mi: MachineIdentityModel, finalizers: string[]): Promise<boolean> {
  const body = { metadata: { finalizers, resourceVersion: mi.metadata.resourceVersion } };
  const r = await sendRaw(ctx.kc, 'PATCH', path(mi), JSON.stringify(body), 'application/merge-patch+json');
  if (r.status === 409 || r.status === 404) return false;
  if (r.status < 200 || r.status >= 300)
    throw new Error(`patch MachineIdentity finalizers: HTTP ${r.status}: ${r.text.slice(0, 300)}`);
  return true;
}

/** Adds or removes the finalizer so that it is there exactly when deletion should revoke. */
export async function syncRevocationFinalizer(
  ctx: OperatorContext,
  mi: MachineIdentityModel,
  wanted: boolean,
): Promise<void> {
  const list = mi.metadata?.finalizers ?? [];
  const has = list.includes(REVOKE_FINALIZER);
  if (has === wanted || mi.metadata?.deletionTimestamp) return;
  await setFinalizers(ctx, mi, wanted ? [...list, REVOKE_FINALIZER] : list.filter((f) => f !== REVOKE_FINALIZER));
}

/** A deleted identity with our finalizer: revoke, then let it go. Returns a retry delay while the CA cannot be reached. */
export async function revokeOnDeletion(
  ctx: OperatorContext,
  mi: MachineIdentityModel,
  issuer: Issuer | undefined,
): Promise<{ requeueAfterMs: number } | undefined> {
  const finalizers = mi.metadata.finalizers ?? [];
  if (!mi.metadata.deletionTimestamp || !finalizers.includes(REVOKE_FINALIZER)) return undefined;
  const pem = await currentCertificate(ctx, mi);
  if (pem && issuer?.revoke) {
    const retry = await revoke(ctx, mi, issuer, pem);
    if (retry) return retry;
  }
  await setFinalizers(
    ctx,
    mi,
    finalizers.filter((f) => f !== REVOKE_FINALIZER),
  );
  return undefined;
}

/** tls.crt of the identity's Secret, read live (the spec may be invalid as a whole: its secretName is enough). */
async function currentCertificate(ctx: OperatorContext, mi: MachineIdentityModel): Promise<string | undefined> {
  const secretName = identityFields(mi).secretName;
  const secret = secretName
    ? await getJsonOrNotFound<k8s.V1Secret>(
        ctx.kc,
        `/api/v1/namespaces/${encodeURIComponent(mi.metadata.namespace)}/secrets/${encodeURIComponent(secretName)}`,
        {},
      )
    : undefined;
  const crt = secret?.data?.['tls.crt'];
  return crt ? Buffer.from(crt, 'base64').toString('utf8') : undefined;
}

/** Revokes at the CA; a retry delay while it fails and the deletion is younger than GIVE_UP_MS. */
async function revoke(
  ctx: OperatorContext,
  mi: MachineIdentityModel,
  issuer: Issuer,
  pem: string,
): Promise<{ requeueAfterMs: number } | undefined> {
  const ref = {
    apiVersion: 'machineidentity.io/v1alpha1',
    kind: 'MachineIdentity',
    name: mi.metadata.name,
    namespace: mi.metadata.namespace,
    uid: mi.metadata.uid,
  };
  try {
    await issuer.revoke?.(pem);
    void recordEvent(
      ctx,
      ref,
      'Normal',
      IssuanceReason.Revoked,
      `revoked the certificate at ${issuer.backend} before deletion`,
    );
  } catch (e) {
    const age = Date.now() - Date.parse(String(mi.metadata.deletionTimestamp));
    if (age < GIVE_UP_MS) {
      void recordEvent(
        ctx,
        ref,
        'Warning',
        IssuanceReason.RevocationFailed,
        `revoking at ${issuer.backend} failed, retrying: ${(e as Error).message}`,
      );
      return { requeueAfterMs: 15_000 };
    }
    void recordEvent(
      ctx,
      ref,
      'Warning',
      IssuanceReason.RevocationFailed,
      `gave up revoking at ${issuer.backend} after ${GIVE_UP_MS / 60_000} minutes: ${(e as Error).message}; the certificate stays valid until it expires`,
    );
  }
  return undefined;
}
