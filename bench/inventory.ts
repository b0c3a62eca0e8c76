// Inventory at scale: N Secrets (default 50,000; a tenth of them hold a certificate) in the real
// control plane, then the real operator (compiled, with the chart's NODE_OPTIONS) is started and timed
// until its inventory lists every certificate; its peak RSS (VmHWM) is read from /proc.
// Params: secrets=N certFraction=F concurrency=C nodeOptions=... entry=src heapSnapshot=1.
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from '../test/harness/control-plane.ts';
import * as k8s from '@kubernetes/client-node';
import { generateKey, encodePrivateKey } from '../src/pki/keys.ts';
import { startOperator } from '../test/harness/operator.ts';
import type { Bench } from './run.ts';
import { unmanagedCa } from './lib/unmanaged-secrets.ts';

async function pool<T>(items: T[], concurrency: number, fn: (t: T) => Promise<unknown>): Promise<void> {
  let i = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (i < items.length) await fn(items[i++]!);
    }),
  );
}
/** What the Helm chart sets by default (values.yaml heapLimitMB). */
const CHART_NODE_OPTIONS = '--max-old-space-size=192';
const kb = (pid: number, field: string): number =>
  Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN);

/** n distinct certificates (every fifth key RSA, the rest ECDSA), each with its CA in the chain. */
async function certificates(n: number): Promise<{ crt: string; key: string }[]> {
  const leaf = await unmanagedCa('Bench CA');
  const out: { crt: string; key: string }[] = [];
  for (let i = 0; i < n; i++) {
    const key = await generateKey({ algorithm: i % 5 === 0 ? 'RSA' : 'ECDSA' });
    const crt = await leaf({
      key,
      i,
      namespace: 'bench',
      name: `svc-${i}`,
      dnsNames: [`svc-${i}.bench.svc`, `svc-${i}.example.com`],
      durationMs: (30 + (i % 60)) * 86_400_000,
    });
    out.push({ crt, key: encodePrivateKey(key, 'PKCS8') });
  }
  return out;
}

const bench: Bench = {
  description: "inventory: time to a complete inventory of N Secrets and the operator's peak RSS",
  async run({ kc, kubeconfigPath, params, log }) {
    const n = Number(params.secrets ?? 50_000),
      fraction = Number(params.certFraction ?? 0.1),
      conc = Number(params.concurrency ?? 48);
    const withCert = Math.round(n * fraction);
    const core = kc.makeApiClient(k8s.CoreV1Api);
    const namespaces = Array.from({ length: 10 }, (_v, i) => `bench-inv-${i}`);
    for (const name of [...namespaces, 'mio-bench'])
      await core.createNamespace({ body: { metadata: { name, labels: { team: `team-${name.slice(-1)}` } } } });
    const certs = await certificates(200);
    log(`made ${certs.length} distinct certificates (ECDSA and RSA, each with its CA in the chain)`);
    const filler = Buffer.alloc(300, 'x').toString('base64');
    const t0 = performance.now();
    await pool([...Array(n).keys()], conc, (i) => {
      const c = i < withCert ? certs[i % certs.length]! : undefined;
      const data: Record<string, string> = c
        ? { 'tls.crt': Buffer.from(c.crt).toString('base64'), 'tls.key': Buffer.from(c.key).toString('base64') }
        : { 'config.yaml': filler, password: filler.slice(0, 40) };
      return core.createNamespacedSecret({
        namespace: namespaces[i % namespaces.length]!,
        body: { metadata: { name: `s-${i}` }, type: c ? 'kubernetes.io/tls' : 'Opaque', data },
      });
    });
    log(
      `created ${n} Secrets (${withCert} with a certificate and its CA) in ${((performance.now() - t0) / 1000).toFixed(1)}s`,
    );

    // the operator as the image runs it: compiled JavaScript (running .ts directly adds Node's type stripper to the RSS)
    execFileSync(
      process.execPath,
      [join(REPO_ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(REPO_ROOT, 'tsconfig.build.json')],
      { stdio: 'inherit' },
    );
    const expected = withCert * 2; // leaf and CA of each tls.crt
    const started = performance.now();
    const op = await startOperator(
      kubeconfigPath,
      {
        MIO_NAMESPACE: 'mio-bench',
        MIO_LEADER_ELECT: 'false',
        MIO_LOG_LEVEL: 'warn',
        NODE_OPTIONS: params.nodeOptions ?? CHART_NODE_OPTIONS,
      },
      params.entry === 'src' ? undefined : join(REPO_ROOT, 'dist/main.js'),
    );
    let peak = 0,
      found = 0;
    try {
      const deadline = Date.now() + 600_000;
      while (Date.now() < deadline) {
        peak = Math.max(peak, kb(op.proc.pid, 'VmRSS'));
        found = (await op.metric('machine_identity_inventory_certificates')) ?? 0;
        if (found >= expected) break;
        await new Promise((r) => setTimeout(r, 250));
      }
      const fullScan = (performance.now() - started) / 1000;
      if (found < expected) throw new Error(`inventory found ${found} of ${expected} certificates`);
      log(`inventory complete: ${found} certificates in ${fullScan.toFixed(1)}s (from process start)`);
      await new Promise((r) => setTimeout(r, 5000)); // steady state after a few rebuilds
      if (params.heapSnapshot) {
        process.kill(op.proc.pid, 'SIGUSR2');
        await new Promise((r) => setTimeout(r, 15_000));
      }
      const hwm = kb(op.proc.pid, 'VmHWM');
      const steady = kb(op.proc.pid, 'VmRSS');
      const errors = (await op.metric('machine_identity_inventory_parse_errors_total')) ?? 0;
      const mb = async (m: string): Promise<string> => (((await op.metric(m)) ?? NaN) / 1048576).toFixed(0);
      log(
        `heap total ${await mb('nodejs_heap_size_total_bytes')} MB, used ${await mb('nodejs_heap_size_used_bytes')} MB, external ${await mb('nodejs_external_memory_bytes')} MB`,
      );
      log(
        `RSS: peak ${(hwm / 1024).toFixed(0)} MB (sampled ${(peak / 1024).toFixed(0)} MB), steady ${(steady / 1024).toFixed(0)} MB; parse errors ${errors}`,
      );
      return {
        secrets: n,
        certificates: found,
        full_scan_seconds: fullScan.toFixed(1),
        peak_rss_mb: (Math.max(hwm, peak) / 1024).toFixed(0),
      };
    } finally {
      await op.stop();
    }
  },
};
export default bench;
