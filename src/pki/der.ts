// A small, bounds-checked DER reader and writer for the few structures pki looks inside or builds
// (outlines.ts, extensions, names, general names), plus OID encoding.
// Parsing certificates with asn1js costs ~250 µs each; walking the DER directly costs a few µs,
// which matters for the inventory. Every read checks its bounds; anything unexpected throws DerError.

export class DerError extends Error {
  override name = 'DerError';
}

export interface Tlv {
  /** The identifier octet (class, constructed bit and tag number; only low tag numbers are accepted). */
  tag: number;
  /** Offset of the identifier octet. */
  start: number;
  /** Offset of the first content octet. */
  contentStart: number;
  /** Offset just past the last content octet. */
  end: number;
}

export const TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTF8_STRING: 0x0c,
  NUMERIC_STRING: 0x12,
  PRINTABLE_STRING: 0x13,
  TELETEX_STRING: 0x14,
  IA5_STRING: 0x16,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  VISIBLE_STRING: 0x1a,
  UNIVERSAL_STRING: 0x1c,
  BMP_STRING: 0x1e,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

/** The octet at `i`; past the end is a truncated element (callers check bounds first: this keeps the type honest). */
function octet(buf: Uint8Array, i: number): number {
  const b = buf[i];
  if (b === undefined) throw new DerError('truncated DER element');
  return b;
}

/** Reads one TLV at `pos`; the element must end at or before `limit`. */
export function readTlv(buf: Uint8Array, pos: number, limit: number = buf.length): Tlv {
  if (limit > buf.length || pos + 2 > limit) throw new DerError('truncated DER element');
  const tag = octet(buf, pos);
  if ((tag & 0x1f) === 0x1f) throw new DerError('high tag numbers are not supported');
  let len = octet(buf, pos + 1);
  let p = pos + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0) throw new DerError('indefinite length is not DER');
    if (n > 4) throw new DerError('DER length too large');
    if (p + n > limit) throw new DerError('truncated DER length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + octet(buf, p + i);
    p += n;
  }
  if (p + len > limit) throw new DerError('DER element runs past its container');
  return { tag, start: pos, contentStart: p, end: p + len };
}

/** The child elements of a constructed element. */
export function children(buf: Uint8Array, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  let p = parent.contentStart;
  while (p < parent.end) {
    const t = readTlv(buf, p, parent.end);
    out.push(t);
    p = t.end;
  }
  return out;
}

/** Reads an element and checks its tag. */
export function expect(buf: Uint8Array, pos: number, tag: number, limit: number = buf.length, what = 'element'): Tlv {
  const t = readTlv(buf, pos, limit);
  if (t.tag !== tag)
    throw new DerError(`unexpected tag 0x${t.tag.toString(16)} for ${what} (want 0x${tag.toString(16)})`);
  return t;
}

/** Checks that `der` is exactly one element with the given tag; throws DerError otherwise. */
export function single(der: Buffer, tag: number, what: string): Buffer {
  const t = readTlv(der, 0);
  if (t.tag !== tag || t.end !== der.length)
    throw new DerError(`${what} must be one DER element with tag 0x${tag.toString(16)}`);
  return der;
}

/** True when `der` is exactly one element with the given tag (never throws). */
export function isSingle(der: Buffer, tag: number): boolean {
  try {
    single(der, tag, 'element');
    return true;
  } catch {
    return false;
  }
}

export function content(buf: Uint8Array, t: Tlv): Buffer {
  return Buffer.from(buf.buffer, buf.byteOffset + t.contentStart, t.end - t.contentStart);
}

export function whole(buf: Uint8Array, t: Tlv): Buffer {
  return Buffer.from(buf.buffer, buf.byteOffset + t.start, t.end - t.start);
}

export function decodeOid(bytes: Uint8Array): string {
  if (bytes.length === 0 || bytes.length > 128) throw new DerError('invalid OBJECT IDENTIFIER length');
  const arcs: bigint[] = [];
  let v = 0n;
  for (let i = 0; i < bytes.length; i++) {
    const b = octet(bytes, i);
    if (v === 0n && b === 0x80) throw new DerError('non-minimal OBJECT IDENTIFIER arc');
    v = (v << 7n) | BigInt(b & 0x7f);
    if (!(b & 0x80)) {
      arcs.push(v);
      v = 0n;
    } else if (i === bytes.length - 1) {
      throw new DerError('truncated OBJECT IDENTIFIER');
    }
  }
  const first = arcs[0] ?? 0n;
  const head = first < 40n ? [0n, first] : first < 80n ? [1n, first - 40n] : [2n, first - 80n];
  return [...head, ...arcs.slice(1)].join('.');
}

