// Edge cases found while testing the ACME modules, fixed and kept fixed.
import { describe, it, expect } from '@jest/globals';
import { encodeName, parseMessage, queryMessage, readName } from '../../src/issuers/acme/dns-wire.ts';
import { parseNameserver } from '../../src/issuers/acme/rfc2136.ts';
import { retryAfterMs } from '../../src/issuers/acme/protocol.ts';
import { chooseSolver, specificity } from '../../src/issuers/acme/solvers.ts';

describe('ACME edge cases', () => {
  it('reads names of 64 and more labels (only pointer chains count as loops)', () => {
    const name = `${Array(100).fill('a').join('.')}.example`;
    expect(readName(encodeName(name), 0).name).toBe(name);
    expect(() => parseMessage(queryMessage(name, 16))).not.toThrow();
  });

  it('refuses empty labels instead of dropping them', () => {
    expect(() => encodeName('a..b')).toThrow(/empty DNS label/);
    expect(encodeName('.')).toEqual(Buffer.from([0]));
  });

  it.each(['1.5', '-1', 'soon 5', '+5', 'abc', '30s', ''])('Retry-After %j is not a date: undefined, never 0', (v) => {
    expect(retryAfterMs(v, Date.parse('2026-01-01T00:00:00Z'))).toBeUndefined();
  });

  it('Retry-After in the three HTTP-date forms', () => {
    const now = Date.parse('1994-11-06T08:49:00Z');
    expect(retryAfterMs('Sun, 06 Nov 1994 08:49:37 GMT', now)).toBe(37_000);
    expect(retryAfterMs('Sunday, 06-Nov-94 08:49:37 GMT', now)).toBe(37_000);
    expect(retryAfterMs('Sun Nov  6 08:49:37 1994', now)).toBeGreaterThanOrEqual(0);
  });

  it.each(['ns1:', 'ns1:abc', 'ns1:0', 'ns1:70000', '[fd00::1]:0', ':53'])(
    'nameserver %j is refused with a clear message',
    (s) => {
      expect(() => parseNameserver(s)).toThrow(/port from 1 to 65535/);
    },
  );

  it('an empty selector is no selector, for IP addresses too', () => {
    expect(chooseSolver({ type: 'ip', value: '10.0.0.1' }, false, [{ selector: {}, http01: {} }])).toMatchObject({
      type: 'http-01',
      index: 0,
    });
  });

  it('dnsNames select the names of the certificate: *.example.com the wildcard, example.com the base name only', () => {
    expect(specificity({ selector: { dnsNames: ['example.com'] }, dns01: {} }, 'example.com', true)).toBe(-1);
    expect(specificity({ selector: { dnsNames: ['*.example.com'] }, dns01: {} }, 'example.com', true)).toBe(1000);
    expect(specificity({ selector: { dnsNames: ['*.example.com'] }, dns01: {} }, 'example.com', false)).toBe(-1);
  });
});
