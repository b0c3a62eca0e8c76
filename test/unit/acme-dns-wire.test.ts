// DNS wire format for RFC 2136 updates (names, TXT RDATA, UPDATE header, TSIG, parsing) and the
// nameserver address parser. The TSIG MAC is recomputed here from RFC 8945 §4.3.3 with node:crypto.
import { describe, it, expect } from '@jest/globals';
import { createHmac } from 'node:crypto';
import {
  CLASS,
  OPCODE_UPDATE,
  TYPE,
  encodeName,
  parseMessage,
  queryMessage,
  readName,
  signTsig,
  tsigError,
  txtRdata,
  updateMessage,
  type Record_,
  type TsigAlgorithm,
} from '../../src/issuers/acme/dns-wire.ts';
import { parseNameserver } from '../../src/issuers/acme/rfc2136.ts';

/** An independent RFC 1035 §3.1 encoder for the expectations (lower-case, uncompressed). */
function wireName(name: string): Buffer {
  const labels = name
    .toLowerCase()
    .replace(/\.$/, '')
    .split('.')
    .filter((l) => l !== '');
  return Buffer.concat([
    ...labels.flatMap((l) => [Buffer.from([l.length]), Buffer.from(l, 'ascii')]),
    Buffer.from([0]),
  ]);
}
const u16 = (n: number): Buffer => {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
};
const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};
const label = (n: number): string => 'a'.repeat(n);

describe('encodeName', () => {
  it.each([
    ['example.com', '076578616d706c6503636f6d00'],
    ['example.com.', '076578616d706c6503636f6d00'],
    ['Example.COM', '076578616d706c6503636f6d00'],
    ['_acme-challenge.WWW.example.com.', '0f5f61636d652d6368616c6c656e676503777777076578616d706c6503636f6d00'],
    ['.', '00'],
    ['', '00'],
  ])('%j → %s', (name, hex) => {
    expect(encodeName(name).toString('hex')).toBe(hex);
  });

  it.each([
    ['a 63-byte label', `${label(63)}.example`, false],
    ['a 64-byte label', `${label(64)}.example`, true],
    // 4 × (1 + 63) - 2 + 1 = 255: three 63-byte labels and one 61-byte label, plus the root
    ['a 255-byte name', `${label(63)}.${label(63)}.${label(63)}.${label(61)}`, false],
    ['a 256-byte name', `${label(63)}.${label(63)}.${label(63)}.${label(62)}`, true],
  ])('%s: throws %s', (_what, name, throws) => {
    if (throws) expect(() => encodeName(name)).toThrow(/longer than/);
    else expect(encodeName(name).length).toBe(wireName(name).length);
  });

  it('the 255-byte boundary is exact', () => {
    expect(encodeName(`${label(63)}.${label(63)}.${label(63)}.${label(61)}`)).toHaveLength(255);
  });
});

describe('txtRdata', () => {
  it.each([
    ['empty', 0, [0]],
    ['short', 43, [43]],
    ['exactly 255 bytes', 255, [255]],
    ['256 bytes', 256, [255, 1]],
    ['510 bytes', 510, [255, 255]],
    ['600 bytes', 600, [255, 255, 90]],
  ])('%s → character-strings of %j bytes', (_what, size, lengths) => {
    const value = Array.from({ length: size }, (_, i) => 'abcdefghijklmnopqrstuvwxyz0123456789'[i % 36]).join('');
    const r = txtRdata(value);
    const seen: number[] = [];
    const parts: string[] = [];
    for (let i = 0; i < r.length; i += 1 + r[i]!) {
      seen.push(r[i]!);
      parts.push(r.subarray(i + 1, i + 1 + r[i]!).toString('utf8'));
    }
    expect(seen).toEqual(lengths);
    expect(parts.join('')).toBe(value);
    expect(r.length).toBe(size + lengths.length);
  });
});

