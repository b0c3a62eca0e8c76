// A small pool of worker threads for parsing bytes that come from the cluster (Secrets, ConfigMaps):
// a hostile object may cost seconds of CPU (PKCS#12 key derivation) or memory, and on the event loop
// that stops the Lease renewals, the webhook and every controller. In a worker it costs one task:
// a task that outlives its wall-time limit, or a worker that runs out of its own heap, is terminated
// and replaced, and the caller gets a ParseAbort with a bounded reason instead of an answer.
//
// A worker holds up to `depth` tasks at once (it runs them in order, one at a time): while the event
// loop is busy (a start-up decoding lists of thousands of objects) the worker goes on with the next
// task instead of waiting for the main thread to take its answer and send another. The time limit
// is the head task's (the one running); when it is exceeded, or the worker dies, only that task is
// failed: the tasks sent behind it go back to the front of the queue, for a fresh worker.
//
// Two lanes: what a reconcile waits for ('now': a managed Secret's facts, a key) goes ahead of what
// nothing waits for ('background': the inventory's reading of every Secret and ConfigMap), which still
// gets one task in every BACKGROUND_SHARE + 1 while both wait, so neither lane can starve the other.
// At start-up both are thousands deep: the identities' reconciles need only the first.
//
// The pool is generic: the worker loads a handlers module (default export: op name → function), so
// this ground-floor layer knows nothing of certificates. Worker heaps are separate from the main one,
// so the pool is small (1 by default) and each worker's old generation is capped. A worker starts with
// the first task its slot gets and ends after `idleMs` without one (as the prober's): an operator with
// nothing to parse pays no thread and no second heap (~15 MB).
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
  /** Tasks sent to one worker ahead of its answers (default DEPTH); 1: one at a time. */
  depth?: number;
  /** Old-generation heap of each worker, MB. */
  heapMb?: number;
  /** A worker with no task for this long is ended; the next task starts a new one. */
  idleMs?: number;
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

export type Lane = 'now' | 'background';
interface Task {
  id: number;
  op: string;
  input: unknown;
  lane: Lane;
  resolve(v: unknown): void;
  reject(e: Error): void;
}
interface Slot {
  /** Started by the first task, ended when idle or replaced: undefined meanwhile. */
  worker?: Worker;
  /** The worker has loaded its handlers: until then a task's time limit has BOOT_MS more. */
  ready?: boolean;
  /** Sent to the worker, in order, not answered yet: the first is the one running. */
  tasks: Task[];
  timer?: NodeJS.Timeout;
  idle?: NodeJS.Timeout;
}
type Answer =
  | { id: number; ok: true; value: unknown }
  | { id: number; ok: false; error: { name: string; message: string } }
  | { ready: true };

/** The worker entry beside this file, in the same flavour (.ts from sources, .js from dist/). */
export function siblingUrl(base: string, name: string): URL {
  return new URL(`./${name}${base.endsWith('.ts') ? '.ts' : '.js'}`, base);
}
const WORKER_URL = siblingUrl(import.meta.url, 'parse-worker');
/** A worker with nothing to parse for this long is ended (the inventory's resyncs come far less often). */
const IDLE_MS = 60_000;
/**
 * How much longer than timeoutMs the first task of a starting worker may take: the worker's start is not the
 * object's fault (a loaded node may take seconds), and a timeout is a finding that sticks to the object's version.
 */
const BOOT_MS = 30_000;
/**
 * Tasks a worker holds at once. Enough to bridge the event loop's longest turns at start-up (a managed
 * Secret's parse takes ~0.3 ms); few enough that what sits in the worker's port is small: at most
 * DEPTH × the parse budget's maxObjectBytes, copies of inputs the queue holds anyway.
 */
const DEPTH = 8;
/** While both lanes wait, a background task is sent after this many 'now' ones. */
const BACKGROUND_SHARE = 4;

export class ParsePool {
  private readonly o: Required<Pick<ParsePoolOptions, 'size' | 'timeoutMs' | 'heapMb' | 'idleMs' | 'depth'>> &
    ParsePoolOptions;
  private readonly slots: Slot[] = [];
  private readonly lanes: Record<Lane, Task[]> = { now: [], background: [] };
  /** 'now' tasks sent in a row while background ones waited. */
  private nowInARow = 0;
  private nextId = 1;
  private closed = false;
  private readonly m?: { aborted: ReturnType<typeof counter<'reason'>>; queued: ReturnType<typeof gauge<never>> };

  constructor(o: ParsePoolOptions) {
    this.o = { size: 1, timeoutMs: 5000, heapMb: 64, idleMs: IDLE_MS, depth: DEPTH, ...o };
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
    for (let i = 0; i < Math.max(1, this.o.size); i++) this.slots.push({ tasks: [] });
  }

  /** Runs `op` in a worker; rejects with ParseAbort when the worker had to be stopped, with an Error when the handler threw. */
  run<T>(op: string, input: unknown, lane: Lane = 'now'): Promise<T> {
    if (this.closed) return Promise.reject(new ParseAbort('closed', 'parse pool closed'));
    return new Promise<T>((resolve, reject) => {
      this.lanes[lane].push({ id: this.nextId++, op, input, lane, resolve: resolve as (v: unknown) => void, reject });
      this.pump();
    });
  }

  private get queued(): number {
    return this.lanes.now.length + this.lanes.background.length;
  }

  /** The next task to send: 'now' first, but a background one after BACKGROUND_SHARE 'now' ones in a row. */
  private next(): Task | undefined {
    const { now, background } = this.lanes;
    if (background.length && (!now.length || this.nowInARow >= BACKGROUND_SHARE)) {
      this.nowInARow = 0;
      return background.shift();
    }
    if (background.length) this.nowInARow++;
    return now.shift();
  }

