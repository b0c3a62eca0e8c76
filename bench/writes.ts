// Request shapes: what each shape of the operator's two writes per issuance (the Secret, the
// MachineIdentity status) costs kube-apiserver and etcd in CPU, and what the validating webhook costs
// the API server per request it intercepts. Every shape sends the operator's own payloads (desiredSecret,
// nextStatus) to a real control plane with the CRDs; CPU is read from /proc/<pid>/stat around n requests
// (the API server's idle rate, measured first, subtracted) and each figure is the median of `rounds` runs.
// Params: n=2000 concurrency=32 rounds=3 shapes=<comma list, default all> webhook=true|nomatch|both|false
//   (nomatch: the chart's webhook configuration without its matchConditions, to see what they save)
// Figures: apiserver_ms_<shape>, etcd_ms_<shape> (CPU ms per request), rps_<shape>, and for the shapes
// measured with the chart's webhook registered, webhook_calls_<shape> (admission requests per request).
import { generateKeyPairSync } from 'node:crypto';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import * as k8s from '@kubernetes/client-node';
import type { Bench, BenchContext } from './run.ts';
import { cpuSnapshot } from './lib/proc-cpu.ts';
import { desiredSecret } from '../src/controllers/issuance/secret.ts';
import { nextStatus, readyTrue, type CertStatus } from '../src/controllers/issuance/status.ts';
import type { MachineIdentityModel } from '../src/crds/index.ts';
import { getJsonOrNotFound, sendRaw } from '../src/runtime/kube.ts';
import { startWebhookServer, type WebhookServer } from '../src/webhook/server.ts';
import { localWebhookConfiguration } from '../test/harness/webhook.ts';

const FM = 'fieldManager=mio-issuance';
const MI_PATH = (ns: string): string => `/apis/machineidentity.io/v1alpha1/namespaces/${ns}/machineidentities`;
const SECRET_PATH = (ns: string): string => `/api/v1/namespaces/${ns}/secrets`;
const JSON_CT = 'application/json',
  MERGE_CT = 'application/merge-patch+json',
  APPLY_CT = 'application/apply-patch+yaml';

interface Req {
  method: 'POST' | 'PUT' | 'PATCH' | 'GET';
  path: string;
  body: unknown;
  contentType: string;
}
/** What a shape needs before it is timed (objects that exist), and the request for object i. */
interface Shape {
  /** Objects created before the timed requests: 'mi' (MachineIdentities), 'secret' (our Secrets), or none. */
  needs: Array<'mi' | 'secret'>;
  request(ns: string, i: number, pre: Prepared): Req;
  /** Expected answers (a create of something that exists is a failure of the bench, not a figure). */
  ok?: number[];
}
interface Prepared {
  mi: Map<number, { uid: string; rv: string; obj: Record<string, unknown> }>;
  secret: Map<number, { rv: string }>;
}

const payloads = (() => {
  const key = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  return { keyPem: key.export({ type: 'pkcs8', format: 'pem' }).toString() };
})();

function miBody(ns: string, i: number): Record<string, unknown> {
  return {
    apiVersion: 'machineidentity.io/v1alpha1',
    kind: 'MachineIdentity',
    metadata: { name: `id-${i}`, namespace: ns },
    spec: {
      secretName: `id-${i}-tls`,
      authorityRef: { name: 'bench-ca' },
      dnsNames: [`id-${i}.${ns}.svc`],
      privateKey: { algorithm: 'ECDSA', size: 256 },
    },
  };
}

/** The Secret the operator writes for identity i (revision `rev`), with real PEMs of the right sizes. */
function secretBody(ns: string, i: number, pem: { leaf: string; ca: string }, uid: string, rev: number): k8s.V1Secret {
  const now = new Date();
  return desiredSecret({
    identity: { name: `id-${i}`, namespace: ns, uid },
    secretName: `id-${i}-tls`,
    deletionPolicy: 'Delete',
    keyPem: payloads.keyPem,
    keyEncoding: 'PKCS8',
    leafPem: pem.leaf,
    chainPem: [],
    caPem: pem.ca,
    serialNumber: `${(1e15 + i * 7919 + rev).toString(16)}ab12cd34ef56`,
    notAfter: new Date(now.getTime() + 90 * 86_400_000),
    issuerDN: 'CN=Bench CA',
    revision: rev,
    authority: 'bench-ca',
    authorityFingerprint: 'A1'.repeat(32),
    requestedDuration: '2160h',
    issuedAt: now,
  });
}

