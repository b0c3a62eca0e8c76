// stepCA backend: Smallstep step-ca through a JWK provisioner. The provisioner's private key comes
// from step-ca itself (/provisioners: the encryptedKey JWE), decrypted with the password from the
// binding's Secret; every request carries a one-time token (a JWT signed with that key) for
// /1.0/sign or /1.0/revoke. Errors carry step-ca's own message.
import { randomUUID } from 'node:crypto';
import { compactDecrypt, importJWK, SignJWT, type JWK } from 'jose';
import { z } from 'zod';
import { parseCsr } from '../pki/csr.ts';
import { parseCertificate, splitPem } from '../pki/certs.ts';
import { pemBlocks } from '../pki/pem.ts';
import { fingerprintOf } from '../pki/fingerprint.ts';
import { CaUnreachable, postJson, type JsonResponse } from './https-json.ts';
import { IssuerReason } from '../crds/reasons.ts';
import type { AuthorityHealth, Issuer, SignRequest, SignResult } from './types.ts';

export interface StepCaOptions {
  url: string;
  provisioner: string;
  password: string;
  caBundle?: string;
  maxDurationMs?: number;
}
type SigningKey = Awaited<ReturnType<typeof importJWK>>;
type ProvisionerKey = { key: SigningKey; kid: string; alg: string };

// step-ca's answers, as far as they are read here (anything else in them is ignored)
const PublicJwk = z.looseObject({ kid: z.string().optional(), alg: z.string().optional() });
const Provisioner = z.looseObject({
  type: z.string(),
  name: z.string(),
  key: PublicJwk.optional(),
  encryptedKey: z.string().optional(),
});
type Provisioner = z.infer<typeof Provisioner>;
const ProvisionersPage = z.looseObject({
  provisioners: z.array(z.unknown()).optional(),
  nextCursor: z.string().optional(),
});
const Roots = z.looseObject({ crts: z.array(z.string()).optional() });
const SignAnswer = z.looseObject({
  crt: z.string().optional(),
  ca: z.string().optional(),
  certChain: z.array(z.string()).optional(),
});

/** step-ca's error text: its JSON message, else the start of the body, else the status. */
export function messageOf(r: JsonResponse): string {
  const b = r.body;
  if (typeof b === 'object' && b !== null && 'message' in b && typeof b.message === 'string' && b.message)
    return b.message;
  return typeof b === 'string' ? b.slice(0, 300) : `HTTP ${r.status}`;
}

/** The JWK provisioner of that name on a page of /provisioners (entries of other shapes are skipped). */
export function findJwkProvisioner(body: unknown, name: string): { found?: Provisioner; nextCursor?: string } {
  const page = ProvisionersPage.safeParse(body);
  if (!page.success) return {};
  const found = (page.data.provisioners ?? [])
    .map((p) => Provisioner.safeParse(p))
    .find((p) => p.success && p.data.type === 'JWK' && p.data.name === name);
  return {
    ...(found?.data ? { found: found.data } : {}),
    ...(page.data.nextCursor ? { nextCursor: page.data.nextCursor } : {}),
  };
}

/** The provisioner's private key: its encryptedKey (a password-encrypted JWE), decrypted and imported. */
async function decryptProvisionerKey(p: Provisioner, password: string): Promise<ProvisionerKey> {
  if (!p.encryptedKey || !p.key) throw new Error(`provisioner ${p.name} publishes no encryptedKey`);
  let plain: Uint8Array;
  try {
    // step-ca encrypts provisioner keys with a password (PBES2), which jose only accepts when asked to
    plain = (
      await compactDecrypt(p.encryptedKey, new TextEncoder().encode(password), {
        keyManagementAlgorithms: ['PBES2-HS256+A128KW', 'PBES2-HS384+A192KW', 'PBES2-HS512+A256KW'],
        maxPBES2Count: 1_000_000,
      })
    ).plaintext;
  } catch {
    throw new Error(`cannot decrypt the key of provisioner ${p.name}: wrong password in provisioner.passwordSecretRef`);
  }
  const jwk: JWK = JSON.parse(new TextDecoder().decode(plain)) as JWK;
  const alg = jwk.alg ?? p.key.alg ?? 'ES256';
  return { key: await importJWK(jwk, alg), kid: jwk.kid ?? p.key.kid ?? '', alg };
}

