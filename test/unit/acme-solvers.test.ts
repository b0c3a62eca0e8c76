// Which ACME solver answers which authorization: exact dnsNames > longest dnsZones > no selector,
// first listed among equals; IP identifiers need HTTP-01, wildcards DNS-01.
import { describe, it, expect } from '@jest/globals';
import type { Identifier } from '../../src/issuers/acme/protocol.ts';
import {
  DEFAULT_SOLVER,
  chooseSolver,
  dns01RecordName,
  specificity,
  type SolverSpec,
} from '../../src/issuers/acme/solvers.ts';

const rfc2136 = { nameserver: 'ns1.example.com:53' };
const http = (selector?: SolverSpec['selector']): SolverSpec => ({
  http01: { ingress: { ingressClassName: 'nginx' } },
  ...(selector ? { selector } : {}),
});
const dns = (selector?: SolverSpec['selector']): SolverSpec => ({
  dns01: { rfc2136 },
  ...(selector ? { selector } : {}),
});
const dnsId = (value: string): Identifier => ({ type: 'dns', value });
const ipId = (value: string): Identifier => ({ type: 'ip', value });

describe('specificity', () => {
  it.each<[string, SolverSpec, string, boolean, number]>([
    ['no selector', http(), 'a.example.com', false, 0],
    ['an empty selector', http({}), 'a.example.com', false, 0],
    ['empty lists', http({ dnsNames: [], dnsZones: [] }), 'a.example.com', false, 0],
    ['an exact name', http({ dnsNames: ['a.example.com'] }), 'a.example.com', false, 1000],
    [
      'an exact name, other case and a trailing dot',
      http({ dnsNames: ['A.Example.COM.'] }),
      'a.example.com',
      false,
      1000,
    ],
    ['a name that does not match', http({ dnsNames: ['b.example.com'] }), 'a.example.com', false, -1],
    ['the wildcard name', dns({ dnsNames: ['*.example.com'] }), 'example.com', true, 1000],
    ['the wildcard name for the base name', dns({ dnsNames: ['*.example.com'] }), 'example.com', false, -1],
    ['a zone (2 labels)', http({ dnsZones: ['example.com'] }), 'a.example.com', false, 3],
    ['a zone (3 labels)', http({ dnsZones: ['sub.example.com'] }), 'a.sub.example.com', false, 4],
    [
      'the longest of several zones',
      http({ dnsZones: ['com', 'sub.example.com', 'example.com'] }),
      'a.sub.example.com',
      false,
      4,
    ],
    ['the zone apex itself', http({ dnsZones: ['example.com'] }), 'example.com', false, 3],
    ['a zone, other case', http({ dnsZones: ['EXAMPLE.com.'] }), 'A.example.COM', false, 3],
    ['a suffix that is not a zone boundary', http({ dnsZones: ['ample.com'] }), 'a.example.com', false, -1],
    ['a zone for a wildcard (matched on the base name)', dns({ dnsZones: ['example.com'] }), 'example.com', true, 3],
    [
      'names and zones: the name wins',
      http({ dnsNames: ['a.example.com'], dnsZones: ['example.com'] }),
      'a.example.com',
      false,
      1000,
    ],
    [
      'names and zones: a zone when the name misses',
      http({ dnsNames: ['b.example.com'], dnsZones: ['example.com'] }),
      'a.example.com',
      false,
      3,
    ],
  ])('%s → %i', (_what, solver, name, wildcard, score) => {
    expect(specificity(solver, name, wildcard)).toBe(score);
  });
});

