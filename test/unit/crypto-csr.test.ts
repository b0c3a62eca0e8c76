import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import type { KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKey, samePublicKey } from '../../src/pki/keys.ts';
import type { KeySpec } from '../../src/pki/keys.ts';
import { buildCsr, parseCsr } from '../../src/pki/csr.ts';
import type { CsrRequest } from '../../src/pki/csr.ts';
import { x509 } from '../../src/pki/x509.ts';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'crypto-csr-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function openssl(args: string[], pem: string): { ok: boolean; out: string } {
  const f = join(dir, `in-${Math.random().toString(36).slice(2)}.pem`);
  writeFileSync(f, pem);
  const r = spawnSync('/usr/bin/openssl', [...args, '-in', f], { encoding: 'utf8' });
  return { ok: r.status === 0, out: r.stdout + r.stderr };
}

const KEYS: Array<{ name: string; spec: KeySpec; sigAlg: string }> = [
  { name: 'ECDSA P-256', spec: { algorithm: 'ECDSA', size: 256 }, sigAlg: 'ecdsa-with-SHA256' },
  { name: 'ECDSA P-384', spec: { algorithm: 'ECDSA', size: 384 }, sigAlg: 'ecdsa-with-SHA384' },
  { name: 'ECDSA P-521', spec: { algorithm: 'ECDSA', size: 521 }, sigAlg: 'ecdsa-with-SHA512' },
  { name: 'RSA 2048', spec: { algorithm: 'RSA', size: 2048 }, sigAlg: 'sha256WithRSAEncryption' },
  { name: 'Ed25519', spec: { algorithm: 'Ed25519' }, sigAlg: 'ED25519' },
];

const FULL: CsrRequest = {
  subject: {
    commonName: 'api.payments.example.com',
    organizations: ['Example AG', 'Payments'],
    organizationalUnits: ['Platform'],
    countries: ['DE'],
    localities: ['Berlin'],
    provinces: ['Berlin'],
    serialNumber: 'SN-0042',
  },
  dnsNames: ['api.payments.example.com', '*.payments.example.com'],
  ipAddresses: ['10.1.2.3', '2001:db8::1', '::ffff:192.0.2.1'],
  uris: ['spiffe://cluster.local/ns/payments/sa/api'],
  emailAddresses: ['payments@example.com'],
  usages: ['serverAuth', 'clientAuth'],
  isCA: false,
};

const keys = new Map<string, KeyObject>();
beforeAll(async () => {
  for (const k of KEYS) keys.set(k.name, await generateKey(k.spec));
});

describe.each(KEYS)('buildCsr with $name', ({ name, spec, sigAlg }) => {
  it('is accepted by openssl req -verify and shows SANs, usages and basicConstraints', async () => {
    const pem = await buildCsr(keys.get(name)!, FULL);
    expect(pem).toMatch(/^-----BEGIN CERTIFICATE REQUEST-----\n/);
    expect(openssl(['req', '-verify', '-noout'], pem).out).toContain('self-signature verify OK');
    const { out } = openssl(['req', '-noout', '-text'], pem);
    expect(out).toContain(`Signature Algorithm: ${sigAlg}`);
    for (const s of [
      'DNS:api.payments.example.com',
      'DNS:*.payments.example.com',
      'IP Address:10.1.2.3',
      'IP Address:2001:DB8:0:0:0:0:0:1',
      'IP Address:0:0:0:0:0:FFFF:C000:201',
      'URI:spiffe://cluster.local/ns/payments/sa/api',
      'email:payments@example.com',
      'TLS Web Server Authentication, TLS Web Client Authentication',
      'X509v3 Basic Constraints: critical',
      'CA:FALSE',
      'X509v3 Key Usage: critical',
    ]) {
      expect(out).toContain(s);
    }
    expect(out).toContain(spec.algorithm === 'RSA' ? 'Digital Signature, Key Encipherment' : 'Digital Signature\n');
  });

  it('parseCsr round-trips every field and verifies the signature', async () => {
    const key = keys.get(name)!;
    const f = parseCsr(await buildCsr(key, FULL));
    expect(f.subject).toEqual(FULL.subject);
    expect(f.subjectDN).toBe(
      'SERIALNUMBER=SN-0042,CN=api.payments.example.com,OU=Platform,O=Payments,O=Example AG,L=Berlin,ST=Berlin,C=DE',
    );
    expect(f.dnsNames).toEqual(FULL.dnsNames);
    expect(f.ipAddresses).toEqual(['10.1.2.3', '2001:db8::1', '::ffff:192.0.2.1']);
    expect(f.uris).toEqual(FULL.uris);
    expect(f.emailAddresses).toEqual(FULL.emailAddresses);
    expect(f.keyUsage).toEqual(
      spec.algorithm === 'RSA' ? ['digitalSignature', 'keyEncipherment'] : ['digitalSignature'],
    );
    expect(f.extKeyUsage).toEqual(['serverAuth', 'clientAuth']);
    expect(f.isCA).toBe(false);
    expect(f.signatureValid).toBe(true);
    expect(samePublicKey(f.publicKey, key)).toBe(true);
  });

  it('a tampered CSR fails verification', async () => {
    const pem = await buildCsr(keys.get(name)!, {
      subject: { commonName: 'tamper-me' },
      usages: ['clientAuth'],
      isCA: false,
    });
    const der = Buffer.from(pem.replace(/-----[A-Z ]+-----|\s/g, ''), 'base64');
    const at = der.indexOf('tamper-me');
    expect(at).toBeGreaterThan(0);
    der[at + 8] = 'E'.charCodeAt(0);
    const bad = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;
    const f = parseCsr(bad);
    expect(f.subject.commonName).toBe('tamper-mE');
    expect(f.signatureValid).toBe(false);
    // OpenSSL 3.0 exits 0 even when the self-signature fails, so read what it says
    expect(openssl(['req', '-verify', '-noout'], bad).out).toContain('self-signature verify failure');
  });
});

