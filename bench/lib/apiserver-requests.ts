// What kube-apiserver and etcd say about themselves on /metrics: the API server's request counters
// (apiserver_request_total, per verb and resource) to count the writes a phase caused, and etcd's
// database size. Read with the control plane's admin client certificate, or with an admin kubeconfig's
// credentials (the integration tests' shared plane).
import { request as httpsRequest, type RequestOptions } from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';
import type { ControlPlane } from '../../test/harness/control-plane.ts';

const WRITE_VERBS = new Set(['POST', 'PUT', 'PATCH', 'DELETE', 'APPLY']);

function apiserverMetricsText(opts: RequestOptions): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ ...opts, path: '/metrics' }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    });
    req.on('error', reject);
    req.end();
  });
}

/** "VERB resource[/subresource]" → count, from apiserver_request_total lines (summed over the other labels). */
export function parseRequestTotals(text: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line.startsWith('apiserver_request_total{')) continue;
    const verb = /verb="(\w+)"/.exec(line)?.[1] ?? '?';
    const resource = /[{,]resource="([\w.]+)"/.exec(line)?.[1] ?? '?';
    const sub = /subresource="(\w+)"/.exec(line)?.[1];
    const k = `${verb} ${resource}${sub ? `/${sub}` : ''}`;
    m.set(k, (m.get(k) ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1)));
  }
  return m;
}

export async function requestTotals(cp: ControlPlane): Promise<Map<string, number>> {
  const tls = { ca: cp.pki.ca.cert, cert: cp.pki.admin.cert, key: cp.pki.admin.key };
  return parseRequestTotals(await apiserverMetricsText({ host: '127.0.0.1', port: cp.apiPort, ...tls }));
}

/** The same counters, read with `kc`'s server and credentials (they must allow GET /metrics). */
export async function requestTotalsWith(kc: KubeConfig): Promise<Map<string, number>> {
  const server = kc.getCurrentCluster()?.server;
  if (!server) throw new Error('no current cluster in kubeconfig');
  const opts: RequestOptions = {};
  await kc.applyToHTTPSOptions(opts);
  const url = new URL(server);
  return parseRequestTotals(await apiserverMetricsText({ ...opts, host: url.hostname, port: url.port }));
}

/** The write requests (POST/PUT/PATCH/DELETE/APPLY) between two snapshots, per "VERB resource[/sub]", zeros dropped. */
export function writesBetween(before: Map<string, number>, after: Map<string, number>): Map<string, number> {
  const out = new Map<string, number>();
  for (const [k, v] of after) {
    const d = v - (before.get(k) ?? 0);
    if (d > 0 && WRITE_VERBS.has(k.split(' ')[0] ?? '')) out.set(k, d);
  }
  return out;
}

/** The sum of the writes whose resource (before any /subresource) is one of `resources`. */
export function writesOn(writes: Map<string, number>, resources: readonly string[]): number {
  let n = 0;
  for (const [k, v] of writes) if (resources.includes((k.split(' ')[1] ?? '').split('/')[0] ?? '')) n += v;
  return n;
}

export const formatWrites = (w: Map<string, number>): string =>
  [...w]
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k}=${v}`)
    .join(' ') || 'none';

/** etcd's database size in MB (etcd_mvcc_db_total_size_in_bytes) and the part of it in use. */
export async function etcdDbMb(cp: ControlPlane): Promise<{ total: number; inUse: number }> {
  const text = await (await fetch(`http://127.0.0.1:${cp.etcdPort}/metrics`)).text();
  const value = (name: string): number => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN) / 1048576;
  return { total: value('etcd_mvcc_db_total_size_in_bytes'), inUse: value('etcd_mvcc_db_total_size_in_use_in_bytes') };
}
