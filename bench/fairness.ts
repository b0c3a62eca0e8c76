// Fairness at scale: while a noisy namespace creates N MachineIdentities (default 10,000) at once, as fast as
// the API server takes them (`concurrency` creates in flight), a quiet namespace creates one identity at a
// time and times it from create to Ready. Quiet samples are taken one after another (a pause of `gap` ms
// between them) from the noisy burst's start until every noisy identity is Ready, so they cover both the
// creating phase and the drain of the operator's queue. The operator runs as the chart installs it
// (bench/lib/profile-operator.ts, profile=chart by default).
// Prints: noisy_identities, noisy_create_seconds, noisy_issue_seconds, quiet_samples, quiet_ready_seconds_first,
// quiet_ready_seconds_middle, quiet_ready_seconds_median, quiet_ready_seconds_max (and _creating, _draining: while the noisy
// creates arrive, and after), quiet_create_call_seconds_max, quiet_watch_seconds_max, issuance_reconciles_per_identity,
// and the operator's mean admission answer, wait in the issuance queue and issuance (webhook_ms_mean,
// issuance_queue_wait_ms_mean, issuance_ms_mean).
// Params: n=10000 concurrency=64 gap=1000 quiet_authority=shared|own (own: the quiet namespace's identities
//   name a second CA binding; shared, the default and the harder case: both namespaces use the same CA)
//   tenants=users|admin (users, the default: each namespace's creates are made by its own user, allowed by a
//   Role, so the API server's priority and fairness treats them as in a cluster, two flows of the
//   global-default level; admin: both as system:masters, which that exempts) budget=1200 (seconds of sampling at
//   most: on a loaded machine a bench stopped by its budget still cleans up and prints what it saw)
//   and profile=/entry=/chart.<key>= as bench/issuance.ts.
import * as k8s from '@kubernetes/client-node';
import type { Bench, BenchContext } from './run.ts';
import { startBenchOperator } from './lib/profile-operator.ts';
import { peakRssMb } from './lib/proc-cpu.ts';
import { IdentityTracker } from './lib/identity-tracker.ts';
import { createReadyCaBinding } from './lib/ca-binding.ts';

const MI = { group: 'machineidentity.io', version: 'v1alpha1', plural: 'machineidentities' };

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s[(s.length - 1) >> 1]! + s[s.length >> 1]!) / 2 : NaN;
};

function identity(name: string, binding: string, ns: string): object {
  return {
    apiVersion: 'machineidentity.io/v1alpha1',
    kind: 'MachineIdentity',
    metadata: { name },
    spec: {
      secretName: `${name}-tls`,
      authorityRef: { name: binding },
      dnsNames: [`${name}.${ns}.svc`],
      privateKey: { algorithm: 'ECDSA', size: 256 },
    },
  };
}

/** A client for `user`, allowed to create and read MachineIdentities in `ns` only (a tenant). */
async function tenantClient(ctx: BenchContext, user: string, ns: string): Promise<k8s.CustomObjectsApi> {
  if (!ctx.cp || ctx.params.tenants === 'admin') return ctx.kc.makeApiClient(k8s.CustomObjectsApi);
  const rbac = ctx.kc.makeApiClient(k8s.RbacAuthorizationV1Api);
  const metadata = { name: 'identities', namespace: ns };
  await rbac.createNamespacedRole({
    namespace: ns,
    body: {
      metadata,
      rules: [{ apiGroups: [MI.group], resources: [MI.plural], verbs: ['create', 'get', 'list', 'watch'] }],
    },
  });
  await rbac.createNamespacedRoleBinding({
    namespace: ns,
    body: {
      metadata,
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'identities' },
      subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: user }],
    },
  });
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(await ctx.cp.userKubeconfig(user));
  return kc.makeApiClient(k8s.CustomObjectsApi);
}

interface Burst {
  /** Resolves with the seconds all creates took. */
  created: Promise<number>;
  createdCount(): number;
}

