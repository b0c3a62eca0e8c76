// The reconcile loop (controller-runtime's contract): N workers take keys from a WorkQueue and call
// reconcile(key). Success forgets the key's backoff; `requeueAfterMs` schedules a delayed re-check;
// a TerminalError is logged and not retried (bad input waits for the next change); any other error
// is requeued with per-key exponential backoff.
import { randomUUID } from 'node:crypto';
import type { Registry } from 'prom-client';
import type { Logger } from 'pino';
import type { KubernetesObject } from '@kubernetes/client-node';
import { WorkQueue } from './workqueue.ts';
import type { BackoffOptions } from './backoff.ts';
import { counter, gauge, histogram } from './metric-registry.ts';
import { lazyChild } from './lazy-logger.ts';

export interface ReconcileResult {
  requeueAfterMs?: number;
}
interface ReconcileContext {
  log: Logger;
  reconcileID: string;
}
export type Reconcile = (key: string, ctx: ReconcileContext) => Promise<ReconcileResult | void>;

/** An error that retrying cannot fix (invalid spec, policy violation): no requeue. */
export class TerminalError extends Error {
  override readonly name = 'TerminalError';
}

/** Anything with a `synced` promise (an Informer). */
export interface Syncable {
  readonly synced: Promise<void>;
}

/** Something a controller can watch: key-only handlers that enqueue. */
export interface EventSource<T> {
  onAdd(fn: (obj: T) => void): unknown;
  onUpdate(fn: (oldObj: T, newObj: T) => void): unknown;
  onDelete(fn: (obj: T) => void): unknown;
}

export interface ControllerOptions {
  name: string;
  reconcile: Reconcile;
  logger: Logger;
  registry: Registry;
  workers?: number;
  /** Workers start only after every one of these has synced. */
  informers?: Syncable[];
  backoff?: BackoffOptions;
  maxDelayMs?: number;
}

/** `namespace/name` or `name`: the key informers, queues and reconcilers share. */
export function keyOf(obj: KubernetesObject): string {
  const ns = obj.metadata?.namespace;
  const name = obj.metadata?.name ?? '';
  return ns ? `${ns}/${name}` : name;
}

const TIME_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30, 60];

function controllerMetrics(r: Registry) {
  return {
    total: counter(r, 'controller_runtime_reconcile_total', 'Total number of reconciliations per controller', [
      'controller',
      'result',
    ]),
    errors: counter(
      r,
      'controller_runtime_reconcile_errors_total',
      'Total number of reconciliation errors per controller',
      ['controller'],
    ),
    terminal: counter(
      r,
      'controller_runtime_terminal_reconcile_errors_total',
      'Total number of terminal reconciliation errors per controller',
      ['controller'],
    ),
    time: histogram(
      r,
      'controller_runtime_reconcile_time_seconds',
      'Length of time per reconciliation per controller',
      ['controller'],
      TIME_BUCKETS,
    ),
    active: gauge(r, 'controller_runtime_active_workers', 'Number of currently used workers per controller', [
      'controller',
    ]),
    maxWorkers: gauge(
      r,
      'controller_runtime_max_concurrent_reconciles',
      'Maximum number of concurrent reconciles per controller',
      ['controller'],
    ),
  };
}

export class Controller {
  readonly name: string;
  readonly queue: WorkQueue;
  private readonly reconcileFn: Reconcile;
  private readonly log: Logger;
  private readonly workers: number;
  private readonly informers: Syncable[];
  private readonly m: ReturnType<typeof controllerMetrics>;
  private readonly loops: Promise<void>[] = [];
  private readonly stopSignal = new AbortController();
  private started = false;

  constructor(o: ControllerOptions) {
    this.name = o.name;
    this.reconcileFn = o.reconcile;
    this.log = o.logger.child({ controller: o.name });
    this.workers = Math.max(1, o.workers ?? 1);
    this.informers = o.informers ?? [];
    this.queue = new WorkQueue({ name: o.name, registry: o.registry, backoff: o.backoff, maxDelayMs: o.maxDelayMs });
    this.m = controllerMetrics(o.registry);
    for (const result of ['success', 'error', 'requeue_after']) this.m.total.inc({ controller: o.name, result }, 0);
    this.m.errors.inc({ controller: o.name }, 0);
    this.m.terminal.inc({ controller: o.name }, 0);
    this.m.active.set({ controller: o.name }, 0);
    this.m.maxWorkers.set({ controller: o.name }, this.workers);
  }

  /** Enqueues the key of every added, changed or deleted object (optionally mapped to another key). */
  watch<T extends KubernetesObject>(
    source: EventSource<T>,
    map: (obj: T) => string | string[] | undefined = keyOf,
  ): this {
    const enqueue = (obj: T): void => {
      const keys = map(obj);
      for (const k of Array.isArray(keys) ? keys : keys === undefined ? [] : [keys]) this.queue.add(k);
    };
    source.onAdd(enqueue);
    source.onUpdate((_old, obj) => enqueue(obj));
    source.onDelete(enqueue);
    return this;
  }

  /** Waits for the informers to sync, then starts the workers. Resolves early if stopped meanwhile. */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    const stopped = new Promise<void>((resolve) =>
      this.stopSignal.signal.addEventListener('abort', () => resolve(), { once: true }),
    );
    await Promise.race([Promise.all(this.informers.map((i) => i.synced)), stopped]);
    if (this.stopSignal.signal.aborted) return;
    this.log.info({ workers: this.workers }, 'starting workers');
    for (let i = 0; i < this.workers; i++) this.loops.push(this.worker());
  }

  /** Stops taking keys and waits for in-flight reconciles to finish. */
  async stop(): Promise<void> {
    this.stopSignal.abort();
    this.queue.shutDown();
    await Promise.all(this.loops);
    await this.queue.drained();
  }

  private async worker(): Promise<void> {
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined) return;
      await this.processKey(key);
    }
  }

  private async processKey(key: string): Promise<void> {
    const reconcileID = randomUUID();
    const log = lazyChild(this.log, { key, reconcileID });
    const controller = this.name;
    const endTimer = this.m.time.startTimer({ controller });
    this.m.active.inc({ controller });
    try {
      const res = await this.reconcileFn(key, { log, reconcileID });
      this.queue.forget(key);
      if (res && res.requeueAfterMs !== undefined && res.requeueAfterMs >= 0) {
        this.m.total.inc({ controller, result: 'requeue_after' });
        this.queue.addAfter(key, res.requeueAfterMs);
      } else {
        this.m.total.inc({ controller, result: 'success' });
      }
    } catch (err) {
      this.m.total.inc({ controller, result: 'error' });
      this.m.errors.inc({ controller });
      if (err instanceof TerminalError) {
        this.m.terminal.inc({ controller });
        this.queue.forget(key);
        log.error({ err }, 'reconcile failed with a terminal error; not retrying');
      } else {
        this.queue.addRateLimited(key);
        log.error({ err, retries: this.queue.numRequeues(key) }, 'reconcile failed; requeued with backoff');
      }
    } finally {
      endTimer();
      this.m.active.dec({ controller });
      this.queue.done(key);
    }
  }
}