describe('updateMessage', () => {
  const rec = (value: string): Record_ => ({
    name: '_acme-challenge.example.com',
    type: TYPE.TXT,
    cls: CLASS.IN,
    ttl: 60,
    rdata: txtRdata(value),
  });

  it.each([0, 1, 3])('header with %i updates: opcode UPDATE, ZOCOUNT 1, UPCOUNT n', (n) => {
    const updates = Array.from({ length: n }, (_, i) => rec(`v${i}`));
    const m = updateMessage('Example.com.', updates, 0xbeef);
    expect(m.readUInt16BE(0)).toBe(0xbeef);
    const flags = m.readUInt16BE(2);
    expect((flags >> 11) & 0x0f).toBe(5);
    expect(OPCODE_UPDATE).toBe(5);
    expect(flags & 0x8000).toBe(0); // QR: a request
    expect(flags & 0x87ff).toBe(0); // no other bits
    expect([m.readUInt16BE(4), m.readUInt16BE(6), m.readUInt16BE(8), m.readUInt16BE(10)]).toEqual([1, 0, n, 0]);
    // zone section: the zone name, SOA, IN
    const zone = wireName('example.com');
    expect(m.subarray(12, 12 + zone.length)).toEqual(zone);
    expect([m.readUInt16BE(12 + zone.length), m.readUInt16BE(14 + zone.length)]).toEqual([6, 1]);
  });

  it('round-trips through parseMessage: the updates are in the second section', () => {
    const updates: Record_[] = [rec('first'), { ...rec('second'), cls: CLASS.NONE, ttl: 0 }];
    const p = parseMessage(updateMessage('example.com', updates, 4242));
    expect(p.id).toBe(4242);
    expect(p.rcode).toBe(0);
    expect(p.sections).toHaveLength(3);
    expect(p.sections[0]).toEqual([]);
    expect(p.sections[2]).toEqual([]);
    expect(p.sections[1]!.map((r) => ({ ...r, rdata: Buffer.from(r.rdata) }))).toEqual(updates);
  });

  it('a random id is a 16-bit number', () => {
    for (let i = 0; i < 20; i++) {
      const id = updateMessage('example.com', []).readUInt16BE(0);
      expect(id).toBeGreaterThanOrEqual(0);
      expect(id).toBeLessThan(65536);
    }
  });
});

