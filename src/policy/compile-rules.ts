// IssuancePolicy rules compiled once per policy: patterns, CIDRs and durations parsed, and what
// can never match listed as problems (for the policy's Ready condition).
import type { PolicyRules } from '../crds/issuance-policy.ts';
import { parseDuration } from '../crds/common.ts';
import { quote } from './findings.ts';
import { compileCidr, type Cidr } from './ip-ranges.ts';
import { compileDnsPattern, compileEmailPattern, compileUriPattern } from './patterns.ts';
import type { DnsPattern, EmailPattern, UriPattern } from './patterns.ts';

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
    ...bad(
      'dnsNames.allowed',
      (c.dnsNames ?? []).filter((p) => !p.valid).map((p) => p.source),
    ),
    ...bad(
      'ipAddresses.allowedCIDRs',
      (c.cidrs ?? []).filter((p) => !p.valid).map((p) => p.source),
      'is not a CIDR',
    ),
    ...bad(
      'uris.allowed',
      (c.uris ?? []).filter((p) => !p.parts).map((p) => p.source),
    ),
    ...bad(
      'emailAddresses.allowed',
      (c.emails ?? []).filter((p) => !p.valid).map((p) => p.source),
    ),
  ];
}
