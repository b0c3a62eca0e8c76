// An RFC 8555 client over jose's JWS: directory, nonces (retried on badNonce), account (with
// external account binding), orders, authorizations, challenges, finalize, certificate download,
// revocation. Hand-written rather than acme-client: that library sets one process-wide HTTPS agent
// (no per-binding caBundle), drops the HTTP status and Retry-After of a problem, and its helpers
// wait inside the call; here every call is one round trip and the caller decides when to come back.
import type { KeyObject } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, FlattenedSign, type JWK } from 'jose';
import { CaUnreachable, parseJsonText, send, type RawResponse } from '../https-json.ts';
import {
  AcmeError,
  ERR,
  retryAfterMs,
  type Challenge,
  type Directory,
  type Identifier,
  type Order,
  type Problem,
} from './protocol.ts';

/** An error answer's problem document; a body that is not one becomes its detail. */
export function problemOf(text: string): Problem {
  const p = parseJsonText(text) ?? {};
  return typeof p === 'object' && p !== null ? (p as Problem) : { detail: String(p).slice(0, 300) };
}

function responseOf<T>(r: RawResponse, raw: boolean, retry: number | undefined): AcmeResponse<T> {
  const loc = header(r, 'location');
  return {
    status: r.status,
    body: (raw ? r.text : parseJsonText(r.text)) as T,
    text: r.text,
    ...(loc ? { location: loc } : {}),
    ...(retry !== undefined ? { retryAfterMs: retry } : {}),
  };
}

const b64u = (b: Buffer | Uint8Array): string => Buffer.from(b).toString('base64url');
const header = (r: RawResponse, h: string): string | undefined => {
  const v = r.headers[h];
  return Array.isArray(v) ? v[0] : v;
};

export interface AcmeClientOptions {
  directoryURL: string;
  accountKey: KeyObject;
  ca?: string;
  email?: string;
  eab?: { keyID: string; hmacKey: Buffer };
  timeoutMs?: number;
}

export interface AcmeResponse<T> {
  status: number;
  body: T;
  location?: string;
  retryAfterMs?: number;
  text: string;
}

export class AcmeClient {
  private readonly o: AcmeClientOptions;
  private dir: Promise<Directory> | undefined;
  private nonces: string[] = [];
  private kid: string | undefined;
  private jwk: Promise<JWK> | undefined;
  /** badNonce answers retried (the tests read it). */
  readonly counters = { badNonceRetries: 0 };

  constructor(o: AcmeClientOptions) {
    this.o = o;
  }

  get accountURL(): string | undefined {
    return this.kid;
  }

  private raw(
    url: string,
    method: 'GET' | 'HEAD' | 'POST',
    body?: Buffer,
    accept = 'application/json',
  ): Promise<RawResponse> {
    return send(url, {
      method,
      timeoutMs: this.o.timeoutMs ?? 20_000,
      ...(this.o.ca ? { ca: this.o.ca } : {}),
      headers: {
        Accept: accept,
        'User-Agent': 'machine-identity-operator',
        ...(body ? { 'Content-Type': 'application/jose+json' } : {}),
      },
      ...(body ? { body } : {}),
    });
  }

  directory(): Promise<Directory> {
    this.dir ??= (async () => {
      const r = await this.raw(this.o.directoryURL, 'GET');
      const d = parseJsonText(r.text) as Directory | undefined;
      if (r.status !== 200 || typeof d !== 'object' || !d?.newNonce || !d.newAccount || !d.newOrder) {
        throw new CaUnreachable(`${this.o.directoryURL} is not an ACME directory (HTTP ${r.status})`);
      }
      return d;
    })();
    this.dir.catch(() => {
      this.dir = undefined;
    });
    return this.dir;
  }

  private publicJwk(): Promise<JWK> {
    this.jwk ??= exportJWK(this.o.accountKey)
      .then((j) => ({ kty: j.kty, crv: j.crv, x: j.x, y: j.y, n: j.n, e: j.e }) as JWK)
      .then((j) => Object.fromEntries(Object.entries(j).filter(([, v]) => v !== undefined)) as JWK);
    return this.jwk;
  }

  /** The key authorization for a challenge token (RFC 8555 §8.1). */
  async keyAuthorization(token: string): Promise<string> {
    return `${token}.${await calculateJwkThumbprint(await this.publicJwk(), 'sha256')}`;
  }

  private async nonce(): Promise<string> {
    const n = this.nonces.pop();
    if (n) return n;
    const r = await this.raw((await this.directory()).newNonce, 'HEAD');
    const fresh = header(r, 'replay-nonce');
    if (!fresh) throw new CaUnreachable(`newNonce answered HTTP ${r.status} without a Replay-Nonce`);
    return fresh;
  }

  private alg(): string {
    const k = this.o.accountKey.asymmetricKeyDetails;
    if (this.o.accountKey.asymmetricKeyType === 'ec') return k?.namedCurve === 'secp384r1' ? 'ES384' : 'ES256';
    return this.o.accountKey.asymmetricKeyType === 'ed25519' ? 'EdDSA' : 'RS256';
  }

