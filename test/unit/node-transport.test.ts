// The operator's API transport (src/runtime/node-transport.ts) against a local plain-HTTP stand-in for the
// API server: what it sends (method, path, headers, body), what it returns, and that connections are reused.
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as k8s from '@kubernetes/client-node';
import { withNodeTransport } from '../../src/runtime/node-transport.ts';
import { getJson, getJsonOrNotFound, sendRaw } from '../../src/runtime/kube.ts';
import { openWatch } from '../../src/runtime/watch-request.ts';

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
  socket: number;
}

let server: Server;
let base: string;
const seen: Seen[] = [];
const sockets = new WeakMap<object, number>();
let nextSocket = 1;

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      if (!sockets.has(req.socket)) sockets.set(req.socket, nextSocket++);
      seen.push({
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body,
        socket: sockets.get(req.socket) ?? 0,
      });
      const path = (req.url ?? '').split('?')[0];
      if (path === '/api/v1/namespaces/missing') {
        res
          .writeHead(404, { 'Content-Type': 'application/json' })
          .end('{"kind":"Status","reason":"NotFound","code":404}');
      } else if (path === '/api/v1/watch-me') {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.write('{"type":"ADDED","object":{"metadata":{"name":"a"}}}\n{"type":"MOD');
        setTimeout(() => res.end('IFIED","object":{"metadata":{"name":"a"}}}\n'), 20);
      } else {
        const name = path?.split('/').pop() ?? '';
        res
          .writeHead(req.method === 'POST' ? 201 : 200, { 'Content-Type': 'application/json' })
          .end(JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name }, echo: body || undefined }));
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
});

function kubeConfig(proxyUrl?: string): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: base, skipTLSVerify: true, ...(proxyUrl ? { proxyUrl } : {}) }],
    users: [{ name: 'u', token: 'tok-123' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  return withNodeTransport(kc);
}

describe('node transport', () => {
  it('serves client-node API clients: GET, POST with its body, the bearer token, our User-Agent', async () => {
    seen.length = 0;
    const core = kubeConfig().makeApiClient(k8s.CoreV1Api);
    const ns = await core.readNamespace({ name: 'team-a' });
    expect(ns.metadata?.name).toBe('team-a');
    await core.createNamespace({ body: { metadata: { name: 'team-b' } } });
    expect(seen.map((s) => [s.method, s.url.split('?')[0]])).toEqual([
      ['GET', '/api/v1/namespaces/team-a'],
      ['POST', '/api/v1/namespaces'],
    ]);
    expect(seen[1]?.body && JSON.parse(seen[1].body)).toMatchObject({ metadata: { name: 'team-b' } });
    for (const s of seen) {
      expect(s.headers.authorization).toBe('Bearer tok-123');
      expect(s.headers['user-agent']).toBe('machine-identity-operator');
    }
  });

  it('a non-2xx answer is client-node ApiException with the Status body', async () => {
    const core = kubeConfig().makeApiClient(k8s.CoreV1Api);
    const err = await core.readNamespace({ name: 'missing' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(k8s.ApiException);
    expect((err as k8s.ApiException<unknown>).code).toBe(404);
  });

  it('serves the raw helpers: getJson, getJsonOrNotFound (404 is undefined), sendRaw', async () => {
    seen.length = 0;
    const kc = kubeConfig();
    expect(await getJson<{ metadata: { name: string } }>(kc, '/api/v1/namespaces/x', { limit: 5 })).toMatchObject({
      metadata: { name: 'x' },
    });
    expect(await getJsonOrNotFound(kc, '/api/v1/namespaces/missing', {})).toBeUndefined();
    const r = await sendRaw(kc, 'PATCH', '/api/v1/namespaces/y', '{"a":1}', 'application/merge-patch+json');
    expect(r.status).toBe(200);
    expect(JSON.parse(r.text)).toMatchObject({ echo: '{"a":1}' });
    expect(seen.map((s) => [s.method, s.url, s.headers['content-type'] ?? ''])).toEqual([
      ['GET', '/api/v1/namespaces/x?limit=5', ''],
      ['GET', '/api/v1/namespaces/missing', ''],
      ['PATCH', '/api/v1/namespaces/y', 'application/merge-patch+json'],
    ]);
  });

  it('keeps connections alive: sequential requests share one socket', async () => {
    seen.length = 0;
    const kc = kubeConfig();
    for (let i = 0; i < 5; i++) await getJson(kc, `/api/v1/namespaces/n${i}`, {});
    expect(new Set(seen.map((s) => s.socket)).size).toBe(1);
  });

  it('leaves a cluster behind a proxy to client-node (it goes through the proxy)', async () => {
    seen.length = 0;
    const kc = kubeConfig(base);
    await getJson(kc, '/api/v1/namespaces/p', {});
    // the request line a proxy gets: the absolute URL, not the path this transport would send
    expect(seen.map((s) => s.url)).toEqual([`${base}/api/v1/namespaces/p`]);
  });

  it('streams a watch: lines split across chunks arrive whole', async () => {
    const ac = new AbortController();
    const res = await openWatch(kubeConfig(), { path: '/api/v1/watch-me', resourceVersion: '1' }, ac.signal);
    let text = '';
    for await (const chunk of res.chunks) text += Buffer.from(chunk).toString('utf8');
    expect(
      text
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { type: string }).type),
    ).toEqual(['ADDED', 'MODIFIED']);
    expect(seen.at(-1)?.url).toMatch(/^\/api\/v1\/watch-me\?watch=true&allowWatchBookmarks=true&resourceVersion=1/);
  });
});