/** The status the operator writes after an issuance (Ready=True, the certificate's fields), for a fresh identity. */
function statusBody(ns: string, i: number): Record<string, unknown> {
  const notAfter = new Date(Date.now() + 90 * 86_400_000);
  const cert: CertStatus = {
    serialNumber: `${(1e15 + i * 7919).toString(16)}ab12cd34ef56`,
    fingerprintSHA256: 'B2'.repeat(32),
    issuer: 'CN=Bench CA',
    authorityFingerprintSHA256: 'A1'.repeat(32),
    notBefore: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
    notAfter: notAfter.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    renewalTime: new Date(Date.now() + 60 * 86_400_000).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    revision: 1,
  };
  const mi = { metadata: { name: `id-${i}`, namespace: ns, generation: 1, uid: '' }, spec: {} };
  const status = nextStatus(mi as unknown as MachineIdentityModel, { ready: readyTrue(notAfter), cert }, new Date());
  return JSON.parse(JSON.stringify(status)) as Record<string, unknown>;
}

function shapes(pem: { leaf: string; ca: string }): Record<string, Shape> {
  const mi = (ns: string, i: number, p: Prepared): { uid: string; rv: string; obj: Record<string, unknown> } => {
    const m = p.mi.get(i);
    if (!m) throw new Error(`identity ${i} was not prepared`);
    return m;
  };
  const sec = (ns: string, i: number, p: Prepared, rev: number): k8s.V1Secret =>
    secretBody(ns, i, pem, p.mi.get(i)?.uid ?? `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`, rev);
  const srv = (p: Prepared, i: number): string => p.secret.get(i)?.rv ?? '';
  const named = (ns: string, i: number): string => `${SECRET_PATH(ns)}/id-${i}-tls`;
  return {
    // the Secret of a new identity: the operator's create, and server-side apply as the alternative
    secret_create: {
      needs: [],
      request: (ns, i, p) => ({
        method: 'POST',
        path: `${SECRET_PATH(ns)}?${FM}`,
        body: sec(ns, i, p, 1),
        contentType: JSON_CT,
      }),
    },
    secret_apply_create: {
      needs: [],
      request: (ns, i, p) => ({
        method: 'PATCH',
        path: `${named(ns, i)}?${FM}&force=true`,
        body: sec(ns, i, p, 1),
        contentType: APPLY_CT,
      }),
    },
    // a reissue into our existing Secret, conditional on the version read
    secret_apply_rv: {
      needs: ['secret'],
      request: (ns, i, p) => {
        const b = sec(ns, i, p, 2);
        return {
          method: 'PATCH',
          path: `${named(ns, i)}?${FM}&force=true`,
          body: { ...b, metadata: { ...b.metadata, resourceVersion: srv(p, i) } },
          contentType: APPLY_CT,
        };
      },
    },
    secret_put_rv: {
      needs: ['secret'],
      request: (ns, i, p) => {
        const b = sec(ns, i, p, 2);
        return {
          method: 'PUT',
          path: `${named(ns, i)}?${FM}`,
          body: { ...b, metadata: { ...b.metadata, resourceVersion: srv(p, i) } },
          contentType: JSON_CT,
        };
      },
    },
    secret_merge_rv: {
      needs: ['secret'],
      request: (ns, i, p) => {
        const b = sec(ns, i, p, 2);
        return {
          method: 'PATCH',
          path: `${named(ns, i)}?${FM}`,
          body: { ...b, metadata: { ...b.metadata, resourceVersion: srv(p, i) } },
          contentType: MERGE_CT,
        };
      },
    },
    // the status after an issuance: the operator's forced apply, merge patch (with and without the version read), update
    status_apply: {
      needs: ['mi'],
      request: (ns, i) => ({
        method: 'PATCH',
        path: `${MI_PATH(ns)}/id-${i}/status?${FM}&force=true`,
        body: {
          apiVersion: 'machineidentity.io/v1alpha1',
          kind: 'MachineIdentity',
          metadata: { name: `id-${i}`, namespace: ns },
          status: statusBody(ns, i),
        },
        contentType: APPLY_CT,
      }),
    },
    status_merge: {
      needs: ['mi'],
      request: (ns, i) => ({
        method: 'PATCH',
        path: `${MI_PATH(ns)}/id-${i}/status?${FM}`,
        body: { status: statusBody(ns, i) },
        contentType: MERGE_CT,
      }),
    },
    status_merge_rv: {
      needs: ['mi'],
      request: (ns, i, p) => ({
        method: 'PATCH',
        path: `${MI_PATH(ns)}/id-${i}/status?${FM}`,
        body: { metadata: { resourceVersion: mi(ns, i, p).rv }, status: statusBody(ns, i) },
        contentType: MERGE_CT,
      }),
    },
    status_put_rv: {
      needs: ['mi'],
      request: (ns, i, p) => ({
        method: 'PUT',
        path: `${MI_PATH(ns)}/id-${i}/status?${FM}`,
        body: { ...mi(ns, i, p).obj, status: statusBody(ns, i) },
        contentType: JSON_CT,
      }),
    },
    // the operator's existence check before the create of a new identity's Secret (from the watch cache)
    secret_get_absent: {
      needs: [],
      request: (ns, i) => ({
        method: 'GET',
        path: `${named(ns, i)}?resourceVersion=0`,
        body: undefined,
        contentType: JSON_CT,
      }),
    },
    // update of the status with the version read: only name and version in metadata (the API server keeps spec and metadata)
    status_put_min: {
      needs: ['mi'],
      request: (ns, i, p) => ({
        method: 'PUT',
        path: `${MI_PATH(ns)}/id-${i}/status?${FM}`,
        body: {
          apiVersion: 'machineidentity.io/v1alpha1',
          kind: 'MachineIdentity',
          metadata: { name: `id-${i}`, namespace: ns, resourceVersion: mi(ns, i, p).rv },
          status: statusBody(ns, i),
        },
        contentType: JSON_CT,
      }),
    },
    // a tenant's create (every one goes through the webhook) and the operator's finalizer patch (an UPDATE)
    mi_create: {
      needs: [],
      request: (ns, i) => ({ method: 'POST', path: MI_PATH(ns), body: miBody(ns, i), contentType: JSON_CT }),
    },
    mi_finalizer_patch: {
      needs: ['mi'],
      request: (ns, i, p) => ({
        method: 'PATCH',
        path: `${MI_PATH(ns)}/id-${i}?${FM}`,
        body: { metadata: { finalizers: ['machineidentity.io/revoke'], resourceVersion: mi(ns, i, p).rv } },
        contentType: MERGE_CT,
      }),
    },
  };
}

