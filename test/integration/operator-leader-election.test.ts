// Acceptance (foundation #3): two operator processes against one API server. Exactly one holds the
// Lease and reconciles; SIGKILL of the leader → the other takes over within leaseDuration + one retry
// period; SIGTERM of the leader → it releases the Lease and the other takes over at once.
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { sharedCluster, testNamespace } from '../harness/cluster.ts';
import { startOperator, type OperatorProcess } from '../harness/operator.ts';
import { waitFor } from '../harness/processes.ts';

const LEASE_MS = 6000,
  RENEW_MS = 4000,
  RETRY_MS = 1000;
const GVR = { group: 'machineidentity.io', version: 'v1alpha1', plural: 'machineidentities' };

describe('operator leader election (two processes)', () => {
  const kc = sharedCluster().kubeConfig();
  const coord = kc.makeApiClient(k8s.CoordinationV1Api);
  const co = kc.makeApiClient(k8s.CustomObjectsApi);
  let ns = '';
  const ops: Record<string, OperatorProcess> = {};
  const env = (pod: string): Record<string, string> => ({
    MIO_NAMESPACE: ns,
    POD_NAME: pod,
    MIO_LEASE_NAME: 'mio-leader-test',
    MIO_LEASE_DURATION: `${LEASE_MS}ms`,
    MIO_RENEW_DEADLINE: `${RENEW_MS}ms`,
    MIO_RETRY_PERIOD: `${RETRY_MS}ms`,
  });
  const holder = async (): Promise<string> =>
    (await coord.readNamespacedLease({ name: 'mio-leader-test', namespace: ns })).spec?.holderIdentity ?? '';
  const leading = async (op: OperatorProcess): Promise<boolean> =>
    (await op.metric('leader_election_master_status')) === 1;
  const reconciles = async (op: OperatorProcess): Promise<number> =>
    (await op.metric('controller_runtime_reconcile_total')) ?? 0;
  const createIdentity = async (name: string): Promise<void> => {
    await co.createNamespacedCustomObject({
      ...GVR,
      namespace: ns,
      body: {
        apiVersion: 'machineidentity.io/v1alpha1',
        kind: 'MachineIdentity',
        metadata: { name },
        spec: {
          secretName: `${name}-tls`,
          authorityRef: { name: 'no-such-authority' },
          dnsNames: [`${name}.example.com`],
        },
      },
    });
  };
  const reconciledBy = async (name: string): Promise<unknown> =>
    waitFor(
      `status of ${name}`,
      async () => {
        const mi = (await co.getNamespacedCustomObject({ ...GVR, namespace: ns, name })) as {
          status?: { observedGeneration?: number; conditions?: { reason: string }[] };
        };
        return (
          mi.status?.observedGeneration === 1 && mi.status.conditions?.find((c) => c.reason === 'AuthorityNotFound')
        );
      },
      30_000,
    );

  beforeAll(async () => {
    ns = await testNamespace('leader');
    ops.a = await startOperator(sharedCluster().kubeconfigPath, env('op-a'));
    ops.b = await startOperator(sharedCluster().kubeconfigPath, env('op-b'));
  });
  afterAll(async () => {
    for (const op of Object.values(ops)) await op.stop();
  });

  it('elects exactly one leader, and only the leader reconciles', async () => {
    const h = await waitFor('a lease holder', async () => (await holder()) || undefined, 30_000);
    const [leader, follower] = h.startsWith('op-a_') ? [ops.a!, ops.b!] : [ops.b!, ops.a!];
    await waitFor('leader metric', () => leading(leader), 10_000);
    expect(await leading(follower)).toBe(false);
    await createIdentity('first');
    await reconciledBy('first');
    expect(await reconciles(leader)).toBeGreaterThan(0);
    expect(await reconciles(follower)).toBe(0);
  });

  it('after SIGKILL of the leader, the other takes over within leaseDuration + retryPeriod', async () => {
    const h = await holder();
    const [leaderKey, otherKey] = h.startsWith('op-a_') ? ['a', 'b'] : ['b', 'a'];
    const killedAt = Date.now();
    await ops[leaderKey]!.stop('SIGKILL');
    delete ops[leaderKey];
    const other = ops[otherKey]!;
    await waitFor(
      'takeover',
      async () => (await holder()).startsWith(`op-${otherKey}_`) && (await leading(other)),
      LEASE_MS + 10_000,
      100,
    );
    const took = Date.now() - killedAt;
    expect(took).toBeLessThanOrEqual(LEASE_MS + RETRY_MS + 1500); // 1.5 s for retry jitter and the test's polling
    await createIdentity('second');
    await reconciledBy('second');
    expect(await reconciles(other)).toBeGreaterThan(0);
    ops[leaderKey] = await startOperator(sharedCluster().kubeconfigPath, env(`op-${leaderKey}`)); // a new standby
  });

  it('on SIGTERM the leader releases the Lease and the standby takes over at once', async () => {
    const h = await holder();
    const [leaderKey, otherKey] = h.startsWith('op-a_') ? ['a', 'b'] : ['b', 'a'];
    await waitFor(
      'standby running',
      async () => (await ops[otherKey]!.metric('leader_election_master_status')) === 0,
      10_000,
    );
    const t0 = Date.now();
    await ops[leaderKey]!.stop('SIGTERM');
    const exitCode = ops[leaderKey]!.proc.child.exitCode;
    delete ops[leaderKey];
    await waitFor('takeover after release', async () => (await holder()).startsWith(`op-${otherKey}_`), 10_000, 50);
    expect(Date.now() - t0).toBeLessThan(RETRY_MS * 2 + 1500); // far below the 6 s lease: released, not expired
    expect(exitCode).toBe(0);
  });
});
