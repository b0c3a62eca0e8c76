// The tls-echo test workload (image localhost/mio-tls-echo:dev): serves TLS with the tls.crt/tls.key of
// a mounted Secret and answers every request with the served certificate's identity as JSON. It checks
// the files every RELOAD_MS and swaps the certificate in place (setSecureContext), so the tests measure
// how long a renewed certificate takes to reach a running pod through the kubelet's Secret volume update.
// The validation tests (#16) need servers that misbehave the way real ones do, chosen by environment:
// - RELOAD_MS=0: never reloads (keeps serving the certificate it started with, like most servers);
// - CLIENT_CA=<file> or REQUIRE_CLIENT_CERT=1: mTLS only (asks for a client certificate, refuses without one);
// - SNI_HOSTS=a,b with TLS_DIRS=/tls/a,/tls/b: a stand-in ingress/gateway controller serving each host the pair
//   of its directory and refusing any other server name (or none), so a handshake proves the right SNI was sent;
// - TLS_MIN_VERSION / TLS_MAX_VERSION / TLS_CIPHERS: e.g. a TLS 1.1-only server (with 'DEFAULT@SECLEVEL=0');
// - TLS_CERT_PEM + TLS_KEY_PEM: serve this pair instead of the mounted one (a certificate no Secret holds).
// Only node: built-ins, so the image is the base plus this file; Node 24 runs the TypeScript directly.
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import { join } from 'node:path';
import { createSecureContext, type SecureContext, type SecureVersion } from 'node:tls';

interface Pair {
  cert: string;
  key: string;
}

export interface TlsEcho {
  server: Server;
  port: number;
  stop(): Promise<void>;
}

/** One served pair: from a directory (reloaded when RELOAD_MS > 0) or given inline (never changes). */
interface Source {
  /** The server name it is served for; undefined = the only pair, served whatever the client asks. */
  host?: string;
  dir: string;
}

/** The modes the environment selects (see the file comment); defaults keep the original behaviour. */
export interface EchoOptions {
  sources: Source[];
  port: number;
  /** 0 = never reload. */
  reloadMs: number;
  inline?: Pair;
  /** PEM of the CA client certificates must chain to (with requireClientCert). */
  clientCa?: string;
  requireClientCert: boolean;
  minVersion?: SecureVersion;
  maxVersion?: SecureVersion;
  ciphers?: string;
}

const VERSIONS: readonly SecureVersion[] = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'];

function version(name: string, v: string | undefined): SecureVersion | undefined {
  if (v === undefined || v === '') return undefined;
  const found = VERSIONS.find((x) => x === v);
  if (!found) throw new Error(`${name}=${v}: one of ${VERSIONS.join(', ')}`);
  return found;
}

