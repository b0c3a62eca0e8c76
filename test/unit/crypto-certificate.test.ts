// buildCertificate: DER encoding, signature algorithms by key type (checked by openssl), the
// UTCTime/GeneralizedTime switch, serial numbers, and the extension encoders (against @peculiar/x509's).
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { createHash, createPublicKey, generateKeyPairSync, X509Certificate, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';
import {
  buildCertificate,
  encodeTime,
  type BuiltCertificate,
  type CertificateFields,
} from '../../src/pki/certificate.ts';
import {
  authorityKeyIdentifierValue,
  basicConstraintsValue,
  encodeExtension,
  EXTENSION_OIDS as OID,
  extKeyUsageValue,
  keyIdentifier,
  keyUsageValue,
  subjectKeyIdentifierValue,
} from '../../src/pki/extensions.ts';
import { signatureAlgorithmFor } from '../../src/pki/algorithms.ts';
import { subjectKeyIdentifierOf } from '../../src/pki/extension-decode.ts';
import { children, content, readTlv, DerError } from '../../src/pki/der.ts';
import { certificateOutline } from '../../src/pki/outlines.ts';
import { buildName, encodeSan } from '../../src/pki/names.ts';
import { parseCertificate } from '../../src/pki/certs.ts';

const DAY = 86_400_000;
let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'crypto-certificate-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function file(text: string): string {
  const f = join(dir, `${Math.random().toString(36).slice(2)}.pem`);
  writeFileSync(f, text);
  return f;
}

function openssl(args: string[]): { ok: boolean; out: string } {
  const r = spawnSync('/usr/bin/openssl', args, { encoding: 'utf8' });
  return { ok: r.status === 0, out: `${r.stdout}${r.stderr}` };
}

const KEY_TYPES = ['P-256', 'P-384', 'P-521', 'RSA-2048', 'Ed25519'] as const;
type KeyType = (typeof KEY_TYPES)[number];

function newKey(t: KeyType): KeyObject {
  if (t === 'RSA-2048') return generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  if (t === 'Ed25519') return generateKeyPairSync('ed25519').privateKey;
  return generateKeyPairSync('ec', { namedCurve: t }).privateKey;
}

const EXPECTED: Record<KeyType, { name: string; openssl: string }> = {
  'P-256': { name: 'ECDSAWithSHA256', openssl: 'ecdsa-with-SHA256' },
  'P-384': { name: 'ECDSAWithSHA384', openssl: 'ecdsa-with-SHA384' },
  'P-521': { name: 'ECDSAWithSHA512', openssl: 'ecdsa-with-SHA512' },
  'RSA-2048': { name: 'SHA256WithRSA', openssl: 'sha256WithRSAEncryption' },
  Ed25519: { name: 'Ed25519', openssl: 'ED25519' },
};

const spkiOf = (k: KeyObject): Buffer => createPublicKey(k).export({ type: 'spki', format: 'der' });
let serialCounter = 1;
const nextSerial = (): Buffer => Buffer.from([0x40, serialCounter++ & 0xff, (serialCounter >> 8) & 0xff, 7]);

function fields(over: Partial<CertificateFields> & Pick<CertificateFields, 'spkiDer'>): CertificateFields {
  const now = Math.floor(Date.now() / 1000) * 1000;
  const name = Buffer.from(buildName({ commonName: 'test' }));
  return {
    serialNumber: nextSerial(),
    issuerNameDer: name,
    subjectNameDer: name,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + DAY),
    extensions: [],
    ...over,
  };
}

interface Ca {
  key: KeyObject;
  cert: BuiltCertificate;
  name: Buffer;
  ski: Buffer;
}

