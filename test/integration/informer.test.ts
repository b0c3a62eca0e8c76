// The informer against a private control plane: it must survive an API-server restart and a watch
// that expires (410 Gone after etcd compaction) without missing or duplicating an event.
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { createServer, connect, type Server, type Socket } from 'node:net';
import * as k8s from '@kubernetes/client-node';
import { Registry } from 'prom-client';
import pino from 'pino';
import { ControlPlane } from '../harness/control-plane.ts';
import { Informer } from '../../src/runtime/informer.ts';
import { applyNamespaced } from '../../src/runtime/kube.ts';
import { withNodeTransport } from '../../src/runtime/node-transport.ts';

const log = pino({ level: process.env.MIO_TEST_LOG_LEVEL ?? 'silent' });

async function until(what: string, pred: () => boolean, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A loopback TCP proxy the test can cut (existing and new connections are dropped) and restore. */
class CuttableProxy {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private open = true;
  port = 0;
  private readonly target: number;
  constructor(target: number) {
    this.target = target;
  }
  async start(): Promise<this> {
    this.server = createServer((client) => {
      if (!this.open) return void client.destroy();
      const upstream = connect(this.target, '127.0.0.1');
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => {
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream);
      upstream.pipe(client);
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.port = (this.server!.address() as { port: number }).port;
    return this;
  }
  cut(): void {
    this.open = false;
    for (const s of this.sockets) s.destroy();
  }
  restore(): void {
    this.open = true;
  }
  async stop(): Promise<void> {
    this.cut();
    await new Promise<void>((r) => this.server?.close(() => r()));
  }
}

function viaServer(kc: k8s.KubeConfig, server: string): k8s.KubeConfig {
  const out = new k8s.KubeConfig();
  out.loadFromOptions({
    clusters: kc.clusters.map((c) => ({ ...c, server })),
    users: kc.users,
    contexts: kc.contexts,
    currentContext: kc.currentContext,
  });
  return withNodeTransport(out); // the operator's transport (kubeConfigFromEnv)
}

function recorder(inf: Informer<k8s.V1ConfigMap>): string[] {
  const events: string[] = [];
  inf
    .onAdd((o) => {
      events.push(`add ${o.metadata?.name} v=${o.data?.v}`);
    })
    .onUpdate((_old, o) => {
      events.push(`update ${o.metadata?.name} v=${o.data?.v}`);
    })
    .onDelete((o) => {
      events.push(`delete ${o.metadata?.name}`);
    });
  return events;
}

async function counterValue(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = registry.getSingleMetric(name);
  if (!m) return 0;
  const { values } = await m.get();
  return values
    .filter((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l))
    .reduce((s, v) => s + v.value, 0);
}

describe('Informer on a real API server', () => {
  let cp: ControlPlane;
  let core: k8s.CoreV1Api;
  const ns = 'informer-test';

  beforeAll(async () => {
    cp = await new ControlPlane({ apiServerArgs: ['--etcd-compaction-interval=5s', '--watch-cache=false'] }).start();
    core = cp.kubeConfig().makeApiClient(k8s.CoreV1Api);
    await core.createNamespace({ body: { metadata: { name: ns } } });
  }, 180_000);
  afterAll(async () => {
    await cp?.stop();
  }, 60_000);

  const cm = (name: string, v: string): k8s.V1ConfigMap => ({
    metadata: { name, namespace: ns, labels: { suite: 'x' } },
    data: { v },
  });
  const setV = (name: string, v: string): Promise<k8s.V1ConfigMap> =>
    core.replaceNamespacedConfigMap({ name, namespace: ns, body: { ...cm(name, v) } });

  it('survives an API-server restart with nothing missed or duplicated', async () => {
    const registry = new Registry();
    await core.createNamespacedConfigMap({ namespace: ns, body: cm('a', '1') });
    await core.createNamespacedConfigMap({ namespace: ns, body: cm('b', '1') });
    const inf = new Informer<k8s.V1ConfigMap>({
      kc: withNodeTransport(cp.kubeConfig()), // the operator's transport (kubeConfigFromEnv)
      path: `/api/v1/namespaces/${ns}/configmaps`,
      labelSelector: 'suite=x',
      registry,
      logger: log,
      backoff: { initialMs: 100, maxMs: 1000 },
      pageSize: 1,
    });
    // Throwing handlers (sync and async) are logged; they must not stop the informer or crash Node.
    inf
      .onAdd(() => {
        throw new Error('handler bug');
      })
      .onUpdate(async () => {
        throw new Error('async handler bug');
      });
    const events = recorder(inf);
    inf.start();
    await inf.synced;
    expect(inf.keys().sort()).toEqual([`${ns}/a`, `${ns}/b`]);

    await cp.stopApiServer();
    await new Promise((r) => setTimeout(r, 1500)); // the informer now fails with ECONNREFUSED and backs off
    await cp.startApiServer();

    await core.createNamespacedConfigMap({ namespace: ns, body: cm('c', '1') });
    await until('add c', () => inf.get(`${ns}/c`) !== undefined);
    await setV('a', '2');
    await until('update a', () => inf.get(`${ns}/a`)?.data?.v === '2');
    await core.deleteNamespacedConfigMap({ name: 'b', namespace: ns });
    await until('delete b', () => inf.get(`${ns}/b`) === undefined);
    await new Promise((r) => setTimeout(r, 500)); // any late duplicate would show up here

    expect(events).toEqual(['add a v=1', 'add b v=1', 'add c v=1', 'update a v=2', 'delete b']);
    expect(inf.keys().sort()).toEqual([`${ns}/a`, `${ns}/c`]);
    expect(await counterValue(registry, 'informer_watch_restarts_total')).toBeGreaterThan(0);
    await inf.stop();
    for (const n of ['a', 'c']) await core.deleteNamespacedConfigMap({ name: n, namespace: ns });
  }, 120_000);

  it('relists after 410 Gone and delivers the missed add, update and delete', async () => {
    const registry = new Registry();
    for (const n of ['x', 'y', 'z']) await core.createNamespacedConfigMap({ namespace: ns, body: cm(n, '1') });
    const proxy = await new CuttableProxy(cp.apiPort).start();
    try {
      const kc = viaServer(cp.kubeConfig(), `https://127.0.0.1:${proxy.port}`);
      const inf = new Informer<k8s.V1ConfigMap>({
        kc,
        path: `/api/v1/namespaces/${ns}/configmaps`,
        labelSelector: 'suite=x',
        registry,
        logger: log,
        backoff: { initialMs: 100, maxMs: 1000 },
      });
      const events = recorder(inf);
      inf.start();
      await inf.synced;
      expect(events.sort()).toEqual(['add x v=1', 'add y v=1', 'add z v=1']);
      events.length = 0;
      const relistsBefore = await counterValue(registry, 'informer_relists_total');

      proxy.cut();
      await core.createNamespacedConfigMap({ namespace: ns, body: cm('w', '1') });
      await setV('x', '2');
      await core.deleteNamespacedConfigMap({ name: 'y', namespace: ns });
      // Move etcd well past the informer's resourceVersion, then let the 5 s compactor run twice.
      for (let i = 0; i < 5; i++) await setV('z', `${i + 10}`);
      await new Promise((r) => setTimeout(r, 12_000));
      proxy.restore();

      await until(
        'store caught up',
        () =>
          inf.get(`${ns}/w`) !== undefined &&
          inf.get(`${ns}/y`) === undefined &&
          inf.get(`${ns}/x`)?.data?.v === '2' &&
          inf.get(`${ns}/z`)?.data?.v === '14',
      );
      expect(await counterValue(registry, 'informer_relists_total')).toBeGreaterThan(relistsBefore);
      expect(await counterValue(registry, 'informer_watch_restarts_total', { reason: 'gone' })).toBeGreaterThan(0);
      expect(events.sort()).toEqual(['add w v=1', 'delete y', 'update x v=2', 'update z v=14']);
      expect(inf.keys().sort()).toEqual([`${ns}/w`, `${ns}/x`, `${ns}/z`]);
      await inf.stop();
    } finally {
      await proxy.stop();
    }
  }, 120_000);

  it('applyNamespaced server-side applies with its field manager', async () => {
    const kc = cp.kubeConfig();
    const body: k8s.V1ConfigMap = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'ssa', namespace: ns },
      data: { a: '1', b: '2' },
    };
    await applyNamespaced(kc, body, 'mio-test');
    const out = await applyNamespaced(kc, { ...body, data: { a: '3' } }, 'mio-test');
    expect(out.data).toEqual({ a: '3' }); // b was owned by this manager and omitted: removed
    expect(out.metadata?.managedFields?.map((f) => f.manager)).toContain('mio-test');
    expect(out.metadata?.managedFields?.find((f) => f.manager === 'mio-test')?.operation).toBe('Apply');
  }, 30_000);
});