/** N creates in `noisy`, `conc` at a time, from now on. */
function noisyBurst(co: k8s.CustomObjectsApi, ns: string, n: number, conc: number, binding: string): Burst {
  const t0 = performance.now();
  let next = 0;
  let done = 0;
  const created = Promise.all(
    Array.from({ length: conc }, async () => {
      while (next < n) {
        const name = `id-${next++}`;
        await co.createNamespacedCustomObject({ ...MI, namespace: ns, body: identity(name, binding, ns) });
        done++;
      }
    }),
  ).then(() => (performance.now() - t0) / 1000);
  return { created, createdCount: () => done };
}

const bench: Bench = {
  description: 'fairness: one quiet identity Ready while a noisy namespace creates N identities at once',
  async run(ctx) {
    const n = Number(ctx.params.n ?? 10_000);
    const conc = Number(ctx.params.concurrency ?? 64);
    const gap = Number(ctx.params.gap ?? 1000);
    // sampling stops after `budget` seconds even if the noisy identities are not all Ready (figures say how many are)
    const budget = Number(ctx.params.budget ?? 1200);
    const quietOwn = (ctx.params.quiet_authority ?? 'shared') === 'own';
    const core = ctx.kc.makeApiClient(k8s.CoreV1Api);
    const opNs = 'mio-bench';
    const noisy = 'noisy',
      quiet = 'quiet';
    await core.createNamespace({ body: { metadata: { name: opNs } } });
    const bo = await startBenchOperator(ctx, opNs);
    try {
      await createReadyCaBinding(ctx.kc, 'noisy-ca', 'Bench CA noisy-ca');
      const quietBinding = quietOwn ? 'quiet-ca' : 'noisy-ca';
      if (quietOwn) await createReadyCaBinding(ctx.kc, quietBinding, `Bench CA ${quietBinding}`);
      await bo.ready('noisy-ca');
      for (const name of [noisy, quiet]) await core.createNamespace({ body: { metadata: { name } } });
      const noisyClient = await tenantClient(ctx, 'noisy-tenant', noisy);
      const quietClient = await tenantClient(ctx, 'quiet-tenant', quiet);
      // Ready times of every identity in the cluster, by "namespace/name" (first time seen Ready)
      const watched = new IdentityTracker(ctx.kc, ctx.log, { track: quiet });
      const readyAt = watched.firstReady();
      await watched.start();
      // one quiet identity before the burst: the baseline on an idle operator
      const idle = (await quietSample(ctx, quietClient, quiet, 'quiet-idle', quietBinding, watched)).seconds;
      ctx.log(`quiet identity on an idle operator: Ready in ${idle.toFixed(2)} s`);

      const t0 = performance.now();
      const burst = noisyBurst(noisyClient, noisy, n, conc, 'noisy-ca');
      let createSec: number | undefined;
      void burst.created.then((s) => {
        createSec = s;
        ctx.log(`noisy: ${n} identities created in ${s.toFixed(1)} s`);
      });
      const noisyReady = (): number => [...readyAt.keys()].filter((k) => k.startsWith(`${noisy}/`)).length;
      const samples: ({ at: number; created: number; ready: number } & Sample)[] = [];
      const deadline = Date.now() + budget * 1000;
      while ((createSec === undefined || noisyReady() < n) && Date.now() < deadline) {
        await sleep(gap);
        const at = (performance.now() - t0) / 1000;
        const created = burst.createdCount(),
          ready = noisyReady();
        const q = await quietSample(ctx, quietClient, quiet, `quiet-${samples.length}`, quietBinding, watched);
        samples.push({ at, created, ready, ...q });
        ctx.log(
          `t=${at.toFixed(1)} s noisy created=${created} ready=${ready}: quiet identity Ready in ${q.seconds.toFixed(2)} s` +
            ` (create call ${q.createCall.toFixed(2)} s, on the watch after ${q.watched.toFixed(2)} s)`,
        );
      }
      await burst.created;
      const noisyDone = [...readyAt].filter(([k]) => k.startsWith(`${noisy}/`)).map(([, t]) => t);
      const issueSec = (Math.max(...noisyDone) - t0) / 1000;
      watched.stop();
      const secs = samples.map((s) => s.seconds);
      const peak = peakRssMb(bo.op.proc.pid);
      // reconciles per identity: how often keys went round the queue before they were issued
      const reconciles = (await bo.op.metric('controller_runtime_reconcile_total', { controller: 'issuance' })) ?? NaN;
      // the operator's side of the time, averaged over the run: admission answer, wait in the issuance queue, issuance
      // (by family: asking for `<name>_sum` would render the whole registry, which near the heap limit is itself a risk)
      const meanMs = async (name: string, labels: Record<string, string> = {}): Promise<string> => {
        const text = await (await fetch(`${bo.op.url}/metrics?name=${name}`)).text();
        const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
        const value = (suffix: string): number =>
          text
            .split('\n')
            .filter((l) => l.startsWith(`${name}${suffix}`) && want.every((w) => l.includes(w)))
            .reduce((a, l) => a + Number(l.split(' ').pop()), 0);
        const count = value('_count');
        return count ? ((value('_sum') / count) * 1000).toFixed(1) : 'n/a';
      };
      const operatorMs = {
        webhook_ms_mean: await meanMs('machine_identity_webhook_duration_seconds'),
        issuance_queue_wait_ms_mean: await meanMs('workqueue_queue_duration_seconds', { name: 'issuance' }),
        issuance_ms_mean: await meanMs('machine_identity_issuance_duration_seconds'),
      };
      return {
        profile: bo.profile,
        quiet_authority: quietOwn ? 'own' : 'shared',
        tenants: ctx.cp && ctx.params.tenants !== 'admin' ? 'users' : 'admin',
        noisy_identities: noisyDone.length,
        noisy_create_seconds: createSec?.toFixed(1) ?? 'n/a',
        noisy_issue_seconds: noisyDone.length === n ? issueSec.toFixed(1) : `n/a`,
        quiet_idle_seconds: idle.toFixed(2),
        quiet_samples: samples.length,
        quiet_ready_seconds_first: secs[0]?.toFixed(2) ?? 'n/a',
        quiet_ready_seconds_middle: secs[secs.length >> 1]?.toFixed(2) ?? 'n/a',
        quiet_ready_seconds_median: median(secs).toFixed(2),
        quiet_ready_seconds_max: Math.max(...secs).toFixed(2),
        // while the noisy creates were still arriving, and after (the operator draining its backlog)
        quiet_ready_seconds_max_creating: phaseMax(samples.filter((x) => x.created < n)),
        quiet_ready_seconds_max_draining: phaseMax(samples.filter((x) => x.created >= n)),
        // where the slowest sample's time went: the create call (API server, admission webhook) and the watch
        quiet_create_call_seconds_max: Math.max(...samples.map((x) => x.createCall)).toFixed(2),
        quiet_watch_seconds_max: Math.max(...samples.map((x) => x.watched)).toFixed(2),
        issuance_reconciles_per_identity: (reconciles / (n + samples.length + 1)).toFixed(1),
        ...operatorMs,
        peak_rss_mb: peak === undefined ? 'n/a' : peak.toFixed(0),
        operator_errors: bo.op.logLines().filter((l) => (l.level as number) >= 50).length,
      };
    } finally {
      await bo.stop();
    }
  },
};

