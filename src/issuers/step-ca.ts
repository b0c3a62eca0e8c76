// stepCA backend: Smallstep step-ca through a JWK provisioner. The provisioner's private key comes
// from step-ca itself (/provisioners: the encryptedKey JWE), decrypted with the password from the
// binding's Secret; every request carries a one-time token (a JWT signed with that key) for
// /1.0/sign or /1.0/revoke. Errors carry step-ca's own message.
import { randomUUID } from 'node:crypto';
import { compactDecrypt, importJWK, SignJWT, type JWK } from 'jose';
import { parseCsr } from '../pki/csr.ts';
import { parseCertificate, splitPem } from '../pki/certs.ts';
import { pemBlocks } from '../pki/pem.ts';
import { fingerprintOf } from '../pki/fingerprint.ts';
import { CaUnreachable, postJson, type JsonResponse } from './https-json.ts';
import type { AuthorityHealth, Issuer, SignRequest, SignResult } from './types.ts';

export interface StepCaOptions { url: string; provisioner: string; password: string; caBundle?: string; maxDurationMs?: number }
interface Provisioner { type: string; name: string; key?: JWK & { kid?: string }; encryptedKey?: string }
type SigningKey = Awaited<ReturnType<typeof importJWK>>;

const messageOf = (r: JsonResponse): string => {
  const b = r.body as { message?: string } | string | undefined;
  return (typeof b === 'object' && b?.message) ? b.message : typeof b === 'string' ? b.slice(0, 300) : `HTTP ${r.status}`;
};

export class StepCaIssuer implements Issuer {
  readonly backend = 'stepCA';
  readonly inProcess = false;
  private readonly o: StepCaOptions;
  private key: Promise<{ key: SigningKey; kid: string; alg: string }> | undefined;

  constructor(o: StepCaOptions) { this.o = o; }

  private url(path: string): string { return `${this.o.url.replace(/\/+$/, '')}${path}`; }
  private call(path: string, body?: unknown, method: 'GET' | 'POST' = 'POST'): Promise<JsonResponse> {
    return postJson(this.url(path), body, { method, ...(this.o.caBundle ? { ca: this.o.caBundle } : {}), timeoutMs: 15_000 });
  }

