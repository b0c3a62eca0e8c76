import { describe, it, expect } from '@jest/globals';
import { decideAuthority, type BindingView } from '../../src/controllers/authority-access.ts';

const bindings = new Map<string, BindingView>([
  ['open', { name: 'open' }],
  ['empty', { name: 'empty', namespaceSelector: {} }],
  ['prod', { name: 'prod', namespaceSelector: { matchLabels: { tier: 'prod' } } }],
]);

describe('decideAuthority', () => {
  it.each([
    ['missing binding', 'nope', { tier: 'prod' }, 'AuthorityNotFound'],
    ['no selector serves all', 'open', {}, true],
    ['empty selector serves all', 'empty', undefined, true],
    ['selector matches', 'prod', { tier: 'prod' }, true],
    ['selector does not match', 'prod', { tier: 'dev' }, 'AuthorityNotAllowed'],
    ['namespace without labels', 'prod', undefined, 'AuthorityNotAllowed'],
  ] as const)('%s', (_n, name, labels, want) => {
    const d = decideAuthority(name, 'team-a', labels as Record<string, string> | undefined, bindings);
    if (want === true) expect(d.allowed).toBe(true);
    else expect(d).toMatchObject({ allowed: false, reason: want });
  });
  it('says what to do in the message', () => {
    const d = decideAuthority('prod', 'team-a', {}, bindings);
    expect(!d.allowed && d.message).toMatch(/does not serve namespace "team-a"/);
  });
});
