import { describe, it, expect } from '@jest/globals';
import fc from 'fast-check';
import { Registry } from 'prom-client';
import { FairQueue, namespaceOf } from '../../src/runtime/fair-queue.ts';
import { WorkQueue } from '../../src/runtime/workqueue.ts';

const drain = (q: FairQueue): string[] => {
  const out: string[] = [];
  for (let k = q.shift(); k !== undefined; k = q.shift()) out.push(k);
  return out;
};

describe('namespaceOf', () => {
  it.each([
    ['ns/name', 'ns'],
    ['name', ''],
    ['a/b/c', 'a'],
    ['/x', ''],
  ])('%s → %j', (key, ns) => expect(namespaceOf(key)).toBe(ns));
});

describe('FairQueue', () => {
  it('serves namespaces round-robin, each in first-in first-out order', () => {
    const q = new FairQueue();
    for (const k of ['noisy/1', 'noisy/2', 'noisy/3', 'quiet/a', 'other/x', 'noisy/4', 'quiet/b']) q.push(k);
    expect(q.length).toBe(7);
    expect(drain(q)).toEqual(['noisy/1', 'quiet/a', 'other/x', 'noisy/2', 'quiet/b', 'noisy/3', 'noisy/4']);
    expect(q.length).toBe(0);
  });

  it('a key added behind a 10,000-key burst of another namespace is second in line', () => {
    const q = new FairQueue();
    for (let i = 0; i < 10_000; i++) q.push(`noisy/id-${i}`);
    q.shift();
    q.shift();
    q.push('quiet/one');
    expect(q.shift()).toBe('noisy/id-2');
    expect(q.shift()).toBe('quiet/one');
  });

  it('a namespace that empties and comes back joins at the back of the line', () => {
    const q = new FairQueue();
    q.push('a/1');
    q.push('b/1');
    q.push('b/2');
    expect(q.shift()).toBe('a/1');
    q.push('a/2');
    expect(drain(q)).toEqual(['b/1', 'a/2', 'b/2']);
  });

  it('clear() empties it', () => {
    const q = new FairQueue();
    q.push('a/1');
    q.push('b/1');
    q.clear();
    expect(q.length).toBe(0);
    expect(q.shift()).toBeUndefined();
    q.push('c/1');
    expect(drain(q)).toEqual(['c/1']);
  });

  it('hands out every key once, keeps per-namespace order, and never serves a namespace twice in a row while another waits', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.constantFrom('a', 'b', 'c', ''), fc.boolean()), { maxLength: 3000 }), (ops) => {
        const q = new FairQueue();
        const pushed: string[] = [];
        const out: string[] = [];
        ops.forEach(([ns, isPush], i) => {
          if (isPush) {
            const k = ns ? `${ns}/${i}` : `${i}`;
            pushed.push(k);
            q.push(k);
            return;
          }
          const k = q.shift();
          if (k !== undefined) out.push(k);
        });
        out.push(...drain(q));
        expect([...out].sort()).toEqual([...pushed].sort());
        for (const ns of ['a', 'b', 'c', '']) {
          const mine = (xs: string[]): string[] => xs.filter((k) => namespaceOf(k) === ns);
          expect(mine(out)).toEqual(mine(pushed));
        }
      }),
    );
    // with everything pushed up front, the line alternates strictly while more than one namespace waits
    const q = new FairQueue();
    for (let i = 0; i < 2000; i++) q.push(`${['a', 'b', 'c'][i % 7 === 0 ? 0 : i % 2 ? 1 : 2]}/${i}`);
    const out = drain(q).map(namespaceOf);
    const lastTwoNs = out.findIndex((_, i) => new Set(out.slice(i)).size === 1);
    for (let i = 1; i < lastTwoNs; i++) expect(out[i]).not.toBe(out[i - 1]);
  });
});

describe('WorkQueue fairness', () => {
  it("a namespace's burst does not hold up another namespace's key; dedup still holds", async () => {
    const wq = new WorkQueue({ name: 'fair', registry: new Registry() });
    for (let i = 0; i < 10_000; i++) wq.add(`noisy/id-${i}`);
    wq.add('quiet/one');
    wq.add('quiet/one');
    expect(wq.length).toBe(10_001);
    expect(await wq.get()).toBe('noisy/id-0');
    expect(await wq.get()).toBe('quiet/one');
    expect(await wq.get()).toBe('noisy/id-1');
    wq.shutDown();
  });

  it('tenantOf can group keys otherwise', async () => {
    const wq = new WorkQueue({ name: 'fair2', registry: new Registry(), tenantOf: (k) => k.slice(-1) });
    for (const k of ['x/1', 'y/1', 'z/2']) wq.add(k);
    expect([await wq.get(), await wq.get(), await wq.get()]).toEqual(['x/1', 'z/2', 'y/1']);
    wq.shutDown();
  });
});
