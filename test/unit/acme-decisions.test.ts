// The ACME backend's pure decisions (what an ACME CA can certify, the order's identifiers, what a
// CA's answer means) and the client's problem/Retry-After helpers.
import { describe, it, expect } from '@jest/globals';
import {
  AcmeError,
  describeProblem,
  retryAfterMs,
  type Authorization,
  type Order,
  type Problem,
} from '../../src/issuers/acme/protocol.ts';
import {
  failureOf,
  identifiersOf,
  invalidOrderMessage,
  progressMessage,
  refusal,
} from '../../src/issuers/acme/decisions.ts';
import { RoutingError } from '../../src/issuers/acme/ingress.ts';
import { DnsUpdateError } from '../../src/issuers/acme/rfc2136.ts';
import { CaUnreachable } from '../../src/issuers/https-json.ts';

const ERR = 'urn:ietf:params:acme:error:';
type Facts = Parameters<typeof refusal>[0];
const facts = (f: Partial<Facts>): Facts => ({
  dnsNames: [],
  ipAddresses: [],
  uris: [],
  emailAddresses: [],
  isCA: false,
  subject: {},
  ...f,
});

describe('refusal', () => {
  it.each<[string, Partial<Facts>, RegExp | undefined]>([
    ['a DNS name', { dnsNames: ['a.example.com'] }, undefined],
    ['an IP address', { ipAddresses: ['10.0.0.1'] }, undefined],
    ['names and IPs', { dnsNames: ['a.example.com', '*.example.com'], ipAddresses: ['fd00::1'] }, undefined],
    ['isCA', { dnsNames: ['a.example.com'], isCA: true }, /end-entity certificates only/],
    ['isCA before anything else', { isCA: true, uris: ['spiffe://x/y'] }, /isCA needs another backend/],
    [
      'a URI',
      { dnsNames: ['a.example.com'], uris: ['spiffe://example.org/ns/a/sa/b'] },
      /uris and emailAddresses need another backend/,
    ],
    [
      'an email address',
      { dnsNames: ['a.example.com'], emailAddresses: ['a@example.com'] },
      /uris and emailAddresses need another backend/,
    ],
    ['no names', {}, /at least one of dnsNames or ipAddresses/],
    ['no names but a CN', { subject: { commonName: 'a.example.com' } }, /at least one of dnsNames or ipAddresses/],
    [
      'a CN among the names',
      { dnsNames: ['b.example.com', 'a.example.com'], subject: { commonName: 'a.example.com' } },
      undefined,
    ],
    [
      'a CN equal to a SAN but for case',
      { dnsNames: ['a.example.com'], subject: { commonName: 'A.Example.COM' } },
      undefined,
    ],
    [
      'a CN equal to a SAN in upper case',
      { dnsNames: ['API.example.com'], subject: { commonName: 'api.EXAMPLE.com' } },
      undefined,
    ],
    ['a CN equal to an IP address', { ipAddresses: ['10.0.0.1'], subject: { commonName: '10.0.0.1' } }, undefined],
    [
      'a CN not among the names',
      { dnsNames: ['a.example.com'], subject: { commonName: 'payments' } },
      /set subject\.commonName to one of dnsNames\/ipAddresses.*"payments"/,
    ],
    ['an empty CN is no CN', { dnsNames: ['a.example.com'], subject: { commonName: '' } }, undefined],
  ])('%s', (_what, f, want) => {
    const r = refusal(facts(f));
    if (want === undefined) expect(r).toBeUndefined();
    else expect(r).toMatch(want);
  });
});