describe('signTsig (RFC 8945)', () => {
  // RFC 8945 §6 algorithm names, and node:crypto digests of the same output size
  const algorithms: [TsigAlgorithm, string, string, number][] = [
    ['HMACMD5', 'hmac-md5.sig-alg.reg.int', 'md5', 16],
    ['HMACSHA1', 'hmac-sha1', 'sha1', 20],
    ['HMACSHA256', 'hmac-sha256', 'sha256', 32],
    ['HMACSHA384', 'hmac-sha384', 'sha384', 48],
    ['HMACSHA512', 'hmac-sha512', 'sha512', 64],
  ];
  const secret = Buffer.from('c2VjcmV0IHRzaWcga2V5IGZvciB0ZXN0cw==', 'base64');
  const timeSigned = 1_767_225_600; // 2026-01-01T00:00:00Z
  const fudge = 300;

  it.each(algorithms)(
    '%s: appends one TSIG record whose MAC is the HMAC over message + variables',
    (algorithm, algName, hash, macSize) => {
      const unsigned = updateMessage(
        'example.com',
        [{ name: '_acme-challenge.example.com', type: TYPE.TXT, cls: CLASS.IN, ttl: 60, rdata: txtRdata('token') }],
        0x1234,
      );
      const keyName = 'TSIG-Key.Example.';
      const signed = signTsig(unsigned, { name: keyName, algorithm, secret }, timeSigned, fudge);

      // the message is unchanged except ARCOUNT, which grew by one
      expect(signed.readUInt16BE(10)).toBe(unsigned.readUInt16BE(10) + 1);
      expect(signed.subarray(0, 10)).toEqual(unsigned.subarray(0, 10));
      expect(signed.subarray(12, unsigned.length)).toEqual(unsigned.subarray(12));

      // RFC 8945 §4.3.3: the digest covers the message before TSIG, then the TSIG variables
      const time = Buffer.alloc(6);
      time.writeUIntBE(timeSigned, 0, 6);
      const variables = Buffer.concat([
        wireName('tsig-key.example'),
        u16(255),
        u32(0), // NAME (canonical), CLASS ANY, TTL 0
        wireName(algName),
        time,
        u16(fudge), // Algorithm Name (canonical), Time Signed (48 bits), Fudge
        u16(0),
        u16(0), // Error, Other Len (no Other Data)
      ]);
      const expectedMac = createHmac(hash, secret).update(unsigned).update(variables).digest();
      expect(expectedMac).toHaveLength(macSize);

      // the TSIG record as it is on the wire (RFC 8945 §4.2)
      const tsig = signed.subarray(unsigned.length);
      const owner = wireName('tsig-key.example');
      expect(tsig.subarray(0, owner.length)).toEqual(owner);
      let o = owner.length;
      expect([tsig.readUInt16BE(o), tsig.readUInt16BE(o + 2), tsig.readUInt32BE(o + 4)]).toEqual([250, 255, 0]);
      const rdlength = tsig.readUInt16BE(o + 8);
      const rdata = tsig.subarray(o + 10);
      expect(rdata).toHaveLength(rdlength);
      const alg = wireName(algName);
      expect(rdata.subarray(0, alg.length)).toEqual(alg);
      o = alg.length;
      expect(rdata.readUIntBE(o, 6)).toBe(timeSigned);
      expect(rdata.readUInt16BE(o + 6)).toBe(fudge);
      expect(rdata.readUInt16BE(o + 8)).toBe(macSize);
      expect(rdata.subarray(o + 10, o + 10 + macSize)).toEqual(expectedMac);
      o += 10 + macSize;
      expect([rdata.readUInt16BE(o), rdata.readUInt16BE(o + 2), rdata.readUInt16BE(o + 4)]).toEqual([0x1234, 0, 0]); // Original ID, Error, Other Len
      expect(rdata).toHaveLength(o + 6);

      // and parseMessage finds it in the additional section, with no error
      const p = parseMessage(signed);
      expect(p.sections[2]).toHaveLength(1);
      expect(p.sections[2]![0]).toMatchObject({ name: 'tsig-key.example', type: TYPE.TSIG, cls: CLASS.ANY, ttl: 0 });
      expect(tsigError(p.sections[2]![0]!.rdata)).toBe(0);
    },
  );

  it('a different secret, time or message gives a different MAC', () => {
    const m = queryMessage('example.com', TYPE.SOA, 7);
    const mac = (s: Buffer, msg = m, t = timeSigned): string => {
      const signed = signTsig(msg, { name: 'k', algorithm: 'HMACSHA256', secret: s }, t);
      return signed.subarray(signed.length - 6 - 32, signed.length - 6).toString('hex');
    };
    const base = mac(secret);
    expect(mac(Buffer.from('other'))).not.toBe(base);
    expect(mac(secret, m, timeSigned + 1)).not.toBe(base);
    expect(mac(secret, queryMessage('example.org', TYPE.SOA, 7))).not.toBe(base);
    expect(mac(secret)).toBe(base);
  });

  it('adds to an existing ARCOUNT', () => {
    const m = queryMessage('example.com', TYPE.SOA, 1);
    m.writeUInt16BE(2, 10);
    expect(signTsig(m, { name: 'k', algorithm: 'HMACSHA256', secret }, timeSigned).readUInt16BE(10)).toBe(3);
  });
});

describe('tsigError', () => {
  const rdata = (alg: string, mac: Buffer, error: number, other = Buffer.alloc(0)): Buffer =>
    Buffer.concat([
      wireName(alg),
      Buffer.alloc(6),
      u16(300),
      u16(mac.length),
      mac,
      u16(99),
      u16(error),
      u16(other.length),
      other,
    ]);

  it.each([
    ['no error', 'hmac-sha256', 32, 0],
    ['BADSIG', 'hmac-sha256', 32, 16],
    ['BADKEY without a MAC', 'hmac-sha256', 0, 17],
    ['BADTIME', 'hmac-sha512', 64, 18],
    ['BADTRUNC', 'hmac-md5.sig-alg.reg.int', 16, 22],
  ])('%s', (_what, alg, macLen, error) => {
    expect(tsigError(rdata(alg, Buffer.alloc(macLen, 0xab), error))).toBe(error);
  });

  it('reads the error before Other Data (BADTIME carries the server time)', () => {
    expect(tsigError(rdata('hmac-sha256', Buffer.alloc(32), 18, Buffer.alloc(6, 0xff)))).toBe(18);
  });
});

