// One small HTTP server for the kubelet and Prometheus: /metrics, /healthz (liveness: the event loop
// still turns), /readyz (readiness: a callback, e.g. informers synced). Port 0 picks a free port.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { Logger } from 'pino';

export interface OpsServerOptions {
  host?: string;
  port?: number;
  registry: Registry;
  ready: () => boolean | Promise<boolean>;
  logger?: Logger;
  /** /healthz fails when the loop-tick timer has been late by more than this. */
  maxEventLoopStallMs?: number;
}

export interface OpsServer {
  url: string;
  close(): Promise<void>;
}

export async function startOpsServer(o: OpsServerOptions): Promise<OpsServer> {
  const maxStall = o.maxEventLoopStallMs ?? 10_000;
  // A ticking timer records when the loop last ran; a stuck loop (a sync crypto call gone wrong)
  // shows as a stale tick once the loop frees up enough to answer the probe.
  let lastTick = Date.now();
  let worstLag = 0;
  const TICK_MS = 500;
  const ticker = setInterval(() => {
    const now = Date.now();
    worstLag = Math.max(0, now - lastTick - TICK_MS);
    lastTick = now;
  }, TICK_MS);
  ticker.unref();

  const send = (res: ServerResponse, code: number, body: string, type = 'text/plain; charset=utf-8'): void => {
    res.writeHead(code, { 'Content-Type': type, 'Cache-Control': 'no-store' });
    res.end(body);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'method not allowed\n');
    switch (path) {
      case '/metrics': {
        // ?name=<family> (repeatable) renders only those families: cheap polling of one figure
        const names = new URL(req.url ?? '/', 'http://x').searchParams
          .getAll('name')
          .filter((n) => o.registry.getSingleMetric(n));
        const body = names.length
          ? (await Promise.all(names.map((n) => o.registry.getSingleMetricAsString(n)))).join('\n') + '\n'
          : await o.registry.metrics();
        return send(res, 200, body, o.registry.contentType);
      }
      case '/healthz': {
        const stall = Math.max(worstLag, Date.now() - lastTick - TICK_MS);
        return stall > maxStall ? send(res, 500, `event loop stalled ${stall}ms\n`) : send(res, 200, 'ok\n');
      }
      case '/readyz':
        return (await o.ready()) ? send(res, 200, 'ok\n') : send(res, 503, 'not ready\n');
      default:
        return send(res, 404, 'not found\n');
    }
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      o.logger?.error({ err }, 'ops server request failed');
      if (!res.headersSent) send(res, 500, 'internal error\n');
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 5_000;
  const host = o.host ?? '0.0.0.0';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port ?? 8080, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  const shownHost = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  const url = `http://${shownHost}:${addr.port}`;
  o.logger?.info({ url }, 'ops server listening');
  return {
    url,
    close: () =>
      new Promise<void>((resolve) => {
        clearInterval(ticker);
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
