// Scale: N MachineIdentities (default 2,000; the issue's target is 100,000) in one cluster, API objects
// only, with the operator as the Helm chart installs it (bench/lib/profile-operator.ts). Phases, in order
// (phases=issue,restart,rotate,inventory selects; issue always runs, the others need its identities):
// - issue: N identities created (concurrency C, spread over one namespace per 10,000) and timed to Ready;
//   the operator's RSS and heap 30 s after the last Ready (steady state).
// - restart: the operator stopped and started again: the writes the new process makes to Secrets and
//   MachineIdentities (status included) from the API server's own apiserver_request_total (must be 0),
//   and the seconds from its process start until it is Ready: /readyz (caches synced) and every
//   identity reconciled once with the issuance queue empty (renewal schedules rebuilt).
// - rotate: the CA regenerated (the regenerate-ca-requested-at annotation, propagationDelay 1s); every
//   identity is reissued from the new CA, paced by MIO_REISSUE_RATE (rate=, default 100/s); progress and
//   the API write rate every 10 s; the seconds until all are Ready from the new CA.
// - inventory: N/2 unmanaged certificate Secrets added, the operator restarted: its peak RSS until its
//   inventory holds every certificate (N managed + N/2 unmanaged).
// etcd_mb: etcd's database size at the end (quota and compaction: etcdQuotaGB=, etcdCompaction=).
// Params: n=2000 concurrency=32 phases=... restarts=1 (restarts in a row; medians) altRoot= (alternate with that checkout's operator) rate=100 settle=30 settleAfterReady=150 quiet=15 statusDiff=1 (log how the restart after the
//   rotation changed statuses) heapSnapshot=1 (SIGUSR2 to the operator at steady state, for bench/lib/heap-probe.js) chart.<key>=<value> (helm --set; the heap
//   limit is chart.heapLimitMB, default here 1024 so the limit measured is the operator's, not the chart's)
import * as k8s from '@kubernetes/client-node';
import type { Bench, BenchContext, Figures } from './run.ts';
import type { ControlPlane } from '../test/harness/control-plane.ts';
import { peakRssMb, rssMb } from './lib/proc-cpu.ts';
import { startBenchOperator, type BenchOperator } from './lib/profile-operator.ts';
import { IdentityTracker } from './lib/identity-tracker.ts';
import { etcdDbMb, formatWrites, requestTotals, writesBetween, writesOn } from './lib/apiserver-requests.ts';
import { processAgeSeconds } from './lib/proc-age.ts';
import { createUnmanagedTlsSecrets } from './lib/unmanaged-secrets.ts';
import { createRetries, createWithRetry } from './lib/retry-create.ts';
import { listStatuses, statusChanges } from './lib/status-diff.ts';

const GROUP = { group: 'machineidentity.io', version: 'v1alpha1' };
const OP_NS = 'mio-bench';
const BINDING = 'scale-ca';
/** The writes a restart must not make (the issue's acceptance: Secrets and MachineIdentities, status included). */
const RESTART_RESOURCES = ['secrets', 'machineidentities'];
const PER_NAMESPACE = 10_000;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const mb = (x: number | undefined): string => (x === undefined || Number.isNaN(x) ? 'n/a' : x.toFixed(0));

interface Run {
  ctx: BenchContext;
  /** The operator's RSS before the first identity, MB (what the figures per 10,000 identities start from). */
  baseRss?: number;
  cp: ControlPlane;
  n: number;
  conc: number;
  tracker: IdentityTracker;
  bo: BenchOperator;
}

/** Until `done()` or the deadline; `progress()` logged every 10 s. */
async function until(
  what: string,
  done: () => boolean | Promise<boolean>,
  timeoutMs: number,
  progress: () => string | Promise<string>,
  log: (l: string) => void,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let nextLog = Date.now() + 10_000;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`${what}: not done after ${timeoutMs / 1000} s (${await progress()})`);
    if (Date.now() >= nextLog) {
      log(`${what}: ${await progress()}`);
      nextLog += 10_000;
    }
    await sleep(250);
  }
}

