// The tls-echo test image's modes (test/images/tls-echo/server.ts): what each environment selects, and the
// settings it refuses rather than guessing (a typo would otherwise make a validation test pass for the wrong reason).
import { describe, it, expect } from '@jest/globals';
import { echoOptionsFromEnv, pickHost } from '../images/tls-echo/server.ts';

describe('echoOptionsFromEnv', () => {
  it.each([
    [
      'nothing set: the original behaviour (one pair from /tls on 8443, reloaded every second)',
      {},
      { sources: [{ dir: '/tls' }], port: 8443, reloadMs: 1000, requireClientCert: false, inline: undefined },
    ],
    ['RELOAD_MS=0: never reloads', { RELOAD_MS: '0', TLS_DIR: '/x' }, { sources: [{ dir: '/x' }], reloadMs: 0 }],
    ['REQUIRE_CLIENT_CERT=1: mTLS only', { REQUIRE_CLIENT_CERT: '1' }, { requireClientCert: true }],
    [
      'CLIENT_CA: mTLS only, with that CA',
      { CLIENT_CA: '/ca/ca.crt' },
      { requireClientCert: true, clientCaFile: '/ca/ca.crt' },
    ],
    ['REQUIRE_CLIENT_CERT=0: not mTLS', { REQUIRE_CLIENT_CERT: '0' }, { requireClientCert: false }],
    [
      'SNI_HOSTS + TLS_DIRS pair up, host names lower-cased',
      { SNI_HOSTS: 'A.example.com, b.example.com', TLS_DIRS: '/tls/a,/tls/b' },
      {
        sources: [
          { host: 'a.example.com', dir: '/tls/a' },
          { host: 'b.example.com', dir: '/tls/b' },
        ],
      },
    ],
    [
      'a TLS 1.1-only server',
      { TLS_MIN_VERSION: 'TLSv1.1', TLS_MAX_VERSION: 'TLSv1.1', TLS_CIPHERS: 'DEFAULT@SECLEVEL=0' },
      { minVersion: 'TLSv1.1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' },
    ],
    [
      'an inline pair (a certificate no Secret holds)',
      { TLS_CERT_PEM: 'C', TLS_KEY_PEM: 'K' },
      { inline: { cert: 'C', key: 'K' } },
    ],
  ])('%s', (_name, env, expected) => {
    expect(echoOptionsFromEnv(env)).toMatchObject(expected);
  });

  it.each([
    ['RELOAD_MS negative', { RELOAD_MS: '-1' }, /RELOAD_MS/],
    ['RELOAD_MS not a number', { RELOAD_MS: 'soon' }, /RELOAD_MS/],
    ['PORT out of range', { PORT: '70000' }, /PORT/],
    ['SNI_HOSTS without as many TLS_DIRS', { SNI_HOSTS: 'a,b', TLS_DIRS: '/a' }, /pair up/],
    ['TLS_DIRS without SNI_HOSTS', { TLS_DIRS: '/a' }, /pair up/],
    ['a host twice', { SNI_HOSTS: 'a,A', TLS_DIRS: '/a,/b' }, /twice/],
    ['an unknown TLS version', { TLS_MAX_VERSION: 'SSLv3' }, /TLS_MAX_VERSION=SSLv3/],
    ['a certificate without its key', { TLS_CERT_PEM: 'C' }, /together/],
    ['an inline pair with SNI hosts', { TLS_CERT_PEM: 'C', TLS_KEY_PEM: 'K', SNI_HOSTS: 'a', TLS_DIRS: '/a' }, /SNI/],
  ])('refuses %s', (_name, env, message) => {
    expect(() => echoOptionsFromEnv(env)).toThrow(message);
  });
});

describe('pickHost (the stand-in controller refuses names it does not serve)', () => {
  const hosts = ['a.example.com', 'b.example.com'];
  it.each([
    ['a.example.com', 'a.example.com'],
    ['A.Example.COM', 'a.example.com'],
    ['a.example.com.', 'a.example.com'],
    ['c.example.com', undefined],
    ['', undefined],
    [undefined, undefined],
    ['*.example.com', undefined],
  ])('%p -> %p', (name, expected) => {
    expect(pickHost(hosts, name)).toBe(expected);
  });
});