  /** The provisioner's signing key, fetched and decrypted once (again after a failure). */
  private provisionerKey(): Promise<{ key: SigningKey; kid: string; alg: string }> {
    this.key ??= (async () => {
      let cursor = '';
      for (let page = 0; page < 20; page++) {
        const r = await this.call(`/provisioners?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, undefined, 'GET');
        if (r.status !== 200) throw new Error(`listing provisioners: ${messageOf(r)}`);
        const body = r.body as { provisioners?: Provisioner[]; nextCursor?: string };
        const p = body.provisioners?.find((x) => x.type === 'JWK' && x.name === this.o.provisioner);
        if (p) {
          if (!p.encryptedKey || !p.key) throw new Error(`provisioner ${this.o.provisioner} publishes no encryptedKey`);
          let plain: Uint8Array;
          try {
            // step-ca encrypts provisioner keys with a password (PBES2), which jose only accepts when asked to
            plain = (await compactDecrypt(p.encryptedKey, new TextEncoder().encode(this.o.password),
              { keyManagementAlgorithms: ['PBES2-HS256+A128KW', 'PBES2-HS384+A192KW', 'PBES2-HS512+A256KW'], maxPBES2Count: 1_000_000 })).plaintext;
          } catch {
            throw new Error(`cannot decrypt the key of provisioner ${this.o.provisioner}: wrong password in provisioner.passwordSecretRef`);
          }
          const jwk = JSON.parse(new TextDecoder().decode(plain)) as JWK & { kid?: string; alg?: string };
          const alg = jwk.alg ?? p.key.alg ?? 'ES256';
          return { key: await importJWK(jwk, alg), kid: jwk.kid ?? p.key.kid ?? '', alg };
        }
        if (!body.nextCursor) break;
        cursor = body.nextCursor;
      }
      throw new Error(`step-ca has no JWK provisioner named ${this.o.provisioner}`);
    })();
    this.key.catch(() => { this.key = undefined; });
    return this.key;
  }

  private async token(audience: string, subject: string, claims: Record<string, unknown> = {}): Promise<string> {
    const k = await this.provisionerKey();
    return new SignJWT(claims).setProtectedHeader({ alg: k.alg, kid: k.kid, typ: 'JWT' }).setIssuer(this.o.provisioner).setAudience(this.url(audience))
      .setSubject(subject).setIssuedAt().setNotBefore('-1m').setExpirationTime('5m').setJti(randomUUID()).sign(k.key);
  }

  async health(): Promise<AuthorityHealth> {
    try {
      const h = await this.call('/health', undefined, 'GET');
      if (h.status !== 200) return { ready: false, reason: 'CAUnavailable', message: `step-ca at ${this.o.url}: ${messageOf(h)}` };
      await this.provisionerKey();
      const roots = await this.call('/roots', undefined, 'GET');
      const crts = (roots.body as { crts?: string[] } | undefined)?.crts ?? [];
      const der = crts[0] ? pemBlocks(crts[0], ['CERTIFICATE'])[0] : undefined;
      return { ready: true, reason: 'Ready', message: `step-ca at ${this.o.url}, JWK provisioner ${this.o.provisioner}`, caBundlePem: crts.join(''),
        ...(der ? { caFingerprintSHA256: fingerprintOf({ der }) } : {}) };
    } catch (e) {
      return { ready: false, reason: e instanceof CaUnreachable ? 'CAUnreachable' : 'ProvisionerUnusable', message: `step-ca at ${this.o.url}: ${(e as Error).message}` };
    }
  }

  async sign(req: SignRequest): Promise<SignResult> {
    const f = parseCsr(req.csrPem);
    const sans = [...f.dnsNames, ...f.ipAddresses, ...f.emailAddresses, ...f.uris];
    const subject = f.subject.commonName ?? sans[0] ?? req.identity.name;
    const seconds = Math.round(Math.min(req.durationMs, this.o.maxDurationMs ?? Number.POSITIVE_INFINITY) / 1000);
    let r: JsonResponse;
    try {
      const ott = await this.token('/1.0/sign', subject, { sans: sans.length ? sans : [subject] });
      r = await this.call('/1.0/sign', { csr: req.csrPem, ott, notAfter: `${seconds}s` });
    } catch (e) {
      return { status: 'failed', reason: e instanceof CaUnreachable ? 'CAUnreachable' : 'ProvisionerUnusable', message: `server ${this.o.url}: ${(e as Error).message}`, retryAfterMs: 10_000 };
    }
    if (r.status >= 500) return { status: 'failed', reason: 'CAError', message: `server ${this.o.url} answered HTTP ${r.status}: ${messageOf(r)}` };
    const body = r.body as { crt?: string; ca?: string; certChain?: string[] } | undefined;
    if (r.status >= 300 || !body?.crt) return { status: 'denied', reason: 'CARefused', message: `the CA refused the request (HTTP ${r.status}): ${messageOf(r)}` };
    const chain = body.certChain?.length ? body.certChain.slice(1) : body.ca ? [body.ca] : [];
    const h = await this.health();
    return { status: 'issued', certificatePem: body.crt.endsWith('\n') ? body.crt : `${body.crt}\n`, chainPem: chain.map((c) => (c.endsWith('\n') ? c : `${c}\n`)),
      caPem: h.caBundlePem ?? '', authorityFingerprintSHA256: h.caFingerprintSHA256 ?? '' };
  }

  /** Revokes by serial (passive revocation: step-ca records it, and refuses renewals of it). */
  async revoke(certificatePem: string, reason = 'the MachineIdentity was deleted'): Promise<void> {
    const leaf = parseCertificate(splitPem(certificatePem)[0] ?? '');
    const serial = BigInt(`0x${leaf.serialNumber}`).toString(10);
    const ott = await this.token('/1.0/revoke', serial);
    const r = await this.call('/1.0/revoke', { serial, ott, reasonCode: 0, reason, passive: true });
    if (r.status >= 300) throw new Error(`step-ca refused to revoke serial ${serial}: ${messageOf(r)}`);
  }
}