describe('identifiersOf', () => {
  it.each<[string, Pick<Facts, 'dnsNames' | 'ipAddresses'>, { type: string; value: string }[]]>([
    ['none', { dnsNames: [], ipAddresses: [] }, []],
    [
      'dns then ip, whatever the order given',
      { dnsNames: ['b.example.com', 'a.example.com'], ipAddresses: ['10.0.0.2', '10.0.0.1'] },
      [
        { type: 'dns', value: 'b.example.com' },
        { type: 'dns', value: 'a.example.com' },
        { type: 'ip', value: '10.0.0.2' },
        { type: 'ip', value: '10.0.0.1' },
      ],
    ],
    [
      'lower-cased',
      { dnsNames: ['API.Example.COM', '*.Example.com'], ipAddresses: [] },
      [
        { type: 'dns', value: 'api.example.com' },
        { type: 'dns', value: '*.example.com' },
      ],
    ],
    [
      'deduplicated, case-insensitively, first kept',
      {
        dnsNames: ['a.example.com', 'A.EXAMPLE.COM', 'b.example.com', 'a.example.com'],
        ipAddresses: ['10.0.0.1', '10.0.0.1'],
      },
      [
        { type: 'dns', value: 'a.example.com' },
        { type: 'dns', value: 'b.example.com' },
        { type: 'ip', value: '10.0.0.1' },
      ],
    ],
    [
      'a DNS name and an IP with the same text stay two identifiers',
      { dnsNames: ['10.0.0.1'], ipAddresses: ['10.0.0.1'] },
      [
        { type: 'dns', value: '10.0.0.1' },
        { type: 'ip', value: '10.0.0.1' },
      ],
    ],
    [
      'IPv6',
      { dnsNames: [], ipAddresses: ['fd00::1', '10.0.0.1', 'fd00::1'] },
      [
        { type: 'ip', value: 'fd00::1' },
        { type: 'ip', value: '10.0.0.1' },
      ],
    ],
  ])('%s', (_what, f, want) => {
    expect(identifiersOf(f)).toEqual(want);
  });
});

describe('failureOf', () => {
  const server = 'https://acme.example/dir';
  const acme = (type: string | undefined, status: number, detail: string, retry?: number): AcmeError =>
    new AcmeError(
      { ...(type !== undefined ? { type: `${ERR}${type}` } : {}), detail, status },
      status,
      retry,
      'newOrder',
    );

  it.each<[string, unknown, { status: string; reason: string; retryAfterMs?: number }, RegExp]>([
    [
      '429 with Retry-After',
      acme('rateLimited', 429, 'too many certificates already issued', 30_000),
      { status: 'failed', reason: 'RateLimited', retryAfterMs: 30_000 },
      /rate-limited the request: newOrder: rateLimited: too many certificates already issued \[HTTP 429\]$/,
    ],
    [
      '429 without Retry-After: a minute',
      acme('rateLimited', 429, 'slow down'),
      { status: 'failed', reason: 'RateLimited', retryAfterMs: 60_000 },
      /rate-limited/,
    ],
    [
      '429 without a problem type',
      acme(undefined, 429, 'slow down', 5_000),
      { status: 'failed', reason: 'RateLimited', retryAfterMs: 5_000 },
      /rate-limited/,
    ],
    [
      'rateLimited with another status',
      acme('rateLimited', 403, 'too many failed authorizations', 120_000),
      { status: 'failed', reason: 'RateLimited', retryAfterMs: 120_000 },
      /too many failed authorizations/,
    ],
    [
      'rejectedIdentifier',
      acme(
        'rejectedIdentifier',
        400,
        'Error creating new order :: Cannot issue for "internal.corp": Domain name does not end with a valid public suffix',
      ),
      { status: 'denied', reason: 'CARefused' },
      /^ACME server https:\/\/acme\.example\/dir refused: newOrder: rejectedIdentifier: Error creating new order :: Cannot issue for "internal\.corp": Domain name does not end with a valid public suffix/,
    ],
    [
      'caa',
      acme('caa', 403, 'CAA record for example.com prevents issuance'),
      { status: 'denied', reason: 'CARefused' },
      /refused: .*caa: CAA record for example\.com prevents issuance/,
    ],
    [
      'badCSR',
      acme('badCSR', 400, 'CSR contains a public key of a known weak type'),
      { status: 'denied', reason: 'CARefused' },
      /badCSR: CSR contains a public key of a known weak type/,
    ],
    [
      'unauthorized',
      acme('unauthorized', 403, 'account is deactivated'),
      { status: 'denied', reason: 'CARefused' },
      /account is deactivated/,
    ],
    [
      'externalAccountRequired (status 0, client-side)',
      acme('externalAccountRequired', 0, 'set acme.externalAccountBinding'),
      { status: 'denied', reason: 'CARefused' },
      /set acme\.externalAccountBinding/,
    ],
    [
      'unsupportedIdentifier',
      acme('unsupportedIdentifier', 400, 'IP identifiers are not supported'),
      { status: 'denied', reason: 'CARefused' },
      /IP identifiers are not supported/,
    ],
    [
      'serverInternal 500',
      acme('serverInternal', 500, 'database unavailable'),
      { status: 'failed', reason: 'CAError', retryAfterMs: 10_000 },
      /^ACME server https:\/\/acme\.example\/dir: newOrder: serverInternal: database unavailable/,
    ],
    [
      'serverInternal 503 with Retry-After',
      acme('serverInternal', 503, 'maintenance', 300_000),
      { status: 'failed', reason: 'CAError', retryAfterMs: 300_000 },
      /maintenance/,
    ],
    [
      'an AcmeError without a type',
      acme(undefined, 201, 'newOrder answered without a Location'),
      { status: 'failed', reason: 'CAError', retryAfterMs: 10_000 },
      /without a Location/,
    ],
    [
      'CaUnreachable',
      new CaUnreachable('ECONNREFUSED'),
      { status: 'failed', reason: 'CAUnreachable', retryAfterMs: 10_000 },
      /^ACME server https:\/\/acme\.example\/dir cannot be reached: ECONNREFUSED$/,
    ],
    [
      'DnsUpdateError',
      new DnsUpdateError('nameserver ns1:53 answered REFUSED'),
      { status: 'failed', reason: 'DNSUpdateFailed', retryAfterMs: 15_000 },
      /^DNS-01: nameserver ns1:53 answered REFUSED$/,
    ],
    [
      'RoutingError',
      new RoutingError('HTTP-01 through an Ingress: create: forbidden'),
      { status: 'failed', reason: 'SolverFailed', retryAfterMs: 15_000 },
      /^HTTP-01 through an Ingress/,
    ],
    [
      'any other error',
      new Error('socket hang up'),
      { status: 'failed', reason: 'CAError', retryAfterMs: 10_000 },
      /^ACME server https:\/\/acme\.example\/dir: socket hang up$/,
    ],
  ])('%s', (_what, e, want, message) => {
    const f = failureOf(e, server);
    expect(f).toMatchObject(want);
    if (want.status === 'denied') expect(f).not.toHaveProperty('retryAfterMs');
    expect(f.message).toMatch(message);
  });
});

