import { describe, it, expect } from '@jest/globals';
import { setCondition, getCondition, removeCondition } from '../../src/controllers/status/conditions.ts';

const t1 = new Date('2026-01-01T00:00:00.123Z');
const t2 = new Date('2026-01-02T00:00:00Z');

describe('setCondition', () => {
  it('adds a condition with a second-precision transition time and the generation', () => {
    const l = setCondition([], { type: 'Ready', status: 'False', reason: 'Pending', message: 'm' }, 3, t1);
    expect(l).toEqual([
      {
        type: 'Ready',
        status: 'False',
        reason: 'Pending',
        message: 'm',
        observedGeneration: 3,
        lastTransitionTime: '2026-01-01T00:00:00Z',
      },
    ]);
  });
  it('keeps lastTransitionTime when only reason or message change', () => {
    const a = setCondition([], { type: 'Ready', status: 'False', reason: 'A', message: 'a' }, 1, t1);
    const b = setCondition(a, { type: 'Ready', status: 'False', reason: 'B', message: 'b' }, 2, t2);
    expect(b[0]).toMatchObject({ reason: 'B', observedGeneration: 2, lastTransitionTime: '2026-01-01T00:00:00Z' });
  });
  it('moves lastTransitionTime when status changes, and leaves other types alone', () => {
    let l = setCondition([], { type: 'Issuing', status: 'True', reason: 'X', message: '' }, 1, t1);
    l = setCondition(l, { type: 'Ready', status: 'False', reason: 'A', message: '' }, 1, t1);
    l = setCondition(l, { type: 'Ready', status: 'True', reason: 'Issued', message: '' }, 1, t2);
    expect(getCondition(l, 'Ready')?.lastTransitionTime).toBe('2026-01-02T00:00:00Z');
    expect(getCondition(l, 'Issuing')?.lastTransitionTime).toBe('2026-01-01T00:00:00Z');
    expect(removeCondition(l, 'Issuing').map((c) => c.type)).toEqual(['Ready']);
  });
  it('truncates messages to the API limit', () => {
    const l = setCondition([], { type: 'Ready', status: 'False', reason: 'A', message: 'x'.repeat(40_000) }, 1, t1);
    expect(l[0]!.message.length).toBe(32_768);
  });
});