/** Runs `count` jobs with `conc` in flight. */
async function pool(count: number, conc: number, job: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(conc, count) }, async () => {
      while (next < count) await job(next++);
    }),
  );
}

async function send(kc: k8s.KubeConfig, r: Req, ok: number[]): Promise<Record<string, unknown>> {
  if (r.method === 'GET') {
    const [path = '', query = ''] = r.path.split('?');
    return (
      (await getJsonOrNotFound<Record<string, unknown>>(kc, path, Object.fromEntries(new URLSearchParams(query)))) ?? {}
    );
  }
  const res = await sendRaw(kc, r.method, r.path, JSON.stringify(r.body), r.contentType);
  if (!ok.includes(res.status)) throw new Error(`${r.method} ${r.path}: HTTP ${res.status}: ${res.text.slice(0, 300)}`);
  return JSON.parse(res.text) as Record<string, unknown>;
}

const meta = (o: Record<string, unknown>): { uid?: string; resourceVersion?: string } =>
  (o.metadata ?? {}) as { uid?: string; resourceVersion?: string };

/** Creates what a shape needs in `ns` (not timed). */
async function prepare(
  ctx: BenchContext,
  s: Shape,
  ns: string,
  n: number,
  conc: number,
  pem: { leaf: string; ca: string },
): Promise<Prepared> {
  const p: Prepared = { mi: new Map(), secret: new Map() };
  await send(
    ctx.kc,
    { method: 'POST', path: '/api/v1/namespaces', body: { metadata: { name: ns } }, contentType: JSON_CT },
    [201],
  );
  if (s.needs.includes('mi'))
    await pool(n, conc, async (i) => {
      const o = await send(
        ctx.kc,
        { method: 'POST', path: MI_PATH(ns), body: miBody(ns, i), contentType: JSON_CT },
        [201],
      );
      p.mi.set(i, { uid: meta(o).uid ?? '', rv: meta(o).resourceVersion ?? '', obj: o });
    });
  if (s.needs.includes('secret'))
    await pool(n, conc, async (i) => {
      const body = secretBody(ns, i, pem, `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`, 1);
      const o = await send(
        ctx.kc,
        { method: 'POST', path: `${SECRET_PATH(ns)}?${FM}`, body, contentType: JSON_CT },
        [201],
      );
      p.secret.set(i, { rv: meta(o).resourceVersion ?? '' });
    });
  return p;
}

