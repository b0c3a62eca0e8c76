// Name patterns of IssuancePolicy rules: DNS names, URIs and e-mail addresses (CIDRs are in
// ip-ranges.ts). Pure and total:
// no input throws, and anything malformed (empty labels, spaces, non-ASCII, dot segments) never matches.

const NAMESPACE_TOKEN = '{{namespace}}';
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
    const l = labels[i] ?? '';
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
  const valid =
    p.length > 0 &&
    p.length <= 253 &&
    PRINTABLE.test(p) &&
    labels.every((l) => l === '*' || validLabel(l.replaceAll(NAMESPACE_TOKEN, 'a')));
  return { source, labels, valid, usesNamespace: p.includes(NAMESPACE_TOKEN) };
}

/** Matches already-normalised name labels (see dnsNameLabels) against a compiled pattern. */
export function matchDnsLabels(pattern: DnsPattern, labels: readonly string[], namespace: string): boolean {
  if (!pattern.valid || pattern.labels.length !== labels.length) return false;
  if (pattern.usesNamespace && !isValidNamespace(namespace)) return false;
  for (let i = 0; i < labels.length; i++) {
    const pl = pattern.labels[i];
    if (pl === '*') continue; // the name's label was validated by dnsNameLabels
    const lit = pattern.usesNamespace ? pl?.replaceAll(NAMESPACE_TOKEN, namespace) : pl;
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
  let pi = 0,
    ti = 0,
    star = -1,
    mark = 0;
  while (ti < t.length) {
    if (pi < p.length && p[pi] === '*') {
      star = pi++;
      mark = ti;
      continue;
    }
    if (pi < p.length && p[pi] === t[ti]) {
      pi++;
      ti++;
      continue;
    }
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

/** `rest` without its `?query#fragment`, and that tail (compared literally). */
function splitTail(rest: string): { rest: string; tail: string } {
  const q = rest.search(/[?#]/);
  return q < 0 ? { rest, tail: '' } : { rest: rest.slice(0, q), tail: rest.slice(q) };
}

/** The lower-cased authority after `//` split on `@`, and the path after it; no authority without `//`. */
function splitAuthority(rest: string): { authority?: string[]; path: string } {
  if (!rest.startsWith('//')) return { path: rest };
  const end = rest.indexOf('/', 2);
  return {
    authority: rest
      .slice(2, end < 0 ? undefined : end)
      .toLowerCase()
      .split('@'),
    path: end < 0 ? '' : rest.slice(end),
  };
}

/** `.`/`..` segments and empty interior segments (`a//b`) are normalisation tricks: never match. */
function hasTrickSegments(segments: readonly string[]): boolean {
  return segments.some((s, i) => s === '.' || s === '..' || (s === '' && i > 0 && i < segments.length - 1));
}

/** Splits a URI into the parts patterns compare. Undefined for anything malformed or tricky. */
export function parseUri(uri: string): UriParts | undefined {
  if (uri.length > 2048 || !PRINTABLE.test(uri) || uri.includes('\\') || ENCODED_TRICKS.test(uri)) return undefined;
  const m = URI_SCHEME.exec(uri);
  if (!m) return undefined;
  const [, scheme = '', afterScheme = ''] = m;
  const { rest, tail } = splitTail(afterScheme);
  const { authority, path } = splitAuthority(rest);
  const segments = path.split('/');
  if (hasTrickSegments(segments)) return undefined;
  const parts: UriParts = { scheme: scheme.toLowerCase(), segments, tail };
  if (authority) parts.authority = authority;
  return parts;
}

export interface UriPattern {
  source: string;
  parts?: UriParts;
  usesNamespace: boolean;
}

export function compileUriPattern(source: string): UriPattern {
  const parts = parseUri(source);
  const p: UriPattern = { source, usesNamespace: source.includes(NAMESPACE_TOKEN) };
  if (parts && !parts.scheme.includes('*')) p.parts = parts;
  return p;
}

function globAll(ps: readonly string[], ts: readonly string[], ns: string | undefined): boolean {
  if (ps.length !== ts.length) return false;
  for (let i = 0; i < ps.length; i++) {
    const p = ps[i] ?? '';
    if (!glob(ns === undefined ? p : p.replaceAll(NAMESPACE_TOKEN, ns), ts[i] ?? '')) return false;
  }
  return true;
}

/** Both absent, or both present and matching. */
function sameAuthority(pattern: string[] | undefined, uri: string[] | undefined, ns: string | undefined): boolean {
  if (pattern === undefined || uri === undefined) return pattern === uri;
  return globAll(pattern, uri, ns);
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
  if (!sameAuthority(pp.authority, uri.authority, ns)) return false;
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

export interface EmailPattern {
  source: string;
  local: string;
  domain: DnsPattern;
  valid: boolean;
  usesNamespace: boolean;
}

export function compileEmailPattern(source: string): EmailPattern {
  const at = source.indexOf('@');
  const local = at < 0 ? '' : source.slice(0, at);
  const domain = compileDnsPattern(at < 0 ? '' : source.slice(at + 1));
  const valid =
    at > 0 &&
    source.indexOf('@', at + 1) < 0 &&
    LOCAL_PART.test(local.replaceAll(NAMESPACE_TOKEN, 'a')) &&
    domain.valid;
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
