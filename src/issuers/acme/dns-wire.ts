// The few DNS wire-format pieces RFC 2136 updates need (RFC 1035 names and records, RFC 8945 TSIG).
// Hand-written: the npm DNS packet libraries encode neither UPDATE's NONE/ANY classes in the update
// section nor TSIG, and this is under 200 lines that BIND 9 checks for real in the tests.
import { createHmac, randomInt } from 'node:crypto';

export const TYPE = { A: 1, SOA: 6, TXT: 16, TSIG: 250 } as const;
export const CLASS = { IN: 1, NONE: 254, ANY: 255 } as const;
export const OPCODE_UPDATE = 5;
export const RCODE: Readonly<Record<number, string>> = {
  0: 'NOERROR',
  1: 'FORMERR',
  2: 'SERVFAIL',
  3: 'NXDOMAIN',
  4: 'NOTIMP',
  5: 'REFUSED',
  6: 'YXDOMAIN',
  7: 'YXRRSET',
  8: 'NXRRSET',
  9: 'NOTAUTH',
  10: 'NOTZONE',
  16: 'BADSIG',
  17: 'BADKEY',
  18: 'BADTIME',
  22: 'BADTRUNC',
};
const TSIG_ALGORITHMS = {
  HMACMD5: ['hmac-md5.sig-alg.reg.int', 'md5'],
  HMACSHA1: ['hmac-sha1', 'sha1'],
  HMACSHA256: ['hmac-sha256', 'sha256'],
  HMACSHA384: ['hmac-sha384', 'sha384'],
  HMACSHA512: ['hmac-sha512', 'sha512'],
} as const;
export type TsigAlgorithm = keyof typeof TSIG_ALGORITHMS;

export interface Record_ {
  name: string;
  type: number;
  cls: number;
  ttl: number;
  rdata: Buffer;
}
export interface TsigKey {
  name: string;
  algorithm: TsigAlgorithm;
  secret: Buffer;
}

const u16 = (n: number): Buffer => {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
};
const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
};

/** A name in uncompressed, lower-case wire form (the canonical form TSIG digests). */
export function encodeName(name: string): Buffer {
  const trimmed = name.replace(/\.$/, '');
  const labels = trimmed === '' ? [] : trimmed.split('.');
  if (labels.some((l) => l.length === 0)) throw new Error(`empty DNS label in ${JSON.stringify(name)}`);
  const parts: Buffer[] = [];
  for (const l of labels) {
    const b = Buffer.from(l.toLowerCase(), 'ascii');
    if (b.length > 63) throw new Error(`DNS label longer than 63 bytes in ${name}`);
    parts.push(Buffer.from([b.length]), b);
  }
  const out = Buffer.concat([...parts, Buffer.from([0])]);
  if (out.length > 255) throw new Error(`DNS name longer than 255 bytes: ${name}`);
  return out;
}

/** TXT RDATA: the value as character-strings of at most 255 bytes. */
export function txtRdata(value: string): Buffer {
  const b = Buffer.from(value, 'utf8');
  const parts: Buffer[] = [];
  for (let i = 0; i < b.length || i === 0; i += 255) {
    const s = b.subarray(i, i + 255);
    parts.push(Buffer.from([s.length]), s);
  }
  return Buffer.concat(parts);
}

function encodeRecord(r: Record_): Buffer {
  return Buffer.concat([encodeName(r.name), u16(r.type), u16(r.cls), u32(r.ttl), u16(r.rdata.length), r.rdata]);
}

/** An UPDATE message (RFC 2136 §2): the zone, then the update section. */
export function updateMessage(zone: string, updates: Record_[], id = randomInt(0, 65536)): Buffer {
  const header = Buffer.concat([u16(id), u16(OPCODE_UPDATE << 11), u16(1), u16(0), u16(updates.length), u16(0)]);
  return Buffer.concat([header, encodeName(zone), u16(TYPE.SOA), u16(CLASS.IN), ...updates.map(encodeRecord)]);
}

