// IP addresses and CIDRs of IssuancePolicy rules and binding grants. Pure and total: no input
// throws; an IPv4-mapped IPv6 address or range is compared as IPv4.
import { isIP } from 'node:net';

export interface IpValue {
  family: 4 | 6;
  value: bigint;
}
// The top 96 bits of an IPv4-mapped IPv6 address (::ffff:0:0/96).
const MAPPED_PREFIX = 0xffffn;

function v4ToBigInt(s: string): bigint {
  return s.split('.').reduce((acc, o) => (acc << 8n) | BigInt(Number(o)), 0n);
}

function v6ToBigInt(s: string): bigint {
  let text = s;
  const lastColon = text.lastIndexOf(':');
  if (text.indexOf('.', lastColon) >= 0) {
    const v4 = v4ToBigInt(text.slice(lastColon + 1));
    text = `${text.slice(0, lastColon + 1)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const [head, tail] = text.split('::') as [string, string | undefined];
  const hs = head === '' ? [] : head.split(':');
  const ts = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = tail === undefined ? hs : [...hs, ...Array<string>(8 - hs.length - ts.length).fill('0'), ...ts];
  return groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n);
}

/** Parses an IP address; IPv4-mapped IPv6 (`::ffff:10.0.0.1`) becomes IPv4. Zone ids never parse. */
export function parseIp(s: string): IpValue | undefined {
  if (s.length > 45) return undefined;
  const family = isIP(s);
  if (family === 4) return { family: 4, value: v4ToBigInt(s) };
  if (family !== 6 || s.includes('%')) return undefined;
  const value = v6ToBigInt(s);
  return value >> 32n === MAPPED_PREFIX ? { family: 4, value: value & 0xffffffffn } : { family: 6, value };
}

export interface Cidr {
  source: string;
  family: 4 | 6;
  network: bigint;
  prefix: number;
  valid: boolean;
}

/** `addr/prefix` split and checked for syntax and range; undefined when it is not a CIDR. */
function splitCidr(source: string): { family: 4 | 6; addr: string; prefix: number } | undefined {
  const slash = source.indexOf('/');
  const bits = source.slice(slash + 1);
  if (slash < 0 || !/^[0-9]{1,3}$/.test(bits)) return undefined;
  const addr = source.slice(0, slash);
  const fam = isIP(addr);
  const prefix = Number(bits);
  if (fam === 0 || addr.includes('%') || prefix > (fam === 4 ? 32 : 128)) return undefined;
  return { family: fam === 4 ? 4 : 6, addr, prefix };
}

/** Compiles `addr/prefix`; an IPv4-mapped IPv6 range of /96 or longer becomes the IPv4 range. */
export function compileCidr(source: string): Cidr {
  const split = splitCidr(source);
  if (!split) return { source, family: 4, network: 0n, prefix: 0, valid: false };
  let { family, prefix } = split;
  let value = family === 4 ? v4ToBigInt(split.addr) : v6ToBigInt(split.addr);
  if (family === 6 && prefix >= 96 && value >> 32n === MAPPED_PREFIX) {
    family = 4;
    value &= 0xffffffffn;
    prefix -= 96;
  }
  const width = family === 4 ? 32n : 128n;
  const shift = width - BigInt(prefix);
  return { source, family, network: (value >> shift) << shift, prefix, valid: true };
}

export function ipInCidr(ip: IpValue, cidr: Cidr): boolean {
  if (!cidr.valid || ip.family !== cidr.family) return false;
  const shift = (ip.family === 4 ? 32n : 128n) - BigInt(cidr.prefix);
  return (ip.value >> shift) << shift === cidr.network;
}

export function matchesCidr(cidr: string | Cidr, ip: string): boolean {
  const v = parseIp(ip);
  return v !== undefined && ipInCidr(v, typeof cidr === 'string' ? compileCidr(cidr) : cidr);
}
