// Building blocks shared by the three kinds: Kubernetes names, Go durations, references, label
// selectors, metav1.Condition, and `withRules`, which attaches one rule to a schema twice: as a CEL
// `x-kubernetes-validations` entry for the API server and as a zod refinement for in-process parsing.
import { isIP } from 'node:net';
import { z } from 'zod';

export const GROUP = 'machineidentity.io';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;

/** One validation rule, said once for both the API server (CEL) and zod (`check`). */
export interface Rule<T> {
  /** CEL expression; `self` is the value of the schema node the rule is attached to. */
  rule: string;
  message: string;
  /** JSONPath-like path relative to the node (`.renewBefore`), so errors name the field. */
  fieldPath?: string;
  reason?: 'FieldValueInvalid' | 'FieldValueForbidden' | 'FieldValueRequired' | 'FieldValueDuplicate';
  /** The same rule in TypeScript, evaluated on the parsed (defaulted) value. */
  check: (self: T) => boolean;
}

/** Attaches rules to a schema: CEL for the CRD, a refinement for zod. */
export function withRules<S extends z.ZodType>(schema: S, rules: ReadonlyArray<Rule<z.output<S>>>): S {
  const refined = schema.superRefine((value, ctx) => {
    for (const r of rules) {
      if (r.check(value)) continue;
      ctx.addIssue({ code: 'custom', message: r.message, path: fieldPathSegments(r.fieldPath) });
    }
  });
  const validations = rules.map(({ rule, message, fieldPath, reason }) => ({
    rule,
    message,
    ...(fieldPath ? { fieldPath } : {}),
    ...(reason ? { reason } : {}),
  }));
  const existing = (schema.meta()?.['x-kubernetes-validations'] as unknown[] | undefined) ?? [];
  return refined.meta({ 'x-kubernetes-validations': [...existing, ...validations] }) as S;
}

function fieldPathSegments(fieldPath: string | undefined): string[] {
  return fieldPath ? fieldPath.split('.').filter((s) => s !== '') : [];
}

// ---- names ---------------------------------------------------------------------------------

const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** A Kubernetes object name (DNS-1123 subdomain: lower case, digits, '-', '.'; at most 253). */
export function objectName(description: string): z.ZodString {
  return z.string().min(1).max(253).regex(DNS1123_SUBDOMAIN).describe(description);
}

/** A DNS-1123 label (at most 63 characters), e.g. a namespace name or a label value we emit. */
export function labelName(description: string): z.ZodString {
  return z.string().min(1).max(63).regex(DNS1123_LABEL).describe(description);
}

/** A key inside a Secret or ConfigMap. */
const DataKey = z
  .string()
  .min(1)
  .max(253)
  .regex(/^[-._a-zA-Z0-9]+$/);

// ---- durations -----------------------------------------------------------------------------

// Go's time.ParseDuration syntax, positive values only (no sign, no bare "0"). Built from a string: esbuild
// escapes µ in strings but not in regex literals, and one non-ASCII character makes V8 hold the whole bundle's
// source as a two-byte string (scripts/bundle.ts checks); the pattern's source, which the CRDs' OpenAPI
// schema carries for the API server's RE2, keeps the µ itself (RE2 has no \u escape).
const GO_DURATION = new RegExp('^([0-9]+(\\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$');
const UNIT_NS: Record<string, number> = { ns: 1, us: 1e3, µs: 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };
/** The largest duration CEL accepts (int64 nanoseconds, ~292 years). */
const MAX_DURATION_NS = 9_223_372_036_854_775_807n;

/** Parses a Go duration string into milliseconds (µs precision); undefined if it is not one or overflows int64 ns. */
export function parseDuration(s: string): number | undefined {
  if (!GO_DURATION.test(s)) return undefined;
  let ns = 0n;
  for (const m of s.matchAll(/([0-9]+)(?:\.([0-9]+))?(ns|us|\u00b5s|ms|s|m|h)/g)) {
    const unit = BigInt(UNIT_NS[m[3] ?? ''] ?? 0);
    const frac = m[2] ? BigInt(Math.round(Number(`0.${m[2]}`) * Number(unit))) : 0n;
    ns += BigInt(m[1] ?? '0') * unit + frac;
    if (ns > MAX_DURATION_NS) return undefined;
  }
  return Number(ns / 1000n) / 1000;
}

/** Formats milliseconds as a Go duration (`2160h`, `1h30m`, `90s`). */
export function formatDuration(ms: number): string {
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  const s = (ms % 60_000) / 1000;
  const out = `${h ? `${h}h` : ''}${m ? `${m}m` : ''}${s ? `${s}s` : ''}`;
  return out === '' ? '0s' : out;
}

/** A positive Go duration string. The CEL rule makes the API server parse it as well. */
export function duration(description: string, min?: string): z.ZodString {
  const base = z.string().min(2).max(32).regex(GO_DURATION).describe(description);
  const minMs = min === undefined ? undefined : parseDuration(min);
  return withRules(base, [
    {
      rule: min === undefined ? `duration(self) > duration('0s')` : `duration(self) >= duration('${min}')`,
      message:
        min === undefined
          ? 'must be a positive Go duration such as 90m, 24h or 1h30m'
          : `must be a Go duration of at least ${min}`,
      check: (v) => {
        const ms = parseDuration(v);
        return ms !== undefined && ms > 0 && (minMs === undefined || ms >= minMs);
      },
    },
  ]);
}

