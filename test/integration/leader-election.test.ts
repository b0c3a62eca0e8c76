// Two in-process LeaderElectors on one Lease in the shared cluster (short durations: 4 s / 3 s / 0.5 s).
import { describe, it, expect, beforeAll, afterEach } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { Registry } from 'prom-client';
import pino from 'pino';
import { sharedCluster, testNamespace } from '../harness/cluster.ts';
import { LeaderElector } from '../../src/runtime/leader-election.ts';

const log = pino({ level: process.env.MIO_TEST_LOG_LEVEL ?? 'silent' });
const LEASE_MS = 4000;
const RENEW_MS = 3000;
const RETRY_MS = 500;

async function until(what: string, pred: () => boolean, ms = 30_000): Promise<number> {
  const t0 = Date.now();
  while (!pred()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return Date.now() - t0;
}

interface Candidate {
  le: LeaderElector;
  registry: Registry;
  started: number;
  stopped: number;
  done: Promise<void>;
}

describe('LeaderElector', () => {
  let namespace: string;
  let kc: k8s.KubeConfig;
  const live: Candidate[] = [];

  beforeAll(async () => {
    namespace = await testNamespace('leader-election');
    kc = sharedCluster().kubeConfig();
  }, 30_000);
  afterEach(async () => {
    for (const c of live.splice(0)) await c.le.stop();
  });

  function candidate(name: string, identity: string): Candidate {
    const registry = new Registry();
    const c: Candidate = {
      registry,
      started: 0,
      stopped: 0,
      done: Promise.resolve(),
      le: new LeaderElector({
        kc,
        namespace,
        name,
        identity,
        leaseDurationMs: LEASE_MS,
        renewDeadlineMs: RENEW_MS,
        retryPeriodMs: RETRY_MS,
        onStartedLeading: () => {
          c.started++;
        },
        onStoppedLeading: () => {
          c.stopped++;
        },
        logger: log,
        registry,
      }),
    };
    c.done = c.le.run();
    live.push(c);
    return c;
  }

  const leaders = (cs: Candidate[]): Candidate[] => cs.filter((c) => c.le.isLeader());
  const readLease = (name: string): Promise<k8s.V1Lease> =>
    kc.makeApiClient(k8s.CoordinationV1Api).readNamespacedLease({ name, namespace });

  it('exactly one of two candidates leads, and a release hands over within one retry period', async () => {
    const cs = [candidate('release', 'a'), candidate('release', 'b')];
    await until('a leader', () => leaders(cs).length === 1);
    // Watch for two leaders at once over a few renew cycles.
    const t0 = Date.now();
    while (Date.now() - t0 < 2000) {
      expect(leaders(cs).length).toBe(1);
      await new Promise((r) => setTimeout(r, 25));
    }
    const [leader] = leaders(cs);
    const other = cs.find((c) => c !== leader)!;
    expect(await leader!.registry.metrics()).toContain('leader_election_master_status{name="release"} 1');
    expect(await other.registry.metrics()).toContain('leader_election_master_status{name="release"} 0');

    const before = (await readLease('release')).spec?.leaseTransitions ?? 0;
    await leader!.le.release();
    await leader!.done;
    expect(leader!.le.isLeader()).toBe(false);
    expect(leader!.stopped).toBe(1);
    const took = await until('the other leads', () => other.le.isLeader());
    expect(took).toBeLessThanOrEqual(RETRY_MS * 1.2 + 700);
    expect(other.started).toBe(1);
    const lease = await readLease('release');
    expect(lease.spec?.holderIdentity).toBe(other.le.identity);
    expect(lease.spec?.leaseTransitions).toBe(before + 1);
  }, 60_000);

  it('a leader that stops renewing (crash, no release) is replaced after leaseDuration, not before', async () => {
    const a = candidate('crash', 'a');
    await until('a leads', () => a.le.isLeader());
    const b = candidate('crash', 'b');
    await new Promise((r) => setTimeout(r, 1500));
    expect(b.le.isLeader()).toBe(false);

    await a.le.stop(); // the loop ends; the Lease still names a as holder
    const tookMs = await until('b takes over', () => b.le.isLeader());
    // a's last renewal was at most one retry period before the stop.
    expect(tookMs).toBeGreaterThanOrEqual(LEASE_MS - RETRY_MS - 300);
    expect(tookMs).toBeLessThanOrEqual(LEASE_MS + RETRY_MS * 1.2 + 1000);
    const lease = await readLease('crash');
    expect(lease.spec?.holderIdentity).toBe('b');
    expect(lease.spec?.leaseTransitions).toBe(1);
  }, 60_000);

  it('a leader that cannot renew for renewDeadline stops leading', async () => {
    // A kubeconfig pointing at a closed port: every renewal fails with ECONNREFUSED.
    const a = candidate('deadline', 'a');
    await until('a leads', () => a.le.isLeader());
    const broken = new k8s.KubeConfig();
    broken.loadFromOptions({
      clusters: kc.clusters.map((c) => ({ ...c, server: 'https://127.0.0.1:1' })),
      users: kc.users,
      contexts: kc.contexts,
      currentContext: kc.currentContext,
    });
    // Swap the API client under the elector to simulate a network partition from the API server.
    (a.le as unknown as { api: k8s.CoordinationV1Api }).api = broken.makeApiClient(k8s.CoordinationV1Api);
    const t0 = Date.now();
    await a.done;
    const lostAfter = Date.now() - t0;
    expect(a.stopped).toBe(1);
    expect(lostAfter).toBeLessThanOrEqual(RENEW_MS + RETRY_MS + 1000);
    expect(lostAfter).toBeLessThan(LEASE_MS + 500);
  }, 60_000);
});
