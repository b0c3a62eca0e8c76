// The remote backends' pure decisions: what a CFSSL, step-ca or Kubernetes CSR answer means for the
// identity or the binding, how an RFC 2136 refusal is explained, and the ACME account's health.
import { describe, it, expect } from '@jest/globals';
import { infoHealth, signAnswer as cfsslAnswer, signPayload, type CfsslResponse } from '../../src/issuers/cfssl.ts';
import { findJwkProvisioner, messageOf, signAnswer as stepAnswer } from '../../src/issuers/step-ca.ts';
import { createRefused, csrRefusal } from '../../src/issuers/kubernetes-csr.ts';
import { apiMessage } from '../../src/issuers/acme/ingress.ts';
import { updateFailure, updateHint } from '../../src/issuers/acme/rfc2136.ts';
import { TYPE, type ParsedMessage } from '../../src/issuers/acme/dns-wire.ts';
import { unhealthy } from '../../src/issuers/acme/account.ts';
import { AccountKeyError } from '../../src/issuers/acme/account-key.ts';
import { AcmeError } from '../../src/issuers/acme/protocol.ts';
import { problemOf } from '../../src/issuers/acme/client.ts';
import { newAttempt, parseSavedAttempt, restoreAttempt, stateOf } from '../../src/issuers/acme/attempt.ts';
import { CaUnreachable } from '../../src/issuers/https-json.ts';
import { IssuerReason } from '../../src/crds/reasons.ts';

const PEM = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----';

describe('cfssl', () => {
  it.each<[string, number, CfsslResponse | undefined, object]>([
    [
      'a CA certificate',
      200,
      { success: true, result: { certificate: PEM } },
      { ready: true, reason: 'Ready', caBundlePem: `${PEM}\n`, message: 'cfssl at https://c, profile server' },
    ],
    [
      'HTTP 500',
      500,
      { success: false, errors: [{ code: 1, message: 'boom' }] },
      { ready: false, reason: 'CAUnavailable', message: 'cfssl at https://c answered HTTP 500: boom (code 1)' },
    ],
    [
      'success without a certificate',
      200,
      { success: true, result: {} },
      { ready: false, reason: 'CAUnavailable', message: 'cfssl at https://c answered HTTP 200: no error text' },
    ],
    ['no JSON at all', 200, undefined, { ready: false, reason: 'CAUnavailable' }],
  ])('/info: %s', (_what, status, body, want) => {
    expect(infoHealth({ url: 'https://c', profile: 'server' }, status, body)).toMatchObject(want);
  });

  it.each<[string, number, CfsslResponse | undefined, object]>([
    ['a certificate', 200, { success: true, result: { certificate: PEM } }, { pem: PEM }],
    [
      'a server error: failed (retried)',
      502,
      undefined,
      { status: 'failed', reason: 'CAError', message: 'server https://c answered HTTP 502: no error text' },
    ],
    [
      'a refusal: denied',
      400,
      { success: false, errors: [{ message: 'bad CSR' }] },
      { status: 'denied', reason: 'CARefused', message: 'the CA refused the request (HTTP 400): bad CSR' },
    ],
    ['success without a certificate: denied', 200, { success: true }, { status: 'denied', reason: 'CARefused' }],
  ])('/sign: %s', (_what, status, body, want) => {
    expect(cfsslAnswer('https://c', status, body)).toEqual(expect.objectContaining(want));
  });

  it('signs plainly without an auth key, and with an HMAC token over the request with one', () => {
    const notAfter = new Date('2030-01-02T03:04:05.678Z');
    expect(signPayload('CSR', 'p', notAfter, undefined)).toEqual({
      path: '/api/v1/cfssl/sign',
      payload: { certificate_request: 'CSR', profile: 'p', not_after: '2030-01-02T03:04:05Z' },
    });
    const auth = signPayload('CSR', 'p', notAfter, Buffer.from('00ff', 'hex'));
    expect(auth.path).toBe('/api/v1/cfssl/authsign');
    const { request, token } = auth.payload as { request: string; token: string };
    expect(JSON.parse(Buffer.from(request, 'base64').toString('utf8'))).toEqual({
      certificate_request: 'CSR',
      profile: 'p',
      not_after: '2030-01-02T03:04:05Z',
    });
    expect(token).toMatch(/^[A-Za-z0-9+/]{43}=$/);
  });
});