function makeCa(t: KeyType): Ca {
  const key = newKey(t);
  const spki = spkiOf(key);
  const name = Buffer.from(buildName({ organizations: ['Example'], commonName: `${t} CA` }));
  const ski = keyIdentifier(spki);
  const cert = buildCertificate(
    fields({
      issuerNameDer: name,
      subjectNameDer: name,
      spkiDer: spki,
      extensions: [
        encodeExtension(OID.basicConstraints, true, basicConstraintsValue(true)),
        encodeExtension(OID.keyUsage, true, keyUsageValue(0x61)),
        encodeExtension(OID.subjectKeyIdentifier, false, subjectKeyIdentifierValue(ski)),
      ],
    }),
    { key },
  );
  return { key, cert, name, ski };
}

function makeLeaf(ca: Ca, leafKey: KeyObject, over: Partial<CertificateFields> = {}): BuiltCertificate {
  const spki = spkiOf(leafKey);
  return buildCertificate(
    fields({
      issuerNameDer: ca.name,
      subjectNameDer: Buffer.from(buildName({ commonName: 'svc.ns.svc' })),
      spkiDer: spki,
      extensions: [
        encodeExtension(OID.basicConstraints, true, basicConstraintsValue(false)),
        encodeExtension(OID.keyUsage, true, keyUsageValue(0x01)),
        encodeExtension(OID.extKeyUsage, false, extKeyUsageValue(['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2'])),
        encodeExtension(
          OID.subjectAltName,
          false,
          encodeSan({
            dnsNames: ['svc.ns.svc'],
            ipAddresses: ['10.0.0.1', '2001:db8::1'],
            uris: ['spiffe://cluster.local/ns/ns/sa/svc'],
          })!,
        ),
        encodeExtension(OID.subjectKeyIdentifier, false, subjectKeyIdentifierValue(keyIdentifier(spki))),
        encodeExtension(OID.authorityKeyIdentifier, false, authorityKeyIdentifierValue(ca.ski)),
      ],
      ...over,
    }),
    { key: ca.key },
  );
}

