// The prober's main-thread side: a bounded queue in front of one worker thread (probe-worker.ts) that does
// the TLS handshakes. At most `concurrency` probes are in the worker at a time, and the worker answers a
// probe only after its socket has closed, so that is also the bound on open sockets. The queue is bounded
// too (maxQueue, default 10 × concurrency): a probe beyond it is refused at once with ProbeRefused
// ('queue_full') rather than queued without end; the caller's schedule tries again later.
//
// The prober does not decide which addresses to dial (targets.ts and the address guard do), but it
// refuses anything that is not an IP literal: it never resolves a name. Untrusted bytes stay in the
// worker, whose heap is capped; a worker that dies (its heap, a crash) or keeps a probe well past the
// timeout is replaced, and its probes in flight answer tls_error. A worker that dies again before it has
// answered anything is replaced after a growing pause (100 ms doubling, at most 30 s), never in a loop.
//
// Budgets (probe-classify.ts): 256 KiB from the peer before the handshake completes (over_budget); at most
// MAX_CHAIN_RECORDED certificates recorded after the leaf. A peer presenting more is still ok: true, with
// the leaf, the first 16 and `presented` = the real count (chainTruncated(r) says so): the verdict needs
// the leaf, and an over-long chain is a finding about the endpoint, not a reason to know nothing of it.
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { counter, gauge } from '../runtime/metric-registry.ts';
import { siblingUrl } from '../runtime/parse-pool.ts';
import { MAX_CHAIN_RECORDED, MAX_HANDSHAKE_BYTES, requestProblem, servernameFor } from './probe-classify.ts';
import type { ProbeAnswer, ProbeTask, ProbeWorkerData } from './probe-worker.ts';
import type { ProbeRequest, ProbeResult } from './types.ts';

export interface ProberOptions {
  /** Probes (sockets) open at once. */
  concurrency: number;
  /** Connect + handshake, per probe. */
  timeoutMs: number;
  /** Probes waiting beyond those in flight; default 10 × concurrency. */
  maxQueue?: number;
  /** Old-generation heap of the worker, MB. */
  heapMb?: number;
  /** Bytes the peer may send before the handshake completes (default MAX_HANDSHAKE_BYTES, 256 KiB). */
  maxHandshakeBytes?: number;
  /** A worker with nothing to do for this long is ended (default IDLE_MS, 60 s). */
  idleMs?: number;
  logger?: Logger;
  registry?: Registry;
}

/** A probe the prober did not take: its queue is full, or it was stopped. Nothing was dialled. */
export class ProbeRefused extends Error {
  readonly reason: 'queue_full' | 'stopped';
  constructor(reason: 'queue_full' | 'stopped', message: string) {
    super(message);
    this.name = 'ProbeRefused';
    this.reason = reason;
  }
}

interface Pending {
  task: ProbeTask;
  resolve(r: ProbeResult): void;
  reject(e: Error): void;
  backstop?: NodeJS.Timeout;
}

const WORKER_URL = siblingUrl(import.meta.url, 'probe-worker');
/** How long past its own timeout the worker may keep a probe before it counts as stuck. */
const BACKSTOP_MS = 5000;

/** A worker with nothing to do for this long is ended; an idle cluster pays no thread. */
const IDLE_MS = 60_000;

export class Prober {
  private readonly o: Required<
    Pick<ProberOptions, 'concurrency' | 'timeoutMs' | 'maxQueue' | 'heapMb' | 'maxHandshakeBytes' | 'idleMs'>
  > &
    ProberOptions;
  private readonly queue: Pending[] = [];
  private readonly running = new Map<number, Pending>();
  /** Started with the first probe and retired after IDLE_MS without one: idle clusters pay no thread. */
  private worker?: Worker;
  private idle?: NodeJS.Timeout;
  /** Set while a replaced worker is still closing its sockets: nothing new is sent until it is gone. */
  private draining?: Promise<void>;
  private nextId = 1;
  private stopped = false;
  /** Worker replacements since the last answer: the pause before the next worker grows with them. */
  private failures = 0;
  private readonly m?: {
    restarts: ReturnType<typeof counter<'reason'>>;
    queued: ReturnType<typeof gauge<never>>;
    inFlight: ReturnType<typeof gauge<never>>;
  };

  constructor(o: ProberOptions) {
    const concurrency = Math.max(1, Math.floor(o.concurrency));
    this.o = {
      maxQueue: 10 * concurrency,
      heapMb: 32,
      maxHandshakeBytes: MAX_HANDSHAKE_BYTES,
      idleMs: IDLE_MS,
      ...o,
      concurrency,
    };
    if (o.registry) {
      this.m = {
        restarts: counter(
          o.registry,
          'machine_identity_validation_worker_restarts_total',
          'Probe worker threads replaced (crash, memory, a probe stuck past its timeout)',
          ['reason'],
        ),
        queued: gauge(o.registry, 'machine_identity_validation_probes_queued', 'Probes waiting for a slot', []),
        inFlight: gauge(o.registry, 'machine_identity_validation_probes_in_flight', 'Probes with a socket open', []),
      };
    }
  }

