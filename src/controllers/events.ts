// Kubernetes Events (core/v1) for transitions, with client-go's two protections: the same object +
// reason within 10 minutes bumps `count` on the existing Event instead of creating a new one, and a
// global token bucket caps the write rate. Recording never throws: an Event is best effort.
import * as k8s from '@kubernetes/client-node';
import type { OperatorContext } from './context.ts';
import { MERGE } from '../runtime/kube.ts';

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

interface Recent {
  name: string;
  namespace: string;
  count: number;
  at: number;
}
interface State {
  core: k8s.CoreV1Api;
  recent: Map<string, Recent>;
  tokens: number;
  refilledAt: number;
}

const states = new WeakMap<OperatorContext, State>();

function stateOf(ctx: OperatorContext): State {
  let s = states.get(ctx);
  if (!s) {
    s = { core: ctx.kc.makeApiClient(k8s.CoreV1Api), recent: new Map(), tokens: BURST, refilledAt: Date.now() };
    states.set(ctx, s);
  }
  return s;
}

function takeToken(s: State, now: number): boolean {
  s.tokens = Math.min(BURST, s.tokens + ((now - s.refilledAt) / 1000) * REFILL_PER_SEC);
  s.refilledAt = now;
  if (s.tokens < 1) return false;
  s.tokens -= 1;
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
  if (!takeToken(s, nowMs)) {
    ctx.log.debug({ kind: o.kind, name: o.name, reason }, 'event dropped by rate limit');
    return;
  }
  const prev = s.recent.get(key);
  try {
    if (prev) {
      prev.count++;
      prev.at = nowMs;
      await s.core.patchNamespacedEvent(
        { name: prev.name, namespace: prev.namespace, body: { count: prev.count, lastTimestamp: ts, message: note } },
        MERGE,
      );
      return;
    }
    const namespace = eventNamespace(o);
    const created = await s.core.createNamespacedEvent({
      namespace,
      body: {
        metadata: { generateName: `${o.name}.`, namespace },
        involvedObject: { apiVersion: o.apiVersion, kind: o.kind, name: o.name, namespace: o.namespace, uid: o.uid },
        type,
        reason,
        message: note,
        count: 1,
        firstTimestamp: now,
        lastTimestamp: now,
        source: { component: COMPONENT },
        reportingComponent: COMPONENT,
        reportingInstance: ctx.config.identity,
      },
    });
    s.recent.set(key, { name: created.metadata?.name ?? '', namespace, count: 1, at: nowMs });
  } catch (err) {
    if (prev) s.recent.delete(key); // the Event is gone (TTL): the next one is created afresh
    ctx.log.warn(
      { err: { message: (err as Error).message }, kind: o.kind, name: o.name, reason },
      'recording event failed',
    );
  }
}
