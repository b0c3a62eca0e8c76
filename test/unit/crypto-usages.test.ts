import { describe, it, expect } from '@jest/globals';
import { KeyUsage } from '../../src/crds/machine-identity.ts';
import {
  decodeKeyUsage,
  EXT_KEY_USAGE_OIDS,
  extKeyUsageNames,
  extKeyUsageOids,
  KEY_USAGE_BITS,
  keyUsageBits,
  keyUsageNames,
  resolveUsages,
} from '../../src/pki/usages.ts';
import { escapeDnValue, formatIp, ipBytes } from '../../src/pki/names.ts';
import { decodeOid, encodeOid } from '../../src/pki/der.ts';
import { x509 } from '../../src/pki/x509.ts';

describe('usage mapping', () => {
  it('covers every contract name exactly once', () => {
    const names = [...Object.keys(KEY_USAGE_BITS), ...Object.keys(EXT_KEY_USAGE_OIDS)].sort();
    expect(names).toEqual([...KeyUsage.options].sort());
  });
  it.each(Object.entries(KEY_USAGE_BITS))('%s <-> bit %i round-trips and matches a real extension', (name, bit) => {
    expect(keyUsageBits([name])).toBe(bit);
    expect(keyUsageNames(bit)).toEqual([name]);
    const ext = new x509.KeyUsagesExtension(bit as x509.KeyUsageFlags);
    expect(decodeKeyUsage(new Uint8Array(ext.value))).toBe(bit);
  });
  it.each(Object.entries(EXT_KEY_USAGE_OIDS))('%s <-> %s', (name, oid) => {
    expect(extKeyUsageOids([name])).toEqual([oid]);
    expect(extKeyUsageNames([oid])).toEqual([name]);
  });
  it('keeps unknown EKU OIDs dotted and throws on unknown names', () => {
    expect(extKeyUsageNames(['1.2.3.4'])).toEqual(['1.2.3.4']);
    expect(() => keyUsageBits(['nope'])).toThrow(/unknown usage "nope"/);
  });
  it.each([
    [['serverAuth'], 'RSA', false, ['digitalSignature', 'keyEncipherment'], ['serverAuth']],
    [['serverAuth', 'clientAuth'], 'ECDSA', false, ['digitalSignature'], ['serverAuth', 'clientAuth']],
    [['clientAuth'], 'Ed25519', true, ['digitalSignature', 'certSign', 'crlSign'], ['clientAuth']],
    [['keyAgreement'], 'ECDSA', false, ['keyAgreement'], []],
    [['certSign'], 'RSA', true, ['certSign', 'crlSign'], []],
  ])('resolveUsages(%j, %s, isCA=%s)', (usages, alg, isCA, ku, eku) => {
    const r = resolveUsages(usages, { keyAlgorithm: alg, isCA });
    expect(r.keyUsageNames).toEqual(ku);
    expect(extKeyUsageNames(r.extKeyUsage)).toEqual(eku);
  });
});

describe('names helpers', () => {
  it.each([
    ['10.0.0.1', '10.0.0.1'],
    ['::1', '::1'],
    ['::', '::'],
    ['2001:DB8::1', '2001:db8::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['::ffff:192.0.2.1', '::ffff:192.0.2.1'],
    ['fe80::1:2:3:4', 'fe80::1:2:3:4'],
    ['1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8'],
    ['1:0:3:4:5:6:7:8', '1:0:3:4:5:6:7:8'],
  ])('IP %s -> %s', (ip, want) => {
    expect(formatIp(ipBytes(ip))).toBe(want);
  });
  it('escapes RFC 4514 specials', () => {
    expect(escapeDnValue('#a, b+c"d\\e;f<g>h ')).toBe('\\#a\\, b\\+c\\"d\\\\e\\;f\\<g\\>h\\ ');
    expect(escapeDnValue(' x\ny')).toBe('\\ x\\0Ay');
  });
  it('OIDs round-trip', () => {
    for (const oid of [
      '2.5.29.37.0',
      '1.2.840.113549.1.9.21',
      '2.16.840.1.113894.746875.1.1',
      '2.999.1',
      '0.9.2342.19200300.100.1.25',
    ]) {
      const der = encodeOid(oid);
      expect(decodeOid(der.subarray(2))).toBe(oid);
    }
  });
});