describe('buildCertificate with openssl', () => {
  const leafKeys = new Map<KeyType, KeyObject>();
  beforeAll(() => {
    for (const t of KEY_TYPES) leafKeys.set(t, newKey(t));
  });

  it.each(KEY_TYPES)(
    'a %s CA signs leaves of every key type; openssl x509 -text and openssl verify -CAfile accept them',
    (caType) => {
      const ca = makeCa(caType);
      const caFile = file(ca.cert.pem);
      expect(openssl(['verify', '-CAfile', caFile, caFile]).out).toMatch(/: OK/);
      const leafFiles: string[] = [];
      for (const leafType of KEY_TYPES) {
        const leaf = makeLeaf(ca, leafKeys.get(leafType)!);
        const f = file(leaf.pem);
        leafFiles.push(f);
        const text = openssl(['x509', '-noout', '-text', '-in', f]);
        expect(text.ok).toBe(true);
        expect(text.out).toContain(`Signature Algorithm: ${EXPECTED[caType].openssl}`);
        expect(text.out).toContain(
          'DNS:svc.ns.svc, IP Address:10.0.0.1, IP Address:2001:DB8:0:0:0:0:0:1, URI:spiffe://cluster.local/ns/ns/sa/svc',
        );
        expect(text.out).toContain('Version: 3 (0x2)');
        const node = new X509Certificate(leaf.der);
        expect(node.verify(createPublicKey(ca.key))).toBe(true);
        expect(node.checkIssued(new X509Certificate(ca.cert.der))).toBe(true);
        const facts = parseCertificate(leaf.pem);
        expect(facts.signatureAlgorithm).toBe(EXPECTED[caType].name);
        expect(facts.authorityKeyId).toBe(ca.ski.toString('hex'));
        expect(facts.subjectKeyId).toBe(keyIdentifier(spkiOf(leafKeys.get(leafType)!)).toString('hex'));
        expect(facts.issuerDN).toBe(`CN=${caType} CA,O=Example`);
        expect(facts.ipAddresses).toEqual(['10.0.0.1', '2001:db8::1']);
      }
      const v = openssl(['verify', '-CAfile', caFile, ...leafFiles]);
      expect(v.ok).toBe(true);
      expect(v.out.match(/: OK/g)).toHaveLength(KEY_TYPES.length);
    },
  );

  it('ECDSA signatures are DER Ecdsa-Sig-Value and the algorithm identifiers match RFC 5758 / 4055 / 8410', () => {
    const der = (t: KeyType): Buffer => makeCa(t).cert.der;
    for (const t of ['P-256', 'P-384', 'P-521'] as const) {
      const d = der(t);
      const [, alg, sig] = children(d, readTlv(d, 0));
      expect(content(d, alg!).toString('hex')).toBe(
        { 'P-256': '06082a8648ce3d040302', 'P-384': '06082a8648ce3d040303', 'P-521': '06082a8648ce3d040304' }[t],
      );
      const bits = content(d, sig!);
      expect(bits[0]).toBe(0); // no unused bits
      expect(bits[1]).toBe(0x30); // SEQUENCE { r INTEGER, s INTEGER }
      expect(children(bits, readTlv(bits, 1)).map((x) => x.tag)).toEqual([0x02, 0x02]);
    }
    const rsa = der('RSA-2048');
    expect(content(rsa, children(rsa, readTlv(rsa, 0))[1]!).toString('hex')).toBe('06092a864886f70d01010b0500');
    const ed = der('Ed25519');
    expect(content(ed, children(ed, readTlv(ed, 0))[1]!).toString('hex')).toBe('06032b6570');
  });

  it('switches from UTCTime to GeneralizedTime in 2050 (RFC 5280 4.1.2.5)', () => {
    const ca = makeCa('P-256');
    const notBefore = new Date('2049-12-31T23:59:59.999Z'); // sub-second part is dropped
    const notAfter = new Date('2050-01-01T00:00:00Z');
    const leaf = makeLeaf(ca, newKey('P-256'), { notBefore, notAfter });
    const tbs = children(leaf.der, readTlv(leaf.der, 0))[0]!;
    const validity = children(leaf.der, tbs)[4]!;
    const [nb, na] = children(leaf.der, validity);
    expect([nb!.tag, content(leaf.der, nb!).toString('latin1')]).toEqual([0x17, '491231235959Z']);
    expect([na!.tag, content(leaf.der, na!).toString('latin1')]).toEqual([0x18, '20500101000000Z']);
    const node = new X509Certificate(leaf.der);
    expect(node.validFromDate.toISOString()).toBe('2049-12-31T23:59:59.000Z');
    expect(node.validToDate.toISOString()).toBe('2050-01-01T00:00:00.000Z');
    const f = file(leaf.pem);
    expect(openssl(['x509', '-noout', '-enddate', '-in', f]).out).toContain('notAfter=Jan  1 00:00:00 2050 GMT');
    // the CA itself is valid until tomorrow: check the leaf's signature and dates at a time inside both
    const attime = String(Math.floor(Date.now() / 1000));
    const early = openssl(['verify', '-attime', attime, '-CAfile', file(ca.cert.pem), f]);
    expect(early.out).toMatch(/not yet valid/);
    expect(openssl(['verify', '-no_check_time', '-CAfile', file(ca.cert.pem), f]).out).toMatch(/: OK/);
  });

  it('encodes times before 1950 and from 2050 as GeneralizedTime, 1950 to 2049 as UTCTime', () => {
    expect(encodeTime(new Date('1949-12-31T23:59:59Z')).toString('latin1')).toBe('\x18\x0f19491231235959Z');
    expect(encodeTime(new Date('1950-01-01T00:00:00Z')).toString('latin1')).toBe('\x17\x0d500101000000Z');
    expect(encodeTime(new Date('2049-12-31T23:59:59Z')).toString('latin1')).toBe('\x17\x0d491231235959Z');
    expect(encodeTime(new Date('2050-01-01T00:00:00Z')).toString('latin1')).toBe('\x18\x0f20500101000000Z');
    expect(encodeTime(new Date('9999-12-31T23:59:59Z')).toString('latin1')).toBe('\x18\x0f99991231235959Z');
    expect(() => encodeTime(new Date(NaN))).toThrow(DerError);
  });
});

