// Validation at scale: N endpoints (default 2,000 = 200 MachineIdentities × 10 addresses) probed by the real
// operator. Each identity (in-cluster CA) has an Ingress whose class names one controller Service; that
// Service's EndpointSlices (at most 1,000 endpoints each) hold addresses of a TLS farm in a network namespace
// this benchmark creates (test/harness/tls-farm.ts, slot 1, allowed by MIO_VALIDATION_ALLOWED_CIDRS). Once the
// identities are Ready the farm serves their current certificates by SNI, so every verdict is Current.
//
// Phase 1 (first probes after issuance): the wait from the last Ready to the first probe (the schedule's
// +15 s, not probe time), then the time from the first probe to every identity Served=True, probes/s over that
// window, p99 handshake (histogram_quantile-style interpolation of the operator's own histogram, and exact
// values from the same Prober code run in this process at the same concurrency), API requests per identity in
// the window (kube-apiserver's counters; only the validation controller writes then), the operator's peak and
// steady RSS, and the prober's peak in-flight/queued gauges and refusals.
// Burst: `kubectl mi validate -A` in effect (validate-requested-at on every identity): all probed at once.
// Phase 2: every identity renewed, the farm NOT updated: time until all are Served=False ServingStaleCertificate.
// Params: identities=200 addresses=10 concurrency=16 (MIO_VALIDATION_CONCURRENCY) grace=5s workers=32
// entry=src|dist direct=true burst=true renew=true waitS=300 (how long to wait for Served=True)
// logLevel=warn keepLog=<file> (the operator's log is written there at the end)
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { Informer } from '../src/runtime/informer.ts';
import { Prober } from '../src/validation/prober.ts';
import { startOperator, type OperatorProcess } from '../test/harness/operator.ts';
import { REPO_ROOT } from '../test/harness/control-plane.ts';
import { makePki } from '../test/harness/pki.ts';
import { farmRange, startFarm, type TlsFarm } from '../test/harness/tls-farm.ts';
import type { Bench, BenchContext } from './run.ts';
import { requestTotals, writesBetween } from './lib/apiserver-requests.ts';
import { createReadyCaBinding } from './lib/ca-binding.ts';

const MI = { group: 'machineidentity.io', version: 'v1alpha1', plural: 'machineidentities' };
const MERGE = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);
const SLOT = 1;
const PORT = 8443;
const SLICE_MAX = 1000;

type Cond = { type: string; status: string; reason?: string };
type Obj = k8s.KubernetesObject & {
  status?: { conditions?: Cond[]; revision?: number; served?: { lastProbeTime?: string } };
};
type Pair = { cert: string; key: string };

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const pct = (xs: number[], p: number): number =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))] ?? NaN;
const kb = (pid: number, field: string): number =>
  Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN);
const mb = (k: number): string => (k / 1024).toFixed(0);
const s1 = (ms: number): string => (ms / 1000).toFixed(1);

async function pool<T>(items: T[], concurrency: number, fn: (t: T) => Promise<unknown>): Promise<void> {
  let i = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (i < items.length) await fn(items[i++]!);
    }),
  );
}

async function waitUntil(what: () => string, ok: () => boolean, timeoutMs: number, tick?: () => Promise<void>) {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${s1(timeoutMs)} s waiting for ${what()}`);
    await (tick ? tick() : sleep(100));
  }
}

/** apiserver_request_total as "VERB resource[/subresource]" → count; empty without a control plane of ours. */
const apiserverRequests = (ctx: BenchContext): Promise<Map<string, number>> =>
  ctx.cp ? requestTotals(ctx.cp) : Promise.resolve(new Map());

/** Cumulative histogram buckets (le → count, summed over labels) of a metric in Prometheus text. */
async function buckets(op: OperatorProcess, name: string): Promise<Map<number, number>> {
  const text = await (await fetch(`${op.url}/metrics?name=${encodeURIComponent(name)}`)).text();
  const out = new Map<number, number>();
  for (const line of text.split('\n')) {
    const m = new RegExp(`^${name}_bucket\\{.*le="([^"]+)".*\\} (\\S+)$`).exec(line);
    if (!m) continue;
    const le = m[1] === '+Inf' ? Infinity : Number(m[1]);
    out.set(le, (out.get(le) ?? 0) + Number(m[2]));
  }
  return out;
}