  private async jws(url: string, payload: unknown, useJwk: boolean, nonce: string): Promise<Buffer> {
    const bytes = payload === undefined ? new Uint8Array() : new TextEncoder().encode(JSON.stringify(payload));
    // every call but newAccount names the account (account() ran before it)
    const who = useJwk ? { jwk: await this.publicJwk() } : this.kid ? { kid: this.kid } : {};
    const prot = { alg: this.alg(), nonce, url, ...who };
    return Buffer.from(JSON.stringify(await new FlattenedSign(bytes).setProtectedHeader(prot).sign(this.o.accountKey)));
  }

  /** A signed POST (payload undefined = POST-as-GET). A badNonce answer is retried with the nonce it carries. */
  async post<T>(
    url: string,
    payload: unknown,
    what: string,
    o: { useJwk?: boolean; accept?: string } = {},
  ): Promise<AcmeResponse<T>> {
    for (let attempt = 0; ; attempt++) {
      const r = await this.raw(
        url,
        'POST',
        await this.jws(url, payload, o.useJwk ?? false, await this.nonce()),
        o.accept,
      );
      const n = header(r, 'replay-nonce');
      if (n) this.nonces.push(n);
      if (this.nonces.length > 32) this.nonces.splice(0, this.nonces.length - 32);
      const retry = retryAfterMs(r.headers['retry-after']);
      if (r.status < 400) return responseOf<T>(r, o.accept !== undefined, retry);
      const problem = problemOf(r.text);
      if (problem.type === `${ERR}badNonce` && attempt < 5) {
        this.counters.badNonceRetries++;
        continue;
      }
      throw new AcmeError(problem, r.status, retry, what);
    }
  }

  /** Registers the account, or finds the one this key already has (newAccount is idempotent per key). */
  async account(): Promise<string> {
    if (this.kid) return this.kid;
    const d = await this.directory();
    const payload: Record<string, unknown> = {
      termsOfServiceAgreed: true,
      ...(this.o.email ? { contact: [`mailto:${this.o.email}`] } : {}),
    };
    if (this.o.eab) {
      const jwk = await this.publicJwk();
      payload.externalAccountBinding = await new FlattenedSign(new TextEncoder().encode(JSON.stringify(jwk)))
        .setProtectedHeader({ alg: 'HS256', kid: this.o.eab.keyID, url: d.newAccount })
        .sign(this.o.eab.hmacKey);
    } else if (d.meta?.externalAccountRequired) {
      throw new AcmeError(
        {
          type: `${ERR}externalAccountRequired`,
          detail: 'the server requires an external account binding: set acme.externalAccountBinding',
        },
        0,
        undefined,
        'newAccount',
      );
    }
    const r = await this.post<{ status?: string }>(d.newAccount, payload, 'newAccount', { useJwk: true });
    if (!r.location)
      throw new AcmeError({ detail: 'newAccount answered without a Location' }, r.status, undefined, 'newAccount');
    if (r.body?.status && r.body.status !== 'valid')
      throw new AcmeError(
        { type: `${ERR}unauthorized`, detail: `the account is ${r.body.status}` },
        r.status,
        undefined,
        'newAccount',
      );
    this.kid = r.location;
    return this.kid;
  }

  async newOrder(
    identifiers: Identifier[],
    extra: { notAfter?: string; profile?: string } = {},
  ): Promise<{ url: string; order: Order; retryAfterMs?: number }> {
    await this.account();
    const r = await this.post<Order>((await this.directory()).newOrder, { identifiers, ...extra }, 'newOrder');
    if (!r.location)
      throw new AcmeError({ detail: 'newOrder answered without a Location' }, r.status, undefined, 'newOrder');
    return {
      url: r.location,
      order: r.body,
      ...(r.retryAfterMs !== undefined ? { retryAfterMs: r.retryAfterMs } : {}),
    };
  }

  async get<T>(url: string, what: string): Promise<AcmeResponse<T>> {
    await this.account();
    return this.post<T>(url, undefined, what);
  }
  async respond(challengeURL: string): Promise<Challenge> {
    return (await this.post<Challenge>(challengeURL, {}, 'challenge')).body;
  }
  async finalize(order: Order, csrDer: Buffer): Promise<AcmeResponse<Order>> {
    return this.post<Order>(order.finalize, { csr: b64u(csrDer) }, 'finalize');
  }
  async certificate(url: string): Promise<string> {
    return (await this.post<string>(url, undefined, 'certificate', { accept: 'application/pem-certificate-chain' }))
      .body;
  }

  /** Revokes with the account key (RFC 8555 §7.6); reason codes as in RFC 5280 (0 unspecified, 4 superseded, 5 cessationOfOperation). */
  async revoke(certDer: Buffer, reason = 5): Promise<void> {
    await this.account();
    const d = await this.directory();
    if (!d.revokeCert)
      throw new AcmeError({ detail: 'the server offers no revokeCert endpoint' }, 0, undefined, 'revokeCert');
    await this.post(d.revokeCert, { certificate: b64u(certDer), reason }, 'revokeCert');
  }
}