describe('buildCertificate inputs', () => {
  const key = newKey('P-256');
  const spkiDer = spkiOf(key);
  const serialOf = (c: BuiltCertificate): Buffer => certificateOutline(c.der).serial;

  it('encodes serials as minimal positive INTEGERs', () => {
    expect(
      serialOf(
        buildCertificate(fields({ spkiDer, serialNumber: Buffer.from([0x00, 0x00, 0x7f, 0x01]) }), { key }),
      ).toString('hex'),
    ).toBe('7f01');
    expect(
      serialOf(buildCertificate(fields({ spkiDer, serialNumber: Buffer.from([0x80, 0x01]) }), { key })).toString('hex'),
    ).toBe('008001');
    const twenty = Buffer.alloc(20, 0x7f);
    expect(serialOf(buildCertificate(fields({ spkiDer, serialNumber: twenty }), { key }))).toEqual(twenty);
    expect(() => buildCertificate(fields({ spkiDer, serialNumber: Buffer.alloc(20, 0xff) }), { key })).toThrow(
      /20 octets/,
    );
    expect(() => buildCertificate(fields({ spkiDer, serialNumber: Buffer.alloc(21, 0x01) }), { key })).toThrow(
      /20 octets/,
    );
    expect(() => buildCertificate(fields({ spkiDer, serialNumber: Buffer.alloc(4) }), { key })).toThrow(/positive/);
    expect(() => buildCertificate(fields({ spkiDer, serialNumber: Buffer.alloc(0) }), { key })).toThrow(/positive/);
  });

  it('copies names, key and extensions byte for byte and omits [3] without extensions', () => {
    const subject = Buffer.from(
      buildName({ countries: ['DE'], organizations: ['Example, Inc. +"quoted"'], commonName: 'api' }),
    );
    const issuer = Buffer.from(buildName({ commonName: 'Issuer' }));
    const san = encodeExtension(
      OID.subjectAltName,
      true,
      encodeSan({ dnsNames: ['a.example'], ipAddresses: ['::ffff:1.2.3.4'] })!,
    );
    const c = buildCertificate(fields({ spkiDer, subjectNameDer: subject, issuerNameDer: issuer, extensions: [san] }), {
      key,
    });
    const o = certificateOutline(c.der);
    expect(o.subject).toEqual(subject);
    expect(o.issuer).toEqual(issuer);
    expect(o.spki).toEqual(spkiDer);
    expect(o.extensions.get(OID.subjectAltName)).toEqual({
      critical: true,
      value: encodeSan({ dnsNames: ['a.example'], ipAddresses: ['::ffff:1.2.3.4'] }),
    });
    expect(parseCertificate(c.pem).ipAddresses).toEqual(['::ffff:1.2.3.4']);
    const bare = buildCertificate(fields({ spkiDer }), { key });
    const tbs = children(bare.der, readTlv(bare.der, 0))[0]!;
    expect(children(bare.der, tbs).map((t) => t.tag)).toEqual([0xa0, 0x02, 0x30, 0x30, 0x30, 0x30, 0x30]);
    expect(new X509Certificate(bare.der).verify(createPublicKey(key))).toBe(true);
  });

  it('refuses malformed input and keys that cannot sign certificates', () => {
    expect(() => buildCertificate(fields({ spkiDer, subjectNameDer: Buffer.from([0x31, 0x00]) }), { key })).toThrow(
      /subject Name/,
    );
    expect(() =>
      buildCertificate(fields({ spkiDer, issuerNameDer: Buffer.from([0x30, 0x00, 0x00]) }), { key }),
    ).toThrow(/issuer Name/);
    expect(() => buildCertificate(fields({ spkiDer: Buffer.from([0x30, 0x05, 0x00]) }), { key })).toThrow(DerError);
    const ext = encodeExtension(OID.keyUsage, true, keyUsageValue(1));
    expect(() => buildCertificate(fields({ spkiDer, extensions: [ext, ext] }), { key })).toThrow(/duplicate extension/);
    expect(() =>
      buildCertificate(fields({ spkiDer, notBefore: new Date(Date.now() + DAY), notAfter: new Date() }), { key }),
    ).toThrow(/notAfter/);
    expect(() => buildCertificate(fields({ spkiDer }), { key: createPublicKey(key) })).toThrow(/private key/);
    for (const k of [
      generateKeyPairSync('rsa-pss', { modulusLength: 2048 }).privateKey,
      generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).privateKey,
      generateKeyPairSync('ed448').privateKey,
    ]) {
      expect(signatureAlgorithmFor(k)).toBeUndefined();
      expect(() => buildCertificate(fields({ spkiDer }), { key: k })).toThrow(/cannot sign certificates/);
    }
  });
});