// ---- addresses -----------------------------------------------------------------------------

export const DNS_NAME = /^(\*\.)?[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?(\.[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?)*$/;

export const IPAddress = withRules(z.string().max(45), [
  {
    rule: 'isIP(self)',
    message: 'must be an IPv4 or IPv6 address',
    check: (v) => isIP(v) !== 0,
  },
]);

export const CIDR = withRules(z.string().max(49), [
  {
    rule: 'isCIDR(self)',
    message: 'must be a CIDR such as 10.0.0.0/8 or fd00::/8',
    check: isCidr,
  },
]);

function isCidr(v: string): boolean {
  const [ip, bits, ...rest] = v.split('/');
  if (ip === undefined || bits === undefined || rest.length > 0 || !/^[0-9]{1,3}$/.test(bits)) return false;
  const family = isIP(ip);
  return family !== 0 && Number(bits) <= (family === 4 ? 32 : 128);
}

/** A PEM bundle of CA certificates. */
/** A name pattern: `*` matches within one DNS label (or any run of characters in a URI); `{{namespace}}` is the request's namespace. */
const namePattern = (max: number): z.ZodString => z.string().min(1).max(max);
export const patternList = (description: string, max = 64, itemMax = 512): z.ZodOptional<z.ZodArray<z.ZodString>> =>
  z.array(namePattern(itemMax)).max(max).optional().describe(description);

export function pemBundle(description: string): z.ZodString {
  return z
    .string()
    .max(65536)
    .regex(/^\s*-----BEGIN CERTIFICATE-----/)
    .describe(description);
}

/** A SHA-256 fingerprint: 64 hex digits, optionally colon-separated in pairs. */
export const SHA256_FINGERPRINT = /^([0-9A-Fa-f]{64}|([0-9A-Fa-f]{2}:){31}[0-9A-Fa-f]{2})$/;

// ---- lists -------------------------------------------------------------------------------

/** A list of unique scalars (`x-kubernetes-list-type: set`; the API server rejects duplicates). */
export function setList<T extends z.ZodType>(item: T, maxItems: number): z.ZodArray<T> {
  return z
    .array(item)
    .max(maxItems)
    .superRefine((list, ctx) => {
      const seen = new Set<unknown>();
      list.forEach((v, i) => {
        if (seen.has(v)) ctx.addIssue({ code: 'custom', message: `duplicate value ${JSON.stringify(v)}`, path: [i] });
        seen.add(v);
      });
    })
    .meta({ 'x-kubernetes-list-type': 'set' });
}

/** A list of objects unique by `keys` (`x-kubernetes-list-type: map`: server-side apply merges per key). */
export function mapList<T extends z.ZodObject>(
  item: T,
  maxItems: number,
  keys: ReadonlyArray<keyof z.output<T> & string>,
): z.ZodArray<T> {
  return z
    .array(item)
    .max(maxItems)
    .superRefine((list, ctx) => {
      const seen = new Set<string>();
      list.forEach((v, i) => {
        const id = JSON.stringify(keys.map((k) => (v as Record<string, unknown>)[k]));
        if (seen.has(id))
          ctx.addIssue({ code: 'custom', message: `duplicate entry for ${keys.join(', ')} ${id}`, path: [i] });
        seen.add(id);
      });
    })
    .meta({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': [...keys] });
}

// ---- maps ----------------------------------------------------------------------------------

/** A string-to-string map (labels, annotations) with bounded size, key length and value length. */
export function stringMap(
  maxProperties: number,
  maxValueLength: number,
  description: string,
): z.ZodRecord<z.ZodString, z.ZodString> {
  const base = z.record(z.string(), z.string().max(maxValueLength)).describe(description);
  return withRules(base, [
    {
      rule: 'self.all(k, size(k) <= 317)',
      message: 'keys must be at most 317 characters',
      check: (m) => Object.keys(m).every((k) => k.length <= 317),
    },
  ])
    .meta({ maxProperties })
    .superRefine((m, ctx) => {
      if (Object.keys(m).length > maxProperties)
        ctx.addIssue({ code: 'custom', message: `must have at most ${maxProperties} entries` });
    });
}

// ---- references ----------------------------------------------------------------------------

export const LocalObjectReference = z.object({ name: objectName('Name of the referenced object.') });

export const SecretKeySelector = z.object({
  name: objectName('Name of the Secret.'),
  key: DataKey.describe("Key in the Secret's data."),
});

export const LabelSelector = z
  .object({
    matchLabels: stringMap(64, 63, 'Labels that must all match, as in a Kubernetes label selector.').optional(),
    matchExpressions: z
      .array(
        z.object({
          key: z.string().min(1).max(317).describe('The label key.'),
          operator: z.enum(['In', 'NotIn', 'Exists', 'DoesNotExist']).describe('How the key relates to the values.'),
          values: z
            .array(z.string().max(63))
            .max(64)
            .optional()
            .describe('Values for In and NotIn; empty for Exists and DoesNotExist.'),
        }),
      )
      .max(32)
      .optional()
      .describe('Label expressions that must all match.'),
  })
  .describe('A Kubernetes label selector; an empty selector matches everything.');
