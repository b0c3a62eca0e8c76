// Distinguished names and subject alternative names: building them for CSRs and reading them back
// from DER, with RFC 4514 formatting that cannot be confused by hostile attribute values.
import { AsnConvert } from '@peculiar/asn1-schema';
import { AttributeTypeAndValue, AttributeValue, Name, RelativeDistinguishedName } from '@peculiar/asn1-x509';
import { isIP } from 'node:net';
import { children, content, decodeString, DerError, readOid, readTlv, TAG, tlv, whole } from './der.ts';

export interface SubjectFields {
  commonName?: string;
  organizations?: string[];
  organizationalUnits?: string[];
  countries?: string[];
  localities?: string[];
  provinces?: string[];
  serialNumber?: string;
}

/** The same shape as the contract's Subject, where every field may also be explicitly undefined. */
export interface SubjectInput {
  commonName?: string | undefined;
  organizations?: readonly string[] | undefined;
  organizationalUnits?: readonly string[] | undefined;
  countries?: readonly string[] | undefined;
  localities?: readonly string[] | undefined;
  provinces?: readonly string[] | undefined;
  serialNumber?: string | undefined;
}

export interface SanLists {
  dnsNames: string[];
  ipAddresses: string[];
  uris: string[];
  emailAddresses: string[];
}

/** SAN lists as callers give them: any may be absent. */
export type SanInput = { [K in keyof SanLists]?: readonly string[] | undefined };

const OID = {
  CN: '2.5.4.3',
  SERIALNUMBER: '2.5.4.5',
  C: '2.5.4.6',
  L: '2.5.4.7',
  ST: '2.5.4.8',
  STREET: '2.5.4.9',
  O: '2.5.4.10',
  OU: '2.5.4.11',
  DC: '0.9.2342.19200300.100.1.25',
  UID: '0.9.2342.19200300.100.1.1',
  emailAddress: '1.2.840.113549.1.9.1',
} as const;

/** Short names used in DN strings (RFC 4514 section 3, plus SERIALNUMBER as Go prints it and emailAddress). */
const SHORT_NAMES: ReadonlyMap<string, string> = new Map(Object.entries(OID).map(([k, v]) => [v, k]));

const PRINTABLE = /^[A-Za-z0-9 '()+,\-./:=?]*$/;

/**
 * Builds the DER Name for a CSR from structured fields, one RDN per value, in the order
 * C, ST, L, O, OU, CN, SERIALNUMBER (the order Go's crypto/x509 uses). Values are never parsed as
 * DN strings, so commas, plus signs, quotes or '=' in a value stay inside that value.
 */
export function buildName(s: SubjectInput | undefined): ArrayBuffer {
  const rdns: RelativeDistinguishedName[] = [];
  const add = (oid: string, values: readonly string[] | string | undefined, printable: boolean): void => {
    const list = typeof values === 'string' ? [values] : (values ?? []);
    for (const v of list) {
      if (v === '') continue;
      // RFC 5280: countryName and serialNumber are PrintableString; fall back to UTF8String like Go does.
      const value =
        printable && PRINTABLE.test(v)
          ? new AttributeValue({ printableString: v })
          : new AttributeValue({ utf8String: v });
      rdns.push(new RelativeDistinguishedName([new AttributeTypeAndValue({ type: oid, value })]));
    }
  };
  add(OID.C, s?.countries, true);
  add(OID.ST, s?.provinces, false);
  add(OID.L, s?.localities, false);
  add(OID.O, s?.organizations, false);
  add(OID.OU, s?.organizationalUnits, false);
  add(OID.CN, s?.commonName, false);
  add(OID.SERIALNUMBER, s?.serialNumber, true);
  return AsnConvert.serialize(new Name(rdns));
}

interface NameAttribute {
  oid: string;
  value: string | null;
  raw: Buffer;
}
export interface ParsedName {
  rdns: NameAttribute[][];
  fields: SubjectFields;
  dn: string;
}

/** Parses a DER Name (SEQUENCE OF SET OF AttributeTypeAndValue). */
export function parseName(der: Uint8Array): ParsedName {
  const seq = readTlv(der, 0);
  if (seq.tag !== TAG.SEQUENCE) throw new DerError('expected a Name');
  const rdns: NameAttribute[][] = [];
  for (const set of children(der, seq)) {
    if (set.tag !== TAG.SET) throw new DerError('expected a RelativeDistinguishedName');
    const rdn: NameAttribute[] = [];
    for (const atv of children(der, set)) {
      const [type, value] = children(der, atv);
      if (atv.tag !== TAG.SEQUENCE || !type || !value) throw new DerError('malformed AttributeTypeAndValue');
      rdn.push({ oid: readOid(der, type), value: decodeString(der, value), raw: whole(der, value) });
    }
    if (rdn.length === 0) throw new DerError('empty RelativeDistinguishedName');
    rdns.push(rdn);
  }
  return { rdns, fields: subjectFields(rdns), dn: formatDn(rdns) };
}

type ListField = 'organizations' | 'organizationalUnits' | 'countries' | 'localities' | 'provinces';
const LIST_FIELDS: ReadonlyMap<string, ListField> = new Map([
  [OID.O, 'organizations'],
  [OID.OU, 'organizationalUnits'],
  [OID.C, 'countries'],
  [OID.L, 'localities'],
  [OID.ST, 'provinces'],
]);

function subjectFields(rdns: NameAttribute[][]): SubjectFields {
  const f: SubjectFields = {};
  for (const a of rdns.flat()) {
    if (a.value === null) continue;
    const list = LIST_FIELDS.get(a.oid);
    if (list) (f[list] ??= []).push(a.value);
    else if (a.oid === OID.CN)
      f.commonName = a.value; // the last one wins, as in Go
    else if (a.oid === OID.SERIALNUMBER) f.serialNumber = a.value;
  }
  return f;
}

/** Escapes an attribute value for an RFC 4514 string; control characters become \XX hex pairs. */
export function escapeDnValue(v: string): string {
  let out = '';
  for (let i = 0; i < v.length; i++) {
    const ch = v.charAt(i);
    const code = ch.charCodeAt(0);
    if (code < 0x20 || code === 0x7f) out += `\\${code.toString(16).toUpperCase().padStart(2, '0')}`;
    else if ('"+,;<>\\'.includes(ch)) out += `\\${ch}`;
    else if ((i === 0 && (ch === '#' || ch === ' ')) || (i === v.length - 1 && ch === ' ')) out += `\\${ch}`;
    else out += ch;
  }
  return out;
}

/**
 * RFC 4514 string: RDNs in reverse order (most specific first) joined by ',', multi-valued RDNs by '+'.
 * Known types use short names; other types, and values that are not strings, use the
 * dotted OID and '#' + hex of the DER value, as RFC 4514 section 2.4 requires.
 */
function formatDn(rdns: NameAttribute[][]): string {
  return [...rdns]
    .reverse()
    .map((rdn) =>
      rdn
        .map((a) => {
          const short = SHORT_NAMES.get(a.oid);
          if (short && a.value !== null) return `${short}=${escapeDnValue(a.value)}`;
          return `${a.oid}=#${a.raw.toString('hex')}`;
        })
        .join('+'),
    )
    .join(',');
}

/** The 4 or 16 octets of an IPv4 or IPv6 address (zone indexes are refused). */
export function ipBytes(ip: string): Buffer {
  const v = isIP(ip);
  if (v === 4) return Buffer.from(ip.split('.').map(Number));
  if (v !== 6 || ip.includes('%')) throw new Error(`invalid IP address ${JSON.stringify(ip)}`);
  // An embedded dotted quad (::ffff:1.2.3.4) becomes two hex groups.
  const text = ip.replace(
    /(\d+)\.(\d+)\.(\d+)\.(\d+)$/,
    (_m, a: string, b: string, c: string, d: string) =>
      `${((+a << 8) | +b).toString(16)}:${((+c << 8) | +d).toString(16)}`,
  );
  const [head = '', tail] = text.split('::');
  const hs = head ? head.split(':') : [];
  const ts = tail ? tail.split(':') : [];
  const groups = tail === undefined ? hs : [...hs, ...Array<string>(8 - hs.length - ts.length).fill('0'), ...ts];
  if (groups.length !== 8) throw new Error(`invalid IP address ${JSON.stringify(ip)}`);
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}

/** The first longest run of two or more zero groups (RFC 5952 4.2.2/4.2.3); best = -1 when there is none. */
function longestZeroRun(groups: readonly number[]): { best: number; bestLen: number } {
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < groups.length;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < groups.length && groups[j] === 0) j++;
    if (j - i > bestLen && j - i > 1) [best, bestLen] = [i, j - i];
    i = j;
  }
  return { best, bestLen };
}