  /** Tasks waiting or running. */
  get pending(): number {
    return this.queued + this.slots.reduce((n, s) => n + s.tasks.length, 0);
  }

  /** Worker threads alive now (for tests and an idle operator's footprint). */
  get workers(): number {
    return this.slots.filter((s) => s.worker).length;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const t of [...this.lanes.now.splice(0), ...this.lanes.background.splice(0)])
      t.reject(new ParseAbort('closed', 'parse pool closed'));
    await Promise.all(
      this.slots.map(async (s) => {
        for (const t of s.tasks.splice(0)) t.reject(new ParseAbort('closed', 'parse pool closed'));
        clearTimeout(s.timer);
        clearTimeout(s.idle);
        const w = s.worker;
        s.worker = undefined;
        await w?.terminate();
      }),
    );
  }

  private spawn(slot: Slot): Worker {
    const worker = new Worker(WORKER_URL, {
      workerData: { handlers: this.o.handlers.href },
      resourceLimits: { maxOldGenerationSizeMb: this.o.heapMb, maxYoungGenerationSizeMb: 4 }, // a small young generation: one object at a time
      stdout: false,
      stderr: false,
    });
    worker.unref(); // the pool never keeps the process alive by itself
    // events of a worker the slot no longer holds (retired, replaced) are ignored
    worker.on(
      'message',
      (a: Answer) => slot.worker === worker && ('ready' in a ? this.ready(slot) : this.answer(slot, a)),
    );
    worker.on('error', (err: Error & { code?: string }) => {
      const reason: AbortReason = err.code === 'ERR_WORKER_OUT_OF_MEMORY' ? 'worker_memory' : 'worker_crashed';
      if (slot.worker === worker) this.replace(slot, reason, err.message);
    });
    worker.on('exit', () => {
      if (!this.closed && slot.worker === worker) this.replace(slot, 'worker_crashed', 'parse worker exited');
    });
    return worker;
  }

  /** The worker has started: a task sent meanwhile now has its own time limit from here. */
  private ready(slot: Slot): void {
    slot.ready = true;
    if (slot.tasks.length) this.startTimer(slot, this.o.timeoutMs);
  }

  private startTimer(slot: Slot, ms: number): void {
    clearTimeout(slot.timer);
    slot.timer = setTimeout(() => this.replace(slot, 'timeout', `parse took longer than ${this.o.timeoutMs} ms`), ms);
    slot.timer.unref();
  }

  private answer(slot: Slot, a: Exclude<Answer, { ready: true }>): void {
    const t = slot.tasks[0];
    if (!t || t.id !== a.id) return;
    clearTimeout(slot.timer);
    slot.timer = undefined;
    slot.tasks.shift();
    // the next task is running now (the worker went on without waiting): its time counts from here,
    // which is never earlier than it started, so a limit is never stricter than one task at a time
    if (slot.tasks.length) this.startTimer(slot, slot.ready ? this.o.timeoutMs : this.o.timeoutMs + BOOT_MS);
    if (a.ok) t.resolve(a.value);
    else t.reject(Object.assign(new Error(a.error.message), { name: a.error.name }));
    this.pump();
  }

  /**
   * Fails the running task with `reason` and terminates its worker; the tasks sent behind it were not
   * started, so they go back to the front of the queue, and the slot's next task starts a fresh worker.
   * (Node delivers a dying worker's posted answers before its 'error' and 'exit': the running task is
   * the first unanswered one.)
   */
  private replace(slot: Slot, reason: AbortReason, message: string): void {
    clearTimeout(slot.timer);
    slot.timer = undefined;
    const [t, ...behind] = slot.tasks.splice(0);
    for (const lane of ['now', 'background'] as const)
      this.lanes[lane].unshift(...behind.filter((b) => b.lane === lane));
    void slot.worker?.terminate();
    slot.worker = undefined;
    slot.ready = false;
    if (t) {
      this.m?.aborted.inc({ reason });
      this.o.logger?.warn({ op: t.op, reason }, 'parse task stopped; worker replaced');
      t.reject(new ParseAbort(reason, `${message.slice(0, 120)}`));
    }
    if (this.closed) return;
    this.pump();
  }

  private pump(): void {
    for (;;) {
      const slot = this.leastLoaded();
      const t = slot && this.next();
      if (!slot || !t) break;
      this.send(slot, t);
    }
    for (const slot of this.slots) if (!slot.tasks.length && slot.worker && !this.closed) this.retireLater(slot);
    this.m?.queued.set(this.queued);
  }

  /** The slot with the fewest tasks, below depth: with several workers the tasks spread before they stack. */
  private leastLoaded(): Slot | undefined {
    let best: Slot | undefined;
    for (const s of this.slots)
      if (s.tasks.length < this.o.depth && (!best || s.tasks.length < best.tasks.length)) best = s;
    return best;
  }

  private send(slot: Slot, t: Task): void {
    slot.tasks.push(t);
    clearTimeout(slot.idle);
    slot.idle = undefined;
    slot.worker ??= this.spawn(slot);
    if (slot.tasks.length === 1) this.startTimer(slot, slot.ready ? this.o.timeoutMs : this.o.timeoutMs + BOOT_MS);
    slot.worker.postMessage({ id: t.id, op: t.op, input: t.input });
  }

  /** Ends the slot's worker (its thread and heap) once it has been idle for idleMs (from when it went idle). */
  private retireLater(slot: Slot): void {
    if (slot.idle) return;
    slot.idle = setTimeout(() => {
      slot.idle = undefined;
      if (slot.tasks.length) return;
      const w = slot.worker;
      slot.worker = undefined;
      slot.ready = false;
      void w?.terminate();
    }, this.o.idleMs);
    slot.idle.unref();
  }
}
