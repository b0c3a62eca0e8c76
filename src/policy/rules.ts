// One pure function per IssuancePolicy rule. Each returns the findings (violations without the
// policy name) for one target; an absent rule allows anything, an empty allowed list allows nothing.
import type { PolicyRules } from '../crds/issuance-policy.ts';
import { formatDuration, parseDuration } from '../crds/common.ts';
import type { CertificateShape, Violation } from './types.ts';
import {
  compileCidr, compileDnsPattern, compileEmailPattern, compileUriPattern, dnsNameLabels, ipInCidr, isWildcardName,
  matchDnsLabels, matchesEmailPattern, matchUriParts, parseIp, parseUri, showPattern,
} from './patterns.ts';
import type { Cidr, DnsPattern, EmailPattern, IpValue, UriParts, UriPattern } from './patterns.ts';

/** Rules with their patterns, CIDRs and durations compiled once. */
export interface CompiledRules {
  raw: PolicyRules;
  dnsNames?: DnsPattern[];
  cidrs?: Cidr[];
  uris?: UriPattern[];
  emails?: EmailPattern[];
  minDurationMs?: number;
  maxDurationMs?: number;
  /** Patterns or durations that can never match or could not be parsed (for the policy's Ready condition). */
  problems: string[];
}

/** What a rule looks at: a request or a discovered certificate, with its names parsed once. */
export interface RuleTarget extends CertificateShape {
  source: 'request' | 'certificate';
  authority?: string;
  ownerTeam?: string;
  durationMs: number;
  signatureAlgorithm?: string;
  selfSigned?: boolean;
  /** Discovered certificates: the issuer DN. */
  issuer?: string;
  parsed: { dnsNames: (string[] | undefined)[]; uris: (UriParts | undefined)[]; ips: (IpValue | undefined)[] };
}

export type Finding = Omit<Violation, 'policy' | 'enforcement'>;
/** What a rule returns when it finds nothing: shared, so the common case allocates nothing. */
const NONE: readonly Finding[] = Object.freeze([]);
export type RuleCheck = (rules: CompiledRules, t: RuleTarget) => readonly Finding[];

export function compileRules(raw: PolicyRules): CompiledRules {
  const c: CompiledRules = { raw, problems: [] };
  if (raw.dnsNames?.allowed) c.dnsNames = raw.dnsNames.allowed.map(compileDnsPattern);
  if (raw.ipAddresses?.allowedCIDRs) c.cidrs = raw.ipAddresses.allowedCIDRs.map(compileCidr);
  if (raw.uris?.allowed) c.uris = raw.uris.allowed.map(compileUriPattern);
  if (raw.emailAddresses?.allowed) c.emails = raw.emailAddresses.allowed.map(compileEmailPattern);
  compileDurations(c);
  c.problems.push(...patternProblems(c));
  return c;
}

function compileDurations(c: CompiledRules): void {
  for (const k of ['minDuration', 'maxDuration'] as const) {
    const v = c.raw[k];
    if (v === undefined) continue;
    const ms = parseDuration(v);
    // An unparsable bound fails closed: a max of 0 and a min of +∞ deny everything.
    if (ms === undefined) c.problems.push(`${k} ${quote(v)} is not a duration`);
    c[`${k}Ms`] = ms ?? (k === 'maxDuration' ? 0 : Number.POSITIVE_INFINITY);
  }
}

function patternProblems(c: CompiledRules): string[] {
  const bad = (rule: string, sources: string[], what = 'never matches'): string[] =>
    sources.map((s) => `${rule} entry ${quote(s)} ${what}`);
  return [
    ...bad('dnsNames.allowed', (c.dnsNames ?? []).filter((p) => !p.valid).map((p) => p.source)),
    ...bad('ipAddresses.allowedCIDRs', (c.cidrs ?? []).filter((p) => !p.valid).map((p) => p.source), 'is not a CIDR'),
    ...bad('uris.allowed', (c.uris ?? []).filter((p) => !p.parts).map((p) => p.source)),
    ...bad('emailAddresses.allowed', (c.emails ?? []).filter((p) => !p.valid).map((p) => p.source)),
  ];
}

// ---- message helpers --------------------------------------------------------------------------

const MAX_SHOWN = 256;