describe('extension encoders', () => {
  const raw = (e: x509.Extension): string => Buffer.from(e.rawData).toString('hex');

  it('keyUsage matches @peculiar/x509 for every combination of bits', () => {
    for (let bits = 1; bits <= 0x1ff; bits++) {
      for (const critical of [true, false]) {
        expect(encodeExtension(OID.keyUsage, critical, keyUsageValue(bits)).toString('hex')).toBe(
          raw(new x509.KeyUsagesExtension(bits, critical)),
        );
      }
    }
    expect(() => keyUsageValue(0)).toThrow(DerError);
    expect(() => keyUsageValue(0x200)).toThrow(DerError);
  });

  it('basicConstraints, extKeyUsage, SKI and AKI match @peculiar/x509', () => {
    expect(encodeExtension(OID.basicConstraints, true, basicConstraintsValue(false)).toString('hex')).toBe(
      raw(new x509.BasicConstraintsExtension(false, undefined, true)),
    );
    expect(encodeExtension(OID.basicConstraints, true, basicConstraintsValue(true)).toString('hex')).toBe(
      raw(new x509.BasicConstraintsExtension(true, undefined, true)),
    );
    for (const n of [0, 1, 127, 128, 255, 256, 65_535, 0x7fffffff]) {
      expect(encodeExtension(OID.basicConstraints, true, basicConstraintsValue(true, n)).toString('hex')).toBe(
        raw(new x509.BasicConstraintsExtension(true, n, true)),
      );
    }
    const ekus = ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2', '2.5.29.37.0'];
    expect(encodeExtension(OID.extKeyUsage, false, extKeyUsageValue(ekus)).toString('hex')).toBe(
      raw(new x509.ExtendedKeyUsageExtension(ekus)),
    );
    const id = createHash('sha1').update('x').digest();
    expect(encodeExtension(OID.subjectKeyIdentifier, false, subjectKeyIdentifierValue(id)).toString('hex')).toBe(
      raw(new x509.SubjectKeyIdentifierExtension(id.toString('hex'))),
    );
    expect(encodeExtension(OID.authorityKeyIdentifier, false, authorityKeyIdentifierValue(id)).toString('hex')).toBe(
      raw(new x509.AuthorityKeyIdentifierExtension(id.toString('hex'))),
    );
    expect(subjectKeyIdentifierOf(subjectKeyIdentifierValue(id))).toEqual(id);
    expect(subjectKeyIdentifierOf(Buffer.from([0x04, 0x00]))).toBeUndefined();
    expect(subjectKeyIdentifierOf(Buffer.from([0x30, 0x00]))).toBeUndefined();
  });

  it('keyIdentifier is SHA-1 of the subjectPublicKey, as @peculiar/x509 computes it', async () => {
    for (const t of KEY_TYPES) {
      const spki = spkiOf(newKey(t));
      const ext = await x509.SubjectKeyIdentifierExtension.create(new x509.PublicKey(spki));
      expect(keyIdentifier(spki).toString('hex')).toBe(ext.keyId);
    }
  });
});
