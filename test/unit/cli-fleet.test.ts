// The fleet inventory (`kubectl mi inventory --context a --context b`, `--all-contexts`): which contexts,
// bounded parallel reads, merging with a cluster column, a failing or silent cluster, exit codes, output forms.
import { describe, it, expect } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import {
  EXIT_PARTIAL,
  fleetExitCode,
  mapBounded,
  mergeFleet,
  readCluster,
  selectContexts,
  type ClusterOutcome,
} from '../../src/cli/fleet.ts';
import { fleetInventory, renderFleet } from '../../src/cli/fleet-inventory.ts';
import { toRow, type InventoryRow } from '../../src/cli/inventory-format.ts';
import type { InventoryEntry } from '../../src/inventory/model.ts';

const NOW = Date.parse('2026-01-01T00:00:00Z');
const DAY = 86_400_000;
function row(name: string, daysLeft: number, over: Partial<InventoryEntry> = {}): InventoryRow {
  const e: InventoryEntry = {
    namespace: 'shop',
    kind: 'Secret',
    name,
    managed: false,
    trusted: false,
    compliant: true,
    violations: [],
    location: { pods: [], workloads: [], ingresses: [], gateways: [] },
    cert: {
      key: 'tls.crt',
      serialNumber: '0a1b2c3d4e5f60718293a4b5c6d7e8f9',
      fingerprintSHA256: 'AA',
      publicKeySHA256: 'BB',
      subjectDN: `CN=${name}`,
      issuerDN: 'CN=ca',
      notBefore: NOW - DAY,
      notAfter: NOW + daysLeft * DAY,
      isCA: false,
      keyAlgorithm: 'ECDSA',
      keySize: 256,
      keyUsage: [],
      extKeyUsage: [],
      signatureAlgorithm: 'ECDSAWithSHA256',
      selfSigned: false,
      dnsNames: [name],
      ipAddresses: [],
      uris: [],
      emailAddresses: [],
      sanCount: 1,
    },
    ...over,
  };
  return toRow(e, NOW);
}

describe('selectContexts', () => {
  const available = ['a', 'b', 'c'];
  it.each([
    { name: 'the asked ones, in order', asked: ['c', 'a'], all: false, contexts: ['c', 'a'], unknown: [] },
    { name: 'a context asked twice is read once', asked: ['a', 'a'], all: false, contexts: ['a'], unknown: [] },
    { name: 'unknown names apart', asked: ['a', 'x'], all: false, contexts: ['a'], unknown: ['x'] },
    { name: '--all-contexts: every one', asked: [], all: true, contexts: ['a', 'b', 'c'], unknown: [] },
  ])('$name', ({ asked, all, contexts, unknown }) =>
    expect(selectContexts(available, asked, all)).toEqual({ contexts, unknown }),
  );
});

describe('mapBounded', () => {
  it('keeps at most `limit` in flight and returns results in input order', async () => {
    let inFlight = 0;
    let most = 0;
    const out = await mapBounded([30, 5, 20, 1, 10, 2], 2, async (ms) => {
      most = Math.max(most, ++inFlight);
      await new Promise((r) => setTimeout(r, ms));
      inFlight--;
      return ms * 2;
    });
    expect(out).toEqual([60, 10, 40, 2, 20, 4]);
    expect(most).toBe(2);
  });

  it('no items: no calls', async () => {
    expect(await mapBounded([], 4, () => Promise.reject(new Error('called')))).toEqual([]);
  });
});

describe('mergeFleet and fleetExitCode', () => {
  const ok = (cluster: string, rows: InventoryRow[]): ClusterOutcome => ({ cluster, rows, durationMs: 12.4 });
  const failed = (cluster: string): ClusterOutcome => ({ cluster, error: 'connect ECONNREFUSED', durationMs: 3 });

  it('every row carries its cluster; soonest first, then by cluster', () => {
    const r = mergeFleet([ok('a', [row('x', 30), row('y', 5)]), ok('b', [row('x', 30)])]);
    expect(r.rows.map((x) => `${x.cluster}/${x.name}`)).toEqual(['a/y', 'a/x', 'b/x']);
    expect(r.clusters).toEqual([
      { name: 'a', status: 'ok', certificates: 2, durationMs: 12 },
      { name: 'b', status: 'ok', certificates: 1, durationMs: 12 },
    ]);
  });

  it.each([
    { name: 'all read', outcomes: [ok('a', []), ok('b', [row('x', 1)])], code: 0 },
    { name: 'one of three failed: partial', outcomes: [ok('a', []), failed('b'), ok('c', [])], code: EXIT_PARTIAL },
    { name: 'none could be read', outcomes: [failed('a'), failed('b')], code: 1 },
  ])('$name → exit $code', ({ outcomes, code }) => expect(fleetExitCode(mergeFleet(outcomes).clusters)).toBe(code));

  it('a failed cluster is a summary with its error and no rows', () => {
    const r = mergeFleet([ok('a', [row('x', 3)]), failed('b')]);
    expect(r.rows.map((x) => x.cluster)).toEqual(['a']);
    expect(r.clusters[1]).toEqual({
      name: 'b',
      status: 'failed',
      certificates: 0,
      durationMs: 3,
      error: 'connect ECONNREFUSED',
    });
  });
});

