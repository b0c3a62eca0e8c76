// boundedEach: how the validation controller hands an identity's endpoints to the prober. An identity
// with thousands of endpoints (an ingress controller with many pods) must never hand the prober more than
// its queue takes, or the same first probes are accepted every round and the rest never probed.
import { describe, expect, it } from '@jest/globals';
import { boundedEach } from '../../src/validation/bounded.ts';

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

/** Runs boundedEach and reports the peak of calls pending at once and the order calls started in. */
async function observe(n: number, limit: number): Promise<{ peak: number; started: number[] }> {
  let pending = 0,
    peak = 0;
  const started: number[] = [];
  await boundedEach([...Array(n).keys()], limit, async (i) => {
    started.push(i);
    peak = Math.max(peak, ++pending);
    await tick();
    pending--;
  });
  return { peak, started };
}

describe('boundedEach', () => {
  it.each([
    // items, limit, expected peak
    [0, 16, 0],
    [1, 16, 1],
    [10, 16, 10],
    [2000, 16, 16],
    [5, 1, 1],
    [5, 0, 1], // a zero limit still makes progress
    [5, 2.7, 2],
  ])('%i items, limit %d: at most %i pending, every item once, in order', async (n, limit, peak) => {
    const r = await observe(n, limit);
    expect(r.peak).toBe(peak);
    expect(r.started).toEqual([...Array(n).keys()]);
  });

  it('a rejection rejects the whole call', async () => {
    await expect(
      boundedEach([1, 2, 3], 2, async (i) => {
        if (i === 2) throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
  });

  it('4 workers × 2,000 endpoints through a prober taking concurrency + 10 × concurrency: nothing refused', async () => {
    const concurrency = 16;
    const capacity = concurrency + 10 * concurrency; // in flight + Prober's default maxQueue
    let outstanding = 0,
      refused = 0;
    const probe = async (): Promise<void> => {
      if (outstanding >= capacity) {
        refused++;
        return;
      }
      outstanding++;
      await tick();
      outstanding--;
    };
    const identity = (): Promise<void> => boundedEach([...Array(2000).keys()], concurrency, probe);
    await Promise.all([identity(), identity(), identity(), identity()]);
    expect(refused).toBe(0);
    // what the controller did before: every endpoint at once
    await Promise.all([...Array(2000).keys()].map(probe));
    expect(refused).toBe(2000 - capacity);
  });
});
