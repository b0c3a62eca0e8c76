// Issuance throughput: N MachineIdentities (default 1,000) applied against the real control plane with the
// in-cluster CA, first with ECDSA P-256 keys, then with RSA 2048. Reports identities/s from apply to Ready,
// p50/p99 latency, API writes per issuance (from kube-apiserver's own request counters, minus the
// benchmark's own creates; Events and Leases excluded), CPU milliseconds per issuance of the operator,
// kube-apiserver and etcd (/proc/<pid>/stat from the first create to the last Ready), and the operator's
// peak RSS and its RSS 10 s after the last Ready.
// Params: n=1000 concurrency=32 rsa=true profile=chart|lean entry=src|dist
//   profile=chart (default): the operator as the Helm chart installs it (bench/lib/profile-operator.ts), the
//     chart's values changed only by chart.<key>=<value> (helm --set), e.g. chart.workers=32
//   profile=lean: the settings before #17 (webhook off, no leader election, log level warn), workers=32 inventory=
//   entry=dist (chart's default): the compiled operator, as the image runs it; src (lean's default): the .ts
//     sources, which loads Node's type stripper into every isolate, the parse worker's too
import * as k8s from '@kubernetes/client-node';
import type { Bench, BenchContext } from './run.ts';
import { cpuPerIssuance, cpuSnapshot, peakRssMb, rssMb } from './lib/proc-cpu.ts';
import { startBenchOperator } from './lib/profile-operator.ts';
import { requestTotals } from './lib/apiserver-requests.ts';
import { IdentityTracker } from './lib/identity-tracker.ts';
import { createReadyCaBinding } from './lib/ca-binding.ts';

const MI = { group: 'machineidentity.io', version: 'v1alpha1', plural: 'machineidentities' };
const pct = (xs: number[], p: number): number =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))] ?? NaN;

/** Every apiserver_request_total series as "VERB resource[/subresource]" → count (for MIO_BENCH_REQUEST_MIX=1). */
const apiserverRequests = (ctx: BenchContext): Promise<Map<string, number>> => requestTotals(ctx.cp!);

const NOT_COUNTED = new Set(['events', 'leases', 'tokenreviews', 'subjectaccessreviews', 'selfsubjectaccessreviews']);

/** Writes (POST/PUT/PATCH/DELETE/APPLY) the apiserver has served, Events, Leases and reviews excluded. */
async function apiserverWrites(ctx: BenchContext): Promise<number> {
  let n = 0;
  for (const [k, v] of await apiserverRequests(ctx)) {
    const [verb, resource] = k.split(' ');
    if (['POST', 'PUT', 'PATCH', 'DELETE', 'APPLY'].includes(verb!) && !NOT_COUNTED.has(resource!.split('/')[0]!))
      n += v;
  }
  return n;
}

/** N identities applied with `conc` concurrent creates, timed from apply to Ready (also used by bench/acme.ts). */
export async function phase(
  ctx: BenchContext,
  algorithm: 'ECDSA' | 'RSA',
  size: number,
  n: number,
  conc: number,
  binding: string,
  dnsName: (name: string, ns: string) => string = (name, ns) => `${name}.${ns}.svc`,
  /** Processes whose CPU time is charged per issuance (name → pid), and whose RSS is read 10 s after the last Ready. */
  watch: { pids?: Record<string, number>; steadyRssPid?: number } = {},
): Promise<Record<string, number | string>> {
  const { kc, log } = ctx;
  const co = kc.makeApiClient(k8s.CustomObjectsApi);
  const ns = `bench-${algorithm.toLowerCase()}-${Date.now().toString(36)}`;
  await kc.makeApiClient(k8s.CoreV1Api).createNamespace({ body: { metadata: { name: ns } } });
  const created = new Map<string, number>();
  // first time each identity of the namespace is seen Ready, by "namespace/name"
  const tracker = new IdentityTracker(kc, log, { namespace: ns });
  const readyAt = tracker.firstReady();
  await tracker.start();
  const writes0 = await apiserverWrites(ctx);
  const mix0 = process.env.MIO_BENCH_REQUEST_MIX ? await apiserverRequests(ctx) : undefined;
  const cpu0 = watch.pids && cpuSnapshot(watch.pids);
  const t0 = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: conc }, async () => {
      while (next < n) {
        const name = `id-${next++}`;
        created.set(`${ns}/${name}`, performance.now());
        await co.createNamespacedCustomObject({
          ...MI,
          namespace: ns,
          body: {
            apiVersion: 'machineidentity.io/v1alpha1',
            kind: 'MachineIdentity',
            metadata: { name },
            spec: {
              secretName: `${name}-tls`,
              authorityRef: { name: binding },
              dnsNames: [dnsName(name, ns)],
              privateKey: { algorithm, size },
            },
          },
        });
      }
    }),
  );
  const applySec = (performance.now() - t0) / 1000;
  log(`${algorithm}: ${n} identities applied in ${applySec.toFixed(1)} s; waiting for Ready`);
  const deadline = Date.now() + 15 * 60_000;
  while (readyAt.size < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  const cpu = cpu0 && watch.pids ? cpuPerIssuance(cpu0, cpuSnapshot(watch.pids), readyAt.size) : {};
  const lastReady = performance.now();
  const total = (Math.max(...readyAt.values()) - t0) / 1000;
  await new Promise((r) => setTimeout(r, 1500)); // let trailing status writes land before counting
  const writes = (await apiserverWrites(ctx)) - writes0 - n; // minus the benchmark's own creates
  if (mix0) {
    const mix1 = await apiserverRequests(ctx);
    const rows = [...mix1]
      .map(([k, v]) => [k, (v - (mix0.get(k) ?? 0)) / n] as const)
      .filter(([, v]) => v >= 0.01)
      .sort((a, b) => b[1] - a[1]);
    log(`requests per identity (all clients): ${rows.map(([k, v]) => `${k}=${v.toFixed(2)}`).join(' ')}`);
  }
  tracker.stop();
  let steady: Record<string, string> = {};
  if (watch.steadyRssPid !== undefined) {
    await new Promise((r) => setTimeout(r, Math.max(0, 10_000 - (performance.now() - lastReady))));
    steady = { steady_rss_mb: rssMb(watch.steadyRssPid)?.toFixed(0) ?? 'n/a' };
  }
  const lat = [...readyAt].map(([k, t]) => t - created.get(k)!);
  return {
    identities: readyAt.size,
    identities_per_second: (readyAt.size / total).toFixed(1),
    p50_ms: pct(lat, 0.5).toFixed(0),
    p99_ms: pct(lat, 0.99).toFixed(0),
    writes_per_issuance: (writes / readyAt.size).toFixed(2),
    ...cpu,
    ...steady,
    seconds: total.toFixed(1),
  };
}

