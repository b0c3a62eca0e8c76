// A rate-limited work queue with client-go semantics: a key waits in the queue at most once (dirty
// set), is handed to one worker at a time (processing set), and a key re-added while a worker holds
// it is queued again only when that worker calls done(). Waiting keys are handed out round-robin across
// namespaces (fair-queue.ts): one namespace's burst does not hold up another namespace's key.
import type { Registry } from 'prom-client';
import { RateLimiter, type BackoffOptions } from './backoff.ts';
import { counter, gauge, histogram } from './metric-registry.ts';
import { FairQueue } from './fair-queue.ts';

/** Node timers overflow above 2^31-1 ms (fire at once); longer waits are clamped and re-checked on wake. */
export const MAX_TIMER_MS = 2 ** 31 - 1;
/** Default cap for addAfter: cert-manager's resync period; callers re-check on wake-up. */
const DEFAULT_MAX_DELAY_MS = 10 * 60 * 60 * 1000;

export interface WorkQueueOptions {
  name: string;
  registry: Registry;
  maxDelayMs?: number;
  backoff?: BackoffOptions;
  now?: () => number;
  /** The tenant a key belongs to, served round-robin (default: the key's namespace). */
  tenantOf?: (key: string) => string;
}

const DURATION_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

// One set of series per queue name, shared across queues on the same Registry.
function queueMetrics(r: Registry) {
  return {
    depth: gauge(r, 'workqueue_depth', 'Current depth of workqueue', ['name']),
    adds: counter(r, 'workqueue_adds_total', 'Total number of adds handled by workqueue', ['name']),
    retries: counter(r, 'workqueue_retries_total', 'Total number of retries handled by workqueue', ['name']),
    queueDuration: histogram(
      r,
      'workqueue_queue_duration_seconds',
      'How long in seconds an item stays in workqueue before being requested',
      ['name'],
      DURATION_BUCKETS,
    ),
    workDuration: histogram(
      r,
      'workqueue_work_duration_seconds',
      'How long in seconds processing an item from workqueue takes',
      ['name'],
      DURATION_BUCKETS,
    ),
  };
}

export class WorkQueue {
  readonly name: string;
  readonly rateLimiter: RateLimiter;
  private readonly maxDelayMs: number;
  private readonly now: () => number;
  private readonly queue: FairQueue;
  private readonly dirty = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly enqueuedAt = new Map<string, number>();
  private readonly startedAt = new Map<string, number>();
  private readonly timers = new Map<string, { at: number; timer: NodeJS.Timeout }>();
  private readonly waiters: Array<(key: string | undefined) => void> = [];
  private readonly idleWaiters: Array<() => void> = [];
  private shuttingDown = false;
  private readonly m: ReturnType<typeof queueMetrics>;

  constructor(o: WorkQueueOptions) {
    this.name = o.name;
    this.maxDelayMs = Math.min(o.maxDelayMs ?? DEFAULT_MAX_DELAY_MS, MAX_TIMER_MS);
    this.now = o.now ?? Date.now;
    this.rateLimiter = new RateLimiter(o.backoff);
    this.queue = new FairQueue(o.tenantOf);
    this.m = queueMetrics(o.registry);
    this.m.depth.set({ name: this.name }, 0);
    this.m.adds.inc({ name: this.name }, 0);
    this.m.retries.inc({ name: this.name }, 0);
  }

  get length(): number {
    return this.queue.length;
  }
  isShuttingDown(): boolean {
    return this.shuttingDown;
  }

  add(key: string): void {
    if (this.shuttingDown || this.dirty.has(key)) return;
    this.dirty.add(key);
    this.m.adds.inc({ name: this.name });
    this.enqueuedAt.set(key, this.now());
    if (this.processing.has(key)) return; // done() queues it again
    this.push(key);
  }

  /** Adds `key` after `ms` (clamped to maxDelayMs). An earlier pending deadline for the key wins. */
  addAfter(key: string, ms: number): void {
    if (this.shuttingDown) return;
    if (!(ms > 0)) return this.add(key);
    const delay = Math.min(ms, this.maxDelayMs);
    const at = this.now() + delay;
    const pending = this.timers.get(key);
    if (pending && pending.at <= at) return;
    if (pending) clearTimeout(pending.timer);
    const timer = setTimeout(() => {
      this.timers.delete(key);
      this.add(key);
    }, delay);
    timer.unref();
    this.timers.set(key, { at, timer });
  }

  addRateLimited(key: string): void {
    if (this.shuttingDown) return;
    this.m.retries.inc({ name: this.name });
    this.addAfter(key, this.rateLimiter.when(key));
  }

  forget(key: string): void {
    this.rateLimiter.forget(key);
  }
  numRequeues(key: string): number {
    return this.rateLimiter.numRequeues(key);
  }

  /** Next key; waits while the queue is empty. `undefined` once the queue is shut down. */
  get(): Promise<string | undefined> {
    if (this.shuttingDown) return Promise.resolve(undefined);
    const key = this.queue.shift();
    if (key !== undefined) return Promise.resolve(this.take(key));
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  done(key: string): void {
    if (!this.processing.delete(key)) return;
    const started = this.startedAt.get(key);
    this.startedAt.delete(key);
    if (started !== undefined) this.m.workDuration.observe({ name: this.name }, (this.now() - started) / 1000);
    if (this.dirty.has(key) && !this.shuttingDown) this.push(key);
    if (this.processing.size === 0) for (const w of this.idleWaiters.splice(0)) w();
  }

  /** Stops handing out keys (queued ones are dropped: reconciles are level-based) and cancels timers. */
  shutDown(): void {
    if (this.shuttingDown) return;
    this.shuttingDown = true;
    for (const { timer } of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    this.queue.clear();
    this.dirty.clear();
    this.m.depth.set({ name: this.name }, 0);
    for (const w of this.waiters.splice(0)) w(undefined);
  }

  /** Resolves when no key is being processed (use after shutDown to drain in-flight work). */
  drained(): Promise<void> {
    if (this.processing.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private push(key: string): void {
    const waiter = this.waiters.shift();
    if (waiter) return waiter(this.take(key));
    this.queue.push(key);
    this.m.depth.set({ name: this.name }, this.queue.length);
  }

  private take(key: string): string {
    this.dirty.delete(key);
    this.processing.add(key);
    const queuedAt = this.enqueuedAt.get(key);
    this.enqueuedAt.delete(key);
    if (queuedAt !== undefined) this.m.queueDuration.observe({ name: this.name }, (this.now() - queuedAt) / 1000);
    this.startedAt.set(key, this.now());
    this.m.depth.set({ name: this.name }, this.queue.length);
    return key;
  }
}
