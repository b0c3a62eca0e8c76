// Kubernetes Events (core/v1) for transitions, with client-go's two protections: the same object +
// reason within 10 minutes bumps `count` on the existing Event instead of creating a new one, and a
// token bucket caps the write rate. The bucket is per involved kind: after a restart, hundreds of
// MachineIdentities reporting at once (say, their binding is gone) must not use up the budget of the
// one CertificateAuthorityBinding Event that says why (seen: its CASecretMissing was dropped). The few
// kinds bound the total rate at a small multiple of one bucket's. Recording never throws: an Event is best effort, but a
// write the API server refused for a passing reason (429, 5xx, a dropped connection) is tried again in
// the background a few times, as client-go's broadcaster does, so a busy API server does not lose it.
import * as k8s from '@kubernetes/client-node';
import type { OperatorContext } from './context.ts';
import { MERGE, sendJson, toKubeError } from '../runtime/kube.ts';

export interface InvolvedObject {
  apiVersion: string;
  kind: string;
  name: string;
  namespace?: string;
  uid?: string;
}
export type EventType = 'Normal' | 'Warning';

const DEDUPE_MS = 10 * 60_000;
const BURST = 100;
const REFILL_PER_SEC = 10;
const MAX_MESSAGE = 1024;
const COMPONENT = 'machine-identity-operator';
/** On every Event when the chart's clusterName is set: which cluster of a fleet recorded it. */
const CLUSTER_ANNOTATION = 'machineidentity.io/cluster';
const RETRY_DELAYS_MS = [1000, 3000, 9000];
/** Retries waiting at once, at most: beyond it a failed write is dropped (bounded memory under an outage). */
const MAX_PENDING_RETRIES = 100;

interface Recent {
  name: string;
  namespace: string;
  count: number;
  at: number;
}
interface Bucket {
  tokens: number;
  refilledAt: number;
}
interface State {
  core: k8s.CoreV1Api;
  recent: Map<string, Recent>;
  /** One token bucket per involved kind (a handful: the operator's kinds, CSRs, PCRs, workloads). */
  buckets: Map<string, Bucket>;
  pendingRetries: number;
}

const states = new WeakMap<OperatorContext, State>();

function stateOf(ctx: OperatorContext): State {
  let s = states.get(ctx);
  if (!s) {
    s = {
      core: ctx.kc.makeApiClient(k8s.CoreV1Api),
      recent: new Map(),
      buckets: new Map(),
      pendingRetries: 0,
    };
    states.set(ctx, s);
  }
  return s;
}

function takeToken(s: State, kind: string, now: number): boolean {
  let b = s.buckets.get(kind);
  if (!b) s.buckets.set(kind, (b = { tokens: BURST, refilledAt: now }));
  b.tokens = Math.min(BURST, b.tokens + ((now - b.refilledAt) / 1000) * REFILL_PER_SEC);
  b.refilledAt = now;
  if (b.tokens < 1) return false;
  b.tokens -= 1;
  return true;
}

/**
 * Events for cluster-scoped objects go to `default`, as client-go's recorder does: the API server
 * rejects a core/v1 Event whose namespace differs from a namespaced involvedObject's, and accepts
 * only `default` (or none) for a cluster-scoped one.
 */
function eventNamespace(o: InvolvedObject): string {
  return o.namespace || 'default';
}

/** Records (or bumps) an Event about `o`. Never throws. */
export async function recordEvent(
  ctx: OperatorContext,
  o: InvolvedObject,
  type: EventType,
  reason: string,
  message: string,
): Promise<void> {
  const s = stateOf(ctx);
  const now = ctx.now();
  const nowMs = now.getTime();
  const key = [o.kind, o.namespace ?? '', o.name, o.uid ?? '', type, reason].join('\u0000');
  const note = message.length > MAX_MESSAGE ? `${message.slice(0, MAX_MESSAGE - 3)}...` : message;
  const ts = now.toISOString().replace(/\.\d{3}Z$/, 'Z');
  for (const [k, r] of s.recent) if (nowMs - r.at > DEDUPE_MS) s.recent.delete(k);
  if (!takeToken(s, o.kind, nowMs)) {
    ctx.log.debug({ kind: o.kind, name: o.name, reason }, 'event dropped by rate limit');
    return;
  }
  const write = (): Promise<void> => writeEvent(s, ctx, o, { key, type, reason, note, now, ts });
  try {
    await write();
  } catch (err) {
    retryLater(s, ctx, write, err, 0, { kind: o.kind, name: o.name, reason });
  }
}

