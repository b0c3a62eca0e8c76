// The API reference's Validation column: what a schema node allows, in words.
import { describe, it, expect } from '@jest/globals';
import { constraintsOf } from '../../src/crds/docs.ts';
import type { JSONSchemaProps } from '../../src/crds/openapi.ts';

describe('constraintsOf', () => {
  it.each<[string, JSONSchemaProps, string]>([
    ['nothing', { type: 'string' }, ''],
    ['an enum', { type: 'string', enum: ['A', 'B'] }, 'one of `A`, `B`'],
    ['bounds', { type: 'string', minLength: 1, maxLength: 63 }, 'min length 1; max length 63'],
    [
      'items',
      { type: 'array', items: { type: 'string', enum: ['x'], maxLength: 9 }, maxItems: 4 },
      'items one of `x`; max items 4; item max length 9',
    ],
    ['a short pattern', { type: 'string', pattern: '^a$' }, 'pattern `^a$`'],
    ['a long pattern is left out', { type: 'string', pattern: 'a'.repeat(81) }, ''],
    ['a set', { type: 'array', 'x-kubernetes-list-type': 'set' }, 'unique items'],
    [
      'a list-map',
      { type: 'array', 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['type'] },
      'list-map keyed by type',
    ],
    ['nullable', { type: 'string', nullable: true }, 'nullable'],
  ])('%s', (_what, schema, want) => {
    expect(constraintsOf(schema)).toBe(want);
  });
});
