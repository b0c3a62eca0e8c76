// Table tests for pki's pure helpers: the signature-algorithm table, basicConstraints and other
// extension decoders, fingerprints, PEM questions, keyUsage defaults, name constraints, error codes.
import { describe, it, expect } from '@jest/globals';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import {
  signatureAlgorithmByOid,
  signatureAlgorithmFor,
  signatureAlgorithmForWebKey,
} from '../../src/pki/algorithms.ts';
import { isSingle, single, TAG, tlv } from '../../src/pki/der.ts';
import { errorCode } from '../../src/pki/errors.ts';
import { decodeBasicConstraints, decodeOidList, subjectKeyIdentifierOf } from '../../src/pki/extension-decode.ts';
import { basicConstraintsValue, extKeyUsageValue } from '../../src/pki/extensions.ts';
import { fingerprintOf, fingerprintOfPem, normaliseFingerprint } from '../../src/pki/fingerprint.ts';
import { nameConstraintsValue, type NameConstraintLists } from '../../src/pki/name-constraints.ts';
import { firstPemLabel, hasEncryptedKey, hasPemMarker, pemBlocks, toPem } from '../../src/pki/pem.ts';
import { randomSerial } from '../../src/pki/serial.ts';
import { signatureAlgorithmName } from '../../src/pki/signatures.ts';
import { isUsageName, KEY_USAGE_BITS as KU, keyUsageFor, USAGE_NAMES } from '../../src/pki/usages.ts';
import { signingAlgorithmFor } from '../../src/pki/webcrypto-signing.ts';

const hex = (h: string): Buffer => Buffer.from(h.replace(/\s+/g, ''), 'hex');

