import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { createPublicKey } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKey, publicKeyFingerprint } from '../../src/pki/keys.ts';
import type { KeySpec } from '../../src/pki/keys.ts';
import { signingAlgorithmFor } from '../../src/pki/webcrypto-signing.ts';
import { buildName } from '../../src/pki/names.ts';
import { buildKeystore, buildTruststore, PKCS12_ITERATIONS } from '../../src/pki/pkcs12.ts';
import { x509 } from '../../src/pki/x509.ts';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'crypto-p12-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function run(cmd: string, args: string[], input?: string): { ok: boolean; out: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', ...(input !== undefined ? { input } : {}) });
  return { ok: r.status === 0, out: `${r.stdout}${r.stderr}` };
}
function file(name: string, data: string | Buffer): string {
  const f = join(dir, name);
  writeFileSync(f, data);
  return f;
}
/** SHA-256 of the SPKI of whatever key or certificate PEM openssl finds. */
function spkiOf(pem: string): string {
  return publicKeyFingerprint(createPublicKey(pem));
}

interface Issued {
  pem: string;
  key: KeyObject;
}
async function issue(key: KeyObject, cn: string, isCA: boolean, issuer?: Issued): Promise<Issued> {
  const own = signingAlgorithmFor(key)!;
  const signerKey = issuer?.key ?? key;
  const signer = signingAlgorithmFor(signerKey)!;
  const name = new x509.Name(buildName({ commonName: cn, organizations: ['Example'] }));
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: Buffer.from(cn).toString('hex').slice(0, 16),
    subject: name,
    issuer: issuer ? new x509.X509Certificate(issuer.pem).subjectName : name,
    notBefore: new Date(Date.now() - 3600_000),
    notAfter: new Date(Date.now() + 30 * 86_400_000),
    publicKey: createPublicKey(key).toCryptoKey(own.importParams, true, ['verify']) as never,
    signingKey: signerKey.toCryptoKey(signer.importParams, false, ['sign']) as never,
    signingAlgorithm: signer.signParams,
    extensions: [
      new x509.BasicConstraintsExtension(isCA, undefined, true),
      new x509.KeyUsagesExtension(
        isCA ? x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign : x509.KeyUsageFlags.digitalSignature,
        true,
      ),
    ],
  });
  return { pem: cert.toString('pem'), key };
}

const CASES: Array<{ name: string; spec: KeySpec }> = [
  { name: 'RSA 2048', spec: { algorithm: 'RSA', size: 2048 } },
  { name: 'ECDSA P-256', spec: { algorithm: 'ECDSA', size: 256 } },
  { name: 'ECDSA P-384', spec: { algorithm: 'ECDSA', size: 384 } },
  { name: 'Ed25519', spec: { algorithm: 'Ed25519' } },
];
const PASSWORD = 'correct horse battery staple';
const timings: string[] = [];
afterAll(() => console.log(`PKCS#12 build times (${PKCS12_ITERATIONS} iterations):\n  ${timings.join('\n  ')}`));