export function encodeOid(oid: string): Buffer {
  if (!/^[0-2](\.(0|[1-9][0-9]*))+$/.test(oid)) throw new DerError(`invalid OID ${JSON.stringify(oid)}`);
  const arcs = oid.split('.').map((s) => BigInt(s));
  const body: number[] = [];
  const push = (n: bigint): void => {
    const groups: number[] = [Number(n & 0x7fn)];
    for (let x = n >> 7n; x > 0n; x >>= 7n) groups.unshift(Number(x & 0x7fn) | 0x80);
    body.push(...groups);
  };
  const [a0 = 0n, a1 = 0n] = arcs;
  push(a0 * 40n + a1);
  for (const a of arcs.slice(2)) push(a);
  return Buffer.concat([encodeLength(TAG.OID, body.length), Buffer.from(body)]);
}

/** One DER element: identifier octet, definite length, content. */
export function tlv(tag: number, ...parts: Uint8Array[]): Buffer {
  const body = Buffer.concat(parts);
  return Buffer.concat([encodeLength(tag, body.length), body]);
}

function encodeLength(tag: number, len: number): Buffer {
  if (len < 0x80) return Buffer.from([tag, len]);
  const bytes: number[] = [];
  for (let x = len; x > 0; x = Math.floor(x / 256)) bytes.unshift(x & 0xff);
  return Buffer.from([tag, 0x80 | bytes.length, ...bytes]);
}

export function readOid(buf: Uint8Array, t: Tlv): string {
  if (t.tag !== TAG.OID) throw new DerError('expected an OBJECT IDENTIFIER');
  return decodeOid(content(buf, t));
}

/** Content of a BIT STRING without the unused-bits octet; `unused` is that octet. */
export function bitString(buf: Uint8Array, t: Tlv): { bytes: Buffer; unused: number } {
  if (t.tag !== TAG.BIT_STRING || t.end === t.contentStart) throw new DerError('expected a BIT STRING');
  const c = content(buf, t);
  const unused = octet(c, 0);
  if (unused > 7 || (unused > 0 && c.length === 1)) throw new DerError('invalid BIT STRING');
  return { bytes: c.subarray(1), unused };
}

/** Decodes a directory/IA5 string value; null for non-string types. */
export function decodeString(buf: Uint8Array, t: Tlv): string | null {
  const c = content(buf, t);
  switch (t.tag) {
    case TAG.UTF8_STRING:
      return c.toString('utf8');
    case TAG.PRINTABLE_STRING:
    case TAG.IA5_STRING:
    case TAG.NUMERIC_STRING:
    case TAG.VISIBLE_STRING:
      return c.toString('utf8');
    case TAG.TELETEX_STRING:
      return c.toString('latin1');
    case TAG.BMP_STRING: {
      if (c.length % 2) throw new DerError('odd BMPString length');
      return Buffer.from(c).swap16().toString('utf16le');
    }
    case TAG.UNIVERSAL_STRING: {
      if (c.length % 4) throw new DerError('invalid UniversalString length');
      let s = '';
      for (let i = 0; i < c.length; i += 4) s += String.fromCodePoint(Math.min(c.readUInt32BE(i), 0x10ffff));
      return s;
    }
    default:
      return null;
  }
}

export interface AlgorithmId {
  oid: string;
  /** The whole parameters element (TLV), when present. */
  params?: Buffer;
}

export function readAlgorithm(buf: Uint8Array, t: Tlv): AlgorithmId {
  if (t.tag !== TAG.SEQUENCE) throw new DerError('expected an AlgorithmIdentifier');
  const [oid, params] = children(buf, t);
  if (!oid) throw new DerError('empty AlgorithmIdentifier');
  return { oid: readOid(buf, oid), ...(params ? { params: whole(buf, params) } : {}) };
}

/** Two's-complement INTEGER content octets as lower-case hex without leading zeros ('-' prefix if negative). */
export function integerHex(c: Uint8Array): string {
  if (c.length === 0) throw new DerError('empty INTEGER');
  let v = 0n;
  for (const b of c) v = (v << 8n) | BigInt(b);
  if (octet(c, 0) & 0x80) v -= 1n << BigInt(c.length * 8);
  return v < 0n ? `-${(-v).toString(16)}` : v.toString(16);
}