/** Prometheus histogram_quantile: linear interpolation inside the bucket holding the q-th observation. */
function histogramQuantile(q: number, b: Map<number, number>, before = new Map<number, number>()): number {
  const rows = [...b].map(([le, c]) => [le, c - (before.get(le) ?? 0)] as const).sort((x, y) => x[0] - y[0]);
  const total = rows.at(-1)?.[1] ?? 0;
  if (!total) return NaN;
  const rank = q * total;
  let prevLe = 0,
    prevC = 0;
  for (const [le, c] of rows) {
    if (c >= rank) {
      if (le === Infinity) return prevLe;
      return prevLe + ((le - prevLe) * (rank - prevC)) / Math.max(1, c - prevC);
    }
    prevLe = le;
    prevC = c;
  }
  return NaN;
}

/** The bucket upper bound holding the q-th observation (what the histogram can honestly promise). */
function bucketBound(q: number, b: Map<number, number>, before = new Map<number, number>()): number {
  const rows = [...b].map(([le, c]) => [le, c - (before.get(le) ?? 0)] as const).sort((x, y) => x[0] - y[0]);
  const total = rows.at(-1)?.[1] ?? 0;
  return rows.find(([, c]) => c >= q * total)?.[0] ?? NaN;
}

interface Tracker {
  ready: Map<string, number>;
  revision: Map<string, number>;
  served: Map<string, { reason: string; at: number }>;
  stop(): Promise<void>;
}

/** Watches the identities: Ready time, revision and Served reason (with the time it was first seen). */
async function track(ctx: BenchContext, ns: string): Promise<Tracker> {
  const t: Omit<Tracker, 'stop'> = { ready: new Map(), revision: new Map(), served: new Map() };
  const inf = new Informer<Obj>({
    kc: ctx.kc,
    path: `/apis/machineidentity.io/v1alpha1/namespaces/${ns}/machineidentities`,
    registry: new Registry(),
    logger: pino({ level: 'warn' }),
  });
  const seen = (o: Obj): void => {
    const name = o.metadata?.name ?? '';
    const now = performance.now();
    const conds = o.status?.conditions ?? [];
    if (conds.some((c) => c.type === 'Ready' && c.status === 'True')) {
      if (t.revision.get(name) !== o.status?.revision) t.ready.set(name, now);
      t.revision.set(name, o.status?.revision ?? 0);
    }
    const served = conds.find((c) => c.type === 'Served')?.reason ?? '';
    if (t.served.get(name)?.reason !== served) t.served.set(name, { reason: served, at: now });
  };
  inf.onAdd(seen).onUpdate((_o, x) => seen(x));
  inf.start();
  await inf.synced;
  return { ...t, stop: () => inf.stop() };
}

/** Samples the operator every 100 ms: probes_total, in-flight and queued gauges, RSS. */
class Sampler {
  probes = 0;
  firstProbeAt?: number;
  lastIncreaseAt?: number;
  peakInFlight = 0;
  peakQueued = 0;
  peakRssKb = 0;
  private readonly op: OperatorProcess;
  constructor(op: OperatorProcess) {
    this.op = op;
  }
  async tick(): Promise<void> {
    const [p, inFlight, queued] = await Promise.all([
      this.op.metric('machine_identity_validation_probes_total'),
      this.op.metric('machine_identity_validation_probes_in_flight'),
      this.op.metric('machine_identity_validation_probes_queued'),
    ]);
    const now = performance.now();
    if ((p ?? 0) > this.probes) {
      this.firstProbeAt ??= now;
      this.lastIncreaseAt = now;
    }
    this.probes = p ?? 0;
    this.peakInFlight = Math.max(this.peakInFlight, inFlight ?? 0);
    this.peakQueued = Math.max(this.peakQueued, queued ?? 0);
    this.peakRssKb = Math.max(this.peakRssKb, kb(this.op.proc.pid, 'VmRSS'));
    await sleep(100);
  }
  reset(): void {
    this.firstProbeAt = undefined;
    this.lastIncreaseAt = undefined;
  }
}

