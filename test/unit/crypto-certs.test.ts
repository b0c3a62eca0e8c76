import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { createPublicKey } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { generateKey } from '../../src/pki/keys.ts';
import type { KeySpec } from '../../src/pki/keys.ts';
import { parseCsr } from '../../src/pki/csr.ts';
import { signingAlgorithmFor } from '../../src/pki/webcrypto-signing.ts';
import { buildName } from '../../src/pki/names.ts';
import type { SubjectInput } from '../../src/pki/names.ts';
import {
  certificateMatchesKey,
  fingerprintSHA256,
  parseCertificate,
  splitPem,
  verifySignedBy,
} from '../../src/pki/certs.ts';
import { x509 } from '../../src/pki/x509.ts';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'crypto-certs-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function openssl(args: string[], pem: string): string {
  const f = join(dir, `in-${Math.random().toString(36).slice(2)}.pem`);
  writeFileSync(f, pem);
  const r = spawnSync('/usr/bin/openssl', [...args, '-in', f], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

interface Issued {
  pem: string;
  key: KeyObject;
}
const DAY = 86_400_000;

async function issue(opts: {
  key: KeyObject;
  subject: SubjectInput;
  issuer?: Issued;
  isCA: boolean;
  serial: string;
  sans?: x509.JsonGeneralName[];
  ku: number;
  eku?: string[];
}): Promise<Issued> {
  const own = signingAlgorithmFor(opts.key)!;
  const signerKey = opts.issuer?.key ?? opts.key;
  const signer = signingAlgorithmFor(signerKey)!;
  const pub = createPublicKey(opts.key).toCryptoKey(own.importParams, true, ['verify']) as never;
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(opts.isCA, undefined, true),
    new x509.KeyUsagesExtension(opts.ku, true),
    await x509.SubjectKeyIdentifierExtension.create(pub),
  ];
  if (opts.eku) extensions.push(new x509.ExtendedKeyUsageExtension(opts.eku));
  if (opts.sans) extensions.push(new x509.SubjectAlternativeNameExtension(opts.sans));
  if (opts.issuer)
    extensions.push(await x509.AuthorityKeyIdentifierExtension.create(new x509.X509Certificate(opts.issuer.pem)));
  // Names from structured fields: @peculiar/x509's JSON names re-parse quoted values ('a "x"' became 'x').
  const subject = new x509.Name(buildName(opts.subject));
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: opts.serial,
    subject,
    issuer: opts.issuer ? new x509.X509Certificate(opts.issuer.pem).subjectName : subject,
    notBefore: new Date(Date.now() - DAY),
    notAfter: new Date(Date.now() + 30 * DAY),
    publicKey: pub,
    signingKey: signerKey.toCryptoKey(signer.importParams, false, ['sign']) as never,
    signingAlgorithm: signer.signParams,
    extensions,
  });
  return { pem: cert.toString('pem'), key: opts.key };
}

const KU = x509.KeyUsageFlags;
const HOSTILE_DNS = 'a.example.com, DNS:evil.example.com';
const HOSTILE_URI = 'spiffe://x/y,"z\\",URI:spiffe://evil';
const HOSTILE_EMAIL = 'a"b,c@example.com';

async function chain(spec: KeySpec): Promise<{ root: Issued; inter: Issued; leaf: Issued }> {
  const root = await issue({
    key: await generateKey(spec),
    subject: { organizations: ['Example'], commonName: 'Root CA' },
    isCA: true,
    serial: '01',
    ku: KU.keyCertSign | KU.cRLSign,
  });
  const inter = await issue({
    key: await generateKey(spec),
    subject: { organizations: ['Example'], commonName: 'Issuing CA' },
    issuer: root,
    isCA: true,
    serial: '7f',
    ku: KU.keyCertSign | KU.cRLSign | KU.digitalSignature,
  });
  const leaf = await issue({
    key: await generateKey(spec),
    subject: { countries: ['DE'], organizations: ['Pay, Inc.'], commonName: 'api+1 "x"' },
    issuer: inter,
    isCA: false,
    serial: '008f0102',
    ku: KU.digitalSignature | (spec.algorithm === 'RSA' ? KU.keyEncipherment : 0),
    eku: ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2', '1.2.3.4.5'],
    sans: [
      { type: 'dns', value: 'api.example.com' },
      { type: 'dns', value: HOSTILE_DNS },
      { type: 'ip', value: '192.0.2.7' },
      { type: 'ip', value: '2001:db8:0:0:1::1' },
      { type: 'url', value: HOSTILE_URI },
      { type: 'email', value: HOSTILE_EMAIL },
    ],
  });
  return { root, inter, leaf };
}

