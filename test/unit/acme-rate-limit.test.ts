// Retry-After and 429 (a fake ACME server on loopback: Pebble has no rate limits to trigger): a rate
// limit stops every request to that account until Retry-After has passed, and says so in the CA's words.
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AcmeIssuer } from '../../src/issuers/acme/issuer.ts';
import { generateKey, encodePrivateKey } from '../../src/pki/keys.ts';
import { buildCsr } from '../../src/pki/csr.ts';

let server: Server;
let base = '';
const hits: string[] = [];
let orderAnswer: { status: number; headers: Record<string, string>; body: unknown } = {
  status: 429,
  headers: { 'Retry-After': '30' },
  body: {
    type: 'urn:ietf:params:acme:error:rateLimited',
    detail: 'too many new orders recently: see https://letsencrypt.org/docs/rate-limits/',
    status: 429,
  },
};

beforeAll(async () => {
  let n = 0;
  server = createServer((req, res) => {
    hits.push(`${req.method} ${req.url}`);
    req.resume();
    req.on('end', () => {
      const nonce = { 'Replay-Nonce': `n${++n}` };
      if (req.url === '/dir') {
        res
          .writeHead(200, { 'Content-Type': 'application/json' })
          .end(JSON.stringify({ newNonce: `${base}/nonce`, newAccount: `${base}/acct`, newOrder: `${base}/order` }));
        return;
      }
      if (req.url === '/nonce') {
        res.writeHead(200, nonce).end();
        return;
      }
      if (req.url === '/acct') {
        res
          .writeHead(201, { ...nonce, Location: `${base}/acct/1`, 'Content-Type': 'application/json' })
          .end(JSON.stringify({ status: 'valid' }));
        return;
      }
      if (req.url === '/order') {
        res
          .writeHead(orderAnswer.status, {
            ...nonce,
            ...orderAnswer.headers,
            'Content-Type': 'application/problem+json',
          })
          .end(JSON.stringify(orderAnswer.body));
        return;
      }
      res.writeHead(404, nonce).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((r) => server.close(r));
});

async function request(): Promise<Parameters<AcmeIssuer['sign']>[0]> {
  const key = await generateKey({ algorithm: 'ECDSA' });
  return {
    csrPem: await buildCsr(key, { dnsNames: ['www.example.com'], usages: ['serverAuth'], isCA: false }),
    requestId: 'r-1',
    identity: { namespace: 'n', name: 'www', uid: 'u' },
    durationMs: 3600_000,
    isCA: false,
    usages: ['serverAuth'],
  };
}

describe('ACME rate limits', () => {
  it("a 429 fails with RateLimited, Retry-After and the CA's text; nothing more is sent until Retry-After has passed", async () => {
    const issuer = new AcmeIssuer({
      directoryURL: `${base}/dir`,
      accountKeyPem: encodePrivateKey(await generateKey({ algorithm: 'ECDSA' }), 'PKCS8'),
      accountKeySecret: 'acct',
      operatorNamespace: 'ns',
    });
    const req = await request();
    const first = await issuer.sign(req);
    expect(first).toMatchObject({ status: 'failed', reason: 'RateLimited', retryAfterMs: 30_000 });
    expect((first as { message: string }).message).toContain('rateLimited: too many new orders recently');
    const sent = hits.length;
    const second = await issuer.sign(req);
    expect(second).toMatchObject({ status: 'failed', reason: 'RateLimited' });
    expect((second as { retryAfterMs: number }).retryAfterMs).toBeGreaterThan(25_000);
    expect((second as { message: string }).message).toMatch(/nothing is sent before \d{4}-\d\d-\d\dT/);
    expect(hits.length).toBe(sent);
  });

  it('a 429 without Retry-After waits a minute; an HTTP-date Retry-After is honoured', async () => {
    orderAnswer = { ...orderAnswer, headers: {} };
    const issuer = new AcmeIssuer({
      directoryURL: `${base}/dir`,
      accountKeyPem: encodePrivateKey(await generateKey({ algorithm: 'ECDSA' }), 'PKCS8'),
      accountKeySecret: 'a',
      operatorNamespace: 'ns',
    });
    expect(await issuer.sign(await request())).toMatchObject({
      status: 'failed',
      reason: 'RateLimited',
      retryAfterMs: 60_000,
    });
    orderAnswer = { ...orderAnswer, headers: { 'Retry-After': new Date(Date.now() + 120_000).toUTCString() } };
    const other = new AcmeIssuer({
      directoryURL: `${base}/dir`,
      accountKeyPem: encodePrivateKey(await generateKey({ algorithm: 'ECDSA' }), 'PKCS8'),
      accountKeySecret: 'b',
      operatorNamespace: 'ns',
    });
    const r = (await other.sign(await request())) as { retryAfterMs: number };
    expect(r.retryAfterMs).toBeGreaterThan(100_000);
    expect(r.retryAfterMs).toBeLessThanOrEqual(120_000);
  });

  it("a server error is retried (failed, not denied) with the CA's text", async () => {
    orderAnswer = {
      status: 500,
      headers: {},
      body: { type: 'urn:ietf:params:acme:error:serverInternal', detail: 'database unavailable', status: 500 },
    };
    const issuer = new AcmeIssuer({
      directoryURL: `${base}/dir`,
      accountKeyPem: encodePrivateKey(await generateKey({ algorithm: 'ECDSA' }), 'PKCS8'),
      accountKeySecret: 'c',
      operatorNamespace: 'ns',
    });
    const r = await issuer.sign(await request());
    expect(r).toMatchObject({ status: 'failed', reason: 'CAError' });
    expect((r as { message: string }).message).toContain('serverInternal: database unavailable [HTTP 500]');
  });
});
