// The operator's HTTP transport to the API server: Node's own http(s) client with one keep-alive Agent per
// (cluster, user), HTTP/1.1, in place of client-node's default (undici's fetch over HTTP/2). Profiled under
// `bench issuance` (bench/lib/cpu-summary.js, docs/cpu.md), fetch's WHATWG layers (Request/Response/Headers
// objects, web streams) and the HTTP/2 session glue were about a third of the operator's main-thread CPU for
// three or four small requests and a few watch events per issuance. Each watch holds its own connection.
// Opt-in per KubeConfig (withNodeTransport: the operator and the CLI); other users of a KubeConfig (tests,
// benchmarks) and any context behind a proxy keep client-node's transport. Per request only the auth headers
// are set (bearer tokens, exec and auth-provider plugins); the TLS material is read once per Agent, keyed by
// the cluster and user entries as the shared dispatcher (shared-dispatcher.ts) keys its pools.
import http from 'node:http';
import https from 'node:https';
import type { IncomingMessage } from 'node:http';
import * as k8s from '@kubernetes/client-node';

/** A response whose body has not been read yet (a watch reads it as a stream). */
interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: IncomingMessage;
}

/** A response with its body unread: `chunks` to stream it (a watch), or `text()` to read it whole. */
export interface StreamedResponse {
  status: number;
  headers: Record<string, string>;
  chunks: AsyncIterable<Uint8Array>;
  text(): Promise<string>;
}

interface Transport {
  agent: http.Agent;
  secure: boolean;
}

interface TransportState {
  /** Agents by the serialised cluster and user they were made for. */
  pool: Map<string, Transport>;
  last?: { cluster: k8s.Cluster | null; user: k8s.User | null; t: Transport };
}
const transports = new WeakMap<k8s.KubeConfig, TransportState>();
// a free socket is closed before the API server's own idle timeout (90 s), so a request never races its close
const FREE_SOCKET_MS = 30_000;

/** Makes `kc`'s API clients and the raw helpers (getJson, sendRaw, watches) use Node's http(s) client. */
export function withNodeTransport(kc: k8s.KubeConfig): k8s.KubeConfig {
  if (transports.has(kc)) return kc;
  transports.set(kc, { pool: new Map() });
  headersOnlyAuth(kc);
  const httpApi = k8s.wrapHttpLibrary({ send: (ctx) => sendContext(kc, ctx) });
  kc.makeApiClient = <T extends k8s.ApiType>(apiClientType: k8s.ApiConstructor<T>): T => {
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new Error('No active cluster!');
    return new apiClientType(
      k8s.createConfiguration({
        baseServer: new k8s.ServerConfiguration(cluster.server, {}),
        authMethods: { default: kc },
        middleware: [k8s.setHeaderMiddleware('User-Agent', 'machine-identity-operator')],
        httpApi,
      }),
    );
  };
  return kc;
}

/**
 * This transport serves kc's current context: it was applied, and the cluster has no proxy (HTTP, HTTPS or
 * SOCKS proxies stay with client-node's fetch). Per request: a CLI may switch contexts (fleet inventory).
 */
function nodeServes(kc: k8s.KubeConfig): boolean {
  return transports.has(kc) && !kc.getCurrentCluster()?.proxyUrl;
}

/** client-node's per-user header step (tokens, exec and auth-provider plugins); private in its typings. */
interface HeaderAuth {
  applyAuthorizationHeader(opts: https.RequestOptions): Promise<void>;
}
function hasHeaderAuth(kc: unknown): kc is HeaderAuth {
  return typeof kc === 'object' && kc !== null && typeof Reflect.get(kc, 'applyAuthorizationHeader') === 'function';
}

/**
 * Per request, only the headers: client-node's applySecurityAuthentication also re-reads the TLS material
 * and builds an undici Agent for every request, which this transport does not use (its Agent holds the
 * TLS material). Without the private step (another client-node version) the full step stays.
 */
function headersOnlyAuth(kc: k8s.KubeConfig): void {
  const auth: unknown = kc;
  if (!hasHeaderAuth(auth)) return;
  const full = kc.applySecurityAuthentication.bind(kc);
  kc.applySecurityAuthentication = async (context: k8s.RequestContext): Promise<void> => {
    if (!nodeServes(kc)) return full(context); // a proxy: client-node's fetch needs its dispatcher
    const opts: https.RequestOptions = {};
    await auth.applyAuthorizationHeader.call(kc, opts);
    const user = kc.getCurrentUser();
    if (user?.username)
      context.setHeaderParam(
        'Authorization',
        `Basic ${Buffer.from(`${user.username}:${user.password}`).toString('base64')}`,
      );
    for (const [k, v] of Object.entries(opts.headers ?? {})) context.setHeaderParam(k, `${String(v)}`);
  };
}

