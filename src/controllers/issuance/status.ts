// The MachineIdentity status this controller owns, built whole (an owned field the new status leaves
// out is removed) and written only when it changed, as a conditional update of the whole status.
import {
  lenientStatus,
  MachineIdentityStatus,
  rawParts,
  toMachineIdentityModel,
  type MachineIdentityModel,
} from '../../crds/index.ts';
import { isDeepStrictEqual } from 'node:util';
import type * as k8s from '@kubernetes/client-node';
import type { CertFacts } from '../../pki/certs.ts';
import { getJsonOrNotFound, isConflict, isNotFound, replaceStatus } from '../../runtime/kube.ts';
import { setCondition, type Condition, type ConditionInput } from '../status/conditions.ts';
import { IDENTITY_GVR, type OperatorContext } from '../context.ts';
import { Reason } from '../../crds/reasons.ts';

export const FIELD_MANAGER = 'mio-issuance';
const OWNED_CONDITIONS = new Set(['Ready', 'Issuing', 'PolicyCompliant']);

export interface CertStatus {
  serialNumber: string;
  fingerprintSHA256: string;
  issuer: string;
  authorityFingerprintSHA256: string;
  notBefore: string;
  notAfter: string;
  renewalTime: string;
  revision: number;
}
export interface StatusChange {
  ready: ConditionInput;
  /** Absent = remove the Issuing condition. */
  issuing?: ConditionInput;
  /** The PolicyCompliant condition; absent = keep the current one. */
  policy?: ConditionInput;
  cert?: CertStatus;
  failures?: { count: number; lastFailureTime?: string };
  /** A request the CA is still working on; absent = keep the current one, null = none. */
  pendingRequest?: { id: string; state: string } | null;
}

const sec = (d: Date): string => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

export function certStatus(leaf: CertFacts, authorityFingerprint: string, renewal: Date, revision: number): CertStatus {
  return {
    serialNumber: leaf.serialNumber,
    fingerprintSHA256: leaf.fingerprintSHA256,
    issuer: leaf.issuerDN,
    authorityFingerprintSHA256: authorityFingerprint,
    notBefore: sec(leaf.notBefore),
    notAfter: sec(leaf.notAfter),
    renewalTime: sec(renewal),
    revision,
  };
}

const CERT_KEYS = [
  'serialNumber',
  'fingerprintSHA256',
  'issuer',
  'authorityFingerprintSHA256',
  'notBefore',
  'notAfter',
  'renewalTime',
  'revision',
] as const;

/** The fields of `src` named in `keys` that are set. */
function pickDefined<T extends object, K extends keyof T>(src: T, keys: readonly K[]): Partial<Pick<T, K>> {
  const out: Partial<Pick<T, K>> = {};
  for (const k of keys) if (src[k] !== undefined) out[k] = src[k];
  return out;
}

function nextConditions(
  cur: Condition[] | undefined,
  c: StatusChange,
  gen: number | undefined,
  now: Date,
): Condition[] {
  let conditions: Condition[] = setCondition(cur, c.ready, gen, now);
  conditions = c.issuing
    ? setCondition(conditions, c.issuing, gen, now)
    : conditions.filter((x) => x.type !== 'Issuing');
  if (c.policy) conditions = setCondition(conditions, c.policy, gen, now);
  return conditions.filter((x) => OWNED_CONDITIONS.has(x.type));
}

/** The status fields this manager owns, from the current status with `c` applied. */
export function nextStatus(mi: MachineIdentityModel, c: StatusChange, now: Date): MachineIdentityStatus {
  const cur = mi.status ?? {};
  const gen = mi.metadata.generation;
  const s: MachineIdentityStatus = {
    observedGeneration: gen,
    conditions: nextConditions(cur.conditions, c, gen, now),
    ...(c.cert ? pickDefined(c.cert, CERT_KEYS) : pickDefined(cur, CERT_KEYS)),
  };
  const failures = c.failures ?? {
    count: cur.failedIssuanceAttempts ?? 0,
    lastFailureTime: cur.lastFailureTime ?? undefined,
  };
  s.failedIssuanceAttempts = failures.count;
  if (failures.count > 0 && failures.lastFailureTime) s.lastFailureTime = failures.lastFailureTime;
  const pending = c.pendingRequest === undefined ? cur.pendingRequest : c.pendingRequest;
  if (pending) s.pendingRequest = pending;
  return s;
}

const OWNED_KEYS = [
  'observedGeneration',
  'conditions',
  ...CERT_KEYS,
  'failedIssuanceAttempts',
  'lastFailureTime',
  'pendingRequest',
] as const;

function owned(s: MachineIdentityStatus | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of OWNED_KEYS) {
    const v = k === 'conditions' ? (s?.conditions ?? []).filter((x) => OWNED_CONDITIONS.has(x.type)) : s?.[k];
    if (v !== undefined && v !== null) out[k] = v;
  }
  return out;
}