const SPECS: Array<{ name: string; spec: KeySpec; sig: string; size?: number }> = [
  { name: 'ECDSA P-256', spec: { algorithm: 'ECDSA', size: 256 }, sig: 'ECDSAWithSHA256', size: 256 },
  { name: 'ECDSA P-384', spec: { algorithm: 'ECDSA', size: 384 }, sig: 'ECDSAWithSHA384', size: 384 },
  { name: 'ECDSA P-521', spec: { algorithm: 'ECDSA', size: 521 }, sig: 'ECDSAWithSHA512', size: 521 },
  { name: 'RSA 2048', spec: { algorithm: 'RSA', size: 2048 }, sig: 'SHA256WithRSA', size: 2048 },
  { name: 'Ed25519', spec: { algorithm: 'Ed25519' }, sig: 'Ed25519' },
];

describe.each(SPECS)('parseCertificate: $name chain', ({ spec, sig, size }) => {
  let c: Awaited<ReturnType<typeof chain>>;
  beforeAll(async () => {
    c = await chain(spec);
  });

  it('leaf facts', () => {
    const f = parseCertificate(c.leaf.pem);
    expect(f).toMatchObject({
      serialNumber: '8f0102',
      subjectDN: 'CN=api\\+1 \\"x\\",O=Pay\\, Inc.,C=DE',
      issuerDN: 'CN=Issuing CA,O=Example',
      commonName: 'api+1 "x"',
      isCA: false,
      keyAlgorithm: spec.algorithm,
      ...(size ? { keySize: size } : {}),
      selfSigned: false,
      signatureAlgorithm: sig,
      dnsNames: ['api.example.com', HOSTILE_DNS],
      ipAddresses: ['192.0.2.7', '2001:db8::1:0:0:1'],
      uris: [HOSTILE_URI],
      emailAddresses: [HOSTILE_EMAIL],
      keyUsage: spec.algorithm === 'RSA' ? ['digitalSignature', 'keyEncipherment'] : ['digitalSignature'],
      extKeyUsage: ['serverAuth', 'clientAuth', '1.2.3.4.5'],
    });
    if (!size) expect(f.keySize).toBeUndefined();
    expect(f.fingerprintSHA256).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    expect(f.notAfter.getTime() - f.notBefore.getTime()).toBe(31 * DAY);
    expect(f.authorityKeyId).toBe(parseCertificate(c.inter.pem).subjectKeyId);
    expect(f.subjectKeyId).toMatch(/^[0-9a-f]{40}$/);
    expect(certificateMatchesKey(c.leaf.pem, c.leaf.key)).toBe(true);
    expect(certificateMatchesKey(c.leaf.pem, c.inter.key)).toBe(false);
  });

  it('agrees with openssl', () => {
    const f = parseCertificate(c.leaf.pem);
    const out = openssl(
      ['x509', '-noout', '-serial', '-fingerprint', '-sha256', '-subject', '-issuer', '-nameopt', 'RFC2253,-esc_msb'],
      c.leaf.pem,
    );
    // openssl prints whole bytes in upper case; ours is the minimal lower-case hex
    const hex = f.serialNumber.length % 2 ? `0${f.serialNumber}` : f.serialNumber;
    expect(out).toContain(`serial=${hex.toUpperCase()}\n`);
    expect(out).toContain(`sha256 Fingerprint=${f.fingerprintSHA256}`);
    expect(out).toContain(`subject=${f.subjectDN}\n`);
    expect(out).toContain(`issuer=${f.issuerDN}\n`);
    expect(fingerprintSHA256(c.leaf.pem)).toBe(f.fingerprintSHA256);
  });

  it('CA facts', () => {
    const root = parseCertificate(c.root.pem);
    expect(root).toMatchObject({
      isCA: true,
      selfSigned: true,
      keyUsage: ['certSign', 'crlSign'],
      extKeyUsage: [],
      serialNumber: '1',
      subjectDN: 'CN=Root CA,O=Example',
    });
    expect(root.authorityKeyId).toBeUndefined();
    const inter = parseCertificate(c.inter.pem);
    expect(inter).toMatchObject({
      isCA: true,
      selfSigned: false,
      keyUsage: ['digitalSignature', 'certSign', 'crlSign'],
      serialNumber: '7f',
    });
    expect(inter.authorityKeyId).toBe(root.subjectKeyId);
  });

  it('splits a 3-certificate bundle with CRLF, other blocks and noise, and verifies the links', () => {
    const keyPem = '-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----\n';
    const bundle = `subject=whatever\r\n${c.leaf.pem.replace(/\n/g, '\r\n')}\r\n${keyPem}  \n${c.inter.pem.replace(/\n/g, '\n\n  ')}garbage\n${c.root.pem}`;
    const pems = splitPem(bundle);
    expect(pems).toHaveLength(3);
    expect(pems.map((p) => fingerprintSHA256(p))).toEqual(
      [c.leaf.pem, c.inter.pem, c.root.pem].map((p) => fingerprintSHA256(p)),
    );
    expect(pems[0]).toMatch(
      /^-----BEGIN CERTIFICATE-----\n([A-Za-z0-9+/=]{64}\n)*[A-Za-z0-9+/=]{1,64}\n-----END CERTIFICATE-----\n$/,
    );
    expect(parseCertificate(bundle).commonName).toBe('api+1 "x"'); // the first block
    expect(verifySignedBy(pems[0]!, pems[1]!)).toBe(true);
    expect(verifySignedBy(pems[1]!, pems[2]!)).toBe(true);
    expect(verifySignedBy(pems[2]!, pems[2]!)).toBe(true);
    expect(verifySignedBy(pems[0]!, pems[2]!)).toBe(false);
    expect(verifySignedBy(pems[1]!, pems[0]!)).toBe(false);
    expect(splitPem(bundle, 'PRIVATE KEY')).toHaveLength(1);
  });
});

