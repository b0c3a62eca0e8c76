import { describe, it, expect } from '@jest/globals';
import fc from 'fast-check';
import {
  renewalTime,
  failureBackoffMs,
  jitterFraction,
  MAX_JITTER_MS,
} from '../../src/controllers/issuance/schedule.ts';

const H = 3_600_000;
const nb = new Date('2026-01-01T00:00:00Z');
const at = (h: number): Date => new Date(nb.getTime() + h * H);

describe('renewalTime', () => {
  it.each([
    ['default: 2/3 of a 90-day lifetime', {}, 2160, 1440],
    ['renewBefore 720h of 2160h', { renewBeforeMs: 720 * H }, 2160, 1440],
    ['renewBeforePercentage 10 of 100h', { renewBeforePercentage: 10 }, 100, 90],
    ['1h identity renews at 40 min', {}, 1, 2 / 3],
    ['renewBefore longer than the (capped) lifetime falls back to 2/3', { renewBeforeMs: 48 * H }, 24, 16],
  ])('%s', (_n, spec, lifetimeH, wantH) => {
    const r = renewalTime(nb, at(lifetimeH), spec, 'uid-a');
    const want = at(wantH).getTime();
    const before = lifetimeH * H - wantH * H;
    expect(r.getTime()).toBeLessThanOrEqual(want);
    expect(want - r.getTime()).toBeLessThanOrEqual(Math.min(before * 0.05, MAX_JITTER_MS));
  });
  it('spreads identities issued at the same moment', () => {
    const times = new Set(Array.from({ length: 1000 }, (_, i) => renewalTime(nb, at(2160), {}, `uid-${i}`).getTime()));
    expect(times.size).toBeGreaterThan(990);
    const sorted = [...times].sort((a, b) => a - b);
    expect(sorted.at(-1)! - sorted[0]!).toBeGreaterThan(4 * 60_000); // spread over minutes, not seconds
  });
  it('is stable per identity and never before notBefore (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 10_000 * H }),
        fc.option(fc.integer({ min: 1, max: 99 })),
        fc.string(),
        (life, pct, uid) => {
          const spec = pct === null ? {} : { renewBeforePercentage: pct };
          const r1 = renewalTime(nb, new Date(nb.getTime() + life), spec, uid);
          const r2 = renewalTime(nb, new Date(nb.getTime() + life), spec, uid);
          return r1.getTime() === r2.getTime() && r1.getTime() >= nb.getTime() && r1.getTime() <= nb.getTime() + life;
        },
      ),
    );
  });
  it('jitter fractions are in [0,1)', () => {
    for (let i = 0; i < 100; i++) {
      const f = jitterFraction(String(i));
      expect(f).toBeGreaterThanOrEqual(0);
      expect(f).toBeLessThan(1);
    }
  });
});

describe('failureBackoffMs', () => {
  it.each([
    [0, 0],
    [1, 10_000],
    [2, 20_000],
    [3, 40_000],
    [9, 2_560_000],
    [10, 3_600_000],
    [1000, 3_600_000],
  ])('after %d failures: %d ms', (n, ms) => {
    expect(failureBackoffMs(n)).toBe(ms);
  });
});
