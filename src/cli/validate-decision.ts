// `kubectl mi validate`: what the identities' status.served says, as rows and an exit code a deployment
// pipeline can gate on. Pure (no I/O): the command reads the identities and hands them here.
import { ServedReason } from '../crds/reasons.ts';
import type { EndpointVerdict } from '../validation/types.ts';

export interface ServedEndpointStatus {
  source: string;
  object: string;
  address: string;
  port: number;
  sni?: string;
  servedSerialNumber?: string;
  verdict: EndpointVerdict;
  message?: string;
}

/** status.served of a MachineIdentity (src/crds/machine-identity.ts). */
export interface ServedStatus {
  lastProbeTime?: string;
  endpointCount?: number;
  endpoints?: ServedEndpointStatus[];
}

/** The parts of a MachineIdentity the command reads. */
export interface ValidatedIdentity {
  metadata: { namespace?: string; name?: string; annotations?: Record<string, string> };
  status?: {
    serialNumber?: string;
    conditions?: { type: string; status: string; reason?: string; message?: string }[];
    served?: ServedStatus;
  };
}

/** One line of the table, one element of the JSON `rows` (documented in docs/cli.md: keep it stable). */
export interface ValidateRow {
  namespace: string;
  identity: string;
  /** `<source> <object> <address>:<port>`, or '' when the identity has no endpoint listed. */
  endpoint: string;
  sni: string;
  servedSerial: string;
  currentSerial: string;
  /** An EndpointVerdict, or (no endpoint listed) the Served condition's reason, or NotValidated. */
  verdict: string;
  message: string;
}

export interface ValidateOptions {
  /** Unreachable, Pending, AwaitingReload and identities not validated fail too. */
  strict: boolean;
}

export interface ValidateDecision {
  rows: ValidateRow[];
  /** 0 all current (or nothing to serve), 1 something stale, expired, incomplete or untrusted (or unsure, with strict). */
  exitCode: 0 | 1;
  warnings: string[];
}

/** Verdicts that mean clients get a certificate they should not: always exit 1. */
const FAILING_VERDICTS: ReadonlySet<string> = new Set<EndpointVerdict>(['Stale', 'Expired', 'IncompleteChain']);
/** Served reasons that fail even without an endpoint row saying so (Untrusted has no endpoint verdict of its own). */
const FAILING_REASONS: ReadonlySet<string> = new Set<string>([
  ServedReason.ServingStaleCertificate,
  ServedReason.ServingExpiredCertificate,
  ServedReason.ServingIncompleteChain,
  ServedReason.ServingUntrustedCertificate,
]);
/** Not known to be bad, not known to be good: a warning, exit 1 only with --strict. */
const UNSURE: ReadonlySet<string> = new Set<string>([
  'Unreachable',
  'Pending',
  'AwaitingReload',
  ServedReason.EndpointUnreachable,
  ServedReason.ProbePending,
  ServedReason.AwaitingReload,
  'NotValidated',
]);

const NOT_VALIDATED = 'NotValidated';

const servedCondition = (mi: ValidatedIdentity) => mi.status?.conditions?.find((c) => c.type === 'Served');
const idOf = (mi: ValidatedIdentity): string => `${mi.metadata.namespace ?? ''}/${mi.metadata.name ?? ''}`;

/** An identity without endpoints in status: the Served condition says why (NoEndpoints, ProbePending...). */
function noEndpointRow(
  mi: ValidatedIdentity,
): Pick<ValidateRow, 'endpoint' | 'sni' | 'servedSerial' | 'verdict' | 'message'> {
  const c = servedCondition(mi);
  return {
    endpoint: '',
    sni: '',
    servedSerial: '',
    verdict: c?.reason || NOT_VALIDATED,
    message: c ? (c.message ?? '') : 'no Served condition: validation is off or has not run for this identity yet',
  };
}