describe('serial numbers', () => {
  it.each([
    ['01', '1'],
    ['00ff', 'ff'],
    ['7fffffffffffffffffffffffffffffff', '7fffffffffffffffffffffffffffffff'],
    ['0a0b', 'a0b'],
  ])('%s -> %s', async (hex, want) => {
    const k = await generateKey({ algorithm: 'Ed25519' });
    const c = await issue({ key: k, subject: { commonName: 's' }, isCA: false, serial: hex, ku: KU.digitalSignature });
    expect(parseCertificate(c.pem).serialNumber).toBe(want);
  });
});

describe('splitPem limits and errors', () => {
  let one: string;
  beforeAll(async () => {
    one = (
      await issue({
        key: await generateKey({ algorithm: 'Ed25519' }),
        subject: { commonName: 'x' },
        isCA: false,
        serial: '02',
        ku: KU.digitalSignature,
      })
    ).pem;
  });
  it('accepts 100 blocks and refuses 101', () => {
    expect(splitPem(one.repeat(100))).toHaveLength(100);
    expect(() => splitPem(one.repeat(101))).toThrow(/too many CERTIFICATE PEM blocks \(limit 100\)/);
  });
  it('refuses input over 1 MiB', () => {
    expect(() => splitPem(' '.repeat(1024 * 1024 + 1))).toThrow(/too large/);
  });
  it('returns [] without blocks and throws on broken ones', () => {
    expect(splitPem('')).toEqual([]);
    expect(splitPem('hello world')).toEqual([]);
    expect(() => splitPem(one.slice(0, one.length - 20))).toThrow(/truncated PEM/);
    expect(() => splitPem(one.replace(/\n[A-Za-z]/, '\n*'))).toThrow(/invalid base64/);
    expect(() => splitPem(`${one.slice(0, 100)}\n${one}`)).toThrow(/truncated PEM/);
    expect(() => splitPem(one, 'bad label')).toThrow(/invalid PEM label/);
  });
  it('parseCertificate throws clean errors for garbage and truncation', () => {
    expect(() => parseCertificate('')).toThrow(/no CERTIFICATE PEM block found/);
    expect(() => parseCertificate('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----')).toThrow(
      /invalid certificate/,
    );
    const der = Buffer.from(one.replace(/-----[A-Z ]+-----|\s/g, ''), 'base64');
    const cut = `-----BEGIN CERTIFICATE-----\n${der.subarray(0, der.length - 10).toString('base64')}\n-----END CERTIFICATE-----`;
    expect(() => parseCertificate(cut)).toThrow(/invalid certificate/);
    expect(() => verifySignedBy('x', one)).toThrow(/no CERTIFICATE PEM block/);
  });
});

