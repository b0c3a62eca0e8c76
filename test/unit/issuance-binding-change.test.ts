import { describe, it, expect } from '@jest/globals';
import { bindingChangeMatters } from '../../src/controllers/issuance/binding-change.ts';
import type { BindingModel } from '../../src/crds/binding-model.ts';

const ready = {
  type: 'Ready',
  status: 'True',
  reason: 'Ready',
  message: '',
  lastTransitionTime: '2026-01-01T00:00:00Z',
};
const base = {
  metadata: { name: 'ca', generation: 1, labels: { a: 'b' } },
  spec: {},
  status: { conditions: [ready], identities: 10, outdatedIdentities: 0, observedGeneration: 1 },
} as unknown as BindingModel;
type Loose = { metadata: Record<string, unknown>; status?: Record<string, unknown> };
const edit = (f: (b: Loose) => void): BindingModel => {
  const b = structuredClone(base) as unknown as Loose;
  f(b);
  return b as unknown as BindingModel;
};

describe('bindingChangeMatters', () => {
  it.each<[string, BindingModel, boolean]>([
    ['no change (a resync)', edit(() => undefined), false],
    ['status.identities only', edit((b) => (b.status!.identities = 11)), false],
    [
      'all three usage counters',
      edit((b) => Object.assign(b.status!, { identities: 5, outdatedIdentities: 2, observedGeneration: 2 })),
      false,
    ],
    ['a spec change (generation)', edit((b) => (b.metadata.generation = 2)), true],
    ['Ready goes False', edit((b) => (b.status!.conditions = [{ ...ready, status: 'False' }])), true],
    ['a new status field (a CA fingerprint)', edit((b) => (b.status!.caFingerprintSHA256 = 'AB:CD')), true],
    ['a label', edit((b) => (b.metadata.labels = { a: 'c' })), true],
    ['an annotation', edit((b) => (b.metadata.annotations = { x: 'y' })), true],
    ['deletion starts', edit((b) => (b.metadata.deletionTimestamp = '2026-01-02T00:00:00Z')), true],
    ['status appears', edit((b) => delete b.status), true],
  ])('%s', (_what, after, matters) => {
    expect(bindingChangeMatters(base, after)).toBe(matters);
  });
});
