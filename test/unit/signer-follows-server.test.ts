// The PodCertificateRequest watch follows the API server: after an upgrade that turned v1beta1 off
// (1.36 → 1.37), a 404 makes it ask discovery again and watch v1; a server serving neither keeps the
// old watch and says so. A local HTTP server plays the API server's discovery, list and watch.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as k8s from '@kubernetes/client-node';
import pino from 'pino';
import { Registry } from 'prom-client';
import { PodCertificateRequests } from '../../src/controllers/signer/pod-certificate-requests.ts';

const GROUP = '/apis/certificates.k8s.io/';
let server: Server;
const served = { v1: false, v1beta1: true };

function answer(url: URL, res: ServerResponse): void {
  const [version, resource] = url.pathname.slice(GROUP.length).split('/');
  const v = version === 'v1' || version === 'v1beta1' ? version : undefined;
  if (!url.pathname.startsWith(GROUP) || !v || !served[v]) {
    res.writeHead(404, { 'content-type': 'text/plain' }).end('404 page not found');
    return;
  }
  res.writeHead(200, { 'content-type': 'application/json' });
  if (!resource) {
    res.end(
      JSON.stringify({ resources: [{ name: 'podcertificaterequests' }, { name: 'podcertificaterequests/status' }] }),
    );
  } else if (url.searchParams.get('watch')) {
    res.write(''); // a watch that stays open and quiet until the client goes
  } else {
    const item = { metadata: { name: 'a', namespace: 'ns', resourceVersion: '1' } };
    res.end(
      JSON.stringify({
        apiVersion: `certificates.k8s.io/${v}`,
        kind: 'PodCertificateRequestList',
        metadata: { resourceVersion: '1' },
        items: [item],
      }),
    );
  }
}

beforeAll(async () => {
  server = createServer((req, res) => answer(new URL(req.url ?? '/', 'http://x'), res));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
});

function context(): { kc: k8s.KubeConfig; registry: Registry; log: pino.Logger } {
  const kc = new k8s.KubeConfig();
  const { port } = server.address() as AddressInfo;
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
    users: [{ name: 'u' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  return { kc, registry: new Registry(), log: pino({ level: 'silent' }) };
}

const waitUntil = async (ok: () => boolean | Promise<boolean>, ms: number): Promise<boolean> => {
  const end = Date.now() + ms;
  while (!(await ok()) && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
  return ok();
};

async function info(registry: Registry, version: string): Promise<number | undefined> {
  const m = await registry.getSingleMetric('machine_identity_signer_api_info')?.get();
  return m?.values.find((x) => x.labels.resource === 'podcertificaterequests' && x.labels.version === version)?.value;
}

describe('PodCertificateRequests follows the served version', () => {
  it('1.36 → 1.37 (v1beta1 off): a 404 makes it watch v1, and every request is delivered again', async () => {
    served.v1 = false;
    served.v1beta1 = true;
    const ctx = context();
    const pcrs = new PodCertificateRequests(ctx, 'v1beta1');
    const added: string[] = [];
    pcrs.onAdd((p) => void added.push(String(p.apiVersion)));
    pcrs.start();
    await pcrs.synced;
    expect(pcrs.get('ns/a')?.apiVersion).toBe('certificates.k8s.io/v1beta1');

    served.v1 = true;
    served.v1beta1 = false;
    pcrs.notFound(); // what a status write answered 404 does
    expect(await waitUntil(() => pcrs.get('ns/a')?.apiVersion === 'certificates.k8s.io/v1', 5000)).toBe(true);
    expect(pcrs.version).toBe('v1');
    expect(added).toEqual(['certificates.k8s.io/v1beta1', 'certificates.k8s.io/v1']);
    expect(await info(ctx.registry, 'v1')).toBe(1);
    expect(await info(ctx.registry, 'v1beta1')).toBe(0);
    await pcrs.stop();
  });

  it('a server that serves neither: the watch stays, the gauge says none', async () => {
    served.v1 = true;
    served.v1beta1 = false;
    const ctx = context();
    const pcrs = new PodCertificateRequests(ctx, 'v1');
    pcrs.start();
    await pcrs.synced;
    served.v1 = false;
    pcrs.notFound();
    expect(await waitUntil(async () => (await info(ctx.registry, 'none')) === 1, 5000)).toBe(true);
    expect(pcrs.version).toBe('v1');
    await pcrs.stop();
  });
});
