// One slow or failing authority must not occupy every worker: each authority may have at most
// `limit` issuances in flight (a quarter of the workers, at least one, stays free for the others).
// A key that finds its authority full is parked here, not requeued on a timer: with 10,000 new
// identities waiting, requeueing every one each 100 ms kept the workers spinning through them all
// (a reconcile, a logger, a timer each), starving the event loop that serves the issuances in flight.
// A release wakes the next parked key, round-robin across namespaces (a noisy namespace's burst does
// not stand between another namespace's key and the next free slot). A woken key has its slot held
// until its reconcile ends (settle): one that ends without taking it (the identity was deleted, or policy
// now denies it) hands it on at once. As a last resort a wake lapses after WAKE_TTL_MS, and a lapsed wake
// with nothing in flight to release is recovered by one timer per authority, so no parked key is stranded.
import { FairQueue } from '../../runtime/fair-queue.ts';

export const WAKE_TTL_MS = 30_000;

interface Wake {
  at: number;
  /** Orders wakes against tickets: a reconcile settles only a wake issued before it started. */
  seq: number;
}

interface AuthorityShare {
  inFlight: number;
  parked: FairQueue;
  parkedKeys: Set<string>;
  /** Keys woken for a free slot, holding it until they take it, settle, or the wake lapses. */
  woken: Map<string, Wake>;
  timer?: NodeJS.Timeout;
}

export class FairShare {
  private readonly shares = new Map<string, AuthorityShare>();
  /** The authority each woken key was woken for, so settle(key) finds it. */
  private readonly wokenFor = new Map<string, string>();
  private seq = 0;
  readonly limit: number;
  private readonly wake: (key: string) => void;
  private readonly now: () => number;

  /** `wake(key)` puts a parked key back in the work queue when a slot is free for it. */
  constructor(workers: number, wake: (key: string) => void = () => undefined, now: () => number = Date.now) {
    this.limit = Math.max(1, workers - Math.max(1, Math.floor(workers / 4)));
    this.wake = wake;
    this.now = now;
  }

  /** Whether `key` could take a slot of `authority` now (a slot woken for it, or one nobody holds). */
  hasRoom(authority: string, key?: string): boolean {
    const s = this.shares.get(authority);
    if (!s) return true;
    this.lapse(s);
    return (key !== undefined && s.woken.has(key)) || s.inFlight + s.woken.size < this.limit;
  }

  /** Takes a slot for `authority`, or returns false when it already has `limit` in flight or held. */
  tryAcquire(authority: string, key?: string): boolean {
    if (!this.hasRoom(authority, key)) return false;
    const s = this.share(authority);
    if (key !== undefined) this.unwake(s, key);
    s.inFlight++;
    return true;
  }

  /** Remembers `key` until a slot of `authority` frees up (then `wake(key)`). Parking a parked key is a no-op. */
  park(authority: string, key: string): void {
    const s = this.share(authority);
    if (!s.parkedKeys.has(key)) {
      s.parkedKeys.add(key);
      s.parked.push(key);
    }
    this.pump(authority, s);
  }

  release(authority: string): void {
    const s = this.shares.get(authority);
    if (!s) return;
    s.inFlight = Math.max(0, s.inFlight - 1);
    this.pump(authority, s);
  }

  /** Taken when a reconcile starts; settle(key, ticket) when it ends. */
  ticket(): number {
    return this.seq;
  }

  /**
   * A reconcile of `key` that started at `ticket` has ended: a wake it was answering and did not use
   * (no issuance after all) frees its slot for the next parked key. A wake issued meanwhile is kept.
   */
  settle(key: string, ticket: number): void {
    const authority = this.wokenFor.get(key);
    const s = authority === undefined ? undefined : this.shares.get(authority);
    const w = s?.woken.get(key);
    if (!s || authority === undefined || !w || w.seq >= ticket) return;
    this.unwake(s, key);
    this.pump(authority, s);
  }

  /** Keys parked for `authority` (for tests and metrics). */
  parkedCount(authority: string): number {
    return this.shares.get(authority)?.parkedKeys.size ?? 0;
  }

  private share(authority: string): AuthorityShare {
    let s = this.shares.get(authority);
    if (!s) {
      s = { inFlight: 0, parked: new FairQueue(), parkedKeys: new Set(), woken: new Map() };
      this.shares.set(authority, s);
    }
    return s;
  }

  private unwake(s: AuthorityShare, key: string): void {
    if (s.woken.delete(key)) this.wokenFor.delete(key);
  }

  private lapse(s: AuthorityShare): void {
    const cutoff = this.now() - WAKE_TTL_MS;
    for (const [k, w] of s.woken) if (w.at <= cutoff) this.unwake(s, k);
  }

  /** Wakes parked keys while slots are free; keeps a timer while keys stay parked; forgets an idle authority. */
  private pump(authority: string, s: AuthorityShare): void {
    this.lapse(s);
    while (s.parked.length > 0 && s.inFlight + s.woken.size < this.limit) {
      const key = s.parked.shift();
      if (key === undefined) break;
      s.parkedKeys.delete(key);
      s.woken.set(key, { at: this.now(), seq: this.seq++ });
      this.wokenFor.set(key, authority);
      this.wake(key);
    }
    if (s.parked.length > 0 && !s.timer) {
      s.timer = setTimeout(() => {
        s.timer = undefined;
        this.pump(authority, s);
      }, WAKE_TTL_MS);
      s.timer.unref();
    }
    if (s.inFlight === 0 && s.parked.length === 0 && s.woken.size === 0 && !s.timer) this.shares.delete(authority);
  }
}