async function pool(n: number, conc: number, fn: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: conc }, async () => {
      while (next < n) await fn(next++);
    }),
  );
}

async function createBinding(ctx: BenchContext): Promise<void> {
  const co = ctx.kc.makeApiClient(k8s.CustomObjectsApi);
  await co.createClusterCustomObject({
    ...GROUP,
    plural: 'certificateauthoritybindings',
    body: {
      apiVersion: 'machineidentity.io/v1alpha1',
      kind: 'CertificateAuthorityBinding',
      metadata: { name: BINDING },
      spec: {
        ca: {
          secretRef: { name: BINDING },
          generate: { commonName: 'Scale CA', privateKey: { algorithm: 'ECDSA', size: 256 } },
        },
        caRotation: { propagationDelay: '1s', overlap: '1h' },
      },
    },
  });
}

async function bindingFingerprint(ctx: BenchContext): Promise<string | undefined> {
  const co = ctx.kc.makeApiClient(k8s.CustomObjectsApi);
  const b = (await co.getClusterCustomObject({ ...GROUP, plural: 'certificateauthoritybindings', name: BINDING })) as {
    status?: { caFingerprintSHA256?: string; conditions?: { type: string; status: string }[] };
  };
  const ready = b.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
  return ready ? b.status?.caFingerprintSHA256 : undefined;
}

const namespaceNames = (prefix: string, n: number): string[] =>
  Array.from({ length: Math.max(1, Math.ceil(n / PER_NAMESPACE)) }, (_v, i) => `${prefix}-${i}`);

async function createNamespaces(ctx: BenchContext, names: string[]): Promise<void> {
  const core = ctx.kc.makeApiClient(k8s.CoreV1Api);
  for (const name of names) await core.createNamespace({ body: { metadata: { name } } });
}