describe('usages in the CSR', () => {
  const cases: Array<{ usages: string[]; isCA: boolean; spec: KeySpec; ku: string[]; eku: string[]; text: string[] }> =
    [
      {
        usages: ['serverAuth'],
        isCA: false,
        spec: { algorithm: 'RSA' },
        ku: ['digitalSignature', 'keyEncipherment'],
        eku: ['serverAuth'],
        text: ['TLS Web Server Authentication'],
      },
      {
        usages: ['clientAuth'],
        isCA: false,
        spec: { algorithm: 'ECDSA' },
        ku: ['digitalSignature'],
        eku: ['clientAuth'],
        text: ['TLS Web Client Authentication'],
      },
      {
        usages: ['digitalSignature', 'keyAgreement', 'any'],
        isCA: false,
        spec: { algorithm: 'ECDSA' },
        ku: ['digitalSignature', 'keyAgreement'],
        eku: ['any'],
        text: ['Key Agreement', 'Any Extended Key Usage'],
      },
      {
        usages: ['contentCommitment', 'dataEncipherment', 'encipherOnly', 'decipherOnly'],
        isCA: false,
        spec: { algorithm: 'RSA' },
        ku: ['contentCommitment', 'dataEncipherment', 'encipherOnly', 'decipherOnly'],
        eku: [],
        text: ['Non Repudiation', 'Data Encipherment', 'Encipher Only', 'Decipher Only'],
      },
      {
        usages: [
          'codeSigning',
          'emailProtection',
          'timeStamping',
          'ocspSigning',
          'ipsecEndSystem',
          'ipsecTunnel',
          'ipsecUser',
        ],
        isCA: false,
        spec: { algorithm: 'Ed25519' },
        ku: ['digitalSignature'],
        eku: [
          'codeSigning',
          'emailProtection',
          'timeStamping',
          'ocspSigning',
          'ipsecEndSystem',
          'ipsecTunnel',
          'ipsecUser',
        ],
        text: [
          'Code Signing',
          'E-mail Protection',
          'Time Stamping',
          'OCSP Signing',
          'IPSec End System',
          'IPSec Tunnel',
          'IPSec User',
        ],
      },
      {
        usages: ['serverAuth'],
        isCA: true,
        spec: { algorithm: 'ECDSA', size: 384 },
        ku: ['digitalSignature', 'certSign', 'crlSign'],
        eku: ['serverAuth'],
        text: ['CA:TRUE', 'Certificate Sign, CRL Sign'],
      },
      {
        usages: ['certSign'],
        isCA: true,
        spec: { algorithm: 'RSA' },
        ku: ['certSign', 'crlSign'],
        eku: [],
        text: ['CA:TRUE'],
      },
    ];
  it.each(cases)('$usages isCA=$isCA ($spec.algorithm)', async ({ usages, isCA, spec, ku, eku, text }) => {
    const pem = await buildCsr(await generateKey(spec), { subject: { commonName: 'u' }, usages, isCA });
    const f = parseCsr(pem);
    expect(f.keyUsage).toEqual(ku);
    expect(f.extKeyUsage).toEqual(eku);
    expect(f.isCA).toBe(isCA);
    const { ok, out } = openssl(['req', '-noout', '-text', '-verify'], pem);
    expect(ok).toBe(true);
    expect(out).toContain('self-signature verify OK');
    for (const t of text) expect(out).toContain(t);
    if (eku.length === 0) expect(out).not.toContain('Extended Key Usage');
  });

  it('rejects unknown usage names', async () => {
    await expect(
      buildCsr(keys.get('Ed25519')!, { usages: ['serverauth'], isCA: false, dnsNames: ['a'] }),
    ).rejects.toThrow(/unknown usage "serverauth"/);
  });
});

