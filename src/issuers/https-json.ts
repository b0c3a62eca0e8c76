// A small HTTPS JSON client for remote CAs: the binding's caBundle as the only trust (none = the
// system roots), a deadline, a cap on the response size, and errors that say which CA and why.
import { request } from 'node:https';

const MAX_RESPONSE = 4 * 1024 * 1024;

export interface JsonResponse { status: number; body: unknown; headers: Record<string, string | string[] | undefined> }

export class CaUnreachable extends Error {}

export function postJson(url: string, payload: unknown, o: { ca?: string; timeoutMs?: number; method?: 'POST' | 'GET' } = {}): Promise<JsonResponse> {
  const data = payload === undefined ? undefined : Buffer.from(JSON.stringify(payload));
  return new Promise((resolve, reject) => {
    const req = request(url, { method: o.method ?? 'POST', ...(o.ca ? { ca: o.ca } : {}), timeout: o.timeoutMs ?? 15_000,
      headers: { 'Content-Type': 'application/json', Accept: 'application/json', ...(data ? { 'Content-Length': String(data.length) } : {}) } }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => { size += c.length; if (size > MAX_RESPONSE) { req.destroy(new CaUnreachable(`response over ${MAX_RESPONSE} bytes`)); return; } chunks.push(c); });
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: unknown = text;
        try { body = text ? JSON.parse(text) : undefined; } catch { /* not JSON: keep the text */ }
        resolve({ status: res.statusCode ?? 0, body, headers: res.headers });
      });
      res.on('error', (e) => reject(new CaUnreachable(e.message)));
    });
    req.on('timeout', () => req.destroy(new CaUnreachable(`no answer within ${o.timeoutMs ?? 15_000} ms`)));
    req.on('error', (e) => reject(e instanceof CaUnreachable ? e : new CaUnreachable((e as NodeJS.ErrnoException).code ?? e.message)));
    req.end(data);
  });
}
