// A small pool of worker threads for parsing bytes that come from the cluster (Secrets, ConfigMaps):
// a hostile object may cost seconds of CPU (PKCS#12 key derivation) or memory, and on the event loop
// that stops the Lease renewals, the webhook and every controller. In a worker it costs one task:
// a task that outlives its wall-time limit, or a worker that runs out of its own heap, is terminated
// and replaced, and the caller gets a ParseAbort with a bounded reason instead of an answer.
//
// The pool is generic: the worker loads a handlers module (default export: op name → function), so
// this ground-floor layer knows nothing of certificates. Worker heaps are separate from the main one,
// so the pool is small (1 by default) and each worker's old generation is capped.
import { Worker } from 'node:worker_threads';
import type { Registry } from 'prom-client';
import type { Logger } from 'pino';
import { counter, gauge } from './metric-registry.ts';

export interface ParsePoolOptions {
  /** URL of the handlers module the worker imports (its default export maps op names to functions). */
  handlers: URL;
  size?: number;
  /** A task running longer than this is aborted (its worker terminated and replaced). */
  timeoutMs?: number;
  /** Old-generation heap of each worker, MB. */
  heapMb?: number;
  registry?: Registry;
  logger?: Logger;
}

/** Why a task got no answer: its worker was stopped (time), died (memory, crash), or the pool closed. */
export type AbortReason = 'timeout' | 'worker_memory' | 'worker_crashed' | 'closed';
export class ParseAbort extends Error {
  readonly reason: AbortReason;
  constructor(reason: AbortReason, message: string) {
    super(message);
    this.name = 'ParseAbort';
    this.reason = reason;
  }
}

interface Task {
  id: number;
  op: string;
  input: unknown;
  resolve(v: unknown): void;
  reject(e: Error): void;
}
interface Slot {
  worker: Worker;
  task?: Task;
  timer?: NodeJS.Timeout;
}
type Answer =
  { id: number; ok: true; value: unknown } | { id: number; ok: false; error: { name: string; message: string } };

/** The worker entry beside this file, in the same flavour (.ts from sources, .js from dist/). */
export function siblingUrl(base: string, name: string): URL {
  return new URL(`./${name}${base.endsWith('.ts') ? '.ts' : '.js'}`, base);
}
const WORKER_URL = siblingUrl(import.meta.url, 'parse-worker');

export class ParsePool {
  private readonly o: Required<Pick<ParsePoolOptions, 'size' | 'timeoutMs' | 'heapMb'>> & ParsePoolOptions;
  private readonly slots: Slot[] = [];
  private readonly queue: Task[] = [];
  private nextId = 1;
  private closed = false;
  private readonly m?: { aborted: ReturnType<typeof counter<'reason'>>; queued: ReturnType<typeof gauge<never>> };

  constructor(o: ParsePoolOptions) {
    this.o = { size: 1, timeoutMs: 5000, heapMb: 64, ...o };
    if (o.registry) {
      this.m = {
        aborted: counter(
          o.registry,
          'machine_identity_parse_aborted_total',
          'Parse tasks stopped by the pool (time or memory limit, crash)',
          ['reason'],
        ),
        queued: gauge(o.registry, 'machine_identity_parse_queue_depth', 'Parse tasks waiting for a worker', []),
      };
      this.m.aborted.inc({ reason: 'timeout' }, 0);
    }
    for (let i = 0; i < Math.max(1, this.o.size); i++) this.slots.push(this.spawn());
  }

  /** Runs `op` in a worker; rejects with ParseAbort when the worker had to be stopped, with an Error when the handler threw. */
  run<T>(op: string, input: unknown): Promise<T> {
    if (this.closed) return Promise.reject(new ParseAbort('closed', 'parse pool closed'));
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ id: this.nextId++, op, input, resolve: resolve as (v: unknown) => void, reject });
      this.pump();
    });
  }

  /** Tasks waiting or running. */
  get pending(): number {
    return this.queue.length + this.slots.filter((s) => s.task).length;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.queue.splice(0)) t.reject(new ParseAbort('closed', 'parse pool closed'));
    await Promise.all(
      this.slots.map(async (s) => {
        s.task?.reject(new ParseAbort('closed', 'parse pool closed'));
        s.task = undefined;
        clearTimeout(s.timer);
        await s.worker.terminate();
      }),
    );
  }

  private spawn(): Slot {
    const worker = new Worker(WORKER_URL, {
      workerData: { handlers: this.o.handlers.href },
      resourceLimits: { maxOldGenerationSizeMb: this.o.heapMb, maxYoungGenerationSizeMb: 4 }, // a small young generation: one object at a time
      stdout: false,
      stderr: false,
    });
    worker.unref(); // the pool never keeps the process alive by itself
    const slot: Slot = { worker };
    worker.on('message', (a: Answer) => this.answer(slot, a));
    worker.on('error', (err: Error & { code?: string }) => {
      const reason: AbortReason = err.code === 'ERR_WORKER_OUT_OF_MEMORY' ? 'worker_memory' : 'worker_crashed';
      this.replace(slot, reason, err.message);
    });
    worker.on('exit', () => {
      if (!this.closed && this.slots.includes(slot)) this.replace(slot, 'worker_crashed', 'parse worker exited');
    });
    return slot;
  }

  private answer(slot: Slot, a: Answer): void {
    const t = slot.task;
    if (!t || t.id !== a.id) return;
    clearTimeout(slot.timer);
    slot.task = undefined;
    if (a.ok) t.resolve(a.value);
    else t.reject(Object.assign(new Error(a.error.message), { name: a.error.name }));
    this.pump();
  }

  /** Fails the slot's task with `reason`, terminates its worker and puts a fresh one in its place. */
  private replace(slot: Slot, reason: AbortReason, message: string): void {
    const i = this.slots.indexOf(slot);
    if (i < 0) return;
    clearTimeout(slot.timer);
    const t = slot.task;
    slot.task = undefined;
    this.slots.splice(i, 1);
    void slot.worker.terminate();
    if (t) {
      this.m?.aborted.inc({ reason });
      this.o.logger?.warn({ op: t.op, reason }, 'parse task stopped; worker replaced');
      t.reject(new ParseAbort(reason, `${message.slice(0, 120)}`));
    }
    if (this.closed) return;
    this.slots.push(this.spawn());
    this.pump();
  }

  private pump(): void {
    for (const slot of this.slots) {
      if (slot.task) continue;
      const t = this.queue.shift();
      if (!t) break;
      slot.task = t;
      slot.timer = setTimeout(
        () => this.replace(slot, 'timeout', `parse took longer than ${this.o.timeoutMs} ms`),
        this.o.timeoutMs,
      );
      slot.timer.unref();
      slot.worker.postMessage({ id: t.id, op: t.op, input: t.input });
    }
    this.m?.queued.set(this.queue.length);
  }
}