/**
 * Text form of an iPAddress SAN: dotted quad for IPv4; RFC 5952 for IPv6 (lower case, longest run
 * of zero groups compressed, IPv4-mapped addresses as ::ffff:a.b.c.d).
 */
export function formatIp(bytes: Uint8Array): string {
  if (bytes.length === 4) return Array.from(bytes).join('.');
  if (bytes.length !== 16) throw new DerError(`invalid iPAddress length ${bytes.length}`);
  if (bytes.subarray(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff) {
    return `::ffff:${Array.from(bytes.subarray(12)).join('.')}`;
  }
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(view.readUInt16BE(i));
  const { best, bestLen } = longestZeroRun(groups);
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

/** The DER value of a subjectAltName extension (GeneralNames) for the given lists; null when all are empty. */
export function encodeSan(s: SanInput): Buffer | null {
  const ia5 = (tag: number, v: string): Buffer => tlv(tag, Buffer.from(v, 'latin1'));
  const names = [
    ...(s.dnsNames ?? []).map((v) => ia5(0x82, v)),
    ...(s.ipAddresses ?? []).map((v) => tlv(0x87, ipBytes(v))),
    ...(s.uris ?? []).map((v) => ia5(0x86, v)),
    ...(s.emailAddresses ?? []).map((v) => ia5(0x81, v)),
  ];
  return names.length ? tlv(TAG.SEQUENCE, ...names) : null;
}

/** Reads the SAN extension value (GeneralNames) into lists; other name forms are ignored. */
export function parseSan(der: Uint8Array): SanLists {
  const out: SanLists = { dnsNames: [], ipAddresses: [], uris: [], emailAddresses: [] };
  const seq = readTlv(der, 0);
  if (seq.tag !== TAG.SEQUENCE || seq.end !== der.length) throw new DerError('malformed subjectAltName');
  for (const gn of children(der, seq)) {
    const c = content(der, gn);
    switch (gn.tag) {
      case 0x81:
        out.emailAddresses.push(c.toString('utf8'));
        break;
      case 0x82:
        out.dnsNames.push(c.toString('utf8'));
        break;
      case 0x86:
        out.uris.push(c.toString('utf8'));
        break;
      case 0x87:
        out.ipAddresses.push(formatIp(c));
        break;
      default:
        break; // otherName, directoryName, registeredID, ...
    }
  }
  return out;
}