describe('invalidOrderMessage', () => {
  const order = (error?: Problem): Order => ({
    status: 'invalid',
    identifiers: [],
    authorizations: [],
    finalize: 'https://acme.example/finalize/1',
    ...(error ? { error } : {}),
  });
  const authz = (
    value: string,
    status: Authorization['status'],
    challenges: Authorization['challenges'],
    wildcard?: boolean,
  ): Authorization => ({
    identifier: { type: 'dns', value },
    status,
    challenges,
    ...(wildcard !== undefined ? { wildcard } : {}),
  });
  const ch = (
    type: string,
    status: 'pending' | 'valid' | 'invalid',
    error?: Problem,
  ): Authorization['challenges'][number] => ({
    type,
    url: `https://acme.example/chall/${type}`,
    status,
    token: 'tok',
    ...(error ? { error } : {}),
  });

  it.each<[string, Order, Authorization[], string[], string[]]>([
    [
      "an http-01 failure in the CA's words",
      order(),
      [
        authz('a.example.com', 'invalid', [
          ch('dns-01', 'pending'),
          ch('http-01', 'invalid', {
            type: `${ERR}connection`,
            detail: '10.0.0.1: Fetching http://a.example.com/.well-known/acme-challenge/tok: Timeout',
          }),
        ]),
      ],
      [
        'http-01 for a.example.com failed: connection: 10.0.0.1: Fetching http://a.example.com/.well-known/acme-challenge/tok: Timeout',
      ],
      ['urn:ietf'],
    ],
    [
      "a wildcard's dns-01 failure names *.",
      order(),
      [
        authz(
          'example.com',
          'invalid',
          [
            ch('dns-01', 'invalid', {
              type: `${ERR}unauthorized`,
              detail: 'Incorrect TXT record "x" found at _acme-challenge.example.com',
            }),
          ],
          true,
        ),
      ],
      ['dns-01 for *.example.com failed: unauthorized: Incorrect TXT record "x" found at _acme-challenge.example.com'],
      [],
    ],
    [
      'valid and pending authorizations are not mentioned',
      order(),
      [
        authz('ok.example.com', 'valid', [ch('http-01', 'valid')]),
        authz('wait.example.com', 'pending', [ch('http-01', 'pending')]),
        authz('bad.example.com', 'invalid', [
          ch('http-01', 'invalid', { type: `${ERR}dns`, detail: 'NXDOMAIN looking up A for bad.example.com' }),
        ]),
      ],
      ['http-01 for bad.example.com failed: dns: NXDOMAIN looking up A for bad.example.com'],
      ['ok.example.com', 'wait.example.com'],
    ],
    [
      'an authorization without a challenge error',
      order(),
      [authz('a.example.com', 'expired', [ch('http-01', 'pending')])],
      ['authorization for a.example.com is expired'],
      [],
    ],
    [
      "several failures, then the order's own error",
      order({ type: `${ERR}serverInternal`, detail: 'order failed' }),
      [
        authz('a.example.com', 'invalid', [ch('http-01', 'invalid', { type: `${ERR}caa`, detail: 'CAA forbids' })]),
        authz('b.example.com', 'deactivated', []),
      ],
      [
        'http-01 for a.example.com failed: caa: CAA forbids',
        'authorization for b.example.com is deactivated',
        'serverInternal: order failed',
      ],
      [],
    ],
    [
      "the order's error with subproblems",
      order({
        type: `${ERR}rejectedIdentifier`,
        detail: 'some names were rejected',
        subproblems: [
          { type: `${ERR}rejectedIdentifier`, detail: 'blocked', identifier: { type: 'dns', value: 'x.example.com' } },
        ],
      }),
      [],
      ['rejectedIdentifier: some names were rejected (x.example.com: rejectedIdentifier blocked)'],
      [],
    ],
    [
      'no reason at all',
      order(),
      [authz('a.example.com', 'valid', [])],
      ['the order is invalid and the CA gave no reason'],
      [],
    ],
  ])('%s', (_what, o, authzs, contains, absent) => {
    const m = invalidOrderMessage(o, authzs);
    for (const c of contains) expect(m).toContain(c);
    for (const a of absent) expect(m).not.toContain(a);
  });

  it('joins the parts with "; " in order', () => {
    const m = invalidOrderMessage(order({ detail: 'last' }), [
      authz('a.example.com', 'invalid', [ch('http-01', 'invalid', { type: `${ERR}connection`, detail: 'refused' })]),
      authz('b.example.com', 'revoked', []),
    ]);
    expect(m).toBe(
      'http-01 for a.example.com failed: connection: refused; authorization for b.example.com is revoked; error: last',
    );
  });
});