describe('subject values', () => {
  const hostile = [
    'a,O=evil',
    'CN=x+O=y',
    'quote"d',
    'back\\slash',
    '#leading hash',
    ' leading space',
    'trailing space ',
    'semi;colon<>',
    'Ünïcødé 日本語 ✓',
    'x'.repeat(64),
    'new\nline',
    'eq=uals',
  ];
  it.each(hostile)('%j stays one attribute in one RDN', async (cn) => {
    const pem = await buildCsr(keys.get('ECDSA P-256')!, {
      subject: { commonName: cn, organizations: ['Org'] },
      usages: ['serverAuth'],
      isCA: false,
    });
    // independent parse with @peculiar/x509: exactly two RDNs, values intact
    const names = new x509.Pkcs10CertificateRequest(pem).subjectName.toJSON();
    expect(names).toEqual([{ O: ['Org'] }, { CN: [cn] }]);
    const f = parseCsr(pem);
    expect(f.subject).toEqual({ commonName: cn, organizations: ['Org'] });
    expect(f.signatureValid).toBe(true);
    // openssl agrees with our RFC 4514 rendering (UTF-8 kept, control characters as \XX)
    const { ok, out } = openssl(['req', '-noout', '-subject', '-nameopt', 'RFC2253,-esc_msb'], pem);
    expect(ok).toBe(true);
    expect(out.trim()).toBe(`subject=${f.subjectDN}`);
  });

  it('encodes countries and serialNumber as PrintableString, the rest as UTF8String', async () => {
    const pem = await buildCsr(keys.get('ECDSA P-256')!, {
      subject: { commonName: 'c', countries: ['DE'], serialNumber: '42', localities: ['Köln'] },
      usages: ['serverAuth'],
      isCA: false,
    });
    const { out } = openssl(['asn1parse'], pem);
    expect(out).toMatch(/countryName\s*\n.*PRINTABLESTRING\s+:DE/);
    expect(out).toMatch(/serialNumber\s*\n.*PRINTABLESTRING\s+:42/);
    expect(out).toMatch(/localityName\s*\n.*UTF8STRING/);
  });

  it('marks the SAN critical when the subject is empty', async () => {
    const pem = await buildCsr(keys.get('Ed25519')!, {
      dnsNames: ['only.example.com'],
      usages: ['serverAuth'],
      isCA: false,
    });
    const f = parseCsr(pem);
    expect(f.subject).toEqual({});
    expect(f.subjectDN).toBe('');
    expect(openssl(['req', '-noout', '-text'], pem).out).toContain('X509v3 Subject Alternative Name: critical');
  });

  it('rejects invalid names with clear errors', async () => {
    const k = keys.get('Ed25519')!;
    await expect(buildCsr(k, { ipAddresses: ['10.0.0.256'], usages: ['serverAuth'], isCA: false })).rejects.toThrow(
      /invalid IP address "10.0.0.256"/,
    );
    await expect(buildCsr(k, { ipAddresses: ['fe80::1%eth0'], usages: ['serverAuth'], isCA: false })).rejects.toThrow(
      /invalid IP address/,
    );
    await expect(buildCsr(k, { dnsNames: ['bücher.example'], usages: ['serverAuth'], isCA: false })).rejects.toThrow(
      /invalid DNS name/,
    );
    await expect(buildCsr(k, { uris: ['spiffe://a b'], usages: ['serverAuth'], isCA: false })).rejects.toThrow(
      /invalid URI/,
    );
  });
});

describe('parseCsr errors', () => {
  it.each([
    ['no PEM', 'hello', /no CERTIFICATE REQUEST PEM block found/],
    ['bad base64', '-----BEGIN CERTIFICATE REQUEST-----\n!!!!\n-----END CERTIFICATE REQUEST-----', /invalid base64/],
    ['not DER', '-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----', /invalid CSR/],
    ['truncated', '-----BEGIN CERTIFICATE REQUEST-----\nMIIB', /truncated PEM/],
  ])('%s', (_n, input, re) => {
    expect(() => parseCsr(input)).toThrow(re);
  });

  it('truncated DER at every length throws a clean Error', async () => {
    const pem = await buildCsr(keys.get('ECDSA P-256')!, FULL);
    const der = Buffer.from(pem.replace(/-----[A-Z ]+-----|\s/g, ''), 'base64');
    for (let n = 0; n < der.length; n += 7) {
      const cut = `-----BEGIN CERTIFICATE REQUEST-----\n${der.subarray(0, n).toString('base64')}\n-----END CERTIFICATE REQUEST-----`;
      let err: unknown;
      try {
        parseCsr(cut);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(Error);
    }
  });
});