/** The Agent for kc's current cluster and user: TLS material read once, connections kept alive. */
async function transportFor(kc: k8s.KubeConfig): Promise<Transport> {
  const state = transports.get(kc);
  if (!state) throw new Error('withNodeTransport was not applied to this KubeConfig');
  const cluster = kc.getCurrentCluster();
  const user = kc.getCurrentUser();
  // the same cluster and user objects as last time: no need to serialise them again
  if (state.last && state.last.cluster === cluster && state.last.user === user) return state.last.t;
  // rotated credentials (another client certificate) give another key, so another Agent
  const key = JSON.stringify([cluster, user]);
  const pool = state.pool;
  const found = pool.get(key);
  if (found) {
    state.last = { cluster, user, t: found };
    return found;
  }
  const secure = !kc.getCurrentCluster()?.server.startsWith('http:');
  const opts: https.RequestOptions = {};
  await kc.applyToHTTPSOptions(opts);
  const agentOptions = { keepAlive: true, keepAliveMsecs: 30_000, timeout: FREE_SOCKET_MS };
  const agent = secure
    ? new https.Agent({
        ...agentOptions,
        ...pick(opts, ['ca', 'cert', 'key', 'pfx', 'passphrase', 'rejectUnauthorized', 'servername']),
      })
    : new http.Agent(agentOptions);
  if (pool.size >= 4) {
    for (const t of pool.values()) t.agent.destroy();
    pool.clear();
  }
  const t = { agent, secure };
  pool.set(key, t);
  state.last = { cluster, user, t };
  return t;
}

function pick(o: https.RequestOptions, keys: (keyof https.RequestOptions)[]): https.AgentOptions {
  const out: Record<string, unknown> = {};
  for (const k of keys) if (o[k] !== undefined) out[k] = o[k];
  return out;
}

/**
 * Sends a request whose headers client-node's auth has already set, by this transport when `kc` has it,
 * else by client-node's fetch. The body is left unread.
 */
export async function sendStreamed(kc: k8s.KubeConfig, ctx: k8s.RequestContext): Promise<StreamedResponse> {
  if (!nodeServes(kc)) {
    const res = await new k8s.IsomorphicFetchHttpLibrary().send(ctx).toPromise();
    const stream = res.body.stream();
    return {
      status: res.httpStatusCode,
      headers: res.headers,
      chunks: stream ?? emptyChunks(),
      text: () => res.body.text(),
    };
  }
  const res = await sendRaw(kc, ctx);
  return {
    status: res.status,
    headers: res.headers,
    chunks: res.body,
    text: async () => (await readBody(res)).toString('utf8'),
  };
}

async function* emptyChunks(): AsyncIterable<Uint8Array> {}

async function sendRaw(kc: k8s.KubeConfig, ctx: k8s.RequestContext): Promise<RawResponse> {
  const { agent, secure } = await transportFor(kc);
  const body = ctx.getBody();
  if (body !== undefined && typeof body !== 'string') throw new Error('node transport: only string bodies');
  const headers: Record<string, string | number> = { ...ctx.getHeaders() };
  if (body !== undefined) headers['Content-Length'] = Buffer.byteLength(body);
  const signal = ctx.getSignal();
  return new Promise<RawResponse>((resolve, reject) => {
    const req = (secure ? https : http).request(
      ctx.getUrl(),
      { method: ctx.getHttpMethod(), headers, agent, ...(signal ? { signal } : {}) },
      (res) => resolve({ status: res.statusCode ?? 0, headers: flatHeaders(res), body: res }),
    );
    req.on('error', reject);
    req.end(body);
  });
}

function flatHeaders(res: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) out[k] = Array.isArray(v) ? v.join(', ') : v;
  return out;
}

/** The whole body of a response. */
async function readBody(res: RawResponse): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of res.body) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** client-node's HttpLibrary contract on top of sendRaw: the body read whole, once. */
async function sendContext(kc: k8s.KubeConfig, ctx: k8s.RequestContext): Promise<k8s.ResponseContext> {
  if (!nodeServes(kc)) return new k8s.IsomorphicFetchHttpLibrary().send(ctx).toPromise();
  const res = await sendRaw(kc, ctx);
  const data = readBody(res);
  data.catch(() => undefined); // read by whoever asks for the body; never an unhandled rejection
  return new k8s.ResponseContext(res.status, res.headers, new k8s.SelfDecodingBody(data));
}