describe('progressMessage', () => {
  it.each([
    [
      'https://acme.example/order/1',
      'pending',
      ['a.example.com http-01 pending', 'b.example.com valid'],
      'ACME order https://acme.example/order/1 is pending: a.example.com http-01 pending, b.example.com valid',
    ],
    ['https://acme.example/order/2', 'processing', [], 'ACME order https://acme.example/order/2 is processing'],
    [
      'https://acme.example/order/3',
      'ready',
      ['a.example.com valid'],
      'ACME order https://acme.example/order/3 is ready: a.example.com valid',
    ],
  ])('%s %s', (url, status, parts, want) => {
    expect(progressMessage(url, status, parts)).toBe(want);
  });
});

describe('retryAfterMs', () => {
  const now = Date.parse('2026-01-01T00:00:00Z');
  it.each<[string, string | string[] | undefined, number | undefined]>([
    ['absent', undefined, undefined],
    ['empty', '', undefined],
    ['delta-seconds', '30', 30_000],
    ['zero', '0', 0],
    ['delta-seconds with spaces', ' 120 ', 120_000],
    ['an HTTP-date in the future', 'Thu, 01 Jan 2026 00:01:30 GMT', 90_000],
    ['an HTTP-date in the past is now', 'Wed, 31 Dec 2025 23:00:00 GMT', 0],
    ['an HTTP-date equal to now', 'Thu, 01 Jan 2026 00:00:00 GMT', 0],
    ['garbage', 'soon', undefined],
    ['garbage with a unit', '30s', undefined],
    ['a hex number', '0x10', undefined],
    ['an array: the first value', ['45', '10'], 45_000],
    ['an array with a date first', ['Thu, 01 Jan 2026 00:00:10 GMT', '99'], 10_000],
    ['an empty array', [], undefined],
  ])('%s', (_what, header, want) => {
    expect(retryAfterMs(header, now)).toBe(want);
  });

  it('an HTTP-date is relative to the given now', () => {
    const date = 'Thu, 01 Jan 2026 00:10:00 GMT';
    expect(retryAfterMs(date, now)).toBe(600_000);
    expect(retryAfterMs(date, now + 540_000)).toBe(60_000);
  });
});