interface EventWrite {
  key: string;
  type: EventType;
  reason: string;
  note: string;
  now: Date;
  ts: string;
}

/** Creates the Event, or bumps the one recorded for `key` within DEDUPE_MS. Throws what the API server said. */
async function writeEvent(s: State, ctx: OperatorContext, o: InvolvedObject, w: EventWrite): Promise<void> {
  const prev = s.recent.get(w.key);
  try {
    if (prev) {
      prev.count++;
      prev.at = w.now.getTime();
      await s.core.patchNamespacedEvent(
        {
          name: prev.name,
          namespace: prev.namespace,
          body: { count: prev.count, lastTimestamp: w.ts, message: w.note },
        },
        MERGE,
      );
      return;
    }
    const namespace = eventNamespace(o);
    // plain JSON (sendJson): an Event follows every issuance, and client-node's model walk was most of its cost
    const body: k8s.CoreV1Event = {
      metadata: { generateName: `${o.name}.`, namespace, ...clusterAnnotation(ctx) },
      involvedObject: { apiVersion: o.apiVersion, kind: o.kind, name: o.name, namespace: o.namespace, uid: o.uid },
      type: w.type,
      reason: w.reason,
      message: w.note,
      count: 1,
      firstTimestamp: w.now,
      lastTimestamp: w.now,
      source: { component: COMPONENT },
      reportingComponent: COMPONENT,
      reportingInstance: ctx.config.identity,
    };
    const created = await sendJson<k8s.CoreV1Event>(
      ctx.kc,
      'POST',
      `/api/v1/namespaces/${encodeURIComponent(namespace)}/events`,
      {},
      body,
    );
    s.recent.set(w.key, { name: created.metadata?.name ?? '', namespace, count: 1, at: w.now.getTime() });
  } catch (err) {
    if (prev) s.recent.delete(w.key); // the Event is gone (TTL) or unknown: the next write creates it afresh
    throw err;
  }
}

/** Which cluster of a fleet recorded the Event (the chart's clusterName), for Event exporters that ship them off-cluster. */
function clusterAnnotation(ctx: OperatorContext): { annotations?: Record<string, string> } {
  return ctx.config.clusterName ? { annotations: { [CLUSTER_ANNOTATION]: ctx.config.clusterName } } : {};
}

/** A refusal for a passing reason: no status (connection), 429, or 5xx. */
function passing(err: unknown): boolean {
  const code = toKubeError(err).code;
  return code === undefined || code === 429 || code >= 500;
}

/** Tries `write` again after the next delay in the background (timers unref'd), or logs why the Event is lost. */
function retryLater(
  s: State,
  ctx: OperatorContext,
  write: () => Promise<void>,
  err: unknown,
  attempt: number,
  about: { kind: string; name: string; reason: string },
): void {
  const delay = RETRY_DELAYS_MS[attempt];
  if (delay === undefined || !passing(err) || s.pendingRetries >= MAX_PENDING_RETRIES) {
    ctx.log.warn(
      { err: { message: toKubeError(err).message }, ...about, attempts: attempt + 1 },
      'recording event failed',
    );
    return;
  }
  s.pendingRetries++;
  setTimeout(() => {
    s.pendingRetries--;
    write().catch((e: unknown) => retryLater(s, ctx, write, e, attempt + 1, about));
  }, delay).unref();
}