describe.each(CASES)('PKCS#12 with $name', ({ name, spec }) => {
  let root: Issued, inter: Issued, leaf: Issued;
  let ks: string, ts: string;
  beforeAll(async () => {
    root = await issue(await generateKey(spec), 'Root CA', true);
    inter = await issue(await generateKey(spec), 'Issuing CA', true, root);
    leaf = await issue(await generateKey(spec), 'app.example.com', false, inter);
    let t = performance.now();
    ks = file(
      `${name}-ks.p12`,
      buildKeystore({
        key: leaf.key,
        certificatePem: leaf.pem,
        chainPem: [inter.pem, root.pem],
        password: PASSWORD,
        friendlyName: 'my-app',
      }),
    );
    const tks = performance.now() - t;
    t = performance.now();
    ts = file(`${name}-ts.p12`, buildTruststore({ caPems: [root.pem, inter.pem, root.pem], password: PASSWORD }));
    timings.push(`${name}: keystore ${tks.toFixed(1)} ms, truststore ${(performance.now() - t).toFixed(1)} ms`);
  });

  it('openssl pkcs12 (3.0, no -legacy) reads the key and the whole chain', () => {
    const { ok, out } = run('/usr/bin/openssl', [
      'pkcs12',
      '-in',
      ks,
      '-passin',
      `pass:${PASSWORD}`,
      '-info',
      '-nodes',
    ]);
    expect(ok).toBe(true);
    expect(out).toContain(`MAC: sha256, Iteration ${PKCS12_ITERATIONS}`);
    expect(out).toContain(
      `PKCS7 Encrypted data: PBES2, PBKDF2, AES-256-CBC, Iteration ${PKCS12_ITERATIONS}, PRF hmacWithSHA256`,
    );
    expect(out).toContain(
      `Shrouded Keybag: PBES2, PBKDF2, AES-256-CBC, Iteration ${PKCS12_ITERATIONS}, PRF hmacWithSHA256`,
    );
    expect(out.match(/-----BEGIN CERTIFICATE-----/g)).toHaveLength(3);
    expect(out.match(/-----BEGIN PRIVATE KEY-----/g)).toHaveLength(1);
    expect(out).toContain('friendlyName: my-app');
    // the key inside matches the leaf certificate
    const key = run('/usr/bin/openssl', ['pkcs12', '-in', ks, '-passin', `pass:${PASSWORD}`, '-nocerts', '-nodes']).out;
    const cert = run('/usr/bin/openssl', [
      'pkcs12',
      '-in',
      ks,
      '-passin',
      `pass:${PASSWORD}`,
      '-nokeys',
      '-clcerts',
    ]).out;
    expect(spkiOf(key.slice(key.indexOf('-----BEGIN PRIVATE KEY-----')))).toBe(spkiOf(leaf.pem));
    expect(spkiOf(cert.slice(cert.indexOf('-----BEGIN CERTIFICATE-----')))).toBe(spkiOf(leaf.pem));
  });

  it('keytool lists a PrivateKeyEntry with the full chain, and Java can decrypt the key', () => {
    const { ok, out } = run('/usr/bin/keytool', [
      '-list',
      '-v',
      '-keystore',
      ks,
      '-storetype',
      'PKCS12',
      '-storepass',
      PASSWORD,
    ]);
    expect(ok).toBe(true);
    expect(out).toContain('Alias name: my-app');
    expect(out).toContain('Entry type: PrivateKeyEntry');
    expect(out).toContain('Certificate chain length: 3');
    // -importkeystore has to decrypt the private key: proves Java reads the PBES2 key bag for this key type
    const copy = join(dir, `${name}-copy.p12`);
    const imp = run('/usr/bin/keytool', [
      '-importkeystore',
      '-noprompt',
      '-srckeystore',
      ks,
      '-srcstoretype',
      'PKCS12',
      '-srcstorepass',
      PASSWORD,
      '-destkeystore',
      copy,
      '-deststoretype',
      'PKCS12',
      '-deststorepass',
      'another-password',
    ]);
    expect(imp.out).toContain('1 entries successfully imported');
    const key = run('/usr/bin/openssl', [
      'pkcs12',
      '-in',
      copy,
      '-passin',
      'pass:another-password',
      '-nocerts',
      '-nodes',
    ]).out;
    expect(spkiOf(key.slice(key.indexOf('-----BEGIN PRIVATE KEY-----')))).toBe(spkiOf(leaf.pem));
  });

  it('the truststore lists each CA (deduplicated) as trustedCertEntry', () => {
    const { ok, out } = run('/usr/bin/keytool', [
      '-list',
      '-keystore',
      ts,
      '-storetype',
      'PKCS12',
      '-storepass',
      PASSWORD,
    ]);
    expect(ok).toBe(true);
    expect(out).toContain('Your keystore contains 2 entries');
    expect(out).toMatch(/^ca, .*trustedCertEntry/m);
    expect(out).toMatch(/^ca-1, .*trustedCertEntry/m);
    const o = run('/usr/bin/openssl', ['pkcs12', '-in', ts, '-passin', `pass:${PASSWORD}`, '-info', '-nokeys']);
    expect(o.ok).toBe(true);
    expect(o.out.match(/-----BEGIN CERTIFICATE-----/g)).toHaveLength(2);
  });

  it('a wrong password fails', () => {
    const o = run('/usr/bin/openssl', ['pkcs12', '-in', ks, '-passin', 'pass:wrong', '-info', '-nodes']);
    expect(o.ok).toBe(false);
    expect(o.out).toContain('Mac verify error');
    const k = run('/usr/bin/keytool', [
      '-list',
      '-keystore',
      ts,
      '-storetype',
      'PKCS12',
      '-storepass',
      'wrong-password',
    ]);
    expect(k.ok).toBe(false);
    expect(k.out).toContain('password was incorrect');
  });
});

describe('PKCS#12 input checks', () => {
  let a: Issued, b: Issued;
  beforeAll(async () => {
    a = await issue(await generateKey({ algorithm: 'ECDSA' }), 'a', false);
    b = await issue(await generateKey({ algorithm: 'ECDSA' }), 'b', false);
  });
  it('refuses a certificate for another key, public keys, garbage and empty truststores', () => {
    expect(() => buildKeystore({ key: a.key, certificatePem: b.pem, chainPem: [], password: 'x' })).toThrow(
      /does not match the private key/,
    );
    expect(() =>
      buildKeystore({ key: createPublicKey(a.key), certificatePem: a.pem, chainPem: [], password: 'x' }),
    ).toThrow(/needs a private key/);
    expect(() => buildKeystore({ key: a.key, certificatePem: a.pem, chainPem: ['junk'], password: 'x' })).toThrow(
      /chainPem: no CERTIFICATE PEM block/,
    );
    expect(() => buildTruststore({ caPems: [], password: 'x' })).toThrow(/no CA certificate/);
    expect(() =>
      buildTruststore({ caPems: ['-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----'], password: 'x' }),
    ).toThrow(/not a parsable X.509 certificate/);
    expect(() =>
      buildKeystore({ key: a.key, certificatePem: a.pem, chainPem: [], password: 'x', iterations: 0 }),
    ).toThrow(RangeError);
  });
  it('the default alias is "certificate" and an empty password works with openssl', () => {
    const f = file('empty-pw.p12', buildKeystore({ key: a.key, certificatePem: a.pem, chainPem: [], password: '' }));
    const o = run('/usr/bin/openssl', ['pkcs12', '-in', f, '-passin', 'pass:', '-info', '-nodes']);
    expect(o.ok).toBe(true);
    expect(o.out).toContain('friendlyName: certificate');
  });
});