/** What /1.0/sign answered: the certificate and its chain, or a failure (5xx, retried) or refusal. */
export function signAnswer(
  url: string,
  r: JsonResponse,
): { crt: string; chain: string[] } | Extract<SignResult, { status: 'failed' | 'denied' }> {
  if (r.status >= 500)
    return {
      status: 'failed',
      reason: IssuerReason.CAError,
      message: `server ${url} answered HTTP ${r.status}: ${messageOf(r)}`,
    };
  const parsed = SignAnswer.safeParse(r.body);
  const body = parsed.success ? parsed.data : undefined;
  if (r.status >= 300 || !body?.crt)
    return {
      status: 'denied',
      reason: IssuerReason.CARefused,
      message: `the CA refused the request (HTTP ${r.status}): ${messageOf(r)}`,
    };
  const chain = body.certChain?.length ? body.certChain.slice(1) : body.ca ? [body.ca] : [];
  return { crt: withNewline(body.crt), chain: chain.map(withNewline) };
}

const withNewline = (pem: string): string => (pem.endsWith('\n') ? pem : `${pem}\n`);

export class StepCaIssuer implements Issuer {
  readonly backend = 'stepCA';
  readonly inProcess = false;
  private readonly o: StepCaOptions;
  private key: Promise<ProvisionerKey> | undefined;

  constructor(o: StepCaOptions) {
    this.o = o;
  }

  private url(path: string): string {
    return `${this.o.url.replace(/\/+$/, '')}${path}`;
  }
  private call(path: string, body?: unknown, method: 'GET' | 'POST' = 'POST'): Promise<JsonResponse> {
    return postJson(this.url(path), body, {
      method,
      ...(this.o.caBundle ? { ca: this.o.caBundle } : {}),
      timeoutMs: 15_000,
    });
  }

  /** The provisioner's signing key, fetched and decrypted once (again after a failure). */
  private provisionerKey(): Promise<ProvisionerKey> {
    this.key ??= this.findProvisioner().then((p) => decryptProvisionerKey(p, this.o.password));
    this.key.catch(() => {
      this.key = undefined;
    });
    return this.key;
  }

  private async findProvisioner(): Promise<Provisioner> {
    let cursor = '';
    for (let page = 0; page < 20; page++) {
      const r = await this.call(
        `/provisioners?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
        undefined,
        'GET',
      );
      if (r.status !== 200) throw new Error(`listing provisioners: ${messageOf(r)}`);
      const { found, nextCursor } = findJwkProvisioner(r.body, this.o.provisioner);
      if (found) return found;
      if (!nextCursor) break;
      cursor = nextCursor;
    }
    throw new Error(`step-ca has no JWK provisioner named ${this.o.provisioner}`);
  }

  private async token(audience: string, subject: string, claims: Record<string, unknown> = {}): Promise<string> {
    const k = await this.provisionerKey();
    return new SignJWT(claims)
      .setProtectedHeader({ alg: k.alg, kid: k.kid, typ: 'JWT' })
      .setIssuer(this.o.provisioner)
      .setAudience(this.url(audience))
      .setSubject(subject)
      .setIssuedAt()
      .setNotBefore('-1m')
      .setExpirationTime('5m')
      .setJti(randomUUID())
      .sign(k.key);
  }

  async health(): Promise<AuthorityHealth> {
    try {
      const h = await this.call('/health', undefined, 'GET');
      if (h.status !== 200)
        return {
          ready: false,
          reason: IssuerReason.CAUnavailable,
          message: `step-ca at ${this.o.url}: ${messageOf(h)}`,
        };
      await this.provisionerKey();
      const roots = await this.call('/roots', undefined, 'GET');
      const parsed = Roots.safeParse(roots.body);
      const crts = (parsed.success ? parsed.data.crts : undefined) ?? [];
      const der = crts[0] ? pemBlocks(crts[0], ['CERTIFICATE'])[0] : undefined;
      return {
        ready: true,
        reason: IssuerReason.Ready,
        message: `step-ca at ${this.o.url}, JWK provisioner ${this.o.provisioner}`,
        caBundlePem: crts.join(''),
        ...(der ? { caFingerprintSHA256: fingerprintOf({ der }) } : {}),
      };
    } catch (e) {
      return {
        ready: false,
        reason: unreachableOr(e, IssuerReason.ProvisionerUnusable),
        message: `step-ca at ${this.o.url}: ${(e as Error).message}`,
      };
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
      return {
        status: 'failed',
        reason: unreachableOr(e, IssuerReason.ProvisionerUnusable),
        message: `server ${this.o.url}: ${(e as Error).message}`,
        retryAfterMs: 10_000,
      };
    }
    const answer = signAnswer(this.o.url, r);
    if ('status' in answer) return answer;
    const h = await this.health();
    return {
      status: 'issued',
      certificatePem: answer.crt,
      chainPem: answer.chain,
      caPem: h.caBundlePem ?? '',
      authorityFingerprintSHA256: h.caFingerprintSHA256 ?? '',
    };
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

const unreachableOr = (e: unknown, otherwise: IssuerReason): IssuerReason =>
  e instanceof CaUnreachable ? IssuerReason.CAUnreachable : otherwise;