describe('describeProblem', () => {
  it.each<[string, Problem, number | undefined, string]>([
    [
      'type and detail',
      { type: `${ERR}rateLimited`, detail: 'too many certificates' },
      undefined,
      'rateLimited: too many certificates',
    ],
    [
      'the HTTP status suffix',
      { type: `${ERR}rateLimited`, detail: 'too many certificates' },
      429,
      'rateLimited: too many certificates [HTTP 429]',
    ],
    [
      'status 0 has no suffix',
      { type: `${ERR}externalAccountRequired`, detail: 'set eab' },
      0,
      'externalAccountRequired: set eab',
    ],
    ['no type', { detail: 'something broke' }, 500, 'error: something broke [HTTP 500]'],
    ['no detail', { type: `${ERR}serverInternal` }, undefined, 'serverInternal: no detail'],
    [
      'a type outside the ACME namespace stays whole',
      { type: 'about:blank', detail: 'x' },
      undefined,
      'about:blank: x',
    ],
    [
      'subproblems by identifier',
      {
        type: `${ERR}rejectedIdentifier`,
        detail: 'some identifiers were rejected',
        subproblems: [
          {
            type: `${ERR}rejectedIdentifier`,
            detail: 'blocked by policy',
            identifier: { type: 'dns', value: 'a.example.com' },
          },
          { type: `${ERR}caa`, detail: 'CAA forbids', identifier: { type: 'dns', value: 'b.example.com' } },
        ],
      },
      400,
      'rejectedIdentifier: some identifiers were rejected (a.example.com: rejectedIdentifier blocked by policy; b.example.com: caa CAA forbids) [HTTP 400]',
    ],
    [
      'a subproblem without an identifier or detail',
      { type: `${ERR}malformed`, detail: 'bad', subproblems: [{ type: `${ERR}malformed` }] },
      undefined,
      'malformed: bad (?: malformed)',
    ],
  ])('%s', (_what, p, status, want) => {
    expect(describeProblem(p, status)).toBe(want);
  });
});

describe('AcmeError', () => {
  it.each<[Problem, string]>([
    [{ type: `${ERR}rateLimited` }, 'rateLimited'],
    [{ type: `${ERR}badNonce` }, 'badNonce'],
    [{ type: 'about:blank' }, 'about:blank'],
    [{}, ''],
  ])('%j has kind %j', (p, kind) => {
    expect(new AcmeError(p, 400, undefined, 'x').kind).toBe(kind);
  });

  it('keeps the problem, status and Retry-After, and says what failed', () => {
    const p: Problem = { type: `${ERR}rateLimited`, detail: 'too many orders' };
    const e = new AcmeError(p, 429, 30_000, 'newOrder');
    expect(e).toBeInstanceOf(Error);
    expect([e.problem, e.status, e.retryAfterMs]).toEqual([p, 429, 30_000]);
    expect(e.message).toBe('newOrder: rateLimited: too many orders [HTTP 429]');
  });
});
