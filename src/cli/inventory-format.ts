// `kubectl mi inventory` output: one row per certificate, as a table (or a wide one), JSON or CSV.
// Across several clusters (--context, --all-contexts) every row carries its cluster: a first column.
import type { InventoryEntry } from '../inventory/model.ts';

export interface InventoryRow {
  /** The kubeconfig context the row was read through; only across several clusters. */
  cluster?: string;
  namespace: string;
  kind: string;
  name: string;
  key: string;
  subject: string;
  issuer: string;
  serialNumber: string;
  fingerprintSHA256: string;
  /** SHA-256 of the certificate's public key (SPKI): the same key in two rows is one key in two places. */
  publicKeySHA256: string;
  notBefore: string;
  notAfter: string;
  expiresInSeconds: number;
  keyAlgorithm: string;
  keySize?: number;
  signatureAlgorithm: string;
  isCA: boolean;
  selfSigned: boolean;
  dnsNames: string[];
  ipAddresses: string[];
  uris: string[];
  emailAddresses: string[];
  sanCount: number;
  managed: boolean;
  identity?: string;
  authority?: string;
  trusted: boolean;
  owner?: string;
  location: InventoryEntry['location'];
  compliant: boolean;
  violations: { policy: string; enforcement: string; rule: string; message: string }[];
  /** KeyReuse, KeyCopied, ReissueLoop of the object (muted ones too, marked). */
  anomalies: NonNullable<InventoryEntry['anomalies']>;
}

export function toRow(e: InventoryEntry, now: number): InventoryRow {
  const c = e.cert;
  const row: InventoryRow = {
    namespace: e.namespace,
    kind: e.kind,
    name: e.name,
    key: c.key,
    subject: c.subjectDN,
    issuer: c.issuerDN,
    serialNumber: c.serialNumber,
    fingerprintSHA256: c.fingerprintSHA256,
    publicKeySHA256: c.publicKeySHA256,
    notBefore: new Date(c.notBefore).toISOString(),
    notAfter: new Date(c.notAfter).toISOString(),
    expiresInSeconds: Math.round((c.notAfter - now) / 1000),
    keyAlgorithm: c.keyAlgorithm,
    signatureAlgorithm: c.signatureAlgorithm,
    isCA: c.isCA,
    selfSigned: c.selfSigned,
    dnsNames: c.dnsNames,
    ipAddresses: c.ipAddresses,
    uris: c.uris,
    emailAddresses: c.emailAddresses,
    sanCount: c.sanCount,
    managed: e.managed,
    trusted: e.trusted,
    location: e.location,
    compliant: e.compliant,
    violations: e.violations.map((v) => ({
      policy: v.policy,
      enforcement: v.enforcement,
      rule: v.rule,
      message: v.message,
    })),
    anomalies: e.anomalies ?? [],
  };
  if (c.keySize !== undefined) row.keySize = c.keySize;
  if (e.identity) row.identity = e.identity;
  if (e.authority) row.authority = e.authority;
  if (e.owner) row.owner = e.owner;
  return row;
}

/** KeyReuse,KeyCopied(muted) or '-'. */
function anomalyCell(list: InventoryRow['anomalies']): string {
  const names = [...new Set(list.map((a) => `${a.anomaly}${a.muted ? '(muted)' : ''}`))];
  return names.length ? names.join(',') : '-';
}

function age(seconds: number): string {
  const a = Math.abs(seconds);
  const s =
    a >= 86_400 ? `${Math.floor(a / 86_400)}d` : a >= 3600 ? `${Math.floor(a / 3600)}h` : `${Math.floor(a / 60)}m`;
  return seconds < 0 ? `expired ${s} ago` : s;
}

export interface TableOptions {
  /** A CLUSTER column first (several clusters). */
  cluster?: boolean;
  /** Also ISSUER, NOT AFTER, SERIAL, IDENTITY and AUTHORITY (`-o wide`). */
  wide?: boolean;
}

const HEAD = [
  'NAMESPACE',
  'KIND',
  'NAME',
  'KEY',
  'SUBJECT',
  'EXPIRES IN',
  'KEY ALG',
  'SIGNATURE',
  'MANAGED',
  'TRUSTED',
  'COMPLIANT',
  'OWNER',
  'ANOMALIES',
];
const WIDE_HEAD = ['ISSUER', 'NOT AFTER', 'SERIAL', 'IDENTITY', 'AUTHORITY'];

function cells(r: InventoryRow): string[] {
  return [
    r.namespace || '-',
    r.kind,
    r.name,
    r.key,
    r.subject.slice(0, 60) || '-',
    age(r.expiresInSeconds),
    `${r.keyAlgorithm}${r.keySize ? `-${r.keySize}` : ''}`,
    r.signatureAlgorithm,
    String(r.managed),
    String(r.trusted),
    String(r.compliant),
    r.owner ?? '-',
    anomalyCell(r.anomalies),
  ];
}

const wideCells = (r: InventoryRow): string[] => [
  r.issuer.slice(0, 60) || '-',
  r.notAfter,
  r.serialNumber.length > 16 ? `${r.serialNumber.slice(0, 16)}…` : r.serialNumber || '-',
  r.identity ?? '-',
  r.authority ?? '-',
];

export function formatTable(rows: readonly InventoryRow[], opts: TableOptions = {}): string {
  const head = [...(opts.cluster ? ['CLUSTER'] : []), ...HEAD, ...(opts.wide ? WIDE_HEAD : [])];
  const body = rows.map((r) => [
    ...(opts.cluster ? [r.cluster ?? '-'] : []),
    ...cells(r),
    ...(opts.wide ? wideCells(r) : []),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => (b[i] ?? '').length)));
  return (
    [head, ...body]
      .map((cols) =>
        cols
          .map((c, i) => c.padEnd(widths[i] ?? 0))
          .join('  ')
          .trimEnd(),
      )
      .join('\n') + '\n'
  );
}

const csvCell = (v: unknown): string => {
  const s = Array.isArray(v)
    ? v.map((x) => (typeof x === 'object' && x && 'anomaly' in x ? String(x.anomaly) : String(x))).join(' ')
    : v === undefined
      ? ''
      : String(v);
  // a cell starting with = + - @ is a formula in spreadsheets: neutralise it
  const safe = /^[=+\-@\t\r]/.test(s) ? `'${s}` : s;
  return /[",\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
};

export function formatCsv(rows: readonly InventoryRow[], opts: { cluster?: boolean } = {}): string {
  const cols = [
    ...(opts.cluster ? (['cluster'] as const) : []),
    'namespace',
    'kind',
    'name',
    'key',
    'subject',
    'issuer',
    'serialNumber',
    'fingerprintSHA256',
    'publicKeySHA256',
    'notBefore',
    'notAfter',
    'expiresInSeconds',
    'keyAlgorithm',
    'keySize',
    'signatureAlgorithm',
    'isCA',
    'selfSigned',
    'dnsNames',
    'managed',
    'identity',
    'authority',
    'trusted',
    'owner',
    'compliant',
    'anomalies',
  ] as const satisfies readonly (keyof InventoryRow)[];
  return [cols.join(','), ...rows.map((r) => cols.map((c) => csvCell(r[c])).join(','))].join('\n') + '\n';
}
