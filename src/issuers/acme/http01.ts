// The operator's own HTTP-01 answerer: GET /.well-known/acme-challenge/<token> returns the key
// authorization of a challenge this process presented, and 404 for anything else. One per process,
// shared by every ACME binding; the listener address comes from MIO_ACME_HTTP01_ADDR.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

const PREFIX = '/.well-known/acme-challenge/';
const TOKEN = /^[A-Za-z0-9_-]{1,256}$/;

export class Http01Responder {
  private readonly answers = new Map<string, string>();
  private server: Server | undefined;
  /** Requests answered with a key authorization, for tests and metrics. */
  served = 0;

  get listening(): boolean {
    return this.server?.listening ?? false;
  }
  get size(): number {
    return this.answers.size;
  }

  present(token: string, keyAuthorization: string): void {
    this.answers.set(token, keyAuthorization);
  }
  remove(token: string): void {
    this.answers.delete(token);
  }

  /** The answer for a request path, or undefined (404). */
  answer(path: string): string | undefined {
    if (!path.startsWith(PREFIX)) return undefined;
    const [token = ''] = path.slice(PREFIX.length).split('?');
    return TOKEN.test(token) ? this.answers.get(token) : undefined;
  }

  async listen(host: string, port: number): Promise<string> {
    const server = createServer((req, res) => {
      const body = req.method === 'GET' || req.method === 'HEAD' ? this.answer(req.url ?? '') : undefined;
      if (body === undefined) {
        res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found\n');
        return;
      }
      this.served++;
      res
        .writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': Buffer.byteLength(body) })
        .end(req.method === 'HEAD' ? undefined : body);
    });
    server.headersTimeout = 10_000;
    server.requestTimeout = 15_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    this.server = server;
    const a = server.address() as AddressInfo;
    return `http://${a.address.includes(':') ? `[${a.address}]` : a.address}:${a.port}`;
  }

  async close(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (s)
      await new Promise<void>((r) => {
        s.closeAllConnections();
        s.close(() => r());
      });
  }
}

/** The process's responder (the issuers and the operator's start-up share it). */
export const http01Responder = new Http01Responder();
