import { describe, it, expect } from '@jest/globals';
import { Registry } from 'prom-client';
import pino from 'pino';
import { Controller, TerminalError, keyOf, type Reconcile } from '../../src/runtime/reconcile-loop.ts';

const silent = pino({ level: 'silent' });
const fastBackoff = { baseMs: 5, maxMs: 20, jitter: 0, qps: 0 };

async function until(pred: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
}

function make(
  reconcile: Reconcile,
  extra: Partial<ConstructorParameters<typeof Controller>[0]> = {},
): { c: Controller; registry: Registry } {
  const registry = new Registry();
  return {
    c: new Controller({ name: 'test', reconcile, logger: silent, registry, backoff: fastBackoff, ...extra }),
    registry,
  };
}

describe('Controller', () => {
  it('retries a failing key with backoff until it succeeds, then forgets it', async () => {
    let calls = 0;
    const { c, registry } = make(async () => {
      if (++calls < 3) throw new Error('transient');
    });
    await c.start();
    c.queue.add('ns/a');
    await until(() => calls === 3);
    await until(() => c.queue.numRequeues('ns/a') === 0);
    await c.stop();
    const text = await registry.metrics();
    expect(text).toContain('controller_runtime_reconcile_total{controller="test",result="error"} 2');
    expect(text).toContain('controller_runtime_reconcile_total{controller="test",result="success"} 1');
    expect(text).toContain('controller_runtime_reconcile_errors_total{controller="test"} 2');
  });

  it('does not retry a TerminalError', async () => {
    let calls = 0;
    const { c } = make(async () => {
      calls++;
      throw new TerminalError('bad spec');
    });
    await c.start();
    c.queue.add('ns/a');
    await until(() => calls === 1);
    await new Promise((r) => setTimeout(r, 100));
    expect(calls).toBe(1);
    await c.stop();
  });

  it('requeues after requeueAfterMs', async () => {
    const at: number[] = [];
    const { c } = make(async () => {
      at.push(Date.now());
      return at.length < 2 ? { requeueAfterMs: 80 } : undefined;
    });
    await c.start();
    c.queue.add('k');
    await until(() => at.length === 2);
    expect(at[1]! - at[0]!).toBeGreaterThanOrEqual(70);
    await c.stop();
  });

  it('passes a child logger and a fresh reconcileID per reconcile', async () => {
    const ids: string[] = [];
    const { c } = make(async (_k, ctx) => {
      ids.push(ctx.reconcileID);
    });
    await c.start();
    c.queue.add('a');
    await until(() => ids.length === 1);
    c.queue.add('a');
    await until(() => ids.length === 2);
    expect(new Set(ids).size).toBe(2);
    await c.stop();
  });

  it('runs one key at a time with many workers, and different keys in parallel', async () => {
    let active = 0;
    let maxActive = 0;
    const perKey = new Map<string, number>();
    let violations = 0;
    const { c } = make(
      async (key) => {
        perKey.set(key, (perKey.get(key) ?? 0) + 1);
        if (perKey.get(key)! > 1) violations++;
        active++;
        maxActive = Math.max(maxActive, active);
        await new Promise((r) => setTimeout(r, 20));
        active--;
        perKey.set(key, perKey.get(key)! - 1);
      },
      { workers: 4 },
    );
    await c.start();
    for (let i = 0; i < 5; i++)
      for (const k of ['a', 'b', 'c', 'd']) {
        c.queue.add(k);
        await new Promise((r) => setTimeout(r, 3));
      }
    await new Promise((r) => setTimeout(r, 300));
    await c.stop();
    expect(violations).toBe(0);
    expect(maxActive).toBeGreaterThan(1);
  });

  it('waits for informers to sync before starting workers; stop() before sync returns', async () => {
    let release!: () => void;
    const synced = new Promise<void>((r) => {
      release = r;
    });
    let calls = 0;
    const { c } = make(
      async () => {
        calls++;
      },
      { informers: [{ synced }] },
    );
    const started = c.start();
    c.queue.add('a');
    await new Promise((r) => setTimeout(r, 30));
    expect(calls).toBe(0);
    release();
    await started;
    await until(() => calls === 1);
    await c.stop();

    const never = make(async () => undefined, { informers: [{ synced: new Promise<void>(() => undefined) }] }).c;
    const s = never.start();
    await never.stop();
    await s;
  });

  it('stop() waits for the in-flight reconcile', async () => {
    let finished = false;
    const { c } = make(async () => {
      await new Promise((r) => setTimeout(r, 50));
      finished = true;
    });
    await c.start();
    c.queue.add('a');
    await new Promise((r) => setTimeout(r, 10));
    await c.stop();
    expect(finished).toBe(true);
  });

  it('keyOf gives namespace/name or name', () => {
    expect(keyOf({ metadata: { namespace: 'ns', name: 'a' } })).toBe('ns/a');
    expect(keyOf({ metadata: { name: 'a' } })).toBe('a');
  });
});
