// Informer at scale: create N Secrets (default 10,000) against the real API server, then measure how
// long a fresh informer takes to list them (paginated), the heap its cache costs, and watch latency
// (update → handler) for M updates. Params: secrets=N updates=M concurrency=C.
import * as k8s from '@kubernetes/client-node';
import { Registry } from 'prom-client';
import { pino } from 'pino';
import { Informer } from '../src/runtime/informer.ts';
import type { Bench } from './run.ts';

async function pool<T>(items: T[], concurrency: number, fn: (t: T) => Promise<unknown>): Promise<void> {
  let i = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (i < items.length) await fn(items[i++]!);
    }),
  );
}
const pct = (xs: number[], p: number): number =>
  xs.sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))] ?? NaN;
const heapMb = (): number => {
  globalThis.gc?.();
  return process.memoryUsage().heapUsed / 1048576;
};

const bench: Bench = {
  description: 'informer list/watch: sync time, cache heap, watch latency',
  async run({ kc, params, log }) {
    const n = Number(params.secrets ?? 10_000),
      updates = Number(params.updates ?? 500),
      conc = Number(params.concurrency ?? 32);
    const core = kc.makeApiClient(k8s.CoreV1Api);
    const ns = `bench-informer-${Date.now().toString(36)}`;
    await core.createNamespace({ body: { metadata: { name: ns } } });
    const data = { 'tls.crt': Buffer.alloc(1200, 7).toString('base64') }; // about one certificate's size
    const t0 = performance.now();
    await pool([...Array(n).keys()], conc, (i) =>
      core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: `s-${i}` }, data } }),
    );
    const createSec = (performance.now() - t0) / 1000;
    log(`created ${n} Secrets in ${createSec.toFixed(1)}s`);

    const before = heapMb();
    const inf = new Informer<k8s.V1Secret>({
      kc,
      path: `/api/v1/namespaces/${ns}/secrets`,
      registry: new Registry(),
      logger: pino({ level: 'warn' }),
    });
    const t1 = performance.now();
    inf.start();
    await inf.synced;
    const syncMs = performance.now() - t1;
    const heapPer10k = ((heapMb() - before) / n) * 10_000;
    log(`synced ${inf.list().length} in ${syncMs.toFixed(0)} ms`);

    const sentAt = new Map<string, number>();
    const lat: number[] = [];
    inf.onUpdate((_o, s) => {
      const t = sentAt.get(s.metadata!.name!);
      if (t !== undefined) {
        lat.push(performance.now() - t);
        sentAt.delete(s.metadata!.name!);
      }
    });
    await pool([...Array(updates).keys()], 8, async (i) => {
      const name = `s-${i % n}`;
      sentAt.set(name, performance.now());
      await core.patchNamespacedSecret(
        { namespace: ns, name, body: { metadata: { labels: { touched: String(i) } } } },
        k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
      );
    });
    const deadline = Date.now() + 30_000;
    while (lat.length < updates && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await inf.stop();
    await core.deleteNamespace({ name: ns });
    return {
      secrets: n,
      create_per_second: Math.round(n / createSec),
      sync_ms: Math.round(syncMs),
      objects_per_second_listed: Math.round(n / (syncMs / 1000)),
      heap_mb_per_10k: heapPer10k.toFixed(1),
      watch_events: lat.length,
      watch_p50_ms: pct(lat, 0.5).toFixed(1),
      watch_p99_ms: pct(lat, 0.99).toFixed(1),
    };
  },
};
export default bench;
