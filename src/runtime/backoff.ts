// Per-item exponential backoff with jitter, plus a global token bucket: controller-runtime's default
// rate limiter (MaxOf(ItemExponentialFailure, Bucket)). Pure apart from the injectable clock and RNG.

export interface BackoffOptions {
  baseMs?: number;
  maxMs?: number;
  /** Fraction (0..1) taken off the delay at random, so retries of many keys do not line up. */
  jitter?: number;
  /** Global bucket: sustained retries per second and burst; qps <= 0 disables it. */
  qps?: number;
  burst?: number;
  now?: () => number;
  random?: () => number;
}

/** Delay for the n-th retry (n = 0 is the first): base * 2^n capped at max, minus up to `jitter` of it. */
export function backoffDelay(
  n: number,
  baseMs: number,
  maxMs: number,
  jitter: number,
  random: () => number = Math.random,
): number {
  const raw = Math.min(maxMs, baseMs * 2 ** Math.min(n, 52));
  return raw * (1 - jitter * random());
}

export class RateLimiter {
  readonly baseMs: number;
  readonly maxMs: number;
  readonly jitter: number;
  private readonly qps: number;
  private readonly burst: number;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly failures = new Map<string, number>();
  private tokens: number;
  private last: number;

  constructor(o: BackoffOptions = {}) {
    this.baseMs = o.baseMs ?? 1000;
    this.maxMs = o.maxMs ?? 5 * 60_000;
    this.jitter = o.jitter ?? 0.2;
    this.qps = o.qps ?? 10;
    this.burst = o.burst ?? 100;
    this.now = o.now ?? Date.now;
    this.random = o.random ?? Math.random;
    this.tokens = this.burst;
    this.last = this.now();
  }

  /** How long to wait before retrying `key`; counts one more failure. */
  when(key: string): number {
    const n = this.failures.get(key) ?? 0;
    this.failures.set(key, n + 1);
    return Math.max(backoffDelay(n, this.baseMs, this.maxMs, this.jitter, this.random), this.bucketDelay());
  }

  numRequeues(key: string): number {
    return this.failures.get(key) ?? 0;
  }
  forget(key: string): void {
    this.failures.delete(key);
  }

  // A reservation like golang.org/x/time/rate: tokens may go negative, the deficit is the wait.
  private bucketDelay(): number {
    if (this.qps <= 0) return 0;
    const t = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((t - this.last) / 1000) * this.qps);
    this.last = t;
    this.tokens -= 1;
    return this.tokens >= 0 ? 0 : (-this.tokens / this.qps) * 1000;
  }
}

/** Resolves after `ms`, or early when `signal` aborts; never rejects. The timer does not hold the process. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const onAbort = (): void => {
      clearTimeout(t);
      resolve();
    };
    const t = setTimeout(
      () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      },
      Math.max(0, ms),
    );
    t.unref();
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
