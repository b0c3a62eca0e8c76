// A small HTTPS client for remote CAs: the binding's caBundle as the only trust (none = the system
// roots), a deadline, a cap on the response size, and errors that say which CA and why.
import { request as httpsRequest } from 'node:https';
import { request as httpRequest } from 'node:http';

const MAX_RESPONSE = 4 * 1024 * 1024;

export interface RawResponse {
  status: number;
  text: string;
  headers: Record<string, string | string[] | undefined>;
}
export interface JsonResponse {
  status: number;
  body: unknown;
  headers: Record<string, string | string[] | undefined>;
}
export interface RequestOptions {
  ca?: string;
  timeoutMs?: number;
  method?: 'POST' | 'GET' | 'HEAD';
  headers?: Record<string, string>;
  body?: Buffer;
}

export class CaUnreachable extends Error {}

/** One request; resolves with any HTTP status, rejects (CaUnreachable) only when no answer came. */
export function send(url: string, o: RequestOptions = {}): Promise<RawResponse> {
  const timeoutMs = o.timeoutMs ?? 15_000;
  const request = url.startsWith('http://') ? httpRequest : httpsRequest;
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: o.method ?? 'POST',
        ...(o.ca ? { ca: o.ca } : {}),
        timeout: timeoutMs,
        headers: {
          'User-Agent': 'machine-identity-operator',
          ...(o.headers ?? {}),
          ...(o.body ? { 'Content-Length': String(o.body.length) } : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > MAX_RESPONSE) {
            req.destroy(new CaUnreachable(`response over ${MAX_RESPONSE} bytes`));
            return;
          }
          chunks.push(c);
        });
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8'), headers: res.headers }),
        );
        res.on('error', (e) => reject(new CaUnreachable(e.message)));
      },
    );
    req.on('timeout', () => req.destroy(new CaUnreachable(`no answer within ${timeoutMs} ms`)));
    req.on('error', (e) =>
      reject(e instanceof CaUnreachable ? e : new CaUnreachable((e as NodeJS.ErrnoException).code ?? e.message)),
    );
    req.end(o.body);
  });
}

export function parseJsonText(text: string): unknown {
  try {
    return text ? JSON.parse(text) : undefined;
  } catch {
    return text;
  }
}

export async function postJson(
  url: string,
  payload: unknown,
  o: { ca?: string; timeoutMs?: number; method?: 'POST' | 'GET' } = {},
): Promise<JsonResponse> {
  const body = payload === undefined ? undefined : Buffer.from(JSON.stringify(payload));
  const r = await send(url, {
    ...o,
    headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
    ...(body ? { body } : {}),
  });
  return { status: r.status, body: parseJsonText(r.text), headers: r.headers };
}