async function controllerService(ctx: BenchContext, ns: string, addresses: string[]): Promise<void> {
  const core = ctx.kc.makeApiClient(k8s.CoreV1Api);
  const disco = ctx.kc.makeApiClient(k8s.DiscoveryV1Api);
  await core.createNamespacedService({
    namespace: ns,
    body: { metadata: { name: 'ingress' }, spec: { ports: [{ name: 'https', port: 443, targetPort: PORT }] } },
  });
  for (let i = 0; i * SLICE_MAX < addresses.length; i++)
    await disco.createNamespacedEndpointSlice({
      namespace: ns,
      body: {
        metadata: { name: `ingress-${i}`, labels: { 'kubernetes.io/service-name': 'ingress' } },
        addressType: 'IPv4',
        ports: [{ name: 'https', port: PORT, protocol: 'TCP' }],
        endpoints: addresses
          .slice(i * SLICE_MAX, (i + 1) * SLICE_MAX)
          .map((a) => ({ addresses: [a], conditions: { ready: true } })),
      },
    });
}

async function createIdentities(ctx: BenchContext, ns: string, n: number, cls: string): Promise<void> {
  const co = ctx.kc.makeApiClient(k8s.CustomObjectsApi);
  const net = ctx.kc.makeApiClient(k8s.NetworkingV1Api);
  await pool([...Array(n).keys()], 32, async (i) => {
    const name = `id-${i}`;
    const host = `${name}.${ns}.svc`;
    await net.createNamespacedIngress({
      namespace: ns,
      body: {
        metadata: { name },
        spec: {
          ingressClassName: cls,
          tls: [{ hosts: [host], secretName: `${name}-tls` }],
          defaultBackend: { service: { name: 'backend', port: { number: 80 } } },
        },
      },
    });
    await co.createNamespacedCustomObject({
      ...MI,
      namespace: ns,
      body: {
        apiVersion: 'machineidentity.io/v1alpha1',
        kind: 'MachineIdentity',
        metadata: { name },
        spec: { secretName: `${name}-tls`, authorityRef: { name: 'bench-ca' }, dnsNames: [host] },
      },
    });
  });
}

async function currentPairs(ctx: BenchContext, ns: string): Promise<Record<string, Pair>> {
  const list = await ctx.kc.makeApiClient(k8s.CoreV1Api).listNamespacedSecret({ namespace: ns });
  const out: Record<string, Pair> = {};
  for (const s of list.items) {
    const name = s.metadata?.name ?? '';
    if (!name.endsWith('-tls') || !s.data?.['tls.crt']) continue;
    const dec = (k: string): string => Buffer.from(s.data?.[k] ?? '', 'base64').toString();
    out[`${name.slice(0, -4)}.${ns}.svc`] = { cert: dec('tls.crt'), key: dec('tls.key') };
  }
  return out;
}

const bindingReady = (ctx: BenchContext): Promise<void> => createReadyCaBinding(ctx.kc, 'bench-ca', 'Bench CA');

/** Every endpoint probed by the Prober class itself (worker thread, same options) from this process: exact durations. */
async function directProbes(
  farm: TlsFarm,
  hosts: string[],
  concurrency: number,
): Promise<{ p50: number; p99: number; max: number; perSecond: number; failed: number }> {
  const prober = new Prober({ concurrency, timeoutMs: 5000 });
  const jobs = hosts.flatMap((sni) => farm.addresses.map((ip) => ({ ip, port: farm.port, sni })));
  const durations: number[] = [];
  let failed = 0;
  const t0 = performance.now();
  // as many callers as slots: nothing waits in the queue, so each duration is the handshake alone
  await pool(jobs, concurrency, async (j) => {
    const r = await prober.probe(j);
    durations.push(r.durationMs);
    if (!r.ok) failed++;
  });
  const sec = (performance.now() - t0) / 1000;
  await prober.stop();
  return {
    p50: pct(durations, 0.5),
    p99: pct(durations, 0.99),
    max: Math.max(...durations),
    perSecond: jobs.length / sec,
    failed,
  };
}

async function patchAll(ctx: BenchContext, ns: string, n: number, annotations: Record<string, string>) {
  const co = ctx.kc.makeApiClient(k8s.CustomObjectsApi);
  await pool([...Array(n).keys()], 32, (i) =>
    co.patchNamespacedCustomObject(
      { ...MI, namespace: ns, name: `id-${i}`, body: { metadata: { annotations } } },
      MERGE,
    ),
  );
}

