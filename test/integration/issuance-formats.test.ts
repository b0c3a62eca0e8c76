// Acceptance (issuance #1): every key type and encoding, every output format (PKCS#12 opened by openssl
// and keytool), every SAN kind; openssl verifies each leaf against the Secret's CA bundle.
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { testNamespace } from '../harness/cluster.ts';
import { IssuanceEnv, decode, decodeBytes, openssl, verifySecret, GRANT_EXAMPLE_COM } from '../harness/identities.ts';

const env = new IssuanceEnv();
let ns = '';
let ca = '';
let selfSigned = '';

beforeAll(async () => {
  await env.start();
  ns = await testNamespace('formats');
  ca = env.uniqueName('formats-ca');
  selfSigned = env.uniqueName('formats-ss');
  await env.createBinding(ca, {
    ca: {
      secretRef: { name: ca },
      generate: { commonName: 'Formats Test CA', privateKey: { algorithm: 'ECDSA', size: 384 } },
    },
    // what the names test asks beyond the namespace's own names, and a CA certificate, granted by the security team
    grants: [
      {
        dnsNames: [...GRANT_EXAMPLE_COM.dnsNames, 'payments-api.payments.svc'],
        ipAddresses: ['10.0.0.0/8', '2001:db8::/32'],
        uris: ['spiffe://cluster.local/ns/payments/sa/api'],
        emailAddresses: ['*@example.com'],
        allowCA: true,
      },
    ],
  });
  await env.createBinding(selfSigned, { selfSigned: {}, grants: [GRANT_EXAMPLE_COM] });
  await env.bindingReady(ca);
  await env.core.createNamespacedSecret({
    namespace: ns,
    body: { metadata: { name: 'p12-password' }, stringData: { password: 'changeit-123' } },
  });
});
afterAll(() => env.stop());

const keyCases: [string, string, number | undefined, string, RegExp][] = [
  ['ecdsa-256-pkcs8', 'ECDSA', 256, 'PKCS8', /BEGIN PRIVATE KEY/],
  ['ecdsa-384-sec1', 'ECDSA', 384, 'SEC1', /BEGIN EC PRIVATE KEY/],
  ['ecdsa-521-pkcs8', 'ECDSA', 521, 'PKCS8', /BEGIN PRIVATE KEY/],
  ['ecdsa-256-sec1', 'ECDSA', 256, 'SEC1', /BEGIN EC PRIVATE KEY/],
  ['rsa-2048-pkcs1', 'RSA', 2048, 'PKCS1', /BEGIN RSA PRIVATE KEY/],
  ['rsa-3072-pkcs8', 'RSA', 3072, 'PKCS8', /BEGIN PRIVATE KEY/],
  ['rsa-4096-pkcs1', 'RSA', 4096, 'PKCS1', /BEGIN RSA PRIVATE KEY/],
  ['ed25519-pkcs8', 'Ed25519', undefined, 'PKCS8', /BEGIN PRIVATE KEY/],
];

describe('issuance: key types and encodings', () => {
  it.each(keyCases.map(([name, algorithm, size, encoding, header]) => ({ name, algorithm, size, encoding, header })))(
    '$name',
    async ({ name, algorithm, size, encoding, header }) => {
      await env.createIdentity(ns, name, {
        secretName: `${name}-tls`,
        authorityRef: { name: ca },
        dnsNames: [`${name}.example.com`],
        privateKey: { algorithm, ...(size ? { size } : {}), encoding },
      });
      const mi = await env.ready(ns, name, 1, 60_000);
      const s = await env.secret(ns, `${name}-tls`);
      expect(s.type).toBe('kubernetes.io/tls');
      expect(decode(s, 'tls.key')).toMatch(header);
      verifySecret(s);
      const text = openssl(['x509', '-in', { file: decode(s, 'tls.crt') }, '-noout', '-text']);
      if (algorithm === 'RSA') expect(text).toContain(`(${size} bit)`);
      if (algorithm === 'ECDSA') expect(text).toContain(`(${size} bit)`);
      if (algorithm === 'Ed25519') expect(text).toContain('ED25519');
      expect(mi.status?.serialNumber).toBeTruthy();
      expect(mi.status?.revision).toBe(1);
    },
  );
});

