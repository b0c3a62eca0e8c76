// Small pure helpers of the inventory and `kubectl mi inventory` output.
import { describe, it, expect } from '@jest/globals';
import { formatCsv, formatTable, toRow, type InventoryRow } from '../../src/cli/inventory-format.ts';
import { namedLikeCertificates } from '../../src/inventory/extract.ts';
import type { InventoryEntry } from '../../src/inventory/model.ts';
import { gatewayRefs } from '../../src/inventory/refs.ts';

describe('namedLikeCertificates', () => {
  it.each([
    { key: 'keystore.p12', want: true },
    { key: 'KEYSTORE.PFX', want: true },
    { key: 'tls.crt', want: true },
    { key: 'ca.pem', want: true },
    { key: 'server.der', want: true },
    { key: 'tls.key', want: false },
    { key: 'config.yaml', want: false },
  ])('$key', ({ key, want }) => expect(namedLikeCertificates(key)).toBe(want));
});

describe('gatewayRefs: which certificateRefs name a local Secret', () => {
  const gw = (refs: { kind?: string; name?: string; namespace?: string }[]) =>
    gatewayRefs({
      metadata: { name: 'gw', namespace: 'payments' },
      spec: { listeners: [{ tls: { certificateRefs: refs } }] },
    }).secrets;
  it.each([
    { name: 'a bare name', refs: [{ name: 'a' }], want: ['a'] },
    {
      name: 'an explicit Secret in the same namespace',
      refs: [{ kind: 'Secret', name: 'a', namespace: 'payments' }],
      want: ['a'],
    },
    { name: 'another namespace', refs: [{ name: 'a', namespace: 'other' }], want: [] },
    { name: 'another kind', refs: [{ kind: 'ConfigMap', name: 'a' }], want: [] },
    { name: 'no name', refs: [{ kind: 'Secret' }], want: [] },
    { name: 'duplicates once', refs: [{ name: 'a' }, { name: 'a' }], want: ['a'] },
  ])('$name', ({ refs, want }) => expect(gw(refs)).toEqual(want));
});

const NOW = Date.parse('2026-01-01T00:00:00Z');
const entry = (over: Partial<InventoryEntry> = {}, notAfter = NOW + 40 * 86_400_000): InventoryEntry => ({
  namespace: 'payments',
  kind: 'Secret',
  name: 'web-tls',
  managed: false,
  trusted: false,
  compliant: true,
  violations: [],
  location: { pods: [], workloads: [], ingresses: [], gateways: [] },
  cert: {
    key: 'tls.crt',
    serialNumber: '01',
    fingerprintSHA256: 'AA',
    publicKeySHA256: 'BB',
    subjectDN: 'CN=web',
    issuerDN: 'CN=ca',
    notBefore: NOW - 86_400_000,
    notAfter,
    isCA: false,
    keyAlgorithm: 'ECDSA',
    keySize: 256,
    keyUsage: [],
    extKeyUsage: [],
    signatureAlgorithm: 'ECDSAWithSHA256',
    selfSigned: false,
    dnsNames: ['web'],
    ipAddresses: [],
    uris: [],
    emailAddresses: [],
    sanCount: 1,
  },
  ...over,
});

describe('toRow and formatTable', () => {
  it.each([
    { name: 'days left', e: entry(), want: '40d' },
    { name: 'hours left', e: entry({}, NOW + 5 * 3_600_000), want: '5h' },
    { name: 'minutes left', e: entry({}, NOW + 90_000), want: '1m' },
    { name: 'expired', e: entry({}, NOW - 2 * 86_400_000), want: 'expired 2d ago' },
  ])('$name', ({ e, want }) => {
    const table = formatTable([toRow(e, NOW)]);
    expect(table.split('\n')[1]).toContain(want);
  });
  it('aligns columns and shows the key size with the algorithm', () => {
    const lines = formatTable([toRow(entry(), NOW), toRow(entry({ namespace: 'a-much-longer-namespace' }), NOW)])
      .trimEnd()
      .split('\n');
    expect(lines[0]?.indexOf('KIND')).toBe(lines[2]?.indexOf('Secret'));
    expect(lines[1]).toContain('ECDSA-256');
  });
});

describe('formatCsv', () => {
  const csv = (over: Partial<InventoryRow>): string =>
    (formatCsv([{ ...toRow(entry(), NOW), ...over }]).split('\n')[1] ?? '').split(',')[0] ?? '';
  it.each([
    { name: 'plain', namespace: 'payments', want: 'payments' },
    { name: 'a formula is neutralised', namespace: '=cmd()', want: "'=cmd()" },
    { name: 'a minus sign too', namespace: '-1', want: "'-1" },
    { name: 'quotes are doubled inside a quoted cell', namespace: 'a"b', want: '"a""b"' },
  ])('$name', ({ namespace, want }) => expect(csv({ namespace })).toBe(want));
});