/** JSON-quotes a value for a message: control and non-ASCII characters escaped, long values cut. */
export function quote(v: string): string {
  const cut = v.length > MAX_SHOWN ? v.slice(0, MAX_SHOWN) : v;
  const q = JSON.stringify(cut).replace(/[^\x20-\x7e]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return v.length > MAX_SHOWN ? `${q}…(${v.length - MAX_SHOWN} more characters)` : q;
}

/** A policy-supplied item as shown in a list: bare when plain, quoted otherwise. */
function showItem(s: string): string {
  return /^[\x21-\x7e]+$/.test(s) && !/[,;"]/.test(s) ? s : quote(s);
}

function showList(items: readonly string[]): string {
  const shown = items.slice(0, 10).map(showItem).join(', ');
  return items.length > 10 ? `${shown}, … (${items.length - 10} more)` : shown;
}

function noneOf(items: readonly string[], verb: 'matches none of' | 'is not one of' | 'is in none of'): string {
  return items.length === 0 ? 'is not allowed (the allowed list is empty)' : `${verb} ${showList(items)}`;
}

function finding(rule: string, field: string, value: string, why: string): Finding {
  return { rule, field, value, message: `${field} ${quote(value)} ${why}` };
}

/** Findings for each element of `values` that `ok` rejects. */
function eachValue(values: readonly string[], field: string, rule: string, ok: (v: string, i: number) => boolean, why: () => string): readonly Finding[] {
  let out: Finding[] | undefined;
  let text: string | undefined; // built only when something fails
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!ok(v, i)) (out ??= []).push(finding(rule, `${field}[${i}]`, v, text ??= why()));
  }
  return out ?? NONE;
}

// ---- the rules, in the contract's order --------------------------------------------------------

/** Requests name their authority; a discovered certificate must chain to the CA of one of them. */
export const allowedAuthorities: RuleCheck = (r, t) => {
  const allowed = r.raw.allowedAuthorities;
  if (!allowed || allowed.includes(t.authority ?? '')) return NONE;
  if (t.source === 'request') return [finding('allowedAuthorities', 'authorityRef.name', t.authority ?? '', noneOf(allowed, 'is not one of'))];
  return [finding('allowedAuthorities', 'issuer', t.issuer ?? '', allowed.length === 0
    ? 'is not allowed: allowedAuthorities is empty' : `is not the CA of any of ${allowed.join(', ')}`)];
};

const CURVES: Readonly<Record<number, string>> = { 256: 'P-256', 384: 'P-384', 521: 'P-521' };
const isRsa = (alg: string): boolean => alg === 'RSA' || alg === 'RSASSA-PSS';

export const privateKey: RuleCheck = (r, t) => {
  const pk = r.raw.privateKey;
  if (!pk) return NONE;
  const out: Finding[] = [];
  const { algorithm, size } = t.key;
  if (pk.allowedAlgorithms && !(pk.allowedAlgorithms as string[]).includes(algorithm)) {
    out.push(finding('privateKey.allowedAlgorithms', 'privateKey.algorithm', algorithm, noneOf(pk.allowedAlgorithms, 'is not one of')));
  }
  if (pk.minRSASize !== undefined && isRsa(algorithm) && (size ?? 0) < pk.minRSASize) {
    out.push(finding('privateKey.minRSASize', 'privateKey.size', String(size ?? 'unknown'), `is below minRSASize ${pk.minRSASize}`));
  }
  if (pk.allowedECDSACurves && algorithm === 'ECDSA') {
    const curve = size === undefined ? undefined : CURVES[size];
    if (curve === undefined || !(pk.allowedECDSACurves as string[]).includes(curve)) {
      out.push(finding('privateKey.allowedECDSACurves', 'privateKey.size', curve ?? String(size ?? 'unknown'),
        noneOf(pk.allowedECDSACurves, 'is not one of')));
    }
  }
  return out;
};

/** How far a certificate's lifetime may exceed maxDuration: the back-dating issuers allow for clock skew (the API server's PCR window). */
export const LIFETIME_SLACK_MS = 5 * 60_000;

export const duration: RuleCheck = (r, t) => {
  const field = t.source === 'request' ? 'duration' : 'lifetime';
  if (!Number.isFinite(t.durationMs) || t.durationMs < 0) {
    return r.maxDurationMs === undefined ? [] : [finding('maxDuration', field, String(t.durationMs), 'is not a valid duration')];
  }
  const shown = formatDuration(t.durationMs);
  // issuers back-date notBefore for clock skew, so a certificate's lifetime may exceed what was requested by that much
  const slack = t.source === 'certificate' ? LIFETIME_SLACK_MS : 0;
  if (r.maxDurationMs !== undefined && t.durationMs > r.maxDurationMs + slack) {
    return [finding('maxDuration', field, shown, `exceeds maxDuration ${r.raw.maxDuration ?? formatDuration(r.maxDurationMs)}`)];
  }
  if (r.minDurationMs !== undefined && t.durationMs < r.minDurationMs) {
    return [finding('minDuration', field, shown, `is below minDuration ${r.raw.minDuration ?? formatDuration(r.minDurationMs)}`)];
  }
  return NONE;
};

export const dnsNames: RuleCheck = (r, t) => {
  const out: Finding[] = [];
  if (r.raw.dnsNames?.allowWildcardCertificates === false) {
    out.push(...eachValue(t.dnsNames, 'dnsNames', 'dnsNames.allowWildcardCertificates', (v) => !isWildcardName(v),
      () => 'is a wildcard name and allowWildcardCertificates is false'));
  }
  const patterns = r.dnsNames;
  if (patterns) {
    const ok = (_v: string, i: number): boolean => {
      const labels = t.parsed.dnsNames[i];
      return labels !== undefined && patterns.some((p) => matchDnsLabels(p, labels, t.namespace));
    };
    out.push(...eachValue(t.dnsNames, 'dnsNames', 'dnsNames.allowed', ok,
      () => noneOf(patterns.map((p) => showPattern(p.source, t.namespace)), 'matches none of')));
  }
  return out;
};