/** A standard query for one name and type (recursion not desired: we ask the primary itself). */
export function queryMessage(name: string, type: number, id = randomInt(0, 65536)): Buffer {
  return Buffer.concat([u16(id), u16(0), u16(1), u16(0), u16(0), u16(0), encodeName(name), u16(type), u16(CLASS.IN)]);
}

/** Appends a TSIG record (RFC 8945 §4): HMAC over the message, then the TSIG variables. */
export function signTsig(msg: Buffer, key: TsigKey, timeSigned = Math.floor(Date.now() / 1000), fudge = 300): Buffer {
  const [algName, hash] = TSIG_ALGORITHMS[key.algorithm];
  const time = Buffer.alloc(6);
  time.writeUIntBE(timeSigned, 0, 6);
  const variables = Buffer.concat([
    encodeName(key.name),
    u16(CLASS.ANY),
    u32(0),
    encodeName(algName),
    time,
    u16(fudge),
    u16(0),
    u16(0),
  ]);
  const mac = createHmac(hash, key.secret).update(msg).update(variables).digest();
  const rdata = Buffer.concat([
    encodeName(algName),
    time,
    u16(fudge),
    u16(mac.length),
    mac,
    msg.subarray(0, 2),
    u16(0),
    u16(0),
  ]);
  const signed = Buffer.concat([msg, encodeRecord({ name: key.name, type: TYPE.TSIG, cls: CLASS.ANY, ttl: 0, rdata })]);
  signed.writeUInt16BE(signed.readUInt16BE(10) + 1, 10);
  return signed;
}

/** Reads a (possibly compressed) name at `off`; returns it and the offset after it in the message. */
export function readName(msg: Buffer, off: number): { name: string; next: number } {
  const labels: string[] = [];
  let next = -1;
  let pointers = 0;
  // a name has at most 127 labels; a pointer chain longer than the message can only be a loop
  for (let steps = 0; steps < 256; steps++) {
    if (off >= msg.length) throw new Error('truncated DNS name');
    const len = msg.readUInt8(off);
    if (len === 0) return { name: labels.join('.'), next: next < 0 ? off + 1 : next };
    if ((len & 0xc0) === 0xc0) {
      if (next < 0) next = off + 2;
      if (++pointers > 64) break;
      off = ((len & 0x3f) << 8) | (msg[off + 1] ?? 0);
      continue;
    }
    labels.push(msg.subarray(off + 1, off + 1 + len).toString('ascii'));
    off += 1 + len;
  }
  throw new Error('DNS name compression loop');
}

export interface ParsedMessage {
  id: number;
  rcode: number;
  sections: Record_[][];
}

/** Header, questions skipped, then the answer, authority and additional records. */
export function parseMessage(msg: Buffer): ParsedMessage {
  if (msg.length < 12) throw new Error('DNS answer shorter than a header');
  const questions = msg.readUInt16BE(4);
  const counts = [msg.readUInt16BE(6), msg.readUInt16BE(8), msg.readUInt16BE(10)];
  let off = 12;
  for (let i = 0; i < questions; i++) off = readName(msg, off).next + 4;
  const sections: Record_[][] = [];
  for (const n of counts) {
    const recs: Record_[] = [];
    for (let i = 0; i < n; i++) {
      const { name, next } = readName(msg, off);
      const type = msg.readUInt16BE(next),
        cls = msg.readUInt16BE(next + 2),
        ttl = msg.readUInt32BE(next + 4),
        len = msg.readUInt16BE(next + 8);
      recs.push({ name, type, cls, ttl, rdata: msg.subarray(next + 10, next + 10 + len) });
      off = next + 10 + len;
    }
    sections.push(recs);
  }
  return { id: msg.readUInt16BE(0), rcode: msg.readUInt16BE(2) & 0x0f, sections };
}

/** The error field of a TSIG record's RDATA (BADSIG, BADKEY, BADTIME), 0 when none. */
export function tsigError(rdata: Buffer): number {
  const alg = readName(rdata, 0).next;
  const macLen = rdata.readUInt16BE(alg + 8);
  return rdata.readUInt16BE(alg + 10 + macLen + 2);
}
