// cfssl backend: CloudFlare CFSSL's signing API. With an auth key, `/api/v1/cfssl/authsign`: the request
// JSON with an HMAC-SHA256 token made with the profile's hex auth key; without, `/api/v1/cfssl/sign`.
// The request names the binding's profile and notAfter from the requested duration. The CA
// certificate comes from /info.
import { createHmac } from 'node:crypto';
import { pemBlocks } from '../pki/pem.ts';
import { isoSeconds } from './in-cluster-ca.ts';
import { fingerprintOf } from '../pki/fingerprint.ts';
import { CaUnreachable, postJson } from './https-json.ts';
import { IssuerReason } from '../crds/reasons.ts';
import type { AuthorityHealth, Issuer, SignRequest, SignResult } from './types.ts';

export interface CfsslOptions {
  url: string;
  profile?: string;
  authKeyHex?: string;
  caBundle?: string;
  maxDurationMs?: number;
}
export interface CfsslResponse {
  success?: boolean;
  result?: { certificate?: string };
  errors?: { code?: number; message?: string }[];
}

const errorsOf = (r: CfsslResponse | undefined): string =>
  (r?.errors ?? []).map((e) => `${e.message ?? ''}${e.code ? ` (code ${e.code})` : ''}`).join('; ') || 'no error text';

export class CfsslIssuer implements Issuer {
  readonly backend = 'cfssl';
  readonly inProcess = false;
  private readonly o: CfsslOptions;
  private readonly key: Buffer | undefined;

  constructor(o: CfsslOptions) {
    this.o = o;
    this.key = o.authKeyHex ? Buffer.from(o.authKeyHex.trim(), 'hex') : undefined;
  }

  private endpoint(path: string): string {
    return `${this.o.url.replace(/\/+$/, '')}${path}`;
  }

  async health(): Promise<AuthorityHealth> {
    try {
      const r = await postJson(
        this.endpoint('/api/v1/cfssl/info'),
        { label: '', profile: this.o.profile ?? '' },
        { ...(this.o.caBundle ? { ca: this.o.caBundle } : {}), timeoutMs: 10_000 },
      );
      return infoHealth(this.o, r.status, asCfsslResponse(r.body));
    } catch (e) {
      return {
        ready: false,
        reason: IssuerReason.CAUnreachable,
        message: `cfssl at ${this.o.url} cannot be reached: ${(e as Error).message}`,
      };
    }
  }

  async sign(req: SignRequest): Promise<SignResult> {
    const durationMs = Math.min(req.durationMs, this.o.maxDurationMs ?? Number.POSITIVE_INFINITY);
    const { path, payload } = signPayload(
      req.csrPem,
      this.o.profile ?? '',
      new Date(Date.now() + durationMs),
      this.key,
    );
    let r;
    try {
      r = await postJson(this.endpoint(path), payload, {
        ...(this.o.caBundle ? { ca: this.o.caBundle } : {}),
        timeoutMs: 30_000,
      });
    } catch (e) {
      // sign() messages get the backend name in front (cfssl: ...) from the caller
      return {
        status: 'failed',
        reason: IssuerReason.CAUnreachable,
        message: `server ${this.o.url} cannot be reached: ${e instanceof CaUnreachable ? e.message : String(e)}`,
        retryAfterMs: 10_000,
      };
    }
    const answer = signAnswer(this.o.url, r.status, asCfsslResponse(r.body));
    if ('status' in answer) return answer;
    const h = await this.health();
    return {
      status: 'issued',
      certificatePem: withNewline(answer.pem),
      chainPem: [],
      caPem: h.caBundlePem ?? '',
      authorityFingerprintSHA256: h.caFingerprintSHA256 ?? '',
    };
  }
}

const withNewline = (pem: string): string => (pem.endsWith('\n') ? pem : `${pem}\n`);

/** The parts of a CFSSL answer read here; anything else (a proxy's HTML page) reads as no answer. */
function asCfsslResponse(body: unknown): CfsslResponse | undefined {
  return typeof body === 'object' && body !== null ? body : undefined;
}

/** /info's answer as the binding's health: the CA certificate to trust, or why there is none. */
export function infoHealth(
  o: Pick<CfsslOptions, 'url' | 'profile'>,
  status: number,
  body: CfsslResponse | undefined,
): AuthorityHealth {
  const pem = body?.result?.certificate;
  if (status !== 200 || !body?.success || !pem)
    return {
      ready: false,
      reason: IssuerReason.CAUnavailable,
      message: `cfssl at ${o.url} answered HTTP ${status}: ${errorsOf(body)}`,
    };
  const der = pemBlocks(pem, ['CERTIFICATE'])[0];
  return {
    ready: true,
    reason: IssuerReason.Ready,
    message: `cfssl at ${o.url}${o.profile ? `, profile ${o.profile}` : ''}`,
    caBundlePem: withNewline(pem),
    ...(der ? { caFingerprintSHA256: fingerprintOf({ der }) } : {}),
  };
}

/** The sign request: HMAC-authenticated (authsign) when the profile has an auth key, plain sign otherwise. */
export function signPayload(
  csrPem: string,
  profile: string,
  notAfter: Date,
  key: Buffer | undefined,
): { path: string; payload: unknown } {
  const request = { certificate_request: csrPem, profile, not_after: isoSeconds(notAfter) };
  if (!key) return { path: '/api/v1/cfssl/sign', payload: request };
  const signRequest = Buffer.from(JSON.stringify(request));
  return {
    path: '/api/v1/cfssl/authsign',
    payload: {
      token: createHmac('sha256', key).update(signRequest).digest('base64'),
      request: signRequest.toString('base64'),
    },
  };
}

/** What /sign answered: the certificate, or a failure (5xx, retried) or refusal (anything else without one). */
export function signAnswer(
  url: string,
  status: number,
  body: CfsslResponse | undefined,
): { pem: string } | Extract<SignResult, { status: 'failed' | 'denied' }> {
  const pem = body?.result?.certificate;
  if (status >= 500)
    return {
      status: 'failed',
      reason: IssuerReason.CAError,
      message: `server ${url} answered HTTP ${status}: ${errorsOf(body)}`,
    };
  if (!body?.success || !pem)
    return {
      status: 'denied',
      reason: IssuerReason.CARefused,
      message: `the CA refused the request (HTTP ${status}): ${errorsOf(body)}`,
    };
  return { pem };
}
