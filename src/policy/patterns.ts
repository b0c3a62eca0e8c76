// Name patterns of IssuancePolicy rules: DNS names, URIs, e-mail addresses and CIDRs. Pure and total:
// no input throws, and anything malformed (empty labels, spaces, non-ASCII, dot segments) never matches.
import { isIP } from 'node:net';

export const NAMESPACE_TOKEN = '{{namespace}}';
const LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const PRINTABLE = /^[\x21-\x7e]+$/;

/** A Kubernetes namespace name is an RFC 1123 label; only such a value is ever substituted for {{namespace}}. */
export function isValidNamespace(ns: string): boolean {
  return ns.length <= 63 && LABEL.test(ns);
}

function validLabel(l: string): boolean {
  return l.length <= 63 && LABEL.test(l);
}

// ---- DNS names ------------------------------------------------------------------------------

/**
 * The labels of a DNS name, lower-cased, with one trailing dot removed (`api.example.com.` is
 * `api.example.com`). Undefined for anything that is not a valid name: empty labels, `..`, spaces,
 * non-ASCII, over 253 characters. `*` is allowed only as the whole first label of a name of at
 * least two labels.
 */
export function dnsNameLabels(name: string): string[] | undefined {
  const n = name.endsWith('.') ? name.slice(0, -1) : name;
  if (n.length === 0 || n.length > 253 || !PRINTABLE.test(n)) return undefined;
  const labels = n.toLowerCase().split('.');
  for (let i = 0; i < labels.length; i++) {
    const l = labels[i]!;
    if (l === '*' && i === 0 && labels.length >= 2) continue;
    if (!validLabel(l)) return undefined;
  }
  return labels;
}

/** Whether a requested name asks for a wildcard certificate (any `*`, valid or not). */
export function isWildcardName(name: string): boolean {
  return name.includes('*');
}

export interface DnsPattern {
  source: string;
  /** Lower-cased labels; `*` is one label; literal labels may contain {{namespace}}. */
  labels: string[];
  valid: boolean;
  usesNamespace: boolean;
}

/** Compiles a DNS pattern. An invalid one (e.g. `api-*.example.com`, `..`) is kept but never matches. */
export function compileDnsPattern(source: string): DnsPattern {
  const p = source.endsWith('.') ? source.slice(0, -1) : source;
  const labels = p.toLowerCase().split('.');
  const valid = p.length > 0 && p.length <= 253 && PRINTABLE.test(p)
    && labels.every((l) => l === '*' || validLabel(l.replaceAll(NAMESPACE_TOKEN, 'a')));
  return { source, labels, valid, usesNamespace: p.includes(NAMESPACE_TOKEN) };
}

/** Matches already-normalised name labels (see dnsNameLabels) against a compiled pattern. */
export function matchDnsLabels(pattern: DnsPattern, labels: readonly string[], namespace: string): boolean {
  if (!pattern.valid || pattern.labels.length !== labels.length) return false;
  if (pattern.usesNamespace && !isValidNamespace(namespace)) return false;
  for (let i = 0; i < labels.length; i++) {
    const pl = pattern.labels[i]!;
    if (pl === '*') continue; // the name's label was validated by dnsNameLabels
    const lit = pattern.usesNamespace ? pl.replaceAll(NAMESPACE_TOKEN, namespace) : pl;
    if (lit !== labels[i]) return false;
  }
  return true;
}

/** Whether `name` matches `pattern` (`*` is exactly one label; {{namespace}} is `namespace`). */
export function matchesDnsPattern(pattern: string | DnsPattern, name: string, namespace: string): boolean {
  const labels = dnsNameLabels(name);
  if (!labels) return false;
  return matchDnsLabels(typeof pattern === 'string' ? compileDnsPattern(pattern) : pattern, labels, namespace);
}

/** A pattern as shown in a message, with {{namespace}} filled in when the namespace is valid. */
export function showPattern(source: string, namespace: string): string {
  return isValidNamespace(namespace) ? source.replaceAll(NAMESPACE_TOKEN, namespace) : source;
}

// ---- glob within one segment -----------------------------------------------------------------

/** `*` matches any run of characters (no separators are ever passed in). O(|p|·|t|), no regex. */
export function glob(p: string, t: string): boolean {
  let pi = 0, ti = 0, star = -1, mark = 0;
  while (ti < t.length) {
    if (pi < p.length && p[pi] === '*') { star = pi++; mark = ti; continue; }
    if (pi < p.length && p[pi] === t[ti]) { pi++; ti++; continue; }
    if (star < 0) return false;
    pi = star + 1;
    ti = ++mark;
  }
  while (pi < p.length && p[pi] === '*') pi++;
  return pi === p.length;
}

// ---- URIs ------------------------------------------------------------------------------------

export interface UriParts {
  scheme: string;
  /** Lower-cased authority split on `@` (userinfo, host[:port]); undefined without `//`. */
  authority?: string[];
  /** Path split on `/` (the first is '' for an absolute path). */
  segments: string[];
  /** `?query#fragment`, compared literally. */
  tail: string;
}

const URI_SCHEME = /^([a-zA-Z][a-zA-Z0-9+.-]*):(.*)$/s;
// Encoded dots, slashes, backslashes and NULs would let a segment mean something other than it shows.
const ENCODED_TRICKS = /%(2e|2f|5c|00)/i;