async function issuePhase(r: Run): Promise<Figures> {
  const { ctx, n, conc, tracker } = r;
  const namespaces = namespaceNames('scale', n);
  await createNamespaces(ctx, namespaces);
  const co = ctx.kc.makeApiClient(k8s.CustomObjectsApi);
  const t0 = performance.now();
  await pool(n, conc, (i) => {
    const namespace = namespaces[i % namespaces.length]!;
    return createWithRetry(() =>
      co.createNamespacedCustomObject({
        ...GROUP,
        plural: 'machineidentities',
        namespace,
        body: {
          apiVersion: 'machineidentity.io/v1alpha1',
          kind: 'MachineIdentity',
          metadata: { name: `id-${i}` },
          spec: {
            secretName: `id-${i}-tls`,
            authorityRef: { name: BINDING },
            dnsNames: [`id-${i}.${namespace}.svc`],
            privateKey: { algorithm: 'ECDSA', size: 256 },
          },
        },
      }),
    );
  });
  ctx.log(`issue: ${n} identities created in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  await until(
    'issue',
    () => tracker.count() >= n,
    Math.max(900_000, n * 100),
    () => `${tracker.count()}/${n} Ready after ${((performance.now() - t0) / 1000).toFixed(0)} s`,
    ctx.log,
  );
  const seconds = (tracker.lastReadyAt() - t0) / 1000;
  await sleep(30_000); // steady state: trailing writes and a few GCs
  const pid = r.bo.op.proc.pid;
  const heapUsed = await heapUsedMb(r.bo);
  const rss = rssMb(pid);
  ctx.log(`issue: steady RSS ${mb(rss)} MB, heap used ${mb(heapUsed)} MB, peak RSS ${mb(peakRssMb(pid))} MB`);
  const peak = peakRssMb(pid);
  if (ctx.params.heapSnapshot) {
    // bench/lib/heap-probe.js (preloaded through chart.extraEnv NODE_OPTIONS, docs/memory.md) writes the snapshots,
    // after RSS was read: writing one grows the process, and blocks it long enough to lose its Lease (it exits:
    // take no later phase after a snapshot)
    process.kill(pid, 'SIGUSR2');
    await sleep(Number(ctx.params.heapSnapshotWait ?? 30) * 1000);
  }
  return {
    identities: tracker.count(),
    issue_seconds: seconds.toFixed(1),
    identities_per_second: (n / seconds).toFixed(1),
    steady_rss_mb: mb(rss),
    base_rss_mb: mb(r.baseRss),
    steady_rss_mb_per_10k:
      rss === undefined || r.baseRss === undefined ? 'n/a' : (((rss - r.baseRss) * 10_000) / n).toFixed(0),
    steady_heap_used_mb: mb(heapUsed),
    issue_peak_rss_mb: mb(peak),
  };
}

/** V8 heap in use, MB: prom-client sets the used gauge when the total one is collected, so both are asked for. */
async function heapUsedMb(bo: BenchOperator): Promise<number> {
  const text = await (
    await fetch(`${bo.op.url}/metrics?name=nodejs_heap_size_total_bytes&name=nodejs_heap_size_used_bytes`)
  ).text();
  return Number(/^nodejs_heap_size_used_bytes (\S+)$/m.exec(text)?.[1] ?? NaN) / 1048576;
}

/** The operator's own idea of Ready after a start: caches synced, and every identity reconciled with the queue empty. */
async function operatorReady(bo: BenchOperator, n: number): Promise<boolean> {
  const ok = await fetch(`${bo.op.url}/readyz`)
    .then((res) => res.ok)
    .catch(() => false);
  if (!ok) return false;
  const reconciled = (await bo.op.metric('controller_runtime_reconcile_total', { controller: 'issuance' })) ?? 0;
  const depth = (await bo.op.metric('workqueue_depth', { name: 'issuance' })) ?? 1;
  return reconciled >= n && depth === 0;
}

/**
 * Before a restart is charged its writes, the running operator finishes what it had scheduled: the
 * validation controller says Served=NoEndpoints once an identity's certificate is validation.staleGrace
 * (the chart's 2m) old with nothing serving it, so the identities of the last two minutes still have one
 * write due. A restart must not make writes; it may not save the old process's due ones either, so they
 * land first: `settleAfterReady=` seconds (default 150) after the last issuance or reissue, then `quiet=` (default 15) s
 * without a Secret or MachineIdentity write. Returns the writes seen meanwhile.
 */
async function quiesce(r: Run, label: string): Promise<number> {
  const { ctx, cp, tracker } = r;
  const after = Number(ctx.params.settleAfterReady ?? 150) * 1000;
  const quiet = Number(ctx.params.quiet ?? 15) * 1000;
  const first = await requestTotals(cp);
  let last = first,
    quietSince = performance.now();
  await until(
    `${label}: the running operator's due writes`,
    async () => {
      const now = await requestTotals(cp);
      if (writesOn(writesBetween(last, now), RESTART_RESOURCES) > 0) quietSince = performance.now();
      last = now;
      return performance.now() - tracker.lastChangeAt() >= after && performance.now() - quietSince >= quiet;
    },
    900_000,
    () => `${writesOn(writesBetween(first, last), RESTART_RESOURCES)} Secret/MachineIdentity writes so far`,
    ctx.log,
  );
  const w = writesBetween(first, last);
  ctx.log(`${label}: writes before the restart, due from the running operator: ${formatWrites(w)}`);
  return writesOn(w, RESTART_RESOURCES);
}

