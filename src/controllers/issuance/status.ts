// The MachineIdentity status this controller owns, built whole (server-side apply removes any owned
// field a body leaves out) and written only when it changed.
import type { LeafFacts } from './inspect.ts';
import { lenientStatus, MachineIdentityStatus, rawParts, type MachineIdentityModel } from '../../crds/index.ts';
import { isDeepStrictEqual } from 'node:util';
import type * as k8s from '@kubernetes/client-node';
import { applyStatus, isNotFound } from '../../runtime/kube.ts';
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

export function certStatus(leaf: LeafFacts, authorityFingerprint: string, renewal: Date, revision: number): CertStatus {
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

// The status this process last applied per identity (uid → resourceVersion and status), so a reconcile
// that runs before the informer delivers our own write compares against it and does not write it twice.
const lastApplied = new Map<string, { rv: number; status: MachineIdentityStatus }>();

/** The identity with the newest status known to this process (ours, if the informer has not caught up). */
export function freshest(mi: MachineIdentityModel): MachineIdentityModel {
  const rec = lastApplied.get(mi.metadata.uid ?? '');
  if (!rec) return mi;
  if (Number(mi.metadata?.resourceVersion) >= rec.rv) {
    lastApplied.delete(mi.metadata.uid);
    return mi;
  }
  return { ...mi, status: rec.status };
}

export function forgetApplied(uid: string | undefined): void {
  if (uid) lastApplied.delete(uid);
}

/** Writes the status when it differs from the newest known one; returns whether it wrote. */
export async function writeStatus(
  ctx: OperatorContext,
  cachedMi: MachineIdentityModel,
  c: StatusChange,
): Promise<boolean> {
  const mi = freshest(cachedMi);
  const want = nextStatus(mi, c, ctx.now());
  if (isDeepStrictEqual(owned(want), owned(mi.status))) return false;
  try {
    const res: k8s.KubernetesObject = await applyStatus(
      ctx.kc,
      IDENTITY_GVR,
      {
        apiVersion: 'machineidentity.io/v1alpha1',
        kind: 'MachineIdentity',
        metadata: { name: mi.metadata.name, namespace: mi.metadata.namespace },
        status: want,
      },
      FIELD_MANAGER,
    );
    const rv = Number(res.metadata?.resourceVersion);
    if (mi.metadata.uid && Number.isFinite(rv)) {
      if (lastApplied.size > 10_000) lastApplied.clear();
      lastApplied.set(mi.metadata.uid, {
        rv,
        status: lenientStatus(MachineIdentityStatus, rawParts(res).status) ?? want,
      });
    }
    return true;
  } catch (e) {
    if (isNotFound(e)) return false;
    throw new Error('apply MachineIdentity status failed', { cause: e });
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