const phaseMax = (xs: Sample[]): string => (xs.length ? Math.max(...xs.map((x) => x.seconds)).toFixed(2) : 'n/a');

interface Sample {
  /** From the create call to Ready seen on the watch (60 s cap). */
  seconds: number;
  /** The create call alone. */
  createCall: number;
  /** From the create call to the identity's first watch event. */
  watched: number;
}

/** Creates one identity in the quiet namespace and times it to Ready. */
async function quietSample(
  ctx: BenchContext,
  co: k8s.CustomObjectsApi,
  ns: string,
  name: string,
  binding: string,
  watched: IdentityTracker,
): Promise<Sample> {
  const readyAt = watched.firstReady();
  const t = performance.now();
  await co.createNamespacedCustomObject({ ...MI, namespace: ns, body: identity(name, binding, ns) });
  const createCall = (performance.now() - t) / 1000;
  const key = `${ns}/${name}`;
  while (!readyAt.has(key) && performance.now() - t < 60_000) await sleep(20);
  if (!readyAt.has(key)) ctx.log(`quiet identity ${key} not Ready within 60 s`);
  const since = (at: number | undefined): number => ((at ?? performance.now()) - t) / 1000;
  return { seconds: since(readyAt.get(key)), createCall, watched: since(watched.seenAt(key)) };
}

export default bench;
