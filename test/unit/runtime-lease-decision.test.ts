import { describe, it, expect } from '@jest/globals';
import fc from 'fast-check';
import { decide, jitter, nextRecord, observe, type LeaseRecord } from '../../src/runtime/lease-decision.ts';

const other: LeaseRecord = {
  holderIdentity: 'other',
  leaseDurationSeconds: 15,
  renewTime: '2020-01-01T00:00:00.000000Z',
  leaseTransitions: 3,
};

describe('leader election decision', () => {
  it.each([
    ['no lease → create', undefined, 0, 'create'],
    ['our own lease → renew', { record: { ...other, holderIdentity: 'me' }, observedAtMs: 0 }, 100_000, 'renew'],
    [
      'released lease (empty holder) → take over at once',
      { record: { ...other, holderIdentity: '' }, observedAtMs: 1000 },
      1000,
      'takeover',
    ],
    ['other holder, seen 14.9 s ago → wait', { record: other, observedAtMs: 0 }, 14_900, 'wait'],
    ['other holder, unchanged for 15 s → take over', { record: other, observedAtMs: 0 }, 15_000, 'takeover'],
  ] as const)('%s', (_name, obs, now, action) => {
    expect(decide(obs, 'me', now, 15).action).toBe(action);
  });

  it('judges expiry by local time since the record last changed, not by the remote renewTime', () => {
    // renewTime is years in the past on our clock, but we only just saw it: not expired.
    const o1 = observe(undefined, other, 1_000_000);
    expect(decide(o1, 'me', 1_000_001, 15).action).toBe('wait');
    // The same record read again later keeps the first observation time...
    const o2 = observe(o1, { ...other }, 1_010_000);
    expect(o2.observedAtMs).toBe(1_000_000);
    expect(decide(o2, 'me', 1_015_000, 15).action).toBe('takeover');
    // ...but a renewal (changed renewTime) restarts the clock.
    const o3 = observe(o2, { ...other, renewTime: '2020-01-01T00:00:02.000000Z' }, 1_014_000);
    expect(decide(o3, 'me', 1_015_000, 15).action).toBe('wait');
  });

  it('counts a transition on takeover, not on renew or create', () => {
    expect(nextRecord(other, 'takeover', 'me', 't', 15)).toMatchObject({
      holderIdentity: 'me',
      leaseTransitions: 4,
      acquireTime: 't',
    });
    const mine = { ...other, holderIdentity: 'me', acquireTime: 'a0' };
    expect(nextRecord(mine, 'renew', 'me', 't', 15)).toMatchObject({
      leaseTransitions: 3,
      acquireTime: 'a0',
      renewTime: 't',
    });
    expect(nextRecord(undefined, 'create', 'me', 't', 15)).toMatchObject({ leaseTransitions: 0 });
  });

  it('never takes over another live holder before leaseDuration has passed locally (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 3600 }),
        fc.integer({ min: 0, max: 1e9 }),
        fc.integer({ min: 0, max: 1e7 }),
        (secs, seenAt, elapsed) => {
          const d = decide(
            { record: { ...other, leaseDurationSeconds: secs }, observedAtMs: seenAt },
            'me',
            seenAt + elapsed,
            15,
          );
          return elapsed < secs * 1000 ? d.action === 'wait' : d.action === 'takeover';
        },
      ),
    );
  });

  it('jitter stays within [0.8, 1.2] of the period', () => {
    fc.assert(
      fc.property(fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }), (r) => {
        const j = jitter(1000, 0.2, () => r);
        return j >= 800 && j <= 1200;
      }),
    );
  });
});
