import { describe, it, expect } from '@jest/globals';
import { matchesSelector, type LabelSelector } from '../../src/policy/label-selector.ts';

const cases: [string, LabelSelector | undefined, Record<string, string>, boolean][] = [
  ['absent selector matches nothing', undefined, { a: '1' }, false],
  ['empty selector matches everything', {}, {}, true],
  ['matchLabels equal', { matchLabels: { tier: 'prod' } }, { tier: 'prod', x: 'y' }, true],
  ['matchLabels different value', { matchLabels: { tier: 'prod' } }, { tier: 'dev' }, false],
  ['matchLabels missing key', { matchLabels: { tier: 'prod' } }, {}, false],
  ['In hit', { matchExpressions: [{ key: 'env', operator: 'In', values: ['a', 'b'] }] }, { env: 'b' }, true],
  ['In miss', { matchExpressions: [{ key: 'env', operator: 'In', values: ['a'] }] }, { env: 'b' }, false],
  ['In absent key', { matchExpressions: [{ key: 'env', operator: 'In', values: ['a'] }] }, {}, false],
  ['NotIn absent key matches', { matchExpressions: [{ key: 'env', operator: 'NotIn', values: ['a'] }] }, {}, true],
  ['NotIn listed value', { matchExpressions: [{ key: 'env', operator: 'NotIn', values: ['a'] }] }, { env: 'a' }, false],
  ['Exists', { matchExpressions: [{ key: 'env', operator: 'Exists' }] }, { env: '' }, true],
  ['Exists missing', { matchExpressions: [{ key: 'env', operator: 'Exists' }] }, {}, false],
  ['DoesNotExist', { matchExpressions: [{ key: 'env', operator: 'DoesNotExist' }] }, { other: 'x' }, true],
  ['DoesNotExist present', { matchExpressions: [{ key: 'env', operator: 'DoesNotExist' }] }, { env: 'x' }, false],
  [
    'unknown operator fails closed',
    { matchExpressions: [{ key: 'env', operator: 'Gt', values: ['1'] }] },
    { env: '2' },
    false,
  ],
  [
    'labels AND expressions',
    { matchLabels: { a: '1' }, matchExpressions: [{ key: 'b', operator: 'Exists' }] },
    { a: '1' },
    false,
  ],
  ['__proto__ key is not inherited', { matchExpressions: [{ key: 'toString', operator: 'Exists' }] }, {}, false],
];

describe('matchesSelector', () => {
  it.each(cases)('%s', (_name, selector, labels, want) => expect(matchesSelector(selector, labels)).toBe(want));
});
