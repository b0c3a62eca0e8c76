// Issuance throughput: N MachineIdentities (default 1,000) applied against the real control plane with the
// in-cluster CA, first with ECDSA P-256 keys, then with RSA 2048. Reports identities/s from apply to Ready,
// p50/p99 latency, API writes per issuance (from kube-apiserver's own request counters, minus the
// benchmark's own creates; Events and Leases excluded), and the operator's peak RSS.
// Params: n=1000 concurrency=32 workers=32 rsa=true entry=src|dist (dist: the compiled operator, as the image runs it;
// running .ts directly loads Node's type stripper into every isolate, the parse worker's too)
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'node:https';
import * as k8s from '@kubernetes/client-node';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { Informer } from '../src/runtime/informer.ts';
import { startOperator } from '../test/harness/operator.ts';
import { REPO_ROOT } from '../test/harness/control-plane.ts';
import type { Bench, BenchContext } from './run.ts';

const MI = { group: 'machineidentity.io', version: 'v1alpha1', plural: 'machineidentities' };
const CAB = { group: 'machineidentity.io', version: 'v1alpha1', plural: 'certificateauthoritybindings' };
const pct = (xs: number[], p: number): number =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))] ?? NaN;
type Status = { conditions?: { type: string; status: string }[] };

/** Every apiserver_request_total series as "VERB resource" → count (for MIO_BENCH_REQUEST_MIX=1). */
function apiserverRequests(ctx: BenchContext): Promise<Map<string, number>> {
  const cp = ctx.cp!;
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: cp.apiPort,
        path: '/metrics',
        ca: cp.pki.ca.cert,
        cert: cp.pki.admin.cert,
        key: cp.pki.admin.key,
      },
      (res) => {
        let body = '';
        res.on('data', (d: Buffer) => {
          body += d.toString();
        });
        res.on('end', () => {
          const m = new Map<string, number>();
          for (const line of body.split('\n')) {
            if (!line.startsWith('apiserver_request_total{')) continue;
            const k = `${/verb="(\w+)"/.exec(line)?.[1]} ${/resource="([\w.]+)"/.exec(line)?.[1]}${/subresource="(\w+)"/.exec(line)?.[1] ? '/' + /subresource="(\w+)"/.exec(line)![1] : ''}`;
            m.set(k, (m.get(k) ?? 0) + Number(line.split(' ').pop()));
          }
          resolve(m);
        });
      },
    );
    req.on('error', reject);
    req.end();
  });
}

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
): Promise<Record<string, number | string>> {
  const { kc, log } = ctx;
  const co = kc.makeApiClient(k8s.CustomObjectsApi);
  const ns = `bench-${algorithm.toLowerCase()}-${Date.now().toString(36)}`;
  await kc.makeApiClient(k8s.CoreV1Api).createNamespace({ body: { metadata: { name: ns } } });
  const created = new Map<string, number>();
  const readyAt = new Map<string, number>();
  const inf = new Informer<k8s.KubernetesObject & { status?: Status }>({
    kc,
    path: `/apis/machineidentity.io/v1alpha1/namespaces/${ns}/machineidentities`,
    registry: new Registry(),
    logger: pino({ level: 'warn' }),
  });
  const seen = (o: k8s.KubernetesObject & { status?: Status }): void => {
    const name = o.metadata!.name!;
    if (!readyAt.has(name) && o.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'))
      readyAt.set(name, performance.now());
  };
  inf.onAdd(seen).onUpdate((_o, x) => seen(x));
  inf.start();
  await inf.synced;
  const writes0 = await apiserverWrites(ctx);
  const mix0 = process.env.MIO_BENCH_REQUEST_MIX ? await apiserverRequests(ctx) : undefined;
  const t0 = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: conc }, async () => {
      while (next < n) {
        const name = `id-${next++}`;
        created.set(name, performance.now());
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
  await inf.stop();
  const lat = [...readyAt].map(([k, t]) => t - created.get(k)!);
  return {
    identities: readyAt.size,
    identities_per_second: (readyAt.size / total).toFixed(1),
    p50_ms: pct(lat, 0.5).toFixed(0),
    p99_ms: pct(lat, 0.99).toFixed(0),
    writes_per_issuance: (writes / readyAt.size).toFixed(2),
    seconds: total.toFixed(1),
  };
}

const bench: Bench = {
  description: 'issuance: N identities from apply to Ready with the in-cluster CA (ECDSA P-256, then RSA 2048)',
  async run(ctx) {
    const n = Number(ctx.params.n ?? 1000),
      conc = Number(ctx.params.concurrency ?? 32);
    const core = ctx.kc.makeApiClient(k8s.CoreV1Api);
    const opNs = 'mio-bench';
    await core.createNamespace({ body: { metadata: { name: opNs } } });
    if (ctx.params.entry === 'dist')
      execFileSync(
        process.execPath,
        [join(REPO_ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(REPO_ROOT, 'tsconfig.build.json')],
        { stdio: 'inherit' },
      );
    const op = await startOperator(
      ctx.kubeconfigPath,
      {
        MIO_NAMESPACE: opNs,
        MIO_LEADER_ELECT: 'false',
        MIO_LOG_LEVEL: 'warn',
        MIO_WORKERS: ctx.params.workers ?? '32',
        ...(ctx.params.inventory ? { MIO_INVENTORY: ctx.params.inventory } : {}),
      },
      ctx.params.entry === 'dist' ? join(REPO_ROOT, 'dist/main.js') : undefined,
    );
    try {
      const co = ctx.kc.makeApiClient(k8s.CustomObjectsApi);
      await co.createClusterCustomObject({
        ...CAB,
        body: {
          apiVersion: 'machineidentity.io/v1alpha1',
          kind: 'CertificateAuthorityBinding',
          metadata: { name: 'bench-ca' },
          spec: {
            ca: {
              secretRef: { name: 'bench-ca' },
              generate: { commonName: 'Bench CA', privateKey: { algorithm: 'ECDSA', size: 256 } },
            },
          },
        },
      });
      for (let i = 0; i < 300; i++) {
        const b = (await co.getClusterCustomObject({ ...CAB, name: 'bench-ca' })) as { status?: Status };
        if (b.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      const ec = await phase(ctx, 'ECDSA', 256, n, conc, 'bench-ca');
      ctx.log(`ECDSA P-256: ${JSON.stringify(ec)}`);
      const rsa = ctx.params.rsa === 'false' ? {} : await phase(ctx, 'RSA', 2048, n, conc, 'bench-ca');
      ctx.log(`RSA 2048: ${JSON.stringify(rsa)}`);
      const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${op.proc.pid}/status`, 'utf8'))?.[1];
      const errors = op.logLines().filter((l) => (l.level as number) >= 50).length;
      return {
        n,
        identities_per_second: ec.identities_per_second!,
        p50_ms: ec.p50_ms!,
        p99_ms: ec.p99_ms!,
        writes_per_issuance: ec.writes_per_issuance!,
        peak_rss_mb: hwm ? (Number(hwm) / 1024).toFixed(0) : 'n/a',
        rsa_identities_per_second: rsa.identities_per_second ?? 'skipped',
        rsa_p50_ms: rsa.p50_ms ?? 'skipped',
        rsa_p99_ms: rsa.p99_ms ?? 'skipped',
        rsa_writes_per_issuance: rsa.writes_per_issuance ?? 'skipped',
        operator_errors: errors,
      };
    } finally {
      await op.stop();
    }
  },
};
export default bench;
