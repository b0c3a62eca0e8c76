// cfssl backend: CloudFlare CFSSL's authenticated signing API (`/api/v1/cfssl/authsign`): the request
// JSON with an HMAC-SHA256 token made with the profile's hex auth key, the binding's profile, the
// CSR's names, and notAfter from the requested duration. The CA certificate comes from /info.
import { createHmac } from 'node:crypto';
import { pemBlocks } from '../pki/pem.ts';
import { isoSeconds } from './in-cluster-ca.ts';
import { fingerprintOf } from '../pki/fingerprint.ts';
import { CaUnreachable, postJson } from './https-json.ts';
import type { AuthorityHealth, Issuer, SignRequest, SignResult } from './types.ts';

export interface CfsslOptions { url: string; profile?: string; authKeyHex?: string; caBundle?: string; maxDurationMs?: number }
interface CfsslResponse { success?: boolean; result?: { certificate?: string }; errors?: { code?: number; message?: string }[] }

const errorsOf = (r: CfsslResponse | undefined): string => (r?.errors ?? []).map((e) => `${e.message ?? ''}${e.code ? ` (code ${e.code})` : ''}`).join('; ') || 'no error text';

export class CfsslIssuer implements Issuer {
  readonly backend = 'cfssl';
  readonly inProcess = false;
  private readonly o: CfsslOptions;
  private readonly key: Buffer | undefined;

  constructor(o: CfsslOptions) {
    this.o = o;
    this.key = o.authKeyHex ? Buffer.from(o.authKeyHex.trim(), 'hex') : undefined;
  }

  private endpoint(path: string): string { return `${this.o.url.replace(/\/+$/, '')}${path}`; }

  async health(): Promise<AuthorityHealth> {
    try {
      const r = await postJson(this.endpoint('/api/v1/cfssl/info'), { label: '', profile: this.o.profile ?? '' }, { ...(this.o.caBundle ? { ca: this.o.caBundle } : {}), timeoutMs: 10_000 });
      const body = r.body as CfsslResponse | undefined;
      const pem = body?.result?.certificate;
      if (r.status !== 200 || !body?.success || !pem) return { ready: false, reason: 'CAUnavailable', message: `cfssl at ${this.o.url} answered HTTP ${r.status}: ${errorsOf(body)}` };
      const der = pemBlocks(pem, ['CERTIFICATE'])[0];
      return { ready: true, reason: 'Ready', message: `cfssl at ${this.o.url}${this.o.profile ? `, profile ${this.o.profile}` : ''}`, caBundlePem: pem.endsWith('\n') ? pem : `${pem}\n`,
        ...(der ? { caFingerprintSHA256: fingerprintOf({ der }) } : {}) };
    } catch (e) {
      return { ready: false, reason: 'CAUnreachable', message: `cfssl at ${this.o.url} cannot be reached: ${(e as Error).message}` };
    }
  }

  async sign(req: SignRequest): Promise<SignResult> {
    const durationMs = Math.min(req.durationMs, this.o.maxDurationMs ?? Number.POSITIVE_INFINITY);
    const signRequest = Buffer.from(JSON.stringify({ certificate_request: req.csrPem, profile: this.o.profile ?? '',
      not_after: isoSeconds(new Date(Date.now() + durationMs)) }));
    const path = this.key ? '/api/v1/cfssl/authsign' : '/api/v1/cfssl/sign';
    const payload = this.key
      ? { token: createHmac('sha256', this.key).update(signRequest).digest('base64'), request: signRequest.toString('base64') }
      : JSON.parse(signRequest.toString('utf8')) as unknown;
    let r;
    try {
      r = await postJson(this.endpoint(path), payload, { ...(this.o.caBundle ? { ca: this.o.caBundle } : {}), timeoutMs: 30_000 });
    } catch (e) {
      // sign() messages get the backend name in front (cfssl: ...) from the caller
      return { status: 'failed', reason: 'CAUnreachable', message: `server ${this.o.url} cannot be reached: ${e instanceof CaUnreachable ? e.message : String(e)}`, retryAfterMs: 10_000 };
    }
    const body = r.body as CfsslResponse | undefined;
    const pem = body?.result?.certificate;
    if (r.status >= 500) return { status: 'failed', reason: 'CAError', message: `server ${this.o.url} answered HTTP ${r.status}: ${errorsOf(body)}` };
    if (!body?.success || !pem) return { status: 'denied', reason: 'CARefused', message: `the CA refused the request (HTTP ${r.status}): ${errorsOf(body)}` };
    const h = await this.health();
    return { status: 'issued', certificatePem: pem.endsWith('\n') ? pem : `${pem}\n`, chainPem: [], caPem: h.caBundlePem ?? '', authorityFingerprintSHA256: h.caFingerprintSHA256 ?? '' };
  }
}