export const ipAddresses: RuleCheck = (r, t) => {
  const cidrs = r.cidrs;
  if (!cidrs) return NONE;
  const ok = (_v: string, i: number): boolean => {
    const ip = t.parsed.ips[i];
    return ip !== undefined && cidrs.some((c) => ipInCidr(ip, c));
  };
  return eachValue(t.ipAddresses, 'ipAddresses', 'ipAddresses.allowedCIDRs', ok, () => noneOf(cidrs.map((c) => c.source), 'is in none of'));
};

export const uris: RuleCheck = (r, t) => {
  const patterns = r.uris;
  if (!patterns) return NONE;
  const ok = (_v: string, i: number): boolean => {
    const parts = t.parsed.uris[i];
    return parts !== undefined && patterns.some((p) => matchUriParts(p, parts, t.namespace));
  };
  return eachValue(t.uris, 'uris', 'uris.allowed', ok, () => noneOf(patterns.map((p) => showPattern(p.source, t.namespace)), 'matches none of'));
};

export const emailAddresses: RuleCheck = (r, t) => {
  const patterns = r.emails;
  if (!patterns) return NONE;
  return eachValue(t.emailAddresses, 'emailAddresses', 'emailAddresses.allowed',
    (v) => patterns.some((p) => matchesEmailPattern(p, v, t.namespace)),
    () => noneOf(patterns.map((p) => showPattern(p.source, t.namespace)), 'matches none of'));
};

export const subject: RuleCheck = (r, t) => {
  const s = r.raw.subject;
  if (!s) return NONE;
  const out: Finding[] = [];
  if (s.requireCommonName === true && !t.subject.commonName) {
    out.push({ rule: 'subject.requireCommonName', field: 'subject.commonName', value: '', message: 'subject.commonName is required' });
  }
  const orgs = s.allowedOrganizations;
  if (orgs) {
    out.push(...eachValue(t.subject.organizations, 'subject.organizations', 'subject.allowedOrganizations', (v) => orgs.includes(v),
      () => noneOf(orgs, 'is not one of')));
  }
  return out;
};

export const usages: RuleCheck = (r, t) => {
  const allowed = r.raw.usages?.allowed as string[] | undefined;
  if (!allowed) return NONE;
  return eachValue(t.usages, 'usages', 'usages.allowed', (v) => allowed.includes(v), () => noneOf(allowed, 'is not one of'));
};

export const allowCA: RuleCheck = (r, t) =>
  r.raw.allowCA === false && t.isCA
    ? [{ rule: 'allowCA', field: 'isCA', value: 'true', message: 'isCA true is not allowed (allowCA is false)' }]
    : NONE;

export const requireOwner: RuleCheck = (r, t) =>
  r.raw.requireOwner === true && t.source === 'request' && !t.ownerTeam
    ? [{ rule: 'requireOwner', field: 'owner.team', value: '', message: 'owner.team is required' }]
    : NONE;

/** Discovered certificates only: a self-signed leaf (not a CA) is a violation. */
export const forbidSelfSigned: RuleCheck = (r, t) =>
  r.raw.forbidSelfSigned === true && t.source === 'certificate' && t.selfSigned === true && !t.isCA
    ? [{ rule: 'forbidSelfSigned', field: 'selfSigned', value: 'true', message: 'selfSigned true: a self-signed leaf certificate is not allowed' }]
    : NONE;

/** Discovered certificates only. */
export const allowedSignatureAlgorithms: RuleCheck = (r, t) => {
  const allowed = r.raw.allowedSignatureAlgorithms as string[] | undefined;
  if (!allowed || t.source !== 'certificate' || allowed.includes(t.signatureAlgorithm ?? '')) return NONE;
  return [finding('allowedSignatureAlgorithms', 'signatureAlgorithm', t.signatureAlgorithm ?? '', noneOf(allowed, 'is not one of'))];
};

/** Every rule, in the contract's order (the order violations are reported in). */
export const RULES: readonly RuleCheck[] = [
  allowedAuthorities, privateKey, duration, dnsNames, ipAddresses, uris, emailAddresses, subject, usages, allowCA, requireOwner,
  forbidSelfSigned, allowedSignatureAlgorithms,
];

export function checkRules(r: CompiledRules, t: RuleTarget): Finding[] {
  const out: Finding[] = [];
  for (const rule of RULES) {
    const found = rule(r, t);
    for (const f of found) out.push(f);
  }
  return out;
}

/** Parses a target's names once, for every policy it is checked against. */
export function parseNames(shape: Pick<CertificateShape, 'dnsNames' | 'uris' | 'ipAddresses'>): RuleTarget['parsed'] {
  return { dnsNames: shape.dnsNames.map(dnsNameLabels), uris: shape.uris.map(parseUri), ips: shape.ipAddresses.map(parseIp) };
}
