// Opens one watch request (bookmarks on, a server-side timeout of 5-10 minutes) with client-node's
// auth and the KubeConfig's transport (node-transport.ts); the caller reads the newline-delimited events from the body.
import * as k8s from '@kubernetes/client-node';
import { sendStreamed, type StreamedResponse } from './node-transport.ts';

export interface WatchRequest {
  path: string;
  resourceVersion: string;
  labelSelector?: string | undefined;
  fieldSelector?: string | undefined;
}

/** The watch URL's query: empty values left out. */
export function watchQuery(r: WatchRequest, timeoutSeconds: number): URLSearchParams {
  const q: Record<string, string | undefined> = {
    watch: 'true',
    allowWatchBookmarks: 'true',
    resourceVersion: r.resourceVersion,
    timeoutSeconds: String(timeoutSeconds),
    labelSelector: r.labelSelector,
    fieldSelector: r.fieldSelector,
  };
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) if (v) params.set(k, v);
  return params;
}

export async function openWatch(kc: k8s.KubeConfig, r: WatchRequest, signal: AbortSignal): Promise<StreamedResponse> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('no current cluster in kubeconfig');
  const url = new URL(cluster.server + r.path);
  // Server-side close every 5-10 min (as client-go) spreads reconnects and refreshes the connection.
  for (const [k, v] of watchQuery(r, 300 + Math.floor(Math.random() * 300))) url.searchParams.set(k, v);
  const ctx = new k8s.RequestContext(url.toString(), k8s.HttpMethod.GET);
  ctx.setHeaderParam('Accept', 'application/json');
  ctx.setSignal(signal);
  await kc.applySecurityAuthentication(ctx);
  const res = await sendStreamed(kc, ctx);
  if (res.status !== 200) {
    const body = await res.text();
    throw new k8s.ApiException(res.status, `watch ${r.path}: HTTP ${res.status}`, body, res.headers);
  }
  return res;
}