  /**
   * One TLS handshake with req.ip:req.port. Resolves with what was seen or why nothing was (never rejects
   * for the peer's sake); rejects with ProbeRefused when the queue is full or the prober is stopped.
   */
  probe(req: ProbeRequest): Promise<ProbeResult> {
    if (this.stopped) return Promise.reject(new ProbeRefused('stopped', 'prober stopped'));
    const problem = requestProblem(req);
    if (problem) {
      return Promise.resolve({
        at: Date.now(),
        durationMs: 0,
        ok: false,
        error: 'address_not_allowed',
        message: problem,
      });
    }
    if (this.queue.length >= this.o.maxQueue) {
      return Promise.reject(new ProbeRefused('queue_full', `probe queue full (${this.o.maxQueue} waiting)`));
    }
    const task: ProbeTask = {
      id: this.nextId++,
      ip: req.ip,
      port: req.port,
      servername: servernameFor(req.sni) ?? '',
      timeoutMs: this.o.timeoutMs,
    };
    return new Promise<ProbeResult>((resolve, reject) => {
      this.queue.push({ task, resolve, reject });
      this.pump();
    });
  }

  /** Probes in the worker (sockets open or closing). */
  inFlight(): number {
    return this.running.size;
  }

  /** Probes waiting for a slot. */
  queued(): number {
    return this.queue.length;
  }

  /** Refuses what waits and what runs (ProbeRefused 'stopped') and ends the worker. */
  async stop(): Promise<void> {
    this.stopped = true;
    const refused = new ProbeRefused('stopped', 'prober stopped');
    for (const p of this.queue.splice(0)) p.reject(refused);
    for (const p of this.running.values()) {
      clearTimeout(p.backstop);
      p.reject(refused);
    }
    this.running.clear();
    this.gauges();
    clearTimeout(this.idle);
    await this.worker?.terminate();
  }

  private spawn(): Worker {
    const w = new Worker(WORKER_URL, {
      workerData: { maxBytes: this.o.maxHandshakeBytes, maxChain: MAX_CHAIN_RECORDED } satisfies ProbeWorkerData,
      resourceLimits: { maxOldGenerationSizeMb: this.o.heapMb, maxYoungGenerationSizeMb: 8 },
      stdout: false,
      stderr: false,
    });
    w.unref(); // the prober never keeps the process alive by itself
    w.on('message', (a: ProbeAnswer) => this.answer(a));
    w.on('error', (err: Error & { code?: string }) =>
      this.replace(w, err.code === 'ERR_WORKER_OUT_OF_MEMORY' ? 'memory' : 'crash'),
    );
    w.on('exit', () => this.replace(w, 'crash'));
    return w;
  }

  private answer(a: ProbeAnswer): void {
    const p = this.running.get(a.id);
    if (!p) return;
    this.running.delete(a.id);
    this.failures = 0;
    clearTimeout(p.backstop);
    p.resolve(a.result);
    this.pump();
  }

  /** Answers the worker's probes in flight with tls_error and starts a fresh worker once the old one is gone. */
  private replace(w: Worker, reason: 'crash' | 'memory' | 'stuck'): void {
    if (w !== this.worker || this.stopped) return;
    this.m?.restarts.inc({ reason });
    this.o.logger?.warn({ reason, inFlight: this.running.size }, 'probe worker replaced');
    const message = reason === 'stuck' ? 'probe worker restarted (a probe outlived its timeout)' : 'worker crashed';
    for (const p of this.running.values()) {
      clearTimeout(p.backstop);
      p.resolve({ at: Date.now(), durationMs: 0, ok: false, error: 'tls_error', message });
    }
    this.running.clear();
    this.worker = undefined; // the next probe starts a fresh one
    const pause = this.failures === 0 ? 0 : Math.min(30_000, 100 * 2 ** this.failures);
    this.failures++;
    // the old worker's sockets close with it: wait, so the bound on open sockets holds across the restart
    this.draining = w
      .terminate()
      .catch(() => 0)
      .then(() => new Promise<void>((r) => setTimeout(r, pause).unref()))
      .then(() => this.drained());
  }

  private drained(): void {
    this.draining = undefined;
    this.pump();
  }

  private pump(): void {
    while (!this.draining && !this.stopped && this.running.size < this.o.concurrency) {
      const p = this.queue.shift();
      if (!p) break;
      clearTimeout(this.idle);
      this.running.set(p.task.id, p);
      const w = (this.worker ??= this.spawn());
      p.backstop = setTimeout(() => this.replace(w, 'stuck'), this.o.timeoutMs + BACKSTOP_MS);
      p.backstop.unref();
      w.postMessage(p.task);
    }
    if (this.running.size === 0 && this.queue.length === 0 && this.worker && !this.stopped) {
      clearTimeout(this.idle);
      this.idle = setTimeout(() => this.retire(), this.o.idleMs);
      this.idle.unref();
    }
    this.gauges();
  }

  /** Ends an idle worker (its heap and thread); the next probe starts a new one. */
  private retire(): void {
    const w = this.worker;
    if (!w || this.running.size > 0 || this.queue.length > 0) return;
    this.worker = undefined;
    void w.terminate();
  }

  /** Whether a worker thread exists now (for tests and the metrics of an idle operator). */
  get hasWorker(): boolean {
    return this.worker !== undefined;
  }

  private gauges(): void {
    this.m?.queued.set(this.queue.length);
    this.m?.inFlight.set(this.running.size);
  }
}