function identityRows(mi: ValidatedIdentity): ValidateRow[] {
  const base = {
    namespace: mi.metadata.namespace ?? '',
    identity: mi.metadata.name ?? '',
    currentSerial: mi.status?.serialNumber ?? '',
  };
  const endpoints = mi.status?.served?.endpoints ?? [];
  if (endpoints.length === 0) return [{ ...base, ...noEndpointRow(mi) }];
  return endpoints.map((e) => ({
    ...base,
    endpoint: `${e.source} ${e.object} ${e.address.includes(':') ? `[${e.address}]` : e.address}:${e.port}`,
    sni: e.sni ?? '',
    servedSerial: e.servedSerialNumber ?? '',
    verdict: e.verdict,
    message: e.message ?? '',
  }));
}

function identityWarnings(mi: ValidatedIdentity, rows: ValidateRow[]): string[] {
  const w: string[] = [];
  const unsure = rows.filter((r) => UNSURE.has(r.verdict));
  if (unsure.length)
    w.push(
      `${idOf(mi)}: ${unsure.length} endpoint(s) not known to serve the current certificate (${unsure[0]?.verdict})`,
    );
  const listed = mi.status?.served?.endpoints?.length ?? 0;
  const total = mi.status?.served?.endpointCount ?? listed;
  if (total > listed)
    w.push(`${idOf(mi)}: ${total - listed} more endpoint(s) not listed in status (those not current come first)`);
  return w;
}

function fails(mi: ValidatedIdentity, rows: ValidateRow[], strict: boolean): boolean {
  const c = servedCondition(mi);
  if (c?.status === 'False' && FAILING_REASONS.has(c.reason ?? '')) return true;
  return rows.some((r) => FAILING_VERDICTS.has(r.verdict) || (strict && UNSURE.has(r.verdict)));
}

/** Rows (not current first within each identity, identities in the order given) and the exit code. */
export function decideValidate(identities: readonly ValidatedIdentity[], o: ValidateOptions): ValidateDecision {
  const rows: ValidateRow[] = [];
  const warnings: string[] = [];
  let failed = false;
  for (const mi of identities) {
    const r = identityRows(mi);
    rows.push(...r);
    warnings.push(...identityWarnings(mi, r));
    failed ||= fails(mi, r, o.strict);
  }
  return { rows, exitCode: failed ? 1 : 0, warnings };
}

/**
 * The request time to write: now rounded UP to a whole second. status.served.lastProbeTime has second
 * precision; rounding down could take a probe that finished just before the request for an answer to it.
 */
export function requestTime(nowMs: number): string {
  return new Date(Math.ceil(nowMs / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

/** The identities whose last probe is older than the request (what --wait still waits for). */
export function notProbedSince(identities: readonly ValidatedIdentity[], requestedAt: string): string[] {
  const req = Date.parse(requestedAt);
  return identities
    .filter((mi) => {
      const t = Date.parse(mi.status?.served?.lastProbeTime ?? '');
      return Number.isNaN(t) || t < req;
    })
    .map(idOf);
}

const COLUMNS: [string, keyof ValidateRow][] = [
  ['NAMESPACE', 'namespace'],
  ['IDENTITY', 'identity'],
  ['ENDPOINT', 'endpoint'],
  ['SNI', 'sni'],
  ['SERVED SERIAL', 'servedSerial'],
  ['CURRENT SERIAL', 'currentSerial'],
  ['VERDICT', 'verdict'],
];
// serial numbers run to 40 hex digits: a table shows enough to tell them apart
const SERIAL_SHOWN = 16;
// a status field or name must not move the terminal's cursor or change its colours
const printable = (v: string): string => v.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
const cell = (r: ValidateRow, k: keyof ValidateRow): string => {
  const v = printable(r[k] || '-');
  return (k === 'servedSerial' || k === 'currentSerial') && v.length > SERIAL_SHOWN
    ? `${v.slice(0, SERIAL_SHOWN)}…`
    : v;
};

export function formatValidateTable(rows: readonly ValidateRow[]): string {
  if (rows.length === 0) return 'No MachineIdentities found.\n';
  const cells = rows.map((r) => COLUMNS.map(([, k]) => cell(r, k)));
  const widths = COLUMNS.map(([h], i) => Math.max(h.length, ...cells.map((c) => (c[i] ?? '').length)));
  const line = (c: string[]): string =>
    c
      .map((v, i) => v.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return `${[line(COLUMNS.map(([h]) => h)), ...cells.map(line)].join('\n')}\n`;
}