describe('chooseSolver', () => {
  type Expect = { type: 'http-01' | 'dns-01'; index: number } | { error: RegExp };
  it.each<[string, Identifier, boolean, SolverSpec[] | undefined, Expect]>([
    ['no solvers: the default HTTP-01', dnsId('a.example.com'), false, undefined, { type: 'http-01', index: 0 }],
    ['an empty list: the default HTTP-01', dnsId('a.example.com'), false, [], { type: 'http-01', index: 0 }],
    ['no solvers, an IP: the default HTTP-01', ipId('10.0.0.1'), false, [], { type: 'http-01', index: 0 }],
    ['one solver without a selector', dnsId('a.example.com'), false, [http()], { type: 'http-01', index: 0 }],
    [
      'an exact name beats a zone and no selector',
      dnsId('a.example.com'),
      false,
      [http(), dns({ dnsZones: ['example.com'] }), http({ dnsNames: ['a.example.com'] })],
      { type: 'http-01', index: 2 },
    ],
    [
      'an exact name beats a longer zone',
      dnsId('a.sub.example.com'),
      false,
      [dns({ dnsZones: ['sub.example.com'] }), http({ dnsNames: ['a.sub.example.com'] })],
      { type: 'http-01', index: 1 },
    ],
    [
      'the longest zone beats a shorter one',
      dnsId('a.sub.example.com'),
      false,
      [http({ dnsZones: ['example.com'] }), dns({ dnsZones: ['sub.example.com'] }), http({ dnsZones: ['com'] })],
      { type: 'dns-01', index: 1 },
    ],
    [
      'a zone beats no selector',
      dnsId('a.example.com'),
      false,
      [http(), dns({ dnsZones: ['example.com'] })],
      { type: 'dns-01', index: 1 },
    ],
    [
      'a solver whose selector misses is skipped',
      dnsId('a.example.org'),
      false,
      [dns({ dnsZones: ['example.com'] }), http()],
      { type: 'http-01', index: 1 },
    ],
    [
      'ties: the first listed (no selector)',
      dnsId('a.example.com'),
      false,
      [dns(), http()],
      { type: 'dns-01', index: 0 },
    ],
    [
      'ties: the first listed (same zone)',
      dnsId('a.example.com'),
      false,
      [http({ dnsZones: ['example.com'] }), dns({ dnsZones: ['example.com'] })],
      { type: 'http-01', index: 0 },
    ],
    [
      'ties: the first listed (same name)',
      dnsId('a.example.com'),
      false,
      [dns({ dnsNames: ['a.example.com'] }), http({ dnsNames: ['a.example.com'] })],
      { type: 'dns-01', index: 0 },
    ],
    [
      'only selectors that miss: an error',
      dnsId('a.example.org'),
      false,
      [http({ dnsZones: ['example.com'] })],
      { error: /no ACME solver for a\.example\.org: add a solver whose selector matches it/ },
    ],
    [
      'an IP needs http01 without a selector',
      ipId('10.0.0.1'),
      false,
      [dns(), http({ dnsZones: ['example.com'] }), http()],
      { type: 'http-01', index: 2 },
    ],
    [
      'an IP with only a dns01 solver: an error',
      ipId('fd00::1'),
      false,
      [dns()],
      { error: /no ACME solver for fd00::1: add an http01 solver without a selector/ },
    ],
    [
      'an IP with only a selected http01 solver: an error',
      ipId('10.0.0.1'),
      false,
      [http({ dnsNames: ['10.0.0.1'] })],
      { error: /an http01 solver without a selector/ },
    ],
    ['a wildcard needs dns01', dnsId('example.com'), true, [http(), dns()], { type: 'dns-01', index: 1 }],
    [
      'a wildcard: dns01 even when http01 is more specific',
      dnsId('example.com'),
      true,
      [http({ dnsNames: ['*.example.com'] }), dns()],
      { type: 'dns-01', index: 1 },
    ],
    [
      'a wildcard by its exact name',
      dnsId('example.com'),
      true,
      [dns({ dnsZones: ['example.com'] }), dns({ dnsNames: ['*.example.com'] })],
      { type: 'dns-01', index: 1 },
    ],
    [
      'a wildcard with only http01: an error',
      dnsId('example.com'),
      true,
      [http()],
      { error: /no ACME solver for \*\.example\.com: add a dns01 solver/ },
    ],
    [
      'a wildcard with no solvers (default http01): an error',
      dnsId('example.com'),
      true,
      undefined,
      { error: /add a dns01 solver/ },
    ],
    [
      'dns01 without rfc2136: an error',
      dnsId('a.example.com'),
      false,
      [{ dns01: { webhook: { groupName: 'acme.example.com', solverName: 'example' } } }],
      { error: /dns01 solver for a\.example\.com has no rfc2136 section/ },
    ],
    [
      'dns01 without rfc2136 for a wildcard: an error',
      dnsId('example.com'),
      true,
      [{ dns01: {} }],
      { error: /dns01 solver for \*\.example\.com has no rfc2136/ },
    ],
    [
      'gatewayHTTPRoute: an http-01 solver',
      dnsId('a.example.com'),
      false,
      [{ http01: { gatewayHTTPRoute: { parentRefs: [{ name: 'gw' }] } } }],
      { type: 'http-01', index: 0 },
    ],
  ])('%s', (_what, id, wildcard, solvers, want) => {
    const got = chooseSolver(id, wildcard, solvers);
    if ('error' in want) {
      expect('error' in got).toBe(true);
      if ('error' in got) expect(got.error).toMatch(want.error);
      return;
    }
    expect(got).toMatchObject(want);
    if ('error' in got) return;
    expect(got.solver).toBe(solvers?.length ? solvers[want.index] : DEFAULT_SOLVER);
  });

  it('the default solver is a bare http01', () => {
    expect(DEFAULT_SOLVER).toEqual({ http01: {} });
  });
});

describe('dns01RecordName', () => {
  it.each([
    ['example.com', '_acme-challenge.example.com'],
    ['*.example.com', '_acme-challenge.example.com'],
    ['WWW.Example.com.', '_acme-challenge.www.example.com'],
    ['*.Sub.Example.COM', '_acme-challenge.sub.example.com'],
  ])('%s → %s', (name, record) => {
    expect(dns01RecordName(name)).toBe(record);
  });
});