describe('robustness (fast-check)', () => {
  let der: Buffer;
  let csrDer: Buffer;
  beforeAll(async () => {
    const c = await chain({ algorithm: 'ECDSA' });
    der = Buffer.from(c.leaf.pem.replace(/-----[A-Z ]+-----|\s/g, ''), 'base64');
    const { buildCsr } = await import('../../src/pki/csr.ts');
    const csr = await buildCsr(c.leaf.key, {
      subject: { commonName: 'fuzz' },
      dnsNames: ['a.example'],
      ipAddresses: ['::1'],
      usages: ['serverAuth'],
      isCA: false,
    });
    csrDer = Buffer.from(csr.replace(/-----[A-Z ]+-----|\s/g, ''), 'base64');
  });
  const pem = (b: Uint8Array, label = 'CERTIFICATE'): string =>
    `-----BEGIN ${label}-----\n${Buffer.from(b).toString('base64')}\n-----END ${label}-----\n`;
  const onlyErrors = (fn: () => unknown): void => {
    try {
      fn();
    } catch (e) {
      if (!(e instanceof Error)) throw new Error(`threw a non-Error: ${String(e)}`);
    }
  };

  it('random strings and bytes only ever throw Errors', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 2000 }), (s) => {
        onlyErrors(() => parseCertificate(s));
        onlyErrors(() => splitPem(s));
      }),
      { numRuns: 500 },
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 3000 }), (b) => {
        onlyErrors(() => parseCertificate(pem(b)));
        onlyErrors(() => parseCsr(pem(b, 'CERTIFICATE REQUEST')));
      }),
      { numRuns: 500 },
    );
  });

  it('mutated valid certificates and CSRs only ever throw Errors, quickly', () => {
    const t0 = performance.now();
    const mutation = (len: number) =>
      fc.array(fc.tuple(fc.nat({ max: len - 1 }), fc.nat({ max: 255 })), { minLength: 1, maxLength: 4 });
    fc.assert(
      fc.property(mutation(der.length), fc.nat({ max: der.length }), (muts, cut) => {
        const b = Buffer.from(der);
        for (const [i, v] of muts) b[i] = v;
        onlyErrors(() => parseCertificate(pem(b)));
        onlyErrors(() => parseCertificate(pem(b.subarray(0, cut))));
      }),
      { numRuns: 1000 },
    );
    fc.assert(
      fc.property(mutation(csrDer.length), (muts) => {
        const b = Buffer.from(csrDer);
        for (const [i, v] of muts) b[i] = v;
        onlyErrors(() => parseCsr(pem(b, 'CERTIFICATE REQUEST')));
      }),
      { numRuns: 1000 },
    );
    expect(performance.now() - t0).toBeLessThan(20_000);
  });

  it('parses fast', () => {
    const p = pem(der);
    const n = 2000;
    const t0 = performance.now();
    for (let i = 0; i < n; i++) parseCertificate(p);
    const us = ((performance.now() - t0) / n) * 1000;
    console.log(`parseCertificate (ECDSA leaf, 6 SANs): ${us.toFixed(1)} µs per certificate, n=${n}`);
    expect(us).toBeLessThan(2000);
  });
});