interface Measured {
  apiserver: number;
  etcd: number;
  rps: number;
  webhookCalls: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** CPU ms per second each process uses while nothing is sent (watch cache, controllers, compaction). */
async function idleRates(pids: Record<string, number>): Promise<Record<string, number>> {
  const a = cpuSnapshot(pids);
  const t0 = performance.now();
  await sleep(5000);
  const b = cpuSnapshot(pids);
  const sec = (performance.now() - t0) / 1000;
  return Object.fromEntries(Object.keys(pids).map((k) => [k, ((b[k] ?? 0) - (a[k] ?? 0)) / sec]));
}

interface RunEnv {
  ctx: BenchContext;
  pids: Record<string, number>;
  idle: Record<string, number>;
  n: number;
  conc: number;
  pem: { leaf: string; ca: string };
  webhookCalls: () => Promise<number>;
}

async function measure(env: RunEnv, name: string, s: Shape, tag: string): Promise<Measured> {
  const ns = `w-${name}-${tag}-${Date.now().toString(36)}`.replace(/_/g, '-');
  const p = await prepare(env.ctx, s, ns, env.n, env.conc, env.pem);
  await sleep(1000); // let the watch cache and etcd settle after the preparation
  const calls0 = await env.webhookCalls();
  const c0 = cpuSnapshot(env.pids);
  const t0 = performance.now();
  await pool(env.n, env.conc, (i) => send(env.ctx.kc, s.request(ns, i, p), s.ok ?? [200, 201]).then(() => undefined));
  const sec = (performance.now() - t0) / 1000;
  const c1 = cpuSnapshot(env.pids);
  const net = (k: string): number => ((c1[k] ?? 0) - (c0[k] ?? 0) - (env.idle[k] ?? 0) * sec) / env.n;
  return {
    apiserver: net('apiserver'),
    etcd: net('etcd'),
    rps: env.n / sec,
    webhookCalls: ((await env.webhookCalls()) - calls0) / env.n,
  };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/** Each shape `rounds` times (rounds interleaved, so a slow spell of the machine hits every shape alike). */
async function measureAll(
  env: RunEnv,
  list: Array<[string, Shape]>,
  rounds: number,
  tag: string,
  withCalls: boolean,
): Promise<Record<string, string>> {
  const got = new Map<string, Measured[]>();
  for (let r = 0; r < rounds; r++)
    for (const [name, s] of list) {
      const m = await measure(env, name, s, `${tag}${r}`);
      env.ctx.log(
        `${name}${tag ? ` (${tag})` : ''} round ${r + 1}: apiserver ${m.apiserver.toFixed(3)} ms, etcd ${m.etcd.toFixed(3)} ms, ${m.rps.toFixed(0)}/s, webhook calls ${m.webhookCalls.toFixed(2)}`,
      );
      got.set(name, [...(got.get(name) ?? []), m]);
    }
  const out: Record<string, string> = {};
  const sfx = tag ? `_${tag}` : '';
  for (const [name, ms] of got) {
    out[`apiserver_ms_${name}${sfx}`] = median(ms.map((m) => m.apiserver)).toFixed(3);
    out[`etcd_ms_${name}${sfx}`] = median(ms.map((m) => m.etcd)).toFixed(3);
    out[`rps_${name}${sfx}`] = median(ms.map((m) => m.rps)).toFixed(0);
    if (withCalls) out[`webhook_calls_${name}${sfx}`] = median(ms.map((m) => m.webhookCalls)).toFixed(2);
  }
  return out;
}

/** The operator's webhook server (allowing everything the safe defaults allow) registered with the chart's configuration. */
async function registerWebhook(
  ctx: BenchContext,
  registry: Registry,
  matchConditions: boolean,
): Promise<{ server: WebhookServer; remove(): Promise<void> }> {
  const cp = ctx.cp;
  if (!cp) throw new Error('webhook=true needs the private control plane (not --local)');
  const serving = await cp.pki.serving();
  const server = await startWebhookServer({
    host: '127.0.0.1',
    port: 0,
    material: {
      certPem: serving.cert,
      keyPem: serving.key,
      caPem: cp.pki.ca.cert,
      notAfter: new Date(Date.now() + 86_400_000),
    },
    logger: pino({ level: 'warn' }),
    registry,
    deps: {
      policies: () => [],
      namespaceLabels: () => ({}),
      defaultAction: 'Allow',
      binding: (name) => ({ name, spec: {} }),
      clusterDomain: 'cluster.local',
      ready: () => true,
    },
  });
  const vwc = localWebhookConfiguration({
    binDir: cp.bin,
    name: 'mio-bench-writes',
    baseUrl: `https://127.0.0.1:${server.port}`,
  });
  for (const w of vwc.webhooks ?? []) {
    w.clientConfig.caBundle = Buffer.from(cp.pki.ca.cert).toString('base64');
    if (!matchConditions) delete w.matchConditions; // the configuration before matchConditions, for comparison
  }
  const adm = ctx.kc.makeApiClient(k8s.AdmissionregistrationV1Api);
  await adm.createValidatingWebhookConfiguration({ body: vwc });
  // the API server picks the configuration up from its informer: wait until a create is seen by the webhook
  return {
    server,
    async remove() {
      await adm.deleteValidatingWebhookConfiguration({ name: 'mio-bench-writes' });
      await sleep(2000); // the API server drops the configuration from its cache before the server goes
      await server.close();
    },
  };
}

async function counter(registry: Registry): Promise<number> {
  const m = await registry.getSingleMetric('machine_identity_webhook_requests_total')?.get();
  return (m?.values ?? []).reduce((a, v) => a + v.value, 0);
}

/** Waits until the API server calls the webhook (it loads configurations asynchronously). */
async function webhookLive(ctx: BenchContext, registry: Registry): Promise<void> {
  const ns = `w-probe-${Date.now().toString(36)}`;
  await send(
    ctx.kc,
    { method: 'POST', path: '/api/v1/namespaces', body: { metadata: { name: ns } }, contentType: JSON_CT },
    [201],
  );
  for (let i = 0; i < 100; i++) {
    const before = await counter(registry);
    await send(ctx.kc, { method: 'POST', path: MI_PATH(ns), body: miBody(ns, i), contentType: JSON_CT }, [201]);
    if ((await counter(registry)) > before) return;
    await sleep(200);
  }
  throw new Error('the API server never called the webhook');
}

// the kinds the webhook's rules name (status and Secrets are not among them: their calls were measured as 0)
const WEBHOOK_SHAPES = ['mi_create', 'mi_finalizer_patch', 'status_put_min'];

const bench: Bench = {
  description:
    'writes: kube-apiserver and etcd CPU per request for each shape of the operator writes, with and without the webhook',
  async run(ctx) {
    const n = Number(ctx.params.n ?? 2000),
      conc = Number(ctx.params.concurrency ?? 32),
      rounds = Number(ctx.params.rounds ?? 3);
    const cp = ctx.cp;
    if (!cp) throw new Error('bench writes reads /proc of the API server: run it without --local');
    const all = shapes({ leaf: (await cp.pki.serving()).cert, ca: cp.pki.ca.cert });
    const picked = (ctx.params.shapes ?? Object.keys(all).join(',')).split(',').filter(Boolean);
    for (const s of picked) if (!all[s]) throw new Error(`unknown shape ${s}; known: ${Object.keys(all).join(', ')}`);
    const pids = { apiserver: cp.state().pids['kube-apiserver']!, etcd: cp.state().pids.etcd! };
    let registry = new Registry(); // one per webhook server: each registers its metrics
    const idle = await idleRates(pids);
    ctx.log(`idle CPU ms/s: apiserver ${idle.apiserver?.toFixed(1)}, etcd ${idle.etcd?.toFixed(1)}`);
    const env: RunEnv = {
      ctx,
      pids,
      idle,
      n,
      conc,
      pem: { leaf: (await cp.pki.serving()).cert, ca: cp.pki.ca.cert },
      webhookCalls: () => counter(registry),
    };
    const list = picked.map((s) => [s, all[s]!] as [string, Shape]);
    const out: Record<string, string | number> = {
      n,
      concurrency: conc,
      rounds,
      ...(await measureAll(env, list, rounds, '', false)),
    };
    // webhook=true: the chart's configuration; nomatch: the same without matchConditions; both: one, then the other
    const hook = ctx.params.webhook ?? 'true';
    const modes = hook === 'both' ? ['nomatch', 'true'] : hook === 'false' ? [] : [hook];
    const wlist = list.filter(([s]) => WEBHOOK_SHAPES.includes(s));
    for (const mode of modes) {
      registry = new Registry();
      const wh = await registerWebhook(ctx, registry, mode !== 'nomatch');
      try {
        await webhookLive(ctx, registry);
        Object.assign(
          out,
          await measureAll(env, wlist, rounds, mode === 'nomatch' ? 'webhook_nomatch' : 'webhook', true),
        );
      } finally {
        await wh.remove();
      }
    }
    return out;
  },
};
export default bench;