/** One restart: the new process's writes to Secrets and MachineIdentities, and its times to caches synced and to Ready. */
async function restartOnce(
  r: Run,
  root?: string,
): Promise<{ writes: number; synced: number; ready: number; peak: string }> {
  const { ctx, cp, n } = r;
  const settle = Number(ctx.params.settle ?? 30) * 1000;
  await r.bo.stop();
  const before = await requestTotals(cp);
  r.bo = await startBenchOperator(ctx, OP_NS, root);
  ctx.log(`restart: the operator of ${root ?? 'this checkout'} (pid ${r.bo.op.proc.pid})`);
  const bo = r.bo;
  let readySeconds = NaN,
    syncedSeconds = NaN;
  await until(
    'restart',
    async () => {
      // /readyz alone: caches synced (and the webhook listening); Ready below also needs every identity reconciled
      if (Number.isNaN(syncedSeconds) && (await fetch(`${bo.op.url}/readyz`).catch(() => undefined))?.ok)
        syncedSeconds = processAgeSeconds(bo.op.proc.pid);
      const ready = await operatorReady(bo, n);
      if (ready) readySeconds = processAgeSeconds(bo.op.proc.pid);
      return ready;
    },
    600_000,
    async () =>
      `readyz ${(await fetch(`${bo.op.url}/readyz`).catch(() => undefined))?.status ?? 'down'}, issuance reconciles ${(await bo.op.metric('controller_runtime_reconcile_total', { controller: 'issuance' })) ?? 0}/${n}, queue ${(await bo.op.metric('workqueue_depth', { name: 'issuance' })) ?? '?'}`,
    ctx.log,
  );
  ctx.log(
    `restart: caches synced ${syncedSeconds.toFixed(1)} s, Ready ${readySeconds.toFixed(1)} s after the process started; counting writes for ${settle / 1000} s more`,
  );
  await sleep(settle);
  // before the webhook's dry-run probe: a bench request (a dry-run POST counts as one) is not the operator's
  const writes = writesBetween(before, await requestTotals(cp));
  await bo.ready(BINDING);
  ctx.log(`restart: every write from the stop of the old operator on: ${formatWrites(writes)}`);
  return {
    writes: writesOn(writes, RESTART_RESOURCES),
    synced: syncedSeconds,
    ready: readySeconds,
    peak: mb(peakRssMb(bo.op.proc.pid)),
  };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/**
 * `restarts=` (default 1) restarts in a row: the figures are medians, each run's listed; writes are summed.
 * `altRoot=<checkout>` (a worktree of main, say): restarts alternate between its operator (first) and this
 * one's, and each gets its own figures (`alt_` prefixed), under the same load and the same identities.
 */
async function restartPhase(r: Run): Promise<Figures> {
  const due = await quiesce(r, 'restart');
  const alt = r.ctx.params.altRoot;
  const runs: (Awaited<ReturnType<typeof restartOnce>> & { alt: boolean })[] = [];
  for (let i = 0; i < Math.max(1, Number(r.ctx.params.restarts ?? 1)); i++) {
    const useAlt = alt !== undefined && i % 2 === 0;
    runs.push({ ...(await restartOnce(r, useAlt ? alt : undefined)), alt: useAlt });
  }
  const figures = (rs: typeof runs, p: string): Figures => {
    if (!rs.length) return {};
    const list = (f: (x: (typeof runs)[number]) => number): string => rs.map((x) => f(x).toFixed(1)).join(',');
    return {
      [`${p}restart_writes`]: rs.reduce((a, x) => a + x.writes, 0),
      [`${p}restart_ready_seconds`]: median(rs.map((x) => x.ready)).toFixed(1),
      [`${p}restart_synced_seconds`]: median(rs.map((x) => x.synced)).toFixed(1),
      ...(rs.length > 1
        ? { [`${p}restart_ready_runs`]: list((x) => x.ready), [`${p}restart_synced_runs`]: list((x) => x.synced) }
        : {}),
      [`${p}restart_peak_rss_mb`]: rs.at(-1)!.peak,
    };
  };
  return {
    pre_restart_due_writes: due,
    ...figures(
      runs.filter((x) => !x.alt),
      '',
    ),
    ...figures(
      runs.filter((x) => x.alt),
      'alt_',
    ),
  };
}

async function rotatePhase(r: Run): Promise<Figures> {
  const { ctx, cp, n, tracker } = r;
  const fp0 = await bindingFingerprint(ctx);
  const co = ctx.kc.makeApiClient(k8s.CustomObjectsApi);
  const requested = performance.now();
  await co.patchClusterCustomObject(
    {
      ...GROUP,
      plural: 'certificateauthoritybindings',
      name: BINDING,
      body: {
        metadata: { annotations: { 'machineidentity.io/regenerate-ca-requested-at': new Date().toISOString() } },
      },
    },
    k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
  );
  let fp1: string | undefined;
  await until(
    'rotate: new CA',
    async () => (fp1 = await bindingFingerprint(ctx)) !== undefined && fp1 !== fp0,
    120_000,
    () => 'waiting',
    ctx.log,
  );
  const newCa = fp1!;
  ctx.log(`rotate: new CA ${newCa.slice(0, 16)}… after ${((performance.now() - requested) / 1000).toFixed(1)} s`);
  let last = { t: performance.now(), writes: await requestTotals(cp), moved: 0 };
  let peakQps = 0;
  const rate = Number(ctx.params.rate ?? 100);
  await until(
    'rotate',
    () => tracker.count(newCa) >= n,
    Math.max(900_000, (n / rate) * 3000),
    async () => {
      const now = { t: performance.now(), writes: await requestTotals(cp), moved: tracker.count(newCa) };
      const dt = (now.t - last.t) / 1000;
      const qps = writesOn(writesBetween(last.writes, now.writes), RESTART_RESOURCES) / dt;
      peakQps = Math.max(peakQps, qps);
      const line = `${now.moved}/${n} reissued from the new CA (${((now.moved - last.moved) / dt).toFixed(1)}/s, Secret+MachineIdentity writes ${qps.toFixed(1)}/s)`;
      last = now;
      return line;
    },
    ctx.log,
  );
  const seconds = (performance.now() - requested) / 1000;
  return {
    rotation_seconds: seconds.toFixed(1),
    rotation_rate_limit: rate,
    rotation_identities_per_second: (n / seconds).toFixed(1),
    rotation_peak_write_qps: peakQps.toFixed(1),
  };
}

async function inventoryPhase(r: Run): Promise<Figures> {
  const { ctx, n, conc } = r;
  const params = ctx.params;
  const unmanaged = Math.floor(n / 2);
  const namespaces = namespaceNames('scale-inv', unmanaged);
  await createNamespaces(ctx, namespaces);
  const t0 = performance.now();
  await createUnmanagedTlsSecrets(ctx.kc, namespaces, unmanaged, conc);
  ctx.log(
    `inventory: ${unmanaged} unmanaged certificate Secrets created in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );
  await quiesce(r, 'inventory');
  await r.bo.stop();
  const before = await requestTotals(r.cp);
  const statuses = params.statusDiff ? await listStatuses(ctx.kc) : undefined;
  r.bo = await startBenchOperator(ctx, OP_NS);
  const bo = r.bo;
  let last = -1,
    stableSince = performance.now();
  const found = async (): Promise<number> => (await bo.op.metric('machine_identity_inventory_certificates')) ?? 0;
  await until(
    'inventory',
    async () => {
      const f = await found();
      if (f !== last) [last, stableSince] = [f, performance.now()];
      return f >= n + unmanaged && performance.now() - stableSince > 15_000;
    },
    900_000,
    async () => `${await found()} certificates in the inventory (at least ${n + unmanaged} expected)`,
    ctx.log,
  );
  const seconds = processAgeSeconds(bo.op.proc.pid) - 15;
  // this restart follows the rotation (every identity renewed): the case a Ready condition's lastTransitionTime broke
  await until(
    'inventory: issuance queue',
    () => operatorReady(bo, n),
    600_000,
    () => 'waiting',
    ctx.log,
  );
  const writes = writesBetween(before, await requestTotals(r.cp));
  ctx.log(`inventory: every write from the stop of the old operator on: ${formatWrites(writes)}`);
  if (statuses) {
    const d = statusChanges(statuses, await listStatuses(ctx.kc));
    ctx.log(`inventory: ${d.changed} statuses changed by the restart; the first:\n${d.lines.join('\n')}`);
  }
  return {
    restart_after_rotation_writes: writesOn(writes, RESTART_RESOURCES),
    inventory_certificates: await found(),
    inventory_seconds: seconds.toFixed(1),
    inventory_rss_mb: mb(peakRssMb(bo.op.proc.pid)),
    inventory_steady_rss_mb: mb(rssMb(bo.op.proc.pid)),
  };
}

const bench: Bench = {
  description: 'scale: N identities issued, a zero-write restart, a paced CA rotation and the inventory at that size',
  controlPlane: (params) => ({
    etcdQuotaBytes: Number(params.etcdQuotaGB ?? 8) * 1024 ** 3,
    etcdAutoCompaction: { mode: 'periodic', retention: params.etcdCompaction ?? '5m' },
  }),
  async run(ctx0) {
    if (!ctx0.cp)
      throw new Error('scale needs its own control plane (no --local): it reads etcd and API server metrics');
    const params: Record<string, string> = {
      'chart.heapLimitMB': '1024',
      'chart.issuance.reissueRatePerSecond': ctx0.params.rate ?? '100',
      ...ctx0.params,
    };
    const ctx = { ...ctx0, params };
    const n = Number(params.n ?? 2000),
      conc = Number(params.concurrency ?? 32);
    const phases = new Set((params.phases ?? 'issue,restart,rotate,inventory').split(','));
    await ctx.kc.makeApiClient(k8s.CoreV1Api).createNamespace({ body: { metadata: { name: OP_NS } } });
    const tracker = new IdentityTracker(ctx.kc, ctx.log);
    await tracker.start();
    const r: Run = { ctx, cp: ctx0.cp, n, conc, tracker, bo: await startBenchOperator(ctx, OP_NS) };
    try {
      await createBinding(ctx);
      await until(
        'binding Ready',
        async () => !!(await bindingFingerprint(ctx)),
        60_000,
        () => 'waiting',
        ctx.log,
      );
      await r.bo.ready(BINDING);
      await sleep(5000);
      r.baseRss = rssMb(r.bo.op.proc.pid);
      const figures: Figures = { n, heap_limit_mb: params['chart.heapLimitMB']!, ...(await issuePhase(r)) };
      // each phase's figures are logged when it ends: a long run that fails later keeps what it measured
      const phase = async (name: string, fn: (r: Run) => Promise<Figures>): Promise<void> => {
        if (name !== 'issue' && !phases.has(name)) return;
        const f = name === 'issue' ? figures : await fn(r);
        Object.assign(figures, f);
        ctx.log(
          `${name} figures: ${Object.entries(f)
            .map(([k, v]) => `${k}=${v}`)
            .join(' ')}`,
        );
      };
      await phase('issue', async () => figures);
      await phase('restart', restartPhase);
      await phase('rotate', rotatePhase);
      await phase('inventory', inventoryPhase);
      const etcd = await etcdDbMb(ctx0.cp);
      figures.etcd_mb = etcd.total.toFixed(0);
      figures.etcd_in_use_mb = etcd.inUse.toFixed(0);
      figures.create_retries = createRetries.count;
      figures.operator_errors = r.bo.op.logLines().filter((l) => (l.level as number) >= 50).length;
      return figures;
    } finally {
      tracker.stop();
      await r.bo.stop();
    }
  },
};
export default bench;
