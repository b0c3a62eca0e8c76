// Small pure helpers of src/policy that the rule and ownership tests reach only indirectly.
import { describe, it, expect } from '@jest/globals';
import { durationConstant } from '../../src/policy/duration-constant.ts';
import { grantsFor } from '../../src/policy/grants.ts';
import { ownsDnsLabels, ownsUri, reserved } from '../../src/policy/owned-names.ts';
import { parseUri } from '../../src/policy/patterns.ts';
import { defaultDurationMs } from '../../src/policy/resolve.ts';
import type { CompiledRules } from '../../src/policy/compile-rules.ts';

const H = 3_600_000;
const CD = ['cluster', 'local'];

describe('durationConstant', () => {
  it.each([
    { name: 'hours', text: '2160h', want: 2160 * H },
    { name: 'mixed units', text: '1h30m', want: 1.5 * H },
  ])('$name', ({ text, want }) => expect(durationConstant(text)).toBe(want));
  it('throws on a malformed constant', () => expect(() => durationConstant('ninety days')).toThrow(/not a duration/));
});

describe('defaultDurationMs', () => {
  const rules = (r: Partial<CompiledRules>): { rules: CompiledRules } => ({ rules: { raw: {}, problems: [], ...r } });
  it.each([
    { name: 'no policy: the default', policies: [], want: 2160 * H },
    {
      name: 'the tightest maxDuration caps it',
      policies: [rules({ maxDurationMs: 720 * H }), rules({ maxDurationMs: 24 * H })],
      want: 24 * H,
    },
    {
      name: 'a maxDuration above the default does not raise it',
      policies: [rules({ maxDurationMs: 9000 * H })],
      want: 2160 * H,
    },
    { name: 'a maxDuration of 0 (unparsable) is ignored', policies: [rules({ maxDurationMs: 0 })], want: 2160 * H },
    {
      name: 'a floor above the cap wins',
      policies: [rules({ maxDurationMs: 24 * H }), rules({ minDurationMs: 48 * H })],
      want: 48 * H,
    },
    { name: 'a floor above the default is not taken', policies: [rules({ minDurationMs: 9000 * H })], want: 2160 * H },
    {
      name: 'an infinite floor (unparsable) is ignored',
      policies: [rules({ minDurationMs: Infinity, maxDurationMs: H })],
      want: H,
    },
  ])('$name', ({ policies, want }) => expect(defaultDurationMs(policies)).toBe(want));
});

describe('ownsDnsLabels', () => {
  it.each([
    { name: 'short Service name', labels: ['web', 'team-a', 'svc'], want: true },
    { name: 'full Service name', labels: ['web', 'team-a', 'svc', 'cluster', 'local'], want: true },
    { name: 'pod A record', labels: ['10-1-2-3', 'team-a', 'pod', 'cluster', 'local'], want: true },
    { name: 'headless Service pod', labels: ['db-0', 'db', 'team-a', 'svc', 'cluster', 'local'], want: true },
    { name: 'wildcard first label', labels: ['*', 'team-a', 'svc'], want: true },
    { name: 'wildcard elsewhere', labels: ['web', '*', 'svc'], want: false },
    { name: 'another namespace', labels: ['web', 'team-b', 'svc'], want: false },
    { name: 'another cluster domain', labels: ['web', 'team-a', 'svc', 'example', 'com'], want: false },
    { name: 'short pod name is not owned', labels: ['10-1-2-3', 'team-a', 'pod'], want: false },
  ])('$name', ({ labels, want }) => expect(ownsDnsLabels(labels, 'team-a', CD)).toBe(want));
});

describe('reserved', () => {
  it.each([
    { name: 'localhost', labels: ['localhost'], want: true },
    { name: 'below localhost', labels: ['a', 'localhost'], want: true },
    { name: 'kubernetes.default.svc', labels: ['kubernetes', 'default', 'svc'], want: true },
    {
      name: 'kubernetes.default.svc in the cluster domain',
      labels: ['kubernetes', 'default', 'svc', 'cluster', 'local'],
      want: true,
    },
    { name: 'another Service in default', labels: ['web', 'default', 'svc'], want: false },
  ])('$name', ({ labels, want }) => expect(reserved(labels, CD)).toBe(want));
});

describe('ownsUri', () => {
  it.each([
    { name: 'its ServiceAccount', uri: 'spiffe://cluster.local/ns/team-a/sa/api', want: true },
    { name: 'another trust domain', uri: 'spiffe://example.org/ns/team-a/sa/api', want: false },
    { name: 'another namespace', uri: 'spiffe://cluster.local/ns/team-b/sa/api', want: false },
    { name: 'a query', uri: 'spiffe://cluster.local/ns/team-a/sa/api?x', want: false },
    { name: 'an invalid ServiceAccount name', uri: 'spiffe://cluster.local/ns/team-a/sa/API', want: false },
    { name: 'a longer path', uri: 'spiffe://cluster.local/ns/team-a/sa/api/x', want: false },
    { name: 'https', uri: 'https://cluster.local/ns/team-a/sa/api', want: false },
  ])('$name', ({ uri, want }) => {
    const parts = parseUri(uri);
    expect(parts !== undefined && ownsUri(parts, 'team-a', 'cluster.local')).toBe(want);
  });
});

describe('grantsFor', () => {
  const grants = [
    { dnsNames: ['*.example.com'] },
    { namespaceSelector: { matchLabels: { team: 'pay' } }, allowCA: true },
    { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'team-a' } }, allowWildcards: true },
  ];
  it.each<{ name: string; g: unknown; ns: string; labels: Record<string, string>; want: boolean[][] }>([
    { name: 'no grants', g: undefined, ns: 'team-a', labels: {}, want: [] },
    {
      name: 'a grant without a selector selects every namespace',
      g: [grants[0]],
      ns: 'x',
      labels: {},
      want: [[false, false]],
    },
    {
      name: 'selected by labels',
      g: grants,
      ns: 'x',
      labels: { team: 'pay' },
      want: [
        [false, false],
        [false, true],
      ],
    },
    {
      name: 'selected by the namespace name label',
      g: grants,
      ns: 'team-a',
      labels: {},
      want: [
        [false, false],
        [true, false],
      ],
    },
  ])('$name', ({ g, ns, labels, want }) => {
    const got = grantsFor(g as never, ns, labels).map((x) => [x.allowWildcards, x.allowCA]);
    expect(got).toEqual(want);
  });
  it('compiles a grants list once', () => {
    expect(grantsFor(grants as never, 'x', {})[0]).toBe(grantsFor(grants as never, 'x', {})[0]);
  });
});
