// Memory probe for the operator under a benchmark (docs/memory.md). Plain JavaScript on purpose: a .ts
// preload would load Node's type stripper into the operator and change what is measured.
//
//   npm run build   # dist/ (the esbuild bundle) first: see MIO_HEAP_PROBE_PREBUILT below
//   MIO_HEAP_PROBE=/tmp/probe MIO_HEAP_PROBE_PREBUILT=1 \
//   NODE_OPTIONS="--max-old-space-size=192 --import=$PWD/bench/lib/heap-probe.js" \
//     node_modules/.bin/node --expose-gc bench/run.ts issuance entry=dist
//
// Only the operator's main thread (argv[1] is main.ts or main.js) does anything; the bench runner that
// inherits the same NODE_OPTIONS does not. Every second it appends one JSON line to $MIO_HEAP_PROBE/probe.jsonl:
// process.memoryUsage(), V8's spaces, RssAnon/RssFile from /proc, and every live worker thread's heap
// (Worker is wrapped so the probe knows them). SIGUSR2 writes heap snapshots of the main thread and of
// every worker into the same directory.
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { appendFileSync, createWriteStream, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import v8 from 'node:v8';

const dir = process.env.MIO_HEAP_PROBE;
const require = createRequire(import.meta.url);
const wt = require('node:worker_threads');
const isOperator = /[/\\]main\.(ts|js)$/.test(process.argv[1] ?? '') && !/cli/.test(process.argv[1] ?? '');

// `bench issuance entry=dist` builds dist/ with the same NODE_OPTIONS the operator gets. tsc (the build before
// scripts/bundle.ts) did not fit in the chart's 192 MB heap; the bundle does, but with MIO_HEAP_PROBE_PREBUILT=1
// (dist/ built beforehand, e.g. with other bundle options) either build step is a no-op.
if (
  process.env.MIO_HEAP_PROBE_PREBUILT === '1' &&
  /typescript[/\\]bin[/\\]tsc$|scripts[/\\]bundle\.ts$/.test(process.argv[1] ?? '')
)
  process.exit(0);

if (dir && wt.isMainThread && isOperator) {
  mkdirSync(dir, { recursive: true });
  const out = join(dir, 'probe.jsonl');
  writeFileSync(join(dir, 'pid'), String(process.pid)); // for whoever sends SIGUSR2
  /** Live workers and their entry file. */
  const workers = new Map();
  const Original = wt.Worker;
  wt.Worker = class ProbedWorker extends Original {
    constructor(url, opts) {
      super(url, opts);
      const kind = String(url).split('/').pop();
      workers.set(this, { kind, since: Date.now() });
      this.once('exit', () => workers.delete(this));
    }
  };
  syncBuiltinESMExports();

  const mb = (n) => Math.round((n / 1048576) * 10) / 10;
  const status = () => {
    const s = readFileSync('/proc/self/status', 'utf8');
    const kb = (f) => Number(new RegExp(`^${f}:\\s+(\\d+) kB`, 'm').exec(s)?.[1] ?? NaN) / 1024;
    return {
      rssAnon: kb('RssAnon'),
      rssFile: kb('RssFile'),
      hwm: kb('VmHWM'),
      threads: /^Threads:\s+(\d+)/m.exec(s)?.[1],
    };
  };
  const sample = async () => {
    const m = process.memoryUsage();
    const spaces = Object.fromEntries(
      v8.getHeapSpaceStatistics().map((s) => [s.space_name.replace(/_space$/, ''), mb(s.physical_space_size)]),
    );
    const ws = [];
    for (const [w, info] of workers) {
      try {
        const h = await w.getHeapStatistics();
        ws.push({
          kind: info.kind,
          total: mb(h.total_heap_size),
          physical: mb(h.total_physical_size),
          used: mb(h.used_heap_size),
          external: mb(h.external_memory),
        });
      } catch {
        ws.push({ kind: info.kind, gone: true });
      }
    }
    const line = {
      t: Date.now(),
      rss: mb(m.rss),
      heapTotal: mb(m.heapTotal),
      heapUsed: mb(m.heapUsed),
      external: mb(m.external),
      arrayBuffers: mb(m.arrayBuffers),
      ...status(),
      spaces,
      workers: ws,
    };
    appendFileSync(out, `${JSON.stringify(line)}\n`);
  };
  setInterval(() => void sample().catch(() => undefined), Number(process.env.MIO_HEAP_PROBE_MS ?? 1000)).unref();

  let n = 0;
  process.on('SIGUSR2', () => {
    const i = ++n;
    const t0 = Date.now();
    v8.writeHeapSnapshot(join(dir, `main-${i}.heapsnapshot`));
    appendFileSync(out, `${JSON.stringify({ t: Date.now(), snapshot: `main-${i}`, ms: Date.now() - t0 })}\n`);
    let k = 0;
    for (const [w, info] of workers)
      void w
        .getHeapSnapshot()
        .then((s) => pipeline(s, createWriteStream(join(dir, `worker-${i}-${k++}-${info.kind}.heapsnapshot`))))
        .catch(() => undefined);
  });
}
