// The tls-echo test workload (image localhost/mio-tls-echo:dev): serves TLS with the tls.crt/tls.key of
// a mounted Secret and answers every request with the served certificate's identity as JSON. It checks
// the files every RELOAD_MS and swaps the certificate in place (setSecureContext), so the tests measure
// how long a renewed certificate takes to reach a running pod through the kubelet's Secret volume update.
// Only node: built-ins, so the image is the base plus this file; Node 24 runs the TypeScript directly.
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import { join } from 'node:path';

interface Pair {
  cert: string;
  key: string;
}

export interface TlsEcho {
  server: Server;
  port: number;
  stop(): Promise<void>;
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

export async function startTlsEcho(opts: {
  dir: string;
  port: number;
  /** all interfaces when not set (in a pod); tests bind 127.0.0.1 */
  host?: string;
  reloadMs: number;
  log: (fields: Record<string, unknown>) => void;
}): Promise<TlsEcho> {
  let current = readPair(opts.dir);
  if (!current) throw new Error(`no tls.crt/tls.key in ${opts.dir}`);
  let identity = describe(current.cert);
  const server = createServer({ cert: current.cert, key: current.key }, (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(identity));
  });
  const timer = setInterval(() => {
    const next = readPair(opts.dir);
    if (!next || (next.cert === current?.cert && next.key === current.key)) return;
    try {
      server.setSecureContext({ cert: next.cert, key: next.key });
      current = next;
      identity = describe(next.cert);
      opts.log({ msg: 'reloaded', ...identity });
    } catch (err) {
      opts.log({ msg: 'reload refused, still serving the previous certificate', error: String(err) });
    }
  }, opts.reloadMs);
  timer.unref();
  await new Promise<void>((res) => server.listen(opts.port, opts.host, res));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : opts.port;
  opts.log({ msg: 'serving', port, ...identity });
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
  const echo = await startTlsEcho({
    dir: process.env.TLS_DIR ?? '/tls',
    port: Number(process.env.PORT ?? 8443),
    reloadMs: Number(process.env.RELOAD_MS ?? 1000),
    log,
  });
  process.once('SIGTERM', () => void echo.stop().then(() => process.exit(0)));
}
