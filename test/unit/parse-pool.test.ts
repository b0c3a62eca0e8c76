// The parse pool: answers from a real worker thread (the .ts entry under jest, as from sources),
// errors as answers, a task over its wall-time or heap limit stopped and its worker replaced; and the
// Parser on hostile Secrets: over a budget is a finding, fast, with the event loop free meanwhile.
import { describe, expect, it, afterAll, beforeAll } from '@jest/globals';
import { Registry } from 'prom-client';
import { ParseAbort, ParsePool } from '../../src/runtime/parse-pool.ts';
import { Parser } from '../../src/parsing/parser.ts';
import { slimForParse } from '../../src/inventory/slim.ts';
import { pkcs12Bomb } from '../harness/pkcs12-bomb.ts';

const handlers = new URL('./fixtures/parse-handlers.ts', import.meta.url);
const b64 = (b: Buffer | string): string => Buffer.from(b).toString('base64');

/** Largest gap between 10 ms ticks while `work` runs: the event loop's delay. */
async function maxLoopGap<T>(work: Promise<T>): Promise<{ value: T; gapMs: number }> {
  let last = performance.now(),
    gap = 0;
  const t = setInterval(() => {
    const now = performance.now();
    gap = Math.max(gap, now - last);
    last = now;
  }, 10);
  try {
    return { value: await work, gapMs: gap };
  } finally {
    clearInterval(t);
  }
}

describe('ParsePool', () => {
  const registry = new Registry();
  const pool = new ParsePool({ handlers, size: 1, timeoutMs: 1000, heapMb: 32, registry });
  afterAll(() => pool.close());

  it('answers, and a handler error is a rejection that leaves the worker alive', async () => {
    expect(await pool.run('echo', { a: [1, 2] })).toEqual({ a: [1, 2] });
    await expect(pool.run('fail', null)).rejects.toThrow('bad input');
    expect(await pool.run('echo', 'still here')).toBe('still here');
  });
  it('a task over the wall-time limit is aborted (timeout), its worker replaced; queued tasks still run', async () => {
    const spin = pool.run('spin', 60_000);
    const after = pool.run('echo', 'next');
    const { value, gapMs } = await maxLoopGap(
      spin.then(
        () => 'answered',
        (e: unknown) => e,
      ),
    );
    expect(value).toBeInstanceOf(ParseAbort);
    expect((value as ParseAbort).reason).toBe('timeout');
    expect(gapMs).toBeLessThan(200);
    expect(await after).toBe('next');
    expect(await registry.getSingleMetricAsString('machine_identity_parse_aborted_total')).toMatch(
      /reason="timeout"} 1/,
    );
  });
  it('a worker that runs out of its heap is reported (worker_memory) and replaced', async () => {
    const e = await pool.run('hog', null).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ParseAbort);
    expect(['worker_memory', 'worker_crashed']).toContain((e as ParseAbort).reason);
    expect(await pool.run('echo', 1)).toBe(1);
  });
  it('starts its worker with the first task and ends it after idleMs without one; the next task starts another', async () => {
    const p = new ParsePool({ handlers, size: 1, idleMs: 200 });
    try {
      expect(p.workers).toBe(0);
      expect(await p.run('echo', 1)).toBe(1);
      expect(p.workers).toBe(1);
      await new Promise((r) => setTimeout(r, 100));
      expect(await p.run('echo', 2)).toBe(2); // activity within idleMs: the same worker stays
      expect(p.workers).toBe(1);
      await new Promise((r) => setTimeout(r, 400));
      expect(p.workers).toBe(0);
      expect(await p.run('echo', 3)).toBe(3);
      expect(p.workers).toBe(1);
    } finally {
      await p.close();
    }
    expect(p.workers).toBe(0);
  });
  it('a busy worker is not retired however long its task runs (within the time limit)', async () => {
    const p = new ParsePool({ handlers, size: 1, idleMs: 50, timeoutMs: 2000 });
    try {
      const spin = p.run<number>('spin', 300);
      await new Promise((r) => setTimeout(r, 150));
      expect(p.workers).toBe(1);
      expect(await spin).toBeGreaterThan(0);
    } finally {
      await p.close();
    }
  });
  it("a starting worker's time is not its first task's: the limit counts from when the worker is ready", async () => {
    const p = new ParsePool({ handlers, size: 1, timeoutMs: 1 }); // far less than any worker takes to start
    try {
      await expect(p.run('spin', 0)).resolves.toBeGreaterThanOrEqual(0);
      await expect(p.run('spin', 200)).rejects.toMatchObject({ reason: 'timeout' });
    } finally {
      await p.close();
    }
  });
  it('a task over the time limit fails alone: the tasks sent behind it to the same worker are answered by a fresh one', async () => {
    const p = new ParsePool({ handlers, size: 1, timeoutMs: 300, depth: 4 });
    try {
      await p.run('echo', 'warm');
      const spin = p.run('spin', 60_000).catch((e: unknown) => e);
      const behind = [1, 2, 3, 4, 5].map((i) => p.run('echo', i));
      expect(await spin).toMatchObject({ reason: 'timeout' });
      expect(await Promise.all(behind)).toEqual([1, 2, 3, 4, 5]);
      expect(p.pending).toBe(0);
    } finally {
      await p.close();
    }
  });
  it('a worker that runs out of heap fails only the task it ran; the ones queued in it run on its replacement', async () => {
    const p = new ParsePool({ handlers, size: 1, heapMb: 32, depth: 4 });
    try {
      await p.run('echo', 'warm');
      const hog = p.run('hog', null).catch((e: unknown) => e);
      const behind = [1, 2, 3].map((i) => p.run('echo', i));
      expect(['worker_memory', 'worker_crashed']).toContain(((await hog) as ParseAbort).reason);
      expect(await Promise.all(behind)).toEqual([1, 2, 3]);
    } finally {
      await p.close();
    }
  });
  it('the worker goes on with the tasks it holds while the event loop is busy (depth), one at a time with depth 1', async () => {
    const finishedDuringBlock = async (depth: number): Promise<number> => {
      const p = new ParsePool({ handlers, size: 1, depth });
      try {
        await p.run('echo', 'warm');
        const stamps = Array.from({ length: 4 }, () => p.run<number>('stamp', 5));
        const end = Date.now() + 400; // the main thread busy: no answer is taken, no task sent meanwhile
        while (Date.now() < end);
        return (await Promise.all(stamps)).filter((t) => t <= end).length;
      } finally {
        await p.close();
      }
    };
    expect(await finishedDuringBlock(1)).toBe(1);
    expect(await finishedDuringBlock(4)).toBe(4);
  });
  it("'now' tasks go ahead of background ones, which still get one in every five while both wait", async () => {
    const p = new ParsePool({ handlers, size: 1, depth: 1 });
    try {
      await p.run('echo', 'warm');
      const order: string[] = [];
      const track = (name: string, lane: 'now' | 'background'): Promise<void> =>
        p.run('echo', name, lane).then((x) => void order.push(x as string));
      const busy = p.run('spin', 200); // the worker busy: all of the below wait in the lanes
      await Promise.all([
        busy,
        ...['b1', 'b2'].map((b) => track(b, 'background')),
        ...['n1', 'n2', 'n3', 'n4', 'n5'].map((n) => track(n, 'now')),
      ]);
      expect(order).toEqual(['n1', 'n2', 'n3', 'n4', 'b1', 'n5', 'b2']);
      // background alone is not held back
      expect(await p.run('echo', 'alone', 'background')).toBe('alone');
    } finally {
      await p.close();
    }
  });
  it('a closed pool rejects', async () => {
    const p = new ParsePool({ handlers, size: 1 });
    await p.close();
    await expect(p.run('echo', 1)).rejects.toBeInstanceOf(ParseAbort);
  });
});