describe('step-ca', () => {
  const res = (status: number, body: unknown) => ({ status, body, headers: {} });
  it.each<[string, unknown, string]>([
    ['its JSON message', { message: 'provisioner not found' }, 'provisioner not found'],
    ['an empty message: the status', { message: '' }, 'HTTP 400'],
    ['a text body', 'x'.repeat(400), 'x'.repeat(300)],
    ['nothing', undefined, 'HTTP 400'],
  ])('messageOf: %s', (_what, body, want) => {
    expect(messageOf(res(400, body))).toBe(want);
  });

  it.each<[string, unknown, object]>([
    [
      'the JWK provisioner of that name',
      {
        provisioners: [
          { type: 'OIDC', name: 'mio' },
          { type: 'JWK', name: 'mio', encryptedKey: 'e', key: { kid: 'k' } },
        ],
      },
      { found: { type: 'JWK', name: 'mio', encryptedKey: 'e', key: { kid: 'k' } } },
    ],
    [
      'not on this page: the next cursor',
      { provisioners: [{ type: 'JWK', name: 'other' }], nextCursor: 'c2' },
      { nextCursor: 'c2' },
    ],
    [
      'malformed entries are skipped',
      { provisioners: [null, 7, { type: 'JWK' }, { type: 'JWK', name: 'mio' }] },
      { found: { type: 'JWK', name: 'mio' } },
    ],
    ['not a page', 'oops', {}],
  ])('findJwkProvisioner: %s', (_what, body, want) => {
    expect(findJwkProvisioner(body, 'mio')).toEqual(want);
  });

  it.each<[string, number, unknown, object]>([
    [
      'the certificate and its chain without the leaf',
      201,
      { crt: 'LEAF', certChain: ['LEAF', 'INT'] },
      { crt: 'LEAF\n', chain: ['INT\n'] },
    ],
    ['the certificate and ca', 201, { crt: 'LEAF\n', ca: 'CA' }, { crt: 'LEAF\n', chain: ['CA\n'] }],
    [
      'a server error: failed',
      500,
      { message: 'db down' },
      { status: 'failed', reason: 'CAError', message: 'server https://s answered HTTP 500: db down' },
    ],
    [
      'a refusal: denied',
      403,
      { message: 'not allowed' },
      { status: 'denied', reason: 'CARefused', message: 'the CA refused the request (HTTP 403): not allowed' },
    ],
    ['no certificate: denied', 201, {}, { status: 'denied', reason: 'CARefused' }],
  ])('signAnswer: %s', (_what, status, body, want) => {
    expect(stepAnswer('https://s', res(status, body))).toEqual(expect.objectContaining(want));
  });
});

describe('kubernetes CSR', () => {
  const csr = (conditions: { type: string; status: string; reason?: string; message?: string }[]) => ({
    status: { conditions },
  });
  it.each<[string, ReturnType<typeof csr> | undefined, object | undefined]>([
    ['no conditions: no refusal', csr([]), undefined],
    ['not created yet', undefined, undefined],
    ['approved: no refusal', csr([{ type: 'Approved', status: 'True' }]), undefined],
    [
      "denied with the approver's reason, shown as it is",
      csr([{ type: 'Denied', status: 'True', reason: 'AutoDenied', message: 'no' }]),
      { status: 'denied', reason: 'AutoDenied', message: 'CertificateSigningRequest n was denied: no' },
    ],
    ['denied without a reason', csr([{ type: 'Denied', status: 'True' }]), { status: 'denied', reason: 'Denied' }],
    [
      'failed by the signer',
      csr([{ type: 'Failed', status: 'True', reason: 'SignerValidationFailure', message: 'm' }]),
      {
        status: 'denied',
        reason: 'SignerValidationFailure',
        message: 'signer s failed CertificateSigningRequest n: m',
      },
    ],
    ['failed without a reason', csr([{ type: 'Failed', status: 'True' }]), { status: 'denied', reason: 'Failed' }],
    ['a Denied condition that is not True', csr([{ type: 'Denied', status: 'False' }]), undefined],
  ])('csrRefusal: %s', (_what, c, want) => {
    const r = csrRefusal('n', 's', c);
    if (want === undefined) expect(r).toBeUndefined();
    else expect(r).toMatchObject(want);
  });

  it.each<[number, string, object]>([
    [
      403,
      '{"message":"forbidden: cannot create"}',
      {
        status: 'denied',
        reason: 'Forbidden',
        message: 'the API server refused CertificateSigningRequest n: forbidden: cannot create',
      },
    ],
    [
      422,
      '{"message":"spec.usages invalid"}',
      {
        status: 'denied',
        reason: 'Invalid',
        message: 'the API server refused CertificateSigningRequest n: spec.usages invalid',
      },
    ],
    [
      500,
      'oops',
      { status: 'failed', reason: 'APIError', message: 'creating CertificateSigningRequest n: HTTP 500 oops' },
    ],
    [503, '{}', { status: 'failed', reason: 'APIError', message: 'creating CertificateSigningRequest n: HTTP 503 ' }],
  ])('createRefused: HTTP %i', (status, text, want) => {
    expect(createRefused('n', status, text)).toEqual(want);
  });
});

