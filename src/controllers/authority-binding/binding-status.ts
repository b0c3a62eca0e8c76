// The authority-binding controller's part of a binding's status: Ready, backend, the CA fingerprint
// and expiry, and the continuity record; written only when it changed, with an Event when Ready moves.
// (identities, outdatedIdentities and observedGeneration belong to the binding-usage controller.)
import { isDeepStrictEqual } from 'node:util';
import type { Logger } from 'pino';
import { applyStatus, isNotFound } from '../../runtime/kube.ts';
import { isoSeconds } from '../../issuers/in-cluster-ca.ts';
import { getCondition, setCondition, type Condition } from '../status/conditions.ts';
import type { BindingModel } from '../../crds/binding-model.ts';
import { BINDING_GVR, type OperatorContext } from '../context.ts';
import { recordEvent } from '../events.ts';
import { involved } from './trust-bundle-configmaps.ts';
import type { CaRecord } from './ca-continuity.ts';
import type { ContinuityStep } from './ca-continuity-step.ts';
import type { Outcome } from './binding-outcome.ts';
import { FIELD_MANAGER } from './ca-generation.ts';

/** The status fields this controller owns, besides the Ready condition. */
export function statusFields(
  o: Outcome,
  rec: CaRecord | undefined,
  continuity: Record<string, unknown>,
): Record<string, unknown> {
  // a ca binding's caFingerprintSHA256 is the recorded CA (kept while its Secret is lost or replaced unexpectedly)
  return {
    backend: o.backend,
    caFingerprintSHA256: rec ? rec.fingerprint : o.fingerprint,
    caNotAfter: o.notAfter ? isoSeconds(o.notAfter) : undefined,
    ...continuity,
  };
}

/** Nothing to write: Ready and every field as they are. */
function unchanged(
  prev: Condition | undefined,
  ready: Condition,
  status: Record<string, unknown>,
  fields: Record<string, unknown>,
): boolean {
  return isDeepStrictEqual(prev, ready) && Object.entries(fields).every(([k, v]) => isDeepStrictEqual(status[k], v));
}

export async function writeBindingStatus(
  ctx: OperatorContext,
  continuity: ContinuityStep,
  name: string,
  b: BindingModel,
  o: Outcome,
  rec: CaRecord | undefined,
  log: Logger,
): Promise<void> {
  const prev = getCondition(b.status?.conditions, 'Ready');
  const ready = setCondition(b.status?.conditions, o.ready, b.metadata.generation, ctx.now()).find(
    (c) => c.type === 'Ready',
  );
  if (!ready) return; // setCondition always sets it
  const fields = statusFields(o, rec, continuity.statusFields(b, rec));
  const current: Record<string, unknown> = b.status ?? {};
  if (unchanged(prev, ready, current, fields)) return;
  const status = Object.fromEntries(
    Object.entries({ conditions: [ready], ...fields }).filter(([, v]) => v !== undefined),
  );
  const body = {
    apiVersion: 'machineidentity.io/v1alpha1',
    kind: 'CertificateAuthorityBinding',
    metadata: { name },
    status,
  };
  try {
    await applyStatus(ctx.kc, BINDING_GVR, body, FIELD_MANAGER);
  } catch (e) {
    if (isNotFound(e)) return;
    throw new Error('apply CertificateAuthorityBinding status failed', { cause: e });
  }
  log.debug({ reason: ready.reason, status: ready.status }, 'status updated');
  if (readyMoved(prev, ready))
    await recordEvent(ctx, involved(b), ready.status === 'True' ? 'Normal' : 'Warning', ready.reason, ready.message);
}

/** An Event for every transition of Ready (status or reason), none for a new message alone. */
function readyMoved(prev: Condition | undefined, ready: Condition): boolean {
  return !prev || prev.status !== ready.status || prev.reason !== ready.reason;
}