// The status this process last wrote per identity (uid → resourceVersion and status), so a reconcile
// that runs before the informer delivers our own write compares against it, does not write it twice,
// and makes its next conditional write against the version our write produced.
const lastApplied = new Map<string, { rv: number; status: MachineIdentityStatus }>();

/** The identity with the newest status known to this process (ours, if the informer has not caught up). */
export function freshest(mi: MachineIdentityModel): MachineIdentityModel {
  const rec = lastApplied.get(mi.metadata.uid ?? '');
  if (!rec) return mi;
  if (Number(mi.metadata?.resourceVersion) >= rec.rv) {
    lastApplied.delete(mi.metadata.uid);
    return mi;
  }
  // our update was conditional on the version it read, so the object at rec.rv is the cached one with our status
  return { ...mi, metadata: { ...mi.metadata, resourceVersion: String(rec.rv) }, status: rec.status };
}

export function forgetApplied(uid: string | undefined): void {
  if (uid) lastApplied.delete(uid);
}

/** Conditions of other writers (the validation controller's Served), in place, with ours set and those we dropped left out. */
function mergedConditions(cur: Condition[] | undefined, ours: Condition[] | undefined): Condition[] {
  const mine = new Map((ours ?? []).map((c) => [c.type, c]));
  const out: Condition[] = [];
  for (const c of cur ?? []) {
    const o = OWNED_CONDITIONS.has(c.type) ? mine.get(c.type) : c;
    if (o) out.push(o);
    mine.delete(c.type);
  }
  return [...out, ...mine.values()];
}

/**
 * The whole status to PUT: `want` for the fields this manager owns (an owned field `want` leaves out is
 * removed), everything else (the validation controller's Served condition and status.served) as read.
 */
export function wholeStatus(
  cur: MachineIdentityStatus | undefined,
  want: MachineIdentityStatus,
): MachineIdentityStatus {
  const others: Record<string, unknown> = { ...cur };
  for (const k of OWNED_KEYS) delete others[k];
  const conditions = mergedConditions(cur?.conditions, want.conditions);
  return { ...others, ...want, ...(conditions.length ? { conditions } : {}) };
}

const CONFLICT_RETRIES = 3;

/** The identity as stored now (a quorum read, after a conflict), or undefined when it is gone. */
async function liveIdentity(ctx: OperatorContext, mi: MachineIdentityModel): Promise<MachineIdentityModel | undefined> {
  const raw = await getJsonOrNotFound<k8s.KubernetesObject>(
    ctx.kc,
    `/apis/machineidentity.io/v1alpha1/namespaces/${encodeURIComponent(mi.metadata.namespace)}/machineidentities/${encodeURIComponent(mi.metadata.name)}`,
    {},
  );
  return raw ? toMachineIdentityModel(raw) : undefined;
}

/**
 * Writes the status when it differs from the newest known one; returns whether it wrote. An update (PUT)
 * conditional on the version read, not a server-side apply (bench writes: the cheaper shape for the API
 * server). When someone else wrote in between (409), the status is recomputed from a fresh read and
 * written again, so their fields are never overwritten with what we read before.
 */
export async function writeStatus(
  ctx: OperatorContext,
  cachedMi: MachineIdentityModel,
  c: StatusChange,
): Promise<boolean> {
  let mi: MachineIdentityModel | undefined = freshest(cachedMi);
  for (let attempt = 0; mi; attempt++) {
    const want = nextStatus(mi, c, ctx.now());
    if (isDeepStrictEqual(owned(want), owned(mi.status))) return false;
    try {
      await putStatus(ctx, mi, want);
      return true;
    } catch (e) {
      if (isNotFound(e)) return false;
      if (!isConflict(e) || attempt >= CONFLICT_RETRIES)
        throw new Error('update MachineIdentity status failed', { cause: e });
    }
    mi = await liveIdentity(ctx, mi);
  }
  return false;
}

async function putStatus(ctx: OperatorContext, mi: MachineIdentityModel, want: MachineIdentityStatus): Promise<void> {
  const { name, namespace, resourceVersion, uid } = mi.metadata;
  const res: k8s.KubernetesObject = await replaceStatus(
    ctx.co,
    IDENTITY_GVR,
    {
      apiVersion: 'machineidentity.io/v1alpha1',
      kind: 'MachineIdentity',
      metadata: { name, namespace, resourceVersion },
      status: wholeStatus(mi.status, want),
    },
    FIELD_MANAGER,
  );
  const rv = Number(res.metadata?.resourceVersion);
  if (uid && Number.isFinite(rv)) {
    if (lastApplied.size > 10_000) lastApplied.clear();
    lastApplied.set(uid, { rv, status: lenientStatus(MachineIdentityStatus, rawParts(res).status) ?? want });
  }
}

/** Ready=True for a valid certificate that matches the spec. */
export function readyTrue(notAfter: Date): ConditionInput & { status: 'True' } {
  return {
    type: 'Ready',
    status: 'True',
    reason: Reason.Ready,
    message: `the certificate is up to date and valid until ${notAfter.toISOString()}`,
  };
}