describe('ACME helpers', () => {
  it.each<[string, unknown, string]>([
    [
      'a JSON Status body',
      { body: '{"message":"ingresses is forbidden"}', message: 'HTTP 403' },
      'ingresses is forbidden',
    ],
    ['a text body', { body: 'gateway timeout', message: 'HTTP 504' }, 'gateway timeout'],
    ['a parsed body', { body: { message: 'parsed' }, message: 'HTTP 422' }, 'parsed'],
    ['no body', new Error('socket hang up'), 'socket hang up'],
  ])('apiMessage: %s', (_what, e, want) => {
    expect(apiMessage(e)).toBe(want);
  });

  const tsigRdata = (err: number): Buffer => {
    const u16 = (n: number): Buffer => Buffer.from([n >> 8, n & 0xff]);
    return Buffer.concat([Buffer.from([0]), Buffer.alloc(8), u16(0), u16(0), u16(err), u16(0)]);
  };
  const answer = (rcode: number, tsigErr?: number): ParsedMessage => ({
    id: 1,
    rcode,
    sections: [
      [],
      [],
      tsigErr === undefined ? [] : [{ name: 'k', type: TYPE.TSIG, cls: 255, ttl: 0, rdata: tsigRdata(tsigErr) }],
    ],
  });
  it.each<[string, ParsedMessage, string, string]>([
    ['REFUSED', answer(5), 'REFUSED', ': the zone does not allow updates with this key (allow-update / update-policy)'],
    ['NOTAUTH', answer(9), 'NOTAUTH', ': not authoritative, or the TSIG key was refused'],
    ['NOTAUTH/BADKEY', answer(9, 17), 'NOTAUTH/BADKEY', ': the nameserver does not know this TSIG key name/algorithm'],
    ['NOTAUTH/BADSIG', answer(9, 16), 'NOTAUTH/BADSIG', ': wrong TSIG secret'],
    ['NOTAUTH/BADTIME', answer(9, 18), 'NOTAUTH/BADTIME', ': clocks differ by more than 5 minutes'],
    [
      "a TSIG error without a hint falls back to the RCODE's",
      answer(5, 22),
      'REFUSED/BADTRUNC',
      ': the zone does not allow updates with this key (allow-update / update-policy)',
    ],
    ['SERVFAIL', answer(2), 'SERVFAIL', ''],
    ['an unknown RCODE', answer(12), '12', ''],
  ])('an RFC 2136 refusal: %s', (_what, res, failure, hint) => {
    expect(updateFailure(res)).toBe(failure);
    expect(updateHint(res)).toBe(hint);
  });

  it.each<[string, unknown, string]>([
    ['a key problem', new AccountKeyError('Secret ns/acct has no tls.key'), IssuerReason.AccountKeyInvalid],
    ['no answer', new CaUnreachable('ECONNREFUSED'), IssuerReason.CAUnreachable],
    [
      'a refused account',
      new AcmeError({ type: 'urn:ietf:params:acme:error:unauthorized' }, 403, undefined, 'newAccount'),
      IssuerReason.AccountRegistrationFailed,
    ],
    ['anything else', new Error('odd'), IssuerReason.CAError],
  ])("the account's health: %s", (_what, e, reason) => {
    expect(unhealthy(e, 'https://acme')).toMatchObject({ ready: false, reason });
  });

  it.each<[string, string, object]>([
    [
      'a problem document',
      '{"type":"urn:ietf:params:acme:error:badNonce","detail":"stale"}',
      { type: 'urn:ietf:params:acme:error:badNonce', detail: 'stale' },
    ],
    ['text', 'Bad Gateway', { detail: 'Bad Gateway' }],
    ['nothing', '', {}],
  ])('problemOf: %s', (_what, text, want) => {
    expect(problemOf(text)).toEqual(want);
  });

  it("saves an attempt's order and DNS records, and restores them (cleanups only for configured solvers)", () => {
    const a = newAttempt('https://acme/order/1', 0, 'dns:a.example.com');
    a.presented.set('https://acme/authz/1', {
      cleanup: async () => undefined,
      dns: { solver: 0, zone: 'example.com', name: '_acme-challenge.a.example.com', value: 'v' },
    });
    a.presented.set('https://acme/authz/2', { cleanup: async () => undefined });
    const saved = parseSavedAttempt(stateOf(a));
    expect(saved).toEqual({
      order: 'https://acme/order/1',
      names: 'dns:a.example.com',
      dns: [
        {
          authz: 'https://acme/authz/1',
          solver: 0,
          zone: 'example.com',
          name: '_acme-challenge.a.example.com',
          value: 'v',
        },
      ],
    });
    const restored = restoreAttempt(saved as NonNullable<typeof saved>, 5, new Map([[0, { nameserver: 'ns1' }]]));
    expect([...restored.presented.keys()]).toEqual(['https://acme/authz/1']);
    expect(restored).toMatchObject({ orderUrl: 'https://acme/order/1', created: 5, names: 'dns:a.example.com' });
    expect(restoreAttempt(saved as NonNullable<typeof saved>, 5, new Map()).presented.size).toBe(0);
  });

  it.each<[string, string | undefined]>([
    ['no state', undefined],
    ['not JSON', '{'],
    ['no order URL', '{"names":"x"}'],
    ['an order that is not a URL', '{"order":"file:/etc/passwd"}'],
  ])('ignores saved state with %s', (_what, state) => {
    expect(parseSavedAttempt(state)).toBeUndefined();
  });
});