function list(v: string | undefined): string[] {
  return (v ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

function sourcesFrom(env: Record<string, string | undefined>): Source[] {
  const hosts = list(env.SNI_HOSTS).map((h) => h.toLowerCase());
  const dirs = list(env.TLS_DIRS);
  if (hosts.length === 0 && dirs.length === 0) return [{ dir: env.TLS_DIR ?? '/tls' }];
  if (hosts.length !== dirs.length)
    throw new Error(`SNI_HOSTS (${hosts.length}) and TLS_DIRS (${dirs.length}) must pair up one to one`);
  if (new Set(hosts).size !== hosts.length) throw new Error('SNI_HOSTS lists a host twice');
  return hosts.map((host, i) => ({ host, dir: dirs[i] ?? '' }));
}

/** The options an environment asks for (pure: the CA file is read by the caller); throws on a bad setting. */
export function echoOptionsFromEnv(env: Record<string, string | undefined>): EchoOptions & { clientCaFile?: string } {
  const reloadMs = Number(env.RELOAD_MS ?? 1000);
  if (!Number.isInteger(reloadMs) || reloadMs < 0) throw new Error(`RELOAD_MS=${env.RELOAD_MS}: a whole number >= 0`);
  const port = Number(env.PORT ?? 8443);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`PORT=${env.PORT}: 0-65535`);
  const hasCert = (env.TLS_CERT_PEM ?? '') !== '';
  if (hasCert !== ((env.TLS_KEY_PEM ?? '') !== '')) throw new Error('TLS_CERT_PEM and TLS_KEY_PEM go together');
  const sources = sourcesFrom(env);
  if (hasCert && sources.some((s) => s.host !== undefined))
    throw new Error('TLS_CERT_PEM does not combine with SNI_HOSTS');
  const clientCaFile = env.CLIENT_CA || undefined;
  return {
    sources,
    port,
    reloadMs,
    inline: hasCert ? { cert: env.TLS_CERT_PEM ?? '', key: env.TLS_KEY_PEM ?? '' } : undefined,
    clientCaFile,
    requireClientCert: clientCaFile !== undefined || env.REQUIRE_CLIENT_CERT === '1',
    minVersion: version('TLS_MIN_VERSION', env.TLS_MIN_VERSION),
    maxVersion: version('TLS_MAX_VERSION', env.TLS_MAX_VERSION),
    ciphers: env.TLS_CIPHERS || undefined,
  };
}

/** The server name a client asked for decides the pair; undefined = refuse (unknown name, or none). */
export function pickHost(hosts: readonly string[], servername: string | undefined): string | undefined {
  const name = (servername ?? '').toLowerCase().replace(/\.$/, '');
  return hosts.includes(name) ? name : undefined;
}

function readPair(dir: string): Pair | undefined {
  try {
    const pair = { cert: readFileSync(join(dir, 'tls.crt'), 'utf8'), key: readFileSync(join(dir, 'tls.key'), 'utf8') };
    return pair.cert !== '' && pair.key !== '' ? pair : undefined;
  } catch {
    return undefined; // mid-update (the kubelet swaps a symlink) or not mounted yet: keep what is served
  }
}

function describe(cert: string): Record<string, string> {
  const x = new X509Certificate(cert);
  return { serialNumber: x.serialNumber, fingerprint256: x.fingerprint256, notAfter: x.validTo, subject: x.subject };
}

interface Served {
  source: Source;
  pair: Pair;
  context: SecureContext;
  identity: Record<string, string>;
}

export async function startTlsEcho(opts: {
  dir: string;
  port: number;
  /** all interfaces when not set (in a pod); tests bind 127.0.0.1 */
  host?: string;
  reloadMs: number;
  log: (fields: Record<string, unknown>) => void;
  /** Modes beyond the default (echoOptionsFromEnv); `dir` is used when sources is not set. */
  modes?: Partial<Omit<EchoOptions, 'port' | 'reloadMs'>>;
}): Promise<TlsEcho> {
  const modes = opts.modes ?? {};
  const sources = modes.sources ?? [{ dir: opts.dir }];
  const tlsOpts = {
    ...(modes.minVersion ? { minVersion: modes.minVersion } : {}),
    ...(modes.maxVersion ? { maxVersion: modes.maxVersion } : {}),
    ...(modes.ciphers ? { ciphers: modes.ciphers } : {}),
  };
  const mtls = modes.requireClientCert
    ? { requestCert: true, rejectUnauthorized: true, ...(modes.clientCa ? { ca: modes.clientCa } : {}) }
    : {};
  // the client CA goes into every context too: a context picked by SNI is the one that verifies the client
  const contextOf = (pair: Pair): SecureContext =>
    createSecureContext({ ...pair, ...tlsOpts, ...(modes.clientCa ? { ca: modes.clientCa } : {}) });
  const served: Served[] = sources.map((source) => {
    const pair = modes.inline ?? readPair(source.dir);
    if (!pair) throw new Error(`no tls.crt/tls.key in ${source.dir}`);
    return { source, pair, context: contextOf(pair), identity: describe(pair.cert) };
  });
  const byHost = new Map(served.flatMap((s) => (s.source.host ? [[s.source.host, s] as const] : [])));
  const single = byHost.size === 0 ? served[0] : undefined;
  const sni = (name: string, cb: (err: Error | null, ctx?: SecureContext) => void): void => {
    const host = pickHost([...byHost.keys()], name);
    const s = host === undefined ? undefined : byHost.get(host);
    if (s) return cb(null, s.context);
    opts.log({ msg: 'refused unknown server name', servername: name });
    cb(new Error(`unknown server name ${JSON.stringify(name)}`));
  };
  const server = createServer(
    {
      ...tlsOpts,
      ...mtls,
      // SNI mode: no default pair, so a client without a server name gets no certificate at all
      ...(single ? { cert: single.pair.cert, key: single.pair.key } : { SNICallback: sni }),
    },
    (req, res) => {
      const host = pickHost([...byHost.keys()], (req.socket as { servername?: string }).servername);
      const s = single ?? (host === undefined ? undefined : byHost.get(host));
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(s?.identity ?? {}));
    },
  );
  const reload = (s: Served): void => {
    const next = readPair(s.source.dir);
    if (!next || (next.cert === s.pair.cert && next.key === s.pair.key)) return;
    try {
      s.context = contextOf(next);
      if (s === single) server.setSecureContext({ ...next, ...tlsOpts });
      s.pair = next;
      s.identity = describe(next.cert);
      opts.log({ msg: 'reloaded', host: s.source.host, ...s.identity });
    } catch (err) {
      opts.log({ msg: 'reload refused, still serving the previous certificate', error: String(err) });
    }
  };
  const timer =
    opts.reloadMs > 0 && !modes.inline ? setInterval(() => served.forEach(reload), opts.reloadMs) : undefined;
  timer?.unref();
  await new Promise<void>((res) => server.listen(opts.port, opts.host, res));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : opts.port;
  for (const s of served) opts.log({ msg: 'serving', port, host: s.source.host, ...s.identity });
  opts.log({
    msg: 'modes',
    reload: opts.reloadMs > 0 && !modes.inline,
    mtls: Boolean(modes.requireClientCert),
    sni: [...byHost.keys()],
    ...tlsOpts,
  });
  return {
    server,
    port,
    stop: () => {
      clearInterval(timer);
      return new Promise((res) => server.close(() => res()));
    },
  };
}

if (import.meta.main) {
  const log = (fields: Record<string, unknown>): void =>
    void process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), ...fields })}\n`);
  const o = echoOptionsFromEnv(process.env);
  const echo = await startTlsEcho({
    dir: o.sources[0]?.dir ?? '/tls',
    port: o.port,
    reloadMs: o.reloadMs,
    log,
    modes: { ...o, clientCa: o.clientCaFile ? readFileSync(o.clientCaFile, 'utf8') : undefined },
  });
  process.once('SIGTERM', () => void echo.stop().then(() => process.exit(0)));
}
