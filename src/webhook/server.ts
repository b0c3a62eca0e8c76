// The validating admission webhook's HTTPS server. Served by every replica (not only the leader):
// the decision reads the informer caches every replica keeps warm.
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { Counter, Histogram, type Registry } from 'prom-client';
import { AdmissionReviewRequest, review, type AdmissionDeps } from './admission.ts';
import type { ServingMaterial } from './serving-cert.ts';

/** An AdmissionReview with a large MachineIdentity is well under 1 MiB; the API server's own request limit is 3 MiB. */
const MAX_BODY = 3 * 1024 * 1024;
const VALIDATE_PATH = '/validate';

export interface WebhookServer {
  readonly port: number;
  setMaterial(m: ServingMaterial): void;
  close(): Promise<void>;
}

export async function startWebhookServer(o: {
  host: string;
  port: number;
  material: ServingMaterial;
  deps: AdmissionDeps;
  logger: Logger;
  registry: Registry;
}): Promise<WebhookServer> {
  const requests = new Counter({
    name: 'machine_identity_webhook_requests_total',
    help: 'Admission requests answered by the webhook',
    labelNames: ['kind', 'operation', 'allowed'] as const,
    registers: [o.registry],
  });
  const latency = new Histogram({
    name: 'machine_identity_webhook_duration_seconds',
    help: 'Time to answer an admission request',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5],
    registers: [o.registry],
  });
  const server = https.createServer(
    { cert: o.material.certPem, key: o.material.keyPem, minVersion: 'TLSv1.2' },
    (req, res) => {
      void handle(req, res).catch((e: unknown) => {
        o.logger.error({ err: e }, 'webhook request failed');
        reply(res, 500, { message: 'internal error' });
      });
    },
  );
  server.requestTimeout = 10_000;
  server.headersTimeout = 10_000;
  // the API server keeps idle connections to a webhook for 90 s; closing one sooner (Node's default is 5 s)
  // races a request it is sending on it, and the tenant's create fails with "connection reset by peer"
  // (seen under bench fairness: a create at the end of a burst, the connection idle for just over 5 s)
  server.keepAliveTimeout = 120_000;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== 'POST' || req.url?.split('?')[0] !== VALIDATE_PATH) {
      reply(res, 404, { message: 'not found' });
      return;
    }
    if (!o.deps.ready()) {
      reply(res, 503, { message: 'IssuancePolicies not loaded yet' });
      return;
    }
    const stop = latency.startTimer();
    const body = await readBody(req);
    if (body === undefined) {
      reply(res, 413, { message: `request body over ${MAX_BODY} bytes` });
      return;
    }
    let parsed: AdmissionReviewRequest;
    try {
      parsed = AdmissionReviewRequest.parse(JSON.parse(body));
    } catch (e) {
      reply(res, 400, { message: `not an admission.k8s.io/v1 AdmissionReview: ${(e as Error).message.slice(0, 500)}` });
      return;
    }
    const response = review(parsed.request, o.deps);
    requests.inc({
      kind: parsed.request.kind.kind,
      operation: parsed.request.operation,
      allowed: String(response.allowed),
    });
    if (!response.allowed)
      o.logger.info(
        {
          kind: parsed.request.kind.kind,
          namespace: parsed.request.namespace,
          uid: parsed.request.uid,
          message: response.status?.message,
        },
        'admission denied',
      );
    reply(res, 200, { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response });
    stop();
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address();
  return {
    port: typeof addr === 'object' && addr ? addr.port : o.port,
    setMaterial: (m) => server.setSecureContext({ cert: m.certPem, key: m.keyPem, minVersion: 'TLSv1.2' }),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function reply(res: ServerResponse, code: number, body: object): void {
  if (res.headersSent) return;
  res.writeHead(code, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
}

async function readBody(req: IncomingMessage): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size <= MAX_BODY) chunks.push(c as Buffer); // past the limit: drain (bounded by requestTimeout), keep nothing
  }
  return size > MAX_BODY ? undefined : Buffer.concat(chunks).toString('utf8');
}
