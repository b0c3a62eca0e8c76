// The prober's pure decisions: TLS sniffing of the first bytes, error codes as ProbeErrors, SNI, dialable requests.
import { describe, expect, it } from '@jest/globals';
import {
  chainTruncated,
  classifyError,
  requestProblem,
  servernameFor,
  sniffTls,
} from '../../src/validation/probe-classify.ts';

describe('sniffTls', () => {
  it.each([
    ['empty', [], 'more'],
    ['handshake type only', [22], 'more'],
    ['handshake + major', [22, 3], 'more'],
    ['TLS 1.2 handshake record', [22, 3, 3], 'tls'],
    ['TLS 1.0 record', [22, 3, 1], 'tls'],
    ['alert record', [21, 3, 3], 'tls'],
    ['SSLv3 record', [22, 3, 0], 'tls'],
    ['HTTP answer', [...Buffer.from('HTTP/1.1 400')], 'not_tls'],
    ['SSH banner', [...Buffer.from('SSH-2.0')], 'not_tls'],
    ['zero bytes', [0, 0, 0], 'not_tls'],
    ['handshake with major 2', [22, 2, 0], 'not_tls'],
    ['handshake with minor 9', [22, 3, 9], 'not_tls'],
    ['content type 24 (heartbeat, never first)', [24, 3, 3], 'not_tls'],
  ])('%s', (_n, bytes, want) => {
    expect(sniffTls(Uint8Array.from(bytes))).toBe(want);
  });
});

describe('classifyError', () => {
  it.each([
    ['ECONNREFUSED', 0, 'refused'],
    ['ETIMEDOUT', 0, 'timeout'],
    ['EHOSTUNREACH', 0, 'unreachable'],
    ['ENETUNREACH', 0, 'unreachable'],
    ['ECONNRESET', 0, 'unreachable'],
    ['ECONNRESET', 10, 'tls_error'],
    ['EPIPE', 0, 'unreachable'],
    ['ERR_SSL_WRONG_VERSION_NUMBER', 30, 'not_tls'],
    ['ERR_SSL_PACKET_LENGTH_TOO_LONG', 30, 'not_tls'],
    ['ERR_SSL_EXCESSIVE_MESSAGE_SIZE', 100000, 'over_budget'],
    ['ERR_SSL_SSL/TLS_ALERT_HANDSHAKE_FAILURE', 900, 'tls_error'],
    [undefined, 0, 'tls_error'],
  ] as const)('%s after %i bytes is %s', (code, received, want) => {
    expect(classifyError(code, received).error).toBe(want);
  });
  it('messages name the code, printable and short, whatever the code holds', () => {
    const m = classifyError(`ERR_X\u0000\n${'A'.repeat(500)}`, 5).message;
    expect(m).toMatch(/^handshake failed \(ERR_X\?\?A+\)$/);
    expect(m.length).toBeLessThan(120);
  });
});

describe('servernameFor', () => {
  it.each([
    ['', undefined],
    ['10.0.0.1', undefined],
    ['::1', undefined],
    ['web.default.svc', 'web.default.svc'],
    ['api.example.com.', 'api.example.com.'],
    ['under_score.example', 'under_score.example'],
    ['*.example.com', undefined],
    ['bad name', undefined],
    ['-lead.example', undefined],
    ['a..b', undefined],
    [`${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(63)}`, undefined],
  ])('%j → %j', (sni, want) => {
    expect(servernameFor(sni)).toBe(want);
  });
});

describe('requestProblem', () => {
  it.each([
    [{ ip: '10.1.2.3', port: 443 }, undefined],
    [{ ip: 'fd00::1', port: 8443 }, undefined],
    [{ ip: 'localhost', port: 443 }, 'not an IP literal'],
    [{ ip: 'web.default.svc', port: 443 }, 'not an IP literal'],
    [{ ip: 'fe80::1%eth0', port: 443 }, 'not an IP literal'],
    [{ ip: '10.1.2.3 ', port: 443 }, 'not an IP literal'],
    [{ ip: '', port: 443 }, 'not an IP literal'],
    [{ ip: '10.1.2.3', port: 0 }, 'not a TCP port'],
    [{ ip: '10.1.2.3', port: 65536 }, 'not a TCP port'],
    [{ ip: '10.1.2.3', port: 443.5 }, 'not a TCP port'],
  ])('%j → %j', (req, want) => {
    expect(requestProblem(req)).toBe(want);
  });
});

describe('chainTruncated', () => {
  it.each([
    [1, 0, false],
    [3, 2, false],
    [17, 16, false],
    [100, 16, true],
  ])('presented %i with %i recorded after the leaf: %s', (presented, recorded, want) => {
    expect(chainTruncated({ presented, chain: new Array<unknown>(recorded).fill(0) })).toBe(want);
  });
});
