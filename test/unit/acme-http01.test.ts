// The operator's HTTP-01 answerer: which paths it answers, and a real listener on loopback.
import { describe, it, expect, afterEach } from '@jest/globals';
import { Http01Responder } from '../../src/issuers/acme/http01.ts';

const TOKEN = 'LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0';
const KEY_AUTH = `${TOKEN}.9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI`;
const PREFIX = '/.well-known/acme-challenge/';

describe('Http01Responder.answer', () => {
  const r = new Http01Responder();
  r.present(TOKEN, KEY_AUTH);
  r.present('a', 'a.thumb');
  r.present('x'.repeat(256), 'long.thumb');
  r.present('x'.repeat(257), 'too-long.thumb');
  r.present('bad.token', 'dotted.thumb');

  it.each<[string, string, string | undefined]>([
    ['a presented token', `${PREFIX}${TOKEN}`, KEY_AUTH],
    ['a query string is ignored', `${PREFIX}${TOKEN}?x=1`, KEY_AUTH],
    ['a one-character token', `${PREFIX}a`, 'a.thumb'],
    ['a 256-character token', `${PREFIX}${'x'.repeat(256)}`, 'long.thumb'],
    ['a 257-character token', `${PREFIX}${'x'.repeat(257)}`, undefined],
    ['an unknown token', `${PREFIX}unknownToken_123-abc`, undefined],
    ['an empty token', PREFIX, undefined],
    ['a token outside the base64url charset', `${PREFIX}bad.token`, undefined],
    ['a token with a slash', `${PREFIX}${TOKEN}/extra`, undefined],
    ['a percent-encoded token', `${PREFIX}%41`, undefined],
    ['another path', `/${TOKEN}`, undefined],
    ['the prefix without its leading slash', `.well-known/acme-challenge/${TOKEN}`, undefined],
    ['a different case of the prefix', `/.WELL-KNOWN/acme-challenge/${TOKEN}`, undefined],
    ['a path traversal', `/x/..${PREFIX}${TOKEN}`, undefined],
    ['the root', '/', undefined],
    ['empty', '', undefined],
  ])('%s', (_what, path, want) => {
    expect(r.answer(path)).toBe(want);
  });

  it('present, replace and remove', () => {
    const s = new Http01Responder();
    expect(s.size).toBe(0);
    s.present('t1', 't1.a');
    s.present('t2', 't2.a');
    expect(s.size).toBe(2);
    expect(s.answer(`${PREFIX}t1`)).toBe('t1.a');
    s.present('t1', 't1.b');
    expect(s.size).toBe(2);
    expect(s.answer(`${PREFIX}t1`)).toBe('t1.b');
    s.remove('t1');
    expect(s.answer(`${PREFIX}t1`)).toBeUndefined();
    expect(s.answer(`${PREFIX}t2`)).toBe('t2.a');
    s.remove('t1'); // removing twice is fine
    s.remove('t2');
    expect(s.size).toBe(0);
  });
});

describe('Http01Responder.listen', () => {
  let r: Http01Responder | undefined;
  afterEach(async () => {
    await r?.close();
    r = undefined;
  });

  it('serves presented tokens on loopback, 404 for the rest, and closes', async () => {
    r = new Http01Responder();
    expect(r.listening).toBe(false);
    const base = await r.listen('127.0.0.1', 0);
    expect(base).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(r.listening).toBe(true);
    r.present(TOKEN, KEY_AUTH);

    const ok = await fetch(`${base}${PREFIX}${TOKEN}`);
    expect(ok.status).toBe(200);
    expect(ok.headers.get('content-type')).toBe('application/octet-stream');
    expect(await ok.text()).toBe(KEY_AUTH);
    expect(r.served).toBe(1);

    const head = await fetch(`${base}${PREFIX}${TOKEN}`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe(String(Buffer.byteLength(KEY_AUTH)));
    expect(await head.text()).toBe('');

    for (const path of [`${PREFIX}unknown`, `${PREFIX}bad.token`, '/', '/healthz']) {
      const nf = await fetch(`${base}${path}`);
      expect([path, nf.status]).toEqual([path, 404]);
      await nf.text();
    }
    const post = await fetch(`${base}${PREFIX}${TOKEN}`, { method: 'POST', body: 'x' });
    expect(post.status).toBe(404);
    await post.text();

    r.remove(TOKEN);
    const gone = await fetch(`${base}${PREFIX}${TOKEN}`);
    expect(gone.status).toBe(404);
    await gone.text();
    expect(r.served).toBe(2);

    await r.close();
    expect(r.listening).toBe(false);
    await expect(fetch(`${base}${PREFIX}${TOKEN}`)).rejects.toThrow();
    await r.close(); // closing twice is fine
  });

  it('rejects when the port is taken', async () => {
    r = new Http01Responder();
    const base = await r.listen('127.0.0.1', 0);
    const other = new Http01Responder();
    await expect(other.listen('127.0.0.1', Number(new URL(base).port))).rejects.toMatchObject({ code: 'EADDRINUSE' });
    expect(other.listening).toBe(false);
  });
});
