import { describe, it, expect, jest, afterEach } from '@jest/globals';
import fc from 'fast-check';
import { Registry } from 'prom-client';
import { WorkQueue, MAX_TIMER_MS } from '../../src/runtime/workqueue.ts';
import { backoffDelay, RateLimiter } from '../../src/runtime/backoff.ts';

const q = (o: Partial<ConstructorParameters<typeof WorkQueue>[0]> = {}): WorkQueue =>
  new WorkQueue({ name: 'test', registry: new Registry(), ...o });

afterEach(() => {
  jest.useRealTimers();
});

describe('WorkQueue', () => {
  it('deduplicates a key that is already waiting', async () => {
    const wq = q();
    wq.add('a');
    wq.add('b');
    wq.add('a');
    expect(wq.length).toBe(2);
    expect(await wq.get()).toBe('a');
    expect(await wq.get()).toBe('b');
  });

  it('never hands a key to two workers at once; a re-add while processing is queued after done()', async () => {
    const wq = q();
    wq.add('a');
    const first = await wq.get();
    wq.add('a');
    expect(wq.length).toBe(0); // held back while 'a' is processing
    let second: string | undefined;
    const waiting = wq.get().then((k) => {
      second = k;
    });
    await Promise.resolve();
    expect(second).toBeUndefined();
    wq.done(first!);
    await waiting;
    expect(second).toBe('a');
  });

  it('a blocked get() receives the next add', async () => {
    const wq = q();
    const p = wq.get();
    wq.add('x');
    await expect(p).resolves.toBe('x');
  });

  it('addAfter fires after the delay, keeps the earliest deadline, clamps to the max delay', () => {
    jest.useFakeTimers();
    const wq = q({ maxDelayMs: 1000 });
    wq.addAfter('a', 500);
    wq.addAfter('a', 900); // later deadline: ignored
    jest.advanceTimersByTime(499);
    expect(wq.length).toBe(0);
    jest.advanceTimersByTime(1);
    expect(wq.length).toBe(1);
    wq.addAfter('b', 30 * 24 * 3600 * 1000); // 30 days: clamped to 1000 ms, no overflow warning
    jest.advanceTimersByTime(1000);
    expect(wq.length).toBe(2);
  });

  it('never arms a timer above 2^31-1 ms', () => {
    const spy = jest.spyOn(globalThis, 'setTimeout');
    const wq = q({ maxDelayMs: Number.MAX_SAFE_INTEGER });
    wq.addAfter('a', 1e12);
    const delay = spy.mock.calls.at(-1)?.[1];
    expect(delay).toBeLessThanOrEqual(MAX_TIMER_MS);
    wq.shutDown();
    spy.mockRestore();
  });

  it('addRateLimited backs off per key and forget() resets it', () => {
    const wq = q({ backoff: { baseMs: 100, maxMs: 10_000, jitter: 0, qps: 0 } });
    const spy = jest.spyOn(wq.rateLimiter, 'when');
    wq.addRateLimited('a');
    wq.addRateLimited('a');
    wq.addRateLimited('a');
    expect(spy.mock.results.map((r) => r.value)).toEqual([100, 200, 400]);
    expect(wq.numRequeues('a')).toBe(3);
    wq.forget('a');
    expect(wq.numRequeues('a')).toBe(0);
    wq.shutDown();
  });

  it('shutDown releases blocked getters, refuses adds, and drained() waits for in-flight keys', async () => {
    const wq = q();
    wq.add('a');
    const k = await wq.get();
    const blocked = wq.get();
    wq.shutDown();
    await expect(blocked).resolves.toBeUndefined();
    wq.add('b');
    await expect(wq.get()).resolves.toBeUndefined();
    let drained = false;
    const d = wq.drained().then(() => {
      drained = true;
    });
    await Promise.resolve();
    expect(drained).toBe(false);
    wq.done(k!);
    await d;
    expect(drained).toBe(true);
  });

  it('exports controller-runtime metric names', async () => {
    const registry = new Registry();
    const wq = new WorkQueue({ name: 'm', registry });
    wq.add('a');
    const text = await registry.metrics();
    for (const n of [
      'workqueue_depth{name="m"} 1',
      'workqueue_adds_total{name="m"} 1',
      'workqueue_retries_total',
      'workqueue_queue_duration_seconds',
      'workqueue_work_duration_seconds',
    ])
      expect(text).toContain(n);
  });

  it('two queues can share one registry', () => {
    const registry = new Registry();
    expect(() => {
      new WorkQueue({ name: 'a', registry });
      new WorkQueue({ name: 'b', registry });
    }).not.toThrow();
  });
});

describe('backoff', () => {
  it('grows exponentially, is capped, and jitter stays within [raw*(1-j), raw]', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 200 }),
        fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }),
        (n, r) => {
          const raw = Math.min(300_000, 1000 * 2 ** n);
          const d = backoffDelay(n, 1000, 300_000, 0.2, () => r);
          return d <= raw && d >= raw * 0.8 && d <= 300_000;
        },
      ),
    );
    expect([0, 1, 2, 3].map((n) => backoffDelay(n, 1000, 5000, 0, () => 0))).toEqual([1000, 2000, 4000, 5000]);
  });

  it('the global bucket delays once the burst is spent', () => {
    let now = 0;
    const rl = new RateLimiter({ baseMs: 1, maxMs: 1, jitter: 0, qps: 10, burst: 2, now: () => now });
    expect(rl.when('a')).toBe(1);
    expect(rl.when('b')).toBe(1);
    expect(rl.when('c')).toBeCloseTo(100);
    now += 1000;
    expect(rl.when('d')).toBe(1);
  });
});
