// The TLS farm's listener (test/harness/tls-farm.ts starts it with `ip netns exec mio-farm`): one TLS
// server on 0.0.0.0:<port> that answers on every address of the farm's range (a `local` route on lo),
// serving the certificate named by SNI from a JSON file, the default one otherwise. SIGHUP re-reads the
// file (the benchmark makes it serve the identities' current certificates). Handshake only: each
// connection is ended as soon as it is secure.
//   usage: node tls-farm-server.ts <certs.json> <port>
import { readFileSync } from 'node:fs';
import { createSecureContext, createServer } from 'node:tls';
import type { SecureContext } from 'node:tls';

/** The file the harness writes: PEM pairs, the default one and one per server name. */
export interface FarmCertFile {
  default: { cert: string; key: string };
  byName?: Record<string, { cert: string; key: string }>;
}

const [file, portArg] = process.argv.slice(2);
if (!file || !portArg) throw new Error('usage: tls-farm-server.ts <certs.json> <port>');
const read = (path: string): FarmCertFile => JSON.parse(readFileSync(path, 'utf8')) as FarmCertFile;
const byNameOf = (f: FarmCertFile): Map<string, SecureContext> =>
  new Map(Object.entries(f.byName ?? {}).map(([name, pair]) => [name.toLowerCase(), createSecureContext(pair)]));

const first = read(file);
let byName = byNameOf(first);
// no SNI, or a name not in the file: the server's own (default) context
const server = createServer({
  ...first.default,
  SNICallback: (name, cb) => cb(null, byName.get(name.toLowerCase())),
});
server.on('secureConnection', (c) => c.end());
server.on('tlsClientError', () => {});
server.on('connection', (c) => c.on('error', () => {}));
process.on('SIGHUP', () => {
  try {
    const f = read(file);
    byName = byNameOf(f);
    server.setSecureContext(f.default);
    process.stdout.write('reloaded\n');
  } catch (e) {
    process.stdout.write(`reload failed: ${e instanceof Error ? e.message : String(e)}\n`);
  }
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
server.listen({ port: Number(portArg), host: '0.0.0.0', backlog: 4096 }, () => process.stdout.write('listening\n'));