const countReason = (t: Tracker, reason: string): number =>
  [...t.served.values()].filter((s) => s.reason === reason).length;
const reasons = (t: Tracker): string => {
  const m = new Map<string, number>();
  for (const s of t.served.values()) m.set(s.reason || '(none)', (m.get(s.reason || '(none)') ?? 0) + 1);
  return [...m].map(([k, v]) => `${k}=${v}`).join(',');
};
const fmtWrites = (w: Map<string, number>, n: number): string =>
  [...w].map(([k, v]) => `${k.replace(' ', ':')}=${(v / n).toFixed(2)}`).join(' ');

const bench: Bench = {
  description: 'validate: N endpoints (Ingress TLS Secrets through a controller Service on a TLS farm) probed',
  async run(ctx) {
    const n = Number(ctx.params.identities ?? 200),
      perId = Number(ctx.params.addresses ?? 10),
      conc = Number(ctx.params.concurrency ?? 16),
      grace = ctx.params.grace ?? '5s';
    const core = ctx.kc.makeApiClient(k8s.CoreV1Api);
    const net = ctx.kc.makeApiClient(k8s.NetworkingV1Api);
    const stamp = Date.now().toString(36);
    const ns = `bench-val-${stamp}`,
      ctrlNs = `bench-val-ctrl-${stamp}`,
      cls = `bench-val-${stamp}`;
    for (const name of [ns, ctrlNs, 'mio-bench'])
      await core.createNamespace({ body: { metadata: { name } } }).catch(() => undefined);
    const fallback = await (await makePki()).serving(['fallback.invalid']);
    const farm = await startFarm({ count: perId, slot: SLOT, port: PORT, certs: { default: fallback } });
    let op: OperatorProcess | undefined;
    try {
      await controllerService(ctx, ctrlNs, farm.addresses);
      await net.createIngressClass({
        body: {
          metadata: { name: cls, annotations: { 'machineidentity.io/controller-service': `${ctrlNs}/ingress` } },
          spec: { controller: 'example.test/stand-in' },
        },
      });
      if (ctx.params.entry === 'dist')
        execFileSync(
          process.execPath,
          [join(REPO_ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(REPO_ROOT, 'tsconfig.build.json')],
          { stdio: 'inherit' },
        );
      op = await startOperator(
        ctx.kubeconfigPath,
        {
          MIO_NAMESPACE: 'mio-bench',
          MIO_LEADER_ELECT: 'false',
          MIO_LOG_LEVEL: ctx.params.logLevel ?? 'warn',
          MIO_WORKERS: ctx.params.workers ?? '32',
          MIO_VALIDATION_ALLOWED_CIDRS: farmRange(SLOT),
          MIO_VALIDATION_STALE_GRACE: grace,
          MIO_VALIDATION_CONCURRENCY: String(conc),
        },
        ctx.params.entry === 'dist' ? join(REPO_ROOT, 'dist/main.js') : undefined,
      );
      const sampler = new Sampler(op);
      await bindingReady(ctx);
      const t = await track(ctx, ns);
      try {
        return await phases(ctx, { op, farm, fallback, t, sampler, ns, cls, n, perId, conc });
      } finally {
        await t.stop();
      }
    } finally {
      if (op && ctx.params.keepLog) writeFileSync(ctx.params.keepLog, op.logs());
      await op?.stop();
      await farm.stop();
      await net.deleteIngressClass({ name: cls }).catch(() => undefined);
    }
  },
};

interface Run {
  op: OperatorProcess;
  farm: TlsFarm;
  fallback: Pair;
  t: Tracker;
  sampler: Sampler;
  ns: string;
  cls: string;
  n: number;
  perId: number;
  conc: number;
}

async function phases(ctx: BenchContext, r: Run): Promise<Record<string, number | string>> {
  const { op, farm, fallback, t, sampler, ns, cls, n, perId, conc } = r;
  const { log } = ctx;
  const endpoints = n * perId;
  const HIST = 'machine_identity_validation_probe_duration_seconds';
  const t0 = performance.now();
  await createIdentities(ctx, ns, n, cls);
  log(`${n} identities and Ingresses applied in ${s1(performance.now() - t0)} s (${endpoints} endpoints)`);
  await waitUntil(
    () => 'all identities Ready',
    () => t.ready.size >= n,
    300_000,
    () => sampler.tick(),
  );
  const allReady = Math.max(...t.ready.values());
  await farm.setCertificates({ default: fallback, byName: await currentPairs(ctx, ns) });
  const farmSet = performance.now();
  const probesBeforeFarm = (await op.metric('machine_identity_validation_probes_total')) ?? 0;
  log(
    `all Ready ${s1(allReady - t0)} s after apply; farm serves the current certificates ${s1(farmSet - allReady)} s later (probes before: ${probesBeforeFarm})`,
  );
  // issuance's trailing writes land before the window is counted (the first probes are due ≥ 15 s after issuance)
  while (performance.now() - allReady < 3000 && sampler.firstProbeAt === undefined) await sampler.tick();
  const req0 = await apiserverRequests(ctx);
  await waitUntil(
    () => `all Served=True (last: ${reasons(t)}; probes ${sampler.probes}, peak queued ${sampler.peakQueued})`,
    () => countReason(t, 'ServingCurrentCertificate') >= n,
    Number(ctx.params.waitS ?? 300) * 1000,
    () => sampler.tick(),
  );
  const allServed = Math.max(...[...t.served.values()].map((s) => s.at));
  await sleep(1500);
  await sampler.tick();
  const req1 = await apiserverRequests(ctx);
  const firstProbe = sampler.firstProbeAt ?? NaN;
  const window = (allServed - firstProbe) / 1000;
  const probes1 = sampler.probes;
  const hist1 = await buckets(op, HIST);
  const inFlight1 = sampler.peakInFlight,
    queued1 = sampler.peakQueued;
  const w1 = writesBetween(req0, req1);
  log(
    `phase 1: first probe ${s1(firstProbe - allReady)} s after the last Ready (${s1(firstProbe - Math.min(...t.ready.values()))} s after the first); all ${n} Served=True ${window.toFixed(1)} s after the first probe; ${probes1} probes; peak in flight ${sampler.peakInFlight}, queued ${sampler.peakQueued}`,
  );
  log(`phase 1 writes per identity: ${fmtWrites(w1, n)}`);
  const hwm1 = kb(op.proc.pid, 'VmHWM');
  await sleep(10_000);
  const steady = kb(op.proc.pid, 'VmRSS');
  log(`RSS: peak ${mb(hwm1)} MB (sampled ${mb(sampler.peakRssKb)} MB), steady ${mb(steady)} MB 10 s later`);

  const hosts = [...Array(n).keys()].map((i) => `id-${i}.${ns}.svc`);
  const direct = ctx.params.direct === 'false' ? undefined : await directProbes(farm, hosts, conc);
  if (direct) log(`direct Prober (this process, concurrency ${conc}): ${JSON.stringify(direct)}`);

  // burst: what `kubectl mi validate -A` asks for, every identity at once
  let burst: { seconds: number; perSecond: number; inFlight: number; queued: number } | undefined;
  if (ctx.params.burst !== 'false') {
    const before = sampler.probes;
    sampler.reset();
    sampler.peakInFlight = 0;
    sampler.peakQueued = 0;
    const at = new Date(Date.now() + 1000).toISOString();
    const b0 = performance.now();
    await patchAll(ctx, ns, n, { 'machineidentity.io/validate-requested-at': at });
    await waitUntil(
      () => `burst: ${endpoints} probes`,
      () => sampler.probes - before >= endpoints,
      300_000,
      () => sampler.tick(),
    );
    const seconds = ((sampler.lastIncreaseAt ?? NaN) - (sampler.firstProbeAt ?? NaN)) / 1000;
    burst = {
      seconds,
      perSecond: (sampler.probes - before) / seconds,
      inFlight: sampler.peakInFlight,
      queued: sampler.peakQueued,
    };
    log(
      `burst (validate-requested-at on all): ${sampler.probes - before} probes in ${seconds.toFixed(1)} s from the first to the last (${s1((sampler.firstProbeAt ?? NaN) - b0)} s after the first patch); peak in flight ${sampler.peakInFlight}, queued ${sampler.peakQueued}`,
    );
    await sleep(2000);
  }

  // phase 2: renew everything, the farm keeps the old certificates
  let stale: { total: number; afterRenewed: number; probes: number; p99: number } | undefined;
  if (ctx.params.renew !== 'false') {
    const revisions = new Map(t.revision);
    const probesBefore = sampler.probes;
    const histBefore = await buckets(op, HIST);
    const r0 = performance.now();
    await patchAll(ctx, ns, n, { 'machineidentity.io/renew-requested-at': new Date().toISOString() });
    await waitUntil(
      () => 'all renewed',
      () => [...revisions].every(([k, v]) => (t.revision.get(k) ?? 0) > v),
      300_000,
      () => sampler.tick(),
    );
    const renewed = Math.max(...t.ready.values());
    await waitUntil(
      () => `all Served=False ServingStaleCertificate (last: ${reasons(t)})`,
      () => countReason(t, 'ServingStaleCertificate') >= n,
      300_000,
      () => sampler.tick(),
    );
    const allStale = Math.max(...[...t.served.values()].map((s) => s.at));
    await sleep(1000);
    await sampler.tick();
    const hist2 = await buckets(op, HIST);
    stale = {
      total: (allStale - r0) / 1000,
      afterRenewed: (allStale - renewed) / 1000,
      probes: sampler.probes - probesBefore,
      p99: histogramQuantile(0.99, hist2, histBefore) * 1000,
    };
    log(
      `phase 2: all renewed ${s1(renewed - r0)} s after the renew requests; all ServingStaleCertificate ${stale.total.toFixed(1)} s after the requests, ${stale.afterRenewed.toFixed(1)} s after the last renewal; ${stale.probes} probes`,
    );
  }
  const hwm = kb(op.proc.pid, 'VmHWM');
  const errors = op.logLines().filter((l) => Number(l.level) >= 50);
  const warnings = op.logLines().filter((l) => Number(l.level) === 40);
  if (warnings.length)
    log(`operator warnings (${warnings.length}), first: ${JSON.stringify(warnings[0]).slice(0, 300)}`);
  if (errors.length) log(`operator errors (${errors.length}), first: ${JSON.stringify(errors[0]).slice(0, 300)}`);
  const validationWrites = [...w1]
    .filter(([k]) => k.includes('machineidentities/status'))
    .reduce((a, [, v]) => a + v, 0);
  return {
    endpoints,
    identities: n,
    concurrency: conc,
    wait_to_first_probe_s: ((firstProbe - allReady) / 1000).toFixed(1),
    probes_before_farm: probesBeforeFarm,
    first_probe_to_all_served_s: window.toFixed(1),
    probes: probes1,
    probes_per_second: (probes1 / window).toFixed(0),
    p99_handshake_ms_hist: (histogramQuantile(0.99, hist1) * 1000).toFixed(1),
    p99_handshake_bucket_ms: (bucketBound(0.99, hist1) * 1000).toFixed(0),
    direct_p99_ms: direct ? direct.p99.toFixed(1) : 'skipped',
    direct_p50_ms: direct ? direct.p50.toFixed(1) : 'skipped',
    direct_probes_per_second: direct ? direct.perSecond.toFixed(0) : 'skipped',
    direct_failed: direct ? direct.failed : 'skipped',
    burst_probes_per_second: burst ? burst.perSecond.toFixed(0) : 'skipped',
    burst_seconds: burst ? burst.seconds.toFixed(1) : 'skipped',
    peak_in_flight: inFlight1,
    peak_queued: queued1,
    burst_peak_in_flight: burst ? burst.inFlight : 'skipped',
    burst_peak_queued: burst ? burst.queued : 'skipped',
    status_writes_per_identity: (validationWrites / n).toFixed(2),
    peak_rss_mb_phase1: mb(hwm1),
    steady_rss_mb: mb(steady),
    peak_rss_mb: mb(hwm),
    stale_all_s_after_renew_request: stale ? stale.total.toFixed(1) : 'skipped',
    stale_all_s_after_last_renewal: stale ? stale.afterRenewed.toFixed(1) : 'skipped',
    stale_p99_handshake_ms_hist: stale ? stale.p99.toFixed(1) : 'skipped',
    operator_errors: errors.length,
  };
}
export default bench;