/** The processes charged per issuance: the operator, and kube-apiserver and etcd when the bench started them. */
function watchedPids(ctx: BenchContext, operatorPid: number): Record<string, number> {
  const cp = ctx.cp?.state().pids ?? {};
  return {
    operator: operatorPid,
    ...(cp['kube-apiserver'] ? { apiserver: cp['kube-apiserver'] } : {}),
    ...(cp.etcd ? { etcd: cp.etcd } : {}),
  };
}

const prefixed = (prefix: string, o: Record<string, number | string>): Record<string, number | string> =>
  Object.fromEntries(Object.entries(o).map(([k, v]) => [`${prefix}${k}`, v]));

const bench: Bench = {
  description: 'issuance: N identities from apply to Ready with the in-cluster CA (ECDSA P-256, then RSA 2048)',
  async run(ctx) {
    const n = Number(ctx.params.n ?? 1000),
      conc = Number(ctx.params.concurrency ?? 32);
    const core = ctx.kc.makeApiClient(k8s.CoreV1Api);
    const opNs = 'mio-bench';
    await core.createNamespace({ body: { metadata: { name: opNs } } });
    const bo = await startBenchOperator(ctx, opNs);
    const op = bo.op;
    try {
      await createReadyCaBinding(ctx.kc, 'bench-ca', 'Bench CA');
      await bo.ready('bench-ca');
      const watch = { pids: watchedPids(ctx, op.proc.pid), steadyRssPid: op.proc.pid };
      const ec = await phase(ctx, 'ECDSA', 256, n, conc, 'bench-ca', undefined, watch);
      ctx.log(`ECDSA P-256: ${JSON.stringify(ec)}`);
      const rsa =
        ctx.params.rsa === 'false' ? {} : await phase(ctx, 'RSA', 2048, n, conc, 'bench-ca', undefined, watch);
      ctx.log(`RSA 2048: ${JSON.stringify(rsa)}`);
      const peak = peakRssMb(op.proc.pid);
      // admission requests the operator's webhook answered: every create goes through it with profile=chart
      const webhookRequests = (await op.metric('machine_identity_webhook_requests_total')) ?? 0;
      const errors = op.logLines().filter((l) => (l.level as number) >= 50).length;
      const { identities: _i, seconds: _s, ...ecFigures } = ec;
      const { identities: _ri, seconds: _rs, ...rsaFigures } = rsa;
      return {
        profile: bo.profile,
        entry: bo.entry,
        n,
        ...ecFigures,
        peak_rss_mb: peak === undefined ? 'n/a' : peak.toFixed(0),
        ...(ctx.params.rsa === 'false' ? { rsa: 'skipped' } : prefixed('rsa_', rsaFigures)),
        webhook_requests: webhookRequests,
        operator_errors: errors,
      };
    } finally {
      await bo.stop();
    }
  },
};
export default bench;