describe('Parser: hostile Secrets become findings, off the event loop', () => {
  const parser = new Parser({ workers: 1, timeoutMs: 3000, heapMb: 64, maxKdfIterations: 1_000_000 });
  afterAll(() => parser.close());
  // the worker starts with the first task: start it here, so the timings below are the parse's, not the start's
  beforeAll(() => parser.extract('Secret', { metadata: { name: 'warm-up' }, data: {} }));
  const secret = (p12: Buffer): Record<string, unknown> => ({
    metadata: { name: 'bomb' },
    data: { 'store.p12': b64(p12), password: b64('pw') },
  });

  it('a PKCS#12 bomb (many sections) is refused before any derivation: pkcs12_budget, fast', async () => {
    const slim = slimForParse('Secret', secret(pkcs12Bomb({ sections: 200, iterations: 1000, password: 'pw' })))!;
    const t0 = performance.now();
    const x = await parser.extract('Secret', slim);
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(x.problems).toEqual([
      expect.objectContaining({
        key: 'store.p12',
        code: 'pkcs12_budget',
        reason: expect.stringMatching(/200 sections/),
      }),
    ]);
  });
  it('few sections with huge iteration counts: the summed iterations are over the budget', async () => {
    const x = await parser.extract(
      'Secret',
      slimForParse(
        'Secret',
        secret(pkcs12Bomb({ sections: 4, iterations: 1000, password: 'pw', macIterations: 5_000_000 })),
      )!,
    );
    expect(x.problems[0]).toMatchObject({ code: 'pkcs12_budget', reason: expect.stringMatching(/iterations in all/) });
  });
  it('within the budget it is read (in the worker) while the event loop stays free', async () => {
    const slim = slimForParse(
      'Secret',
      secret(pkcs12Bomb({ sections: 8, iterations: 100_000, password: 'pw', macIterations: 1 })),
    )!;
    const { value, gapMs } = await maxLoopGap(parser.extract('Secret', slim));
    expect(value).toEqual({ certs: [], problems: [] });
    expect(gapMs).toBeLessThan(100);
  });
  it('a parse over the wall-time limit is a timeout finding', async () => {
    const slow = new Parser({ workers: 1, timeoutMs: 50, heapMb: 64, maxKdfIterations: 100_000_000 });
    try {
      const x = await slow.extract(
        'Secret',
        slimForParse(
          'Secret',
          secret(pkcs12Bomb({ sections: 16, iterations: 200_000, password: 'pw', macIterations: 1 })),
        )!,
      );
      expect(x.problems).toEqual([expect.objectContaining({ code: 'timeout' })]);
    } finally {
      await slow.close();
    }
  });
  it('slimForParse keeps only what may hold certificates (and the password), and nothing for plain Secrets', () => {
    expect(slimForParse('Secret', { data: { 'config.yaml': b64('a: 1'), password: b64('x') } })).toBeUndefined();
    const s = slimForParse('Secret', {
      data: { 'tls.crt': b64('-----BEGIN CERTIFICATE-----\n'), other: b64('hello'), password: b64('x') },
    });
    expect(Object.keys((s as { data: object }).data).sort()).toEqual(['password', 'tls.crt']);
    expect(slimForParse('CustomResourceDefinition', { spec: { versions: [{ schema: 'big' }] } })).toBeUndefined();
  });
  it('managed Secret facts: garbage is no certificate, never a throw', async () => {
    expect(await parser.managedFacts({ crt: b64('garbage'), key: b64('junk') })).toEqual({
      hasData: true,
      keyMatches: false,
    });
    expect(await parser.managedFacts({})).toEqual({ hasData: false, keyMatches: false });
  });
});