/** Splits a URI into the parts patterns compare. Undefined for anything malformed or tricky. */
export function parseUri(uri: string): UriParts | undefined {
  if (uri.length > 2048 || !PRINTABLE.test(uri) || uri.includes('\\') || ENCODED_TRICKS.test(uri)) return undefined;
  const m = URI_SCHEME.exec(uri);
  if (!m) return undefined;
  let rest = m[2]!;
  const q = rest.search(/[?#]/);
  const tail = q < 0 ? '' : rest.slice(q);
  if (q >= 0) rest = rest.slice(0, q);
  let authority: string[] | undefined;
  if (rest.startsWith('//')) {
    const end = rest.indexOf('/', 2);
    authority = rest.slice(2, end < 0 ? undefined : end).toLowerCase().split('@');
    rest = end < 0 ? '' : rest.slice(end);
  }
  const segments = rest.split('/');
  // `.`/`..` segments and empty interior segments (`a//b`) are normalisation tricks: never match.
  if (segments.some((s, i) => s === '.' || s === '..' || (s === '' && i > 0 && i < segments.length - 1))) return undefined;
  const parts: UriParts = { scheme: m[1]!.toLowerCase(), segments, tail };
  if (authority) parts.authority = authority;
  return parts;
}

export interface UriPattern { source: string; parts?: UriParts; usesNamespace: boolean }

export function compileUriPattern(source: string): UriPattern {
  const parts = parseUri(source);
  const p: UriPattern = { source, usesNamespace: source.includes(NAMESPACE_TOKEN) };
  if (parts && !parts.scheme.includes('*')) p.parts = parts;
  return p;
}

function globAll(ps: readonly string[], ts: readonly string[], ns: string | undefined): boolean {
  if (ps.length !== ts.length) return false;
  for (let i = 0; i < ps.length; i++) {
    const p = ns === undefined ? ps[i]! : ps[i]!.replaceAll(NAMESPACE_TOKEN, ns);
    if (!glob(p, ts[i]!)) return false;
  }
  return true;
}

/** Matches a parsed URI: scheme and authority case-insensitively, `*` within one path segment or authority part. */
export function matchUriParts(pattern: UriPattern, uri: UriParts, namespace: string): boolean {
  const pp = pattern.parts;
  if (!pp || pp.scheme !== uri.scheme) return false;
  let ns: string | undefined;
  if (pattern.usesNamespace) {
    if (!isValidNamespace(namespace)) return false;
    ns = namespace;
  }
  if ((pp.authority === undefined) !== (uri.authority === undefined)) return false;
  if (pp.authority && !globAll(pp.authority, uri.authority!, ns)) return false;
  if (!globAll(pp.segments, uri.segments, ns)) return false;
  return (ns === undefined ? pp.tail : pp.tail.replaceAll(NAMESPACE_TOKEN, ns)) === uri.tail;
}

export function matchesUriPattern(pattern: string | UriPattern, uri: string, namespace: string): boolean {
  const parts = parseUri(uri);
  if (!parts) return false;
  return matchUriParts(typeof pattern === 'string' ? compileUriPattern(pattern) : pattern, parts, namespace);
}

// ---- e-mail addresses ------------------------------------------------------------------------

const LOCAL_PART = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}$/;

export interface EmailPattern { source: string; local: string; domain: DnsPattern; valid: boolean; usesNamespace: boolean }

export function compileEmailPattern(source: string): EmailPattern {
  const at = source.indexOf('@');
  const local = at < 0 ? '' : source.slice(0, at);
  const domain = compileDnsPattern(at < 0 ? '' : source.slice(at + 1));
  const valid = at > 0 && source.indexOf('@', at + 1) < 0 && LOCAL_PART.test(local.replaceAll(NAMESPACE_TOKEN, 'a')) && domain.valid;
  return { source, local, domain, valid, usesNamespace: source.includes(NAMESPACE_TOKEN) };
}

/**
 * Matches `local@domain`: `*` is any run within the local part (compared case-sensitively, as
 * RFC 5321 says) or exactly one domain label (case-insensitive). A requested domain may not be a wildcard.
 */
export function matchesEmailPattern(pattern: string | EmailPattern, email: string, namespace: string): boolean {
  const p = typeof pattern === 'string' ? compileEmailPattern(pattern) : pattern;
  if (!p.valid) return false;
  const at = email.indexOf('@');
  if (at <= 0 || email.indexOf('@', at + 1) >= 0) return false;
  const local = email.slice(0, at);
  const labels = dnsNameLabels(email.slice(at + 1));
  if (!LOCAL_PART.test(local) || !labels || labels[0] === '*') return false;
  if (p.usesNamespace && !isValidNamespace(namespace)) return false;
  const localPattern = p.usesNamespace ? p.local.replaceAll(NAMESPACE_TOKEN, namespace) : p.local;
  return glob(localPattern, local) && matchDnsLabels(p.domain, labels, namespace);
}

// ---- IP addresses and CIDRs ------------------------------------------------------------------

export interface IpValue { family: 4 | 6; value: bigint }
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

export interface Cidr { source: string; family: 4 | 6; network: bigint; prefix: number; valid: boolean }

/** Compiles `addr/prefix`; an IPv4-mapped IPv6 range of /96 or longer becomes the IPv4 range. */
export function compileCidr(source: string): Cidr {
  const invalid: Cidr = { source, family: 4, network: 0n, prefix: 0, valid: false };
  const slash = source.indexOf('/');
  const bits = source.slice(slash + 1);
  if (slash < 0 || !/^[0-9]{1,3}$/.test(bits)) return invalid;
  const addr = source.slice(0, slash);
  const fam = isIP(addr);
  let prefix = Number(bits);
  if (fam === 0 || addr.includes('%') || prefix > (fam === 4 ? 32 : 128)) return invalid;
  let family: 4 | 6 = fam === 4 ? 4 : 6;
  let value = family === 4 ? v4ToBigInt(addr) : v6ToBigInt(addr);
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