describe('readCluster', () => {
  it('a cluster that does not answer in time fails with the deadline, and its requests are aborted', async () => {
    let aborted = false;
    const r = await readCluster('slow', 50, (signal) => {
      signal.addEventListener('abort', () => (aborted = true));
      return new Promise(() => undefined);
    });
    expect(r).toMatchObject({ cluster: 'slow', error: 'no answer within 0s' });
    expect(r.rows).toBeUndefined();
    expect(aborted).toBe(true);
  });

  it('an error becomes the outcome, with its cause', async () => {
    const r = await readCluster('b', 1000, () =>
      Promise.reject(new Error('fetch failed', { cause: new Error('connect ECONNREFUSED 127.0.0.1:1') })),
    );
    expect(r.error).toBe('fetch failed: connect ECONNREFUSED 127.0.0.1:1');
  });
});

describe('renderFleet', () => {
  const merged = mergeFleet([
    { cluster: 'prod-eu', rows: [row('web', 10)], durationMs: 1 },
    { cluster: 'b', error: 'boom', durationMs: 1 },
  ]);

  it('table: CLUSTER first', () => {
    const [head, first] = renderFleet('table', merged).split('\n');
    expect(head).toMatch(/^CLUSTER\s+NAMESPACE\s+KIND\s+NAME\s+KEY/);
    expect(first).toMatch(/^prod-eu\s+shop\s+Secret\s+web\s+tls\.crt/);
  });

  it('wide: also issuer, not after, serial (shortened), identity, authority', () => {
    const [head, first] = renderFleet('wide', merged).split('\n');
    expect(head).toMatch(/ANOMALIES\s+ISSUER\s+NOT AFTER\s+SERIAL\s+IDENTITY\s+AUTHORITY$/);
    expect(first).toMatch(/\sCN=ca\s+2026-01-11T00:00:00\.000Z\s+0a1b2c3d4e5f6071…\s+-\s+-$/);
  });

  it('csv: a cluster column first', () => {
    const [head, first] = renderFleet('csv', merged).split('\n');
    expect(head?.startsWith('cluster,namespace,kind,name,')).toBe(true);
    expect(first?.startsWith('prod-eu,shop,Secret,web,')).toBe(true);
  });

  it('json: the clusters with their status, and the rows with their cluster', () => {
    const j = JSON.parse(renderFleet('json', merged)) as {
      clusters: { name: string; status: string }[];
      certificates: InventoryRow[];
    };
    expect(j.clusters.map((c) => `${c.name}:${c.status}`)).toEqual(['prod-eu:ok', 'b:failed']);
    expect(j.certificates.map((c) => c.cluster)).toEqual(['prod-eu']);
  });
});

describe('fleetInventory', () => {
  const kubeConfig = (): k8s.KubeConfig => {
    const kc = new k8s.KubeConfig();
    kc.loadFromOptions({
      clusters: ['a', 'b', 'c'].map((n) => ({ name: n, server: `https://127.0.0.1:1/${n}`, skipTLSVerify: false })),
      users: [{ name: 'u' }],
      contexts: ['a', 'b', 'c'].map((n) => ({ name: n, cluster: n, user: 'u' })),
      currentContext: 'a',
    });
    return kc;
  };
  const read = async (kc: k8s.KubeConfig, warn: (m: string) => void): Promise<InventoryRow[]> => {
    const ctx = kc.getCurrentContext();
    if (ctx === 'b') throw new Error('HTTP-Code: 401 GET /api/v1/secrets');
    warn('skipped /apis/apiregistration.k8s.io/v1/apiservices: HTTP 403');
    return [row(`web-${ctx}`, ctx === 'a' ? 20 : 10)];
  };
  const base = { kubeConfig, contexts: [], allContexts: true, parallel: 2, timeoutMs: 5_000, output: 'table', read };

  it('--all-contexts with one cluster failing: the others listed, the failure named, exit partial', async () => {
    const r = await fleetInventory(base);
    expect(r.exitCode).toBe(EXIT_PARTIAL);
    expect(r.stdout.split('\n').slice(1, 3)).toEqual([
      expect.stringMatching(/^c\s+shop\s+Secret\s+web-c /),
      expect.stringMatching(/^a\s+shop\s+Secret\s+web-a /),
    ]);
    expect(r.stderr).toContain('error: cluster b could not be read: HTTP-Code: 401 GET /api/v1/secrets\n');
    expect(r.stderr).toContain('warning: cluster a: skipped /apis/apiregistration.k8s.io/v1/apiservices: HTTP 403\n');
  });

  it('--context names that the kubeconfig lacks are a usage error before any read', async () => {
    let reads = 0;
    const r = await fleetInventory({
      ...base,
      allContexts: false,
      contexts: ['a', 'nope'],
      read: async () => {
        reads++;
        return [];
      },
    });
    expect(r.usageError).toBe('no context "nope" in the kubeconfig (it has a, b, c)');
    expect(reads).toBe(0);
  });

  it('--context a --context c: only those, exit 0', async () => {
    const r = await fleetInventory({ ...base, allContexts: false, contexts: ['a', 'c'], output: 'json' });
    expect(r.exitCode).toBe(0);
    const j = JSON.parse(r.stdout) as { clusters: { name: string }[]; certificates: { cluster: string }[] };
    expect(j.clusters.map((c) => c.name)).toEqual(['a', 'c']);
    expect(j.certificates.map((c) => c.cluster)).toEqual(['c', 'a']);
  });
});