describe('issuance: names and the Secret contract', () => {
  it('puts every SAN kind and the subject in the certificate, and the contract labels/annotations on the Secret', async () => {
    await env.createIdentity(ns, 'sans', {
      secretName: 'sans-tls',
      authorityRef: { name: ca },
      owner: { team: 'payments', contact: 'oncall@example.com' },
      subject: {
        commonName: 'payments-api',
        organizations: ['Example'],
        organizationalUnits: ['Platform'],
        countries: ['DE'],
      },
      dnsNames: ['payments-api.payments.svc', 'payments.example.com'],
      ipAddresses: ['10.0.0.10', '2001:db8::1'],
      uris: ['spiffe://cluster.local/ns/payments/sa/api'],
      emailAddresses: ['payments@example.com'],
      usages: ['serverAuth', 'clientAuth'],
      secretTemplate: { labels: { app: 'payments' }, annotations: { 'example.com/note': 'hi' } },
    });
    const mi = await env.ready(ns, 'sans');
    const s = await env.secret(ns, 'sans-tls');
    verifySecret(s);
    const text = openssl(['x509', '-in', { file: decode(s, 'tls.crt') }, '-noout', '-text']);
    for (const want of [
      'DNS:payments-api.payments.svc',
      'DNS:payments.example.com',
      'IP Address:10.0.0.10',
      'IP Address:2001:DB8:0:0:0:0:0:1',
      'URI:spiffe://cluster.local/ns/payments/sa/api',
      'email:payments@example.com',
      'TLS Web Server Authentication',
      'TLS Web Client Authentication',
      'CN = payments-api',
      'O = Example',
      'OU = Platform',
      'C = DE',
    ])
      expect(text).toContain(want);
    expect(s.metadata?.labels).toMatchObject({ 'machineidentity.io/identity': 'sans', app: 'payments' });
    expect(s.metadata?.annotations).toMatchObject({
      'machineidentity.io/serial': mi.status?.serialNumber,
      'machineidentity.io/owner-team': 'payments',
      'example.com/note': 'hi',
    });
    expect(s.metadata?.annotations?.['machineidentity.io/issuer']).toContain('Formats Test CA');
    expect(Date.parse(s.metadata!.annotations!['machineidentity.io/not-after']!)).toBe(
      Date.parse(mi.status!.notAfter as string),
    );
    expect(s.metadata?.ownerReferences?.[0]).toMatchObject({ kind: 'MachineIdentity', name: 'sans', controller: true });
    for (const k of [
      'notBefore',
      'notAfter',
      'renewalTime',
      'fingerprintSHA256',
      'issuer',
      'authorityFingerprintSHA256',
    ])
      expect(mi.status?.[k]).toBeTruthy();
  });

  it('issues a CA certificate when isCA is set', async () => {
    await env.createIdentity(ns, 'sub-ca', {
      secretName: 'sub-ca-tls',
      authorityRef: { name: ca },
      subject: { commonName: 'Sub CA' },
      isCA: true,
      usages: ['certSign', 'crlSign'],
    });
    await env.ready(ns, 'sub-ca');
    const s = await env.secret(ns, 'sub-ca-tls');
    verifySecret(s);
    const ext = openssl([
      'x509',
      '-in',
      { file: decode(s, 'tls.crt') },
      '-noout',
      '-ext',
      'basicConstraints,nameConstraints',
    ]);
    // a granted CA signs leaves only, and only for what the namespace may hold
    expect(ext).toContain('CA:TRUE, pathlen:0');
    expect(ext).toContain(`DNS:${ns}.svc`);
    expect(ext).toContain('DNS:example.com');
    expect(ext).toContain('IP:10.0.0.0/255.0.0.0'); // the granted range only
    expect(ext).toContain('URI:invalid'); // URI constraints cannot name SPIFFE paths: no URI at all
  });

  it('self-signed identities verify against their own ca.crt', async () => {
    await env.bindingReady(selfSigned);
    await env.createIdentity(ns, 'self', {
      secretName: 'self-tls',
      authorityRef: { name: selfSigned },
      dnsNames: ['self.example.com'],
    });
    await env.ready(ns, 'self');
    const s = await env.secret(ns, 'self-tls');
    verifySecret(s);
    expect(decode(s, 'ca.crt')).toBe(decode(s, 'tls.crt'));
  });
});

describe('issuance: PKCS#12 keystores', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mio-p12-'));
  it.each([
    ['p12-rsa', 'RSA', 2048],
    ['p12-ec', 'ECDSA', 256],
  ] as const)('%s opens with openssl and keytool', async (name, algorithm, size) => {
    await env.createIdentity(ns, name, {
      secretName: `${name}-tls`,
      authorityRef: { name: ca },
      dnsNames: [`${name}.example.com`],
      privateKey: { algorithm, size },
      keystores: { pkcs12: { passwordSecretRef: { name: 'p12-password', key: 'password' } } },
    });
    await env.ready(ns, name);
    const s = await env.secret(ns, `${name}-tls`);
    const ks = join(dir, `${name}.p12`),
      ts = join(dir, `${name}-trust.p12`);
    writeFileSync(ks, decodeBytes(s, 'keystore.p12'));
    writeFileSync(ts, decodeBytes(s, 'truststore.p12'));
    const dump = execFileSync('openssl', ['pkcs12', '-in', ks, '-passin', 'pass:changeit-123', '-nodes'], {
      encoding: 'utf8',
    });
    expect(dump).toContain('BEGIN PRIVATE KEY');
    expect(dump).toContain('BEGIN CERTIFICATE');
    const list = execFileSync(
      'keytool',
      ['-list', '-v', '-keystore', ks, '-storetype', 'PKCS12', '-storepass', 'changeit-123'],
      { encoding: 'utf8' },
    );
    expect(list).toContain('PrivateKeyEntry');
    const trust = execFileSync(
      'keytool',
      ['-list', '-keystore', ts, '-storetype', 'PKCS12', '-storepass', 'changeit-123'],
      { encoding: 'utf8' },
    );
    expect(trust).toContain('trustedCertEntry');
    expect(() =>
      execFileSync('openssl', ['pkcs12', '-in', ks, '-passin', 'pass:wrong', '-nodes'], { stdio: 'pipe' }),
    ).toThrow();
  });
});