describe('the signature-algorithm table', () => {
  it.each([
    ['1.2.840.10045.4.3.2', 'ECDSAWithSHA256', 'sha256', true, '300a06082a8648ce3d040302'],
    ['1.2.840.10045.4.3.3', 'ECDSAWithSHA384', 'sha384', true, '300a06082a8648ce3d040303'],
    ['1.2.840.10045.4.3.4', 'ECDSAWithSHA512', 'sha512', true, '300a06082a8648ce3d040304'],
    ['1.2.840.113549.1.1.11', 'SHA256WithRSA', 'sha256', true, '300d06092a864886f70d01010b0500'],
    ['1.3.101.112', 'Ed25519', null, true, '300506032b6570'],
    ['1.2.840.113549.1.1.5', 'SHA1WithRSA', 'sha1', true, '300d06092a864886f70d0101050500'],
    ['1.2.840.10045.4.1', 'ECDSAWithSHA1', 'sha1', true, '300906072a8648ce3d0401'],
    ['1.3.101.113', 'Ed448', null, true, '300506032b6571'],
    ['1.2.840.113549.1.1.4', 'MD5WithRSA', 'md5', false, '300d06092a864886f70d0101040500'],
  ] as const)('%s is %s (hash %s, verifies %s)', (oid, name, hash, verifies, der) => {
    const row = signatureAlgorithmByOid(oid);
    expect(
      row && { name: row.name, hash: row.hash, verifies: row.verifies, der: row.algorithmDer.toString('hex') },
    ).toEqual({
      name,
      hash,
      verifies,
      der,
    });
    expect(signatureAlgorithmName({ oid })).toBe(name);
  });

  it.each([
    ['RSASSA-PSS without parameters (SHA-1 defaults)', { oid: '1.2.840.113549.1.1.10' }, 'SHA1WithRSAPSS'],
    ['an unknown OID stays dotted', { oid: '1.2.3.4' }, '1.2.3.4'],
  ])('%s', (_what, alg, name) => expect(signatureAlgorithmName(alg)).toBe(name));

  const keys: [string, KeyObject, string | undefined][] = [
    ['P-256', generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey, 'ECDSAWithSHA256'],
    ['P-384', generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).privateKey, 'ECDSAWithSHA384'],
    ['P-521', generateKeyPairSync('ec', { namedCurve: 'secp521r1' }).privateKey, 'ECDSAWithSHA512'],
    ['secp256k1', generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).privateKey, undefined],
    ['RSA', generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey, 'SHA256WithRSA'],
    ['RSA-PSS', generateKeyPairSync('rsa-pss', { modulusLength: 2048 }).privateKey, undefined],
    ['Ed25519', generateKeyPairSync('ed25519').privateKey, 'Ed25519'],
    ['Ed448', generateKeyPairSync('ed448').privateKey, undefined],
  ];
  it.each(keys)('a %s key signs with %s', (_what, key, name) => {
    expect(signatureAlgorithmFor(key)?.name).toBe(name);
    expect(signingAlgorithmFor(key) === undefined).toBe(name === undefined);
  });

  it.each([
    [{ name: 'ECDSA', namedCurve: 'P-256' }, 'ECDSAWithSHA256'],
    [{ name: 'ECDSA', namedCurve: 'P-521' }, 'ECDSAWithSHA512'],
    [{ name: 'ECDSA', namedCurve: 'K-256' }, undefined],
    [{ name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, 'SHA256WithRSA'],
    [{ name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-384' }, undefined],
    [{ name: 'Ed25519' }, 'Ed25519'],
    [{ name: 'RSA-PSS', hash: 'SHA-256' }, undefined],
  ])('a WebCrypto key %j signs with %s', (web, name) => expect(signatureAlgorithmForWebKey(web)?.name).toBe(name));

  it.each([
    ['prime256v1', { name: 'ECDSA', namedCurve: 'P-256' }, { name: 'ECDSA', hash: 'SHA-256' }],
    ['secp384r1', { name: 'ECDSA', namedCurve: 'P-384' }, { name: 'ECDSA', hash: 'SHA-384' }],
  ])('WebCrypto parameters for %s', (curve, importParams, signParams) => {
    const key = generateKeyPairSync('ec', { namedCurve: curve }).privateKey;
    expect(signingAlgorithmFor(key)).toEqual({ importParams, signParams });
  });
  it('WebCrypto parameters for RSA: the hash is the import hash', () => {
    expect(signingAlgorithmFor(keys[4]![1])).toEqual({
      importParams: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
      signParams: { name: 'RSASSA-PKCS1-v1_5' },
    });
  });
});

describe('decodeBasicConstraints', () => {
  it.each([
    ['empty SEQUENCE: not a CA', '3000', { ca: false }],
    ['CA:TRUE', '30030101ff', { ca: true }],
    ['CA:TRUE, pathLen 0', '30060101ff020100', { ca: true, pathLen: 0 }],
    ['CA:TRUE, pathLen 300', '30070101ff0202012c', { ca: true, pathLen: 300 }],
    ['pathLen without cA', '3003020105', { ca: false, pathLen: 5 }],
    [
      'what basicConstraintsValue(true, 0) writes',
      basicConstraintsValue(true, 0).toString('hex'),
      { ca: true, pathLen: 0 },
    ],
    ['what basicConstraintsValue(false) writes', basicConstraintsValue(false).toString('hex'), { ca: false }],
    ['not a SEQUENCE', '0101ff', undefined],
    ['trailing bytes after the SEQUENCE', '300000', undefined],
    ['a two-octet BOOLEAN', '3004010200ff', undefined],
    ['a negative pathLen', '3003020180', undefined],
    ['a 5-octet pathLen', '300702050100000000', undefined],
    ['an element after pathLen', '3006020101020101', undefined],
    ['a non-INTEGER after cA', '30050101ff0400', undefined],
    ['truncated', '3005', undefined],
  ])('%s', (_what, der, want) => expect(decodeBasicConstraints(hex(der))).toEqual(want));
});

describe('other extension decoders', () => {
  it.each([
    [
      'two OIDs',
      extKeyUsageValue(['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']),
      ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2'],
    ],
    ['none', hex('3000'), []],
  ])('decodeOidList: %s', (_what, der, want) => expect(decodeOidList(der)).toEqual(want));
  it('decodeOidList refuses a value that is not one SEQUENCE', () => {
    expect(() => decodeOidList(hex('300000'))).toThrow(/malformed extendedKeyUsage/);
  });
  it.each([
    ['an OCTET STRING', '0403010203', '010203'],
    ['an empty OCTET STRING', '0400', undefined],
    ['trailing bytes', '040101ff', undefined],
    ['another tag', '3000', undefined],
    ['truncated', '0405', undefined],
  ])('subjectKeyIdentifierOf: %s', (_what, der, want) =>
    expect(subjectKeyIdentifierOf(hex(der))?.toString('hex')).toBe(want),
  );
  it.each([
    ['one SEQUENCE', '3000', TAG.SEQUENCE, true],
    ['a SEQUENCE and more', '30000500', TAG.SEQUENCE, false],
    ['another tag', '0500', TAG.SEQUENCE, false],
    ['nothing', '', TAG.SEQUENCE, false],
  ])('isSingle: %s', (_what, der, tag, want) => {
    expect(isSingle(hex(der), tag)).toBe(want);
    if (!want) expect(() => single(hex(der), tag, 'it')).toThrow();
  });
});

describe('fingerprints', () => {
  const digestOfEmpty =
    'E3:B0:C4:42:98:FC:1C:14:9A:FB:F4:C8:99:6F:B9:24:27:AE:41:E4:64:9B:93:4C:A4:95:99:1B:78:52:B8:55';
  it.each([
    ['lower case hex', 'abcd', 'AB:CD'],
    ['colons', 'ab:cd', 'AB:CD'],
    ['spaces and dashes', 'AB cd-EF', 'AB:CD:EF'],
    ['already normal', 'AB:CD', 'AB:CD'],
    ['nothing', '', ''],
  ])('normaliseFingerprint: %s', (_what, input, want) => expect(normaliseFingerprint(input)).toBe(want));
  it('fingerprintOf hashes the DER; fingerprintOfPem the first CERTIFICATE block', () => {
    expect(fingerprintOf({ der: new Uint8Array(0) })).toBe(digestOfEmpty);
    const der = hex('3000');
    const pem = toPem(der, 'CERTIFICATE') + toPem(hex('3003020101'), 'CERTIFICATE');
    expect(fingerprintOfPem(pem)).toBe(fingerprintOf({ der }));
    expect(() => fingerprintOfPem(toPem(der, 'X509 CRL'))).toThrow(/no CERTIFICATE PEM block/);
  });
});

describe('PEM', () => {
  const block = (label: string): string => toPem(hex('3000'), label);
  it.each([
    ['one block', block('CERTIFICATE'), ['CERTIFICATE'], 1],
    ['other labels skipped', block('PRIVATE KEY') + block('CERTIFICATE'), ['CERTIFICATE'], 1],
    ['CRLF line ends', block('CERTIFICATE').replace(/\n/g, '\r\n'), ['CERTIFICATE'], 1],
    ['no block', 'hello', ['CERTIFICATE'], 0],
  ])('pemBlocks: %s', (_what, text, labels, n) => expect(pemBlocks(text, labels)).toHaveLength(n));
  it.each([
    ['a BEGIN without END', '-----BEGIN CERTIFICATE-----\nMAA=\n', /truncated PEM/],
    ['bad base64', '-----BEGIN CERTIFICATE-----\nM!A=\n-----END CERTIFICATE-----\n', /invalid base64/],
    ['too many blocks', block('CERTIFICATE').repeat(3), /too many CERTIFICATE PEM blocks \(limit 2\)/],
  ])('pemBlocks refuses %s', (_what, text, error) => expect(() => pemBlocks(text, ['CERTIFICATE'], 2)).toThrow(error));
  it.each([
    ['the first label', block('EC PARAMETERS') + block('EC PRIVATE KEY'), 'EC PARAMETERS'],
    ['none', 'no pem here', undefined],
  ])('firstPemLabel: %s', (_what, text, want) => expect(firstPemLabel(text)).toBe(want));
  it.each([
    ['PKCS#8 encrypted', block('ENCRYPTED PRIVATE KEY'), true],
    ['legacy OpenSSL header', '-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n', true],
    ['a plain key', block('PRIVATE KEY'), false],
  ])('hasEncryptedKey: %s', (_what, text, want) => expect(hasEncryptedKey(text)).toBe(want));
  it.each([
    ['text', block('CERTIFICATE'), true],
    ['bytes', Buffer.from(block('CERTIFICATE')), true],
    ['DER bytes', hex('3000'), false],
    ['plain text', 'CERTIFICATE', false],
  ])('hasPemMarker: %s', (_what, input, want) => expect(hasPemMarker(input)).toBe(want));
});

describe('usage names and keyUsage defaults', () => {
  it('USAGE_NAMES are exactly the keyUsage and extended key usage names', () => {
    expect(USAGE_NAMES.every(isUsageName)).toBe(true);
    expect(isUsageName('nope')).toBe(false);
  });
  it.each([
    ['named bits are kept', KU.keyAgreement, false, false, KU.keyAgreement],
    ['none named: digitalSignature', 0, false, false, KU.digitalSignature],
    ['none named, RSA: plus keyEncipherment', 0, true, false, KU.digitalSignature | KU.keyEncipherment],
    [
      'a CA adds certSign and crlSign',
      KU.digitalSignature,
      false,
      true,
      KU.digitalSignature | KU.certSign | KU.crlSign,
    ],
    ['RSA key transport is not added when bits are named', KU.digitalSignature, true, false, KU.digitalSignature],
  ])('keyUsageFor: %s', (_what, named, rsaKeyTransport, isCA, want) => {
    expect(keyUsageFor(named, { rsaKeyTransport, isCA })).toBe(want);
  });
});

describe('nameConstraintsValue', () => {
  const none: NameConstraintLists = {
    permittedDNS: [],
    excludedDNS: [],
    permittedIP: [],
    excludedIP: [],
    permittedEmail: [],
    permittedURI: [],
  };
  it.each([
    ['nothing', {}, '3000'],
    ['a permitted DNS subtree', { permittedDNS: ['a.b'] }, '3009' + 'a007' + '3005' + '8203612e62'],
    [
      'an excluded IPv4 /8 (network and mask)',
      { excludedIP: ['10.1.2.3/8'] },
      '300e' + 'a10c' + '300a' + '87080a000000ff000000',
    ],
    ['an excluded IPv6 ::/0', { excludedIP: ['::/0'] }, '3026' + 'a124' + '3022' + '8720' + '00'.repeat(32)],
    [
      'an excluded IPv6 /33',
      { excludedIP: ['2001:db8::/33'] },
      '3026' + 'a124' + '3022' + '8720' + '20010db8' + '00'.repeat(12) + 'ffffffff80' + '00'.repeat(11),
    ],
    [
      'permitted: e-mail, then DNS, then URI',
      { permittedEmail: ['x'], permittedURI: ['u'], permittedDNS: ['d'] },
      '3011' + 'a00f' + '3003' + '810178' + '3003' + '820164' + '3003' + '860175',
    ],
    [
      'permitted and excluded',
      { permittedDNS: ['d'], excludedDNS: ['e'] },
      '300e' + 'a005' + '3003' + '820164' + 'a105' + '3003' + '820165',
    ],
  ])('%s', (_what, lists, want) => {
    expect(nameConstraintsValue({ ...none, ...lists }).toString('hex')).toBe(want);
  });
});

describe('small helpers', () => {
  it.each([
    ['an OpenSSL error', Object.assign(new Error('x'), { code: 'ERR_OSSL_BAD' }), 'ERR_OSSL_BAD'],
    ['a numeric code', Object.assign(new Error('x'), { code: 5 }), undefined],
    ['no code', new Error('x'), undefined],
    ['not an object', 'boom', undefined],
    ['null', null, undefined],
  ])('errorCode: %s', (_what, e, want) => expect(errorCode(e)).toBe(want));
  it('randomSerial is 128 bits of hex, never zero, never repeating', () => {
    const seen = new Set(Array.from({ length: 200 }, () => randomSerial()));
    expect(seen.size).toBe(200);
    for (const s of seen) expect(s).toMatch(/^[0-9a-f]{32}$/);
    expect(seen.has('0'.repeat(32))).toBe(false);
  });
  it('tlv and single agree', () => expect(single(tlv(TAG.SEQUENCE), TAG.SEQUENCE, 'x')).toEqual(hex('3000')));
});
