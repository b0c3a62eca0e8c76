import { describe, it, expect } from '@jest/globals';
import { FairShare } from '../../src/controllers/issuance/fair-share.ts';

describe('FairShare', () => {
  it('lets one authority use at most half the workers, leaving the rest to others', () => {
    const f = new FairShare(8);
    expect(f.limit).toBe(4);
    for (let i = 0; i < 4; i++) expect(f.tryAcquire('slow')).toBe(true);
    expect(f.tryAcquire('slow')).toBe(false);
    for (let i = 0; i < 4; i++) expect(f.tryAcquire('fast')).toBe(true);
    f.release('slow');
    expect(f.tryAcquire('slow')).toBe(true);
  });
  it('always allows one in flight, even with a single worker', () => {
    const f = new FairShare(1);
    expect(f.tryAcquire('a')).toBe(true);
    expect(f.tryAcquire('a')).toBe(false);
    f.release('a');
    f.release('a'); // extra releases never go negative
    expect(f.tryAcquire('a')).toBe(true);
  });
});
