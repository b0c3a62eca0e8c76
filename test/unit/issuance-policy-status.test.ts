// The IssuancePolicy Ready condition: invalid, applied with patterns that never match, or active.
import { describe, it, expect } from '@jest/globals';
import { policyReady } from '../../src/controllers/issuance-policies/status-controller.ts';
import { compilePolicies, type CompiledPolicy } from '../../src/policy/evaluate.ts';
import { IssuancePolicySpec } from '../../src/crds/index.ts';

const compiled = (enforcement: 'Enforce' | 'Audit'): CompiledPolicy | undefined =>
  compilePolicies([
    { name: 'p', spec: IssuancePolicySpec.parse({ enforcement, rules: { dnsNames: { allowed: ['*.example.com'] } } }) },
  ])[0];

describe('policyReady', () => {
  it.each<[string, string | undefined, CompiledPolicy | undefined, object]>([
    [
      'an invalid policy says why',
      'spec.rules: bad',
      undefined,
      { status: 'False', reason: 'InvalidSpec', message: 'spec.rules: bad' },
    ],
    [
      'invalid wins over compiled problems',
      'bad',
      { ...compiled('Enforce'), problems: ['x'] } as CompiledPolicy,
      { status: 'False', reason: 'InvalidSpec' },
    ],
    [
      'a pattern that never matches',
      undefined,
      { ...compiled('Enforce'), problems: ['a', 'b'] } as CompiledPolicy,
      {
        status: 'False',
        reason: 'PatternNeverMatches',
        message: 'a; b; the policy is applied, and these entries allow nothing',
      },
    ],
    [
      'active, with the counts',
      undefined,
      compiled('Audit'),
      { status: 'True', reason: 'Active', message: 'Audit: selects 3 MachineIdentities, 1 of them violate a rule' },
    ],
    [
      'not compiled yet: Enforce',
      undefined,
      undefined,
      { status: 'True', reason: 'Active', message: 'Enforce: selects 3 MachineIdentities, 1 of them violate a rule' },
    ],
  ])('%s', (_name, invalid, policy, want) => {
    expect(policyReady(invalid, policy, 3, 1)).toMatchObject({ type: 'Ready', ...want });
  });
});
