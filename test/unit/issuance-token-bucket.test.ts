import { describe, it, expect } from '@jest/globals';
import { TokenBucket } from '../../src/controllers/issuance/token-bucket.ts';

describe('TokenBucket', () => {
  it('allows a burst, then about `rate` per second, however many callers retry', () => {
    let now = 0;
    const b = new TokenBucket(50, 50, now, () => 0.5);
    let granted = 0;
    // 200 callers that each retry when told to: count grants over 3 simulated seconds
    const retryAt = new Array<number>(200).fill(0);
    for (now = 0; now <= 3000; now += 10) {
      for (let i = 0; i < retryAt.length; i++) {
        if (retryAt[i]! > now || retryAt[i] === Infinity) continue;
        const w = b.take(now);
        if (w === 0) {
          granted++;
          retryAt[i] = Infinity;
        } else retryAt[i] = now + w;
      }
    }
    expect(granted).toBeGreaterThanOrEqual(50 + 120); // burst + at least 80% of 50/s for 3 s: no starvation
    expect(granted).toBeLessThanOrEqual(50 + 151);
  });
  it('tells a caller how long to wait, spread by jitter', () => {
    const b = new TokenBucket(10, 1, 0, () => 0);
    expect(b.take(0)).toBe(0);
    expect(b.take(0)).toBe(100);
    const j = new TokenBucket(10, 1, 0, () => 0.999);
    j.take(0);
    expect(j.take(0)).toBeGreaterThan(150);
  });
});