describe('readName', () => {
  // offset 0: example.com; offset 13: www + pointer to 0; offset 19: pointer to 13
  const base = wireName('example.com');
  const msg = Buffer.concat([
    base,
    Buffer.from([3]),
    Buffer.from('www'),
    Buffer.from([0xc0, 0]),
    Buffer.from([0xc0, 13]),
  ]);

  it.each([
    ['an uncompressed name', 0, 'example.com', 13],
    ['a label then a pointer', 13, 'www.example.com', 19],
    ['a pointer to a pointer', 19, 'www.example.com', 21],
    ['a suffix', 8, 'com', 13],
  ])('%s', (_what, off, name, next) => {
    expect(readName(msg, off)).toEqual({ name, next });
  });

  it('reads the root', () => {
    expect(readName(Buffer.from([0]), 0)).toEqual({ name: '', next: 1 });
  });

  it.each([
    ['a pointer to itself', Buffer.from([0xc0, 0x00])],
    ['two pointers to each other', Buffer.from([0xc0, 0x02, 0xc0, 0x00])],
    ['a label then a pointer back to it', Buffer.from([1, 0x61, 0xc0, 0x00])],
  ])('throws on a compression loop: %s', (_what, m) => {
    expect(() => readName(m, 0)).toThrow(/compression loop/);
  });

  it.each([
    ['no terminating zero', Buffer.from([1, 0x61])],
    ['a label past the end', Buffer.from([5, 0x61])],
    ['a pointer past the end', Buffer.from([0xc0, 0x10])],
    ['an empty buffer', Buffer.alloc(0)],
  ])('throws when truncated: %s', (_what, m) => {
    expect(() => readName(m, 0)).toThrow(/truncated/);
  });
});

describe('parseMessage', () => {
  it('skips questions and reads records whose names are compressed pointers', () => {
    // a response to an SOA query: the answer's owner points at the question name
    const q = queryMessage('example.com', TYPE.SOA, 0x0a0b);
    const header = Buffer.from(q.subarray(0, 12));
    header.writeUInt16BE(0x8400 | 3, 2); // QR, AA, NXDOMAIN
    header.writeUInt16BE(1, 6); // ANCOUNT
    header.writeUInt16BE(1, 8); // NSCOUNT
    const rdata = Buffer.from([1, 2, 3, 4]);
    const answer = Buffer.concat([
      Buffer.from([0xc0, 12]),
      u16(TYPE.SOA),
      u16(CLASS.IN),
      u32(3600),
      u16(rdata.length),
      rdata,
    ]);
    const authority = Buffer.concat([
      Buffer.from([3]),
      Buffer.from('sub'),
      Buffer.from([0xc0, 12]),
      u16(TYPE.A),
      u16(CLASS.IN),
      u32(60),
      u16(4),
      Buffer.from([10, 0, 0, 1]),
    ]);
    const p = parseMessage(Buffer.concat([header, q.subarray(12), answer, authority]));
    expect(p.id).toBe(0x0a0b);
    expect(p.rcode).toBe(3);
    expect(p.sections[0]).toEqual([{ name: 'example.com', type: TYPE.SOA, cls: CLASS.IN, ttl: 3600, rdata }]);
    expect(p.sections[1]).toEqual([
      { name: 'sub.example.com', type: TYPE.A, cls: CLASS.IN, ttl: 60, rdata: Buffer.from([10, 0, 0, 1]) },
    ]);
    expect(p.sections[2]).toEqual([]);
  });

  it('a query has one question and empty sections', () => {
    const p = parseMessage(queryMessage('Example.com.', TYPE.TXT, 9));
    expect(p).toEqual({ id: 9, rcode: 0, sections: [[], [], []] });
  });

  it('throws on less than a header', () => {
    expect(() => parseMessage(Buffer.alloc(11))).toThrow(/shorter than a header/);
  });
});

describe('parseNameserver', () => {
  it.each([
    ['ns1', 'ns1', 53],
    ['ns1.example.com', 'ns1.example.com', 53],
    ['ns1:5353', 'ns1', 5353],
    ['10.0.0.1', '10.0.0.1', 53],
    ['10.0.0.1:53', '10.0.0.1', 53],
    ['10.0.0.1:1053', '10.0.0.1', 1053],
    ['[fd00::1]:53', 'fd00::1', 53],
    ['[fd00::1]:5353', 'fd00::1', 5353],
    ['[fd00::1]', 'fd00::1', 53],
    ['fd00::1', 'fd00::1', 53],
  ])('%s → %s port %i', (s, host, port) => {
    expect(parseNameserver(s)).toEqual({ host, port });
  });
});
