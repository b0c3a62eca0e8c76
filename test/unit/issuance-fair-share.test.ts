import { describe, it, expect } from '@jest/globals';
import { FairShare } from '../../src/controllers/issuance/fair-share.ts';

describe('FairShare', () => {
  it('keeps a quarter of the workers free for other authorities', () => {
    const f = new FairShare(8);
    expect(f.limit).toBe(6);
    for (let i = 0; i < 6; i++) expect(f.tryAcquire('slow')).toBe(true);
    expect(f.tryAcquire('slow')).toBe(false);
    expect(f.hasRoom('slow')).toBe(false);
    expect(f.hasRoom('fast')).toBe(true);
    for (let i = 0; i < 2; i++) expect(f.tryAcquire('fast')).toBe(true);
    f.release('slow');
    expect(f.tryAcquire('slow')).toBe(true);
  });
  it('always allows one in flight, even with one or two workers', () => {
    expect(new FairShare(2).limit).toBe(1);
    const f = new FairShare(1);
    expect(f.tryAcquire('a')).toBe(true);
    expect(f.tryAcquire('a')).toBe(false);
    f.release('a');
    f.release('a'); // extra releases never go negative
    expect(f.tryAcquire('a')).toBe(true);
  });
});
