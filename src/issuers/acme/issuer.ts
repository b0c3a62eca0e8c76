// acme backend: one ACME order per issuance attempt, advanced one step per call so a worker never
// waits for a CA: create the order, present each authorization's challenge (HTTP-01 from the
// operator's own listener, DNS-01 through RFC 2136), tell the CA to validate, finalize with the
// identity's CSR, download the chain. Between steps the identity shows Issuing with the order state.
import type { KeyObject } from 'node:crypto';
import type * as k8s from '@kubernetes/client-node';
import { parseCsr } from '../../pki/csr.ts';
import { fingerprintSHA256, parseCertificate, splitPem } from '../../pki/certs.ts';
import { pemBlocks } from '../../pki/pem.ts';
import { IssuerReason } from '../../crds/reasons.ts';
import { isoSeconds } from '../in-cluster-ca.ts';
import { CaUnreachable } from '../https-json.ts';
import type { AuthorityHealth, Issuer, SignRequest, SignResult } from '../types.ts';
import { AcmeClient } from './client.ts';
import { AcmeError, type Authorization, type Order } from './protocol.ts';
import { loadOrCreateAccountKey, parseAccountKey, AccountKeyError } from './account-key.ts';
import { chooseSolver, type SolverSpec } from './solvers.ts';
import type { Rfc2136Target } from './rfc2136.ts';
import { failureOf, identifiersOf, invalidOrderMessage, progressMessage, refusal } from './decisions.ts';
import { http01Responder, type Http01Responder } from './http01.ts';
import type { IngressRouting } from './ingress.ts';
import { ATTEMPT_TTL_MS, newAttempt, parseSavedAttempt, restoreAttempt, stateOf, type Attempt } from './attempt.ts';
import { present, type ChallengeSetup } from './challenges.ts';

export interface AcmeOptions {
  directoryURL: string;
  email?: string;
  caBundle?: string;
  /** The account key PEM when its Secret exists already; otherwise the Secret is created (needs kc). */
  accountKeyPem?: string;
  accountKeySecret: string;
  kc?: k8s.KubeConfig;
  operatorNamespace: string;
  eab?: { keyID: string; hmacKey: Buffer };
  solvers?: SolverSpec[];
  /** RFC 2136 targets, by solver index (TSIG secrets resolved from their Secrets). */
  dnsTargets?: Map<number, Rfc2136Target>;
  requestDuration?: boolean;
  profile?: string;
  /** Roots the CA's chains lead to: ca.crt and the trust bundle. */
  rootCertificates?: string;
  maxDurationMs?: number;
  responder?: Http01Responder;
  /** Where http01.ingress routes challenges (the operator's Service); undefined when this process has no HTTP-01 listener. */
  ingress?: Omit<IngressRouting, 'kc'>;
}

const pending = (retryAfterMs: number, message: string, a?: Attempt): SignResult => ({ status: 'pending', retryAfterMs, message, ...(a ? { state: stateOf(a) } : {}) });

/** The DER of the first PEM block with one of these labels (the request's CSR, a certificate to revoke). */
function derOf(pem: string, label: string): Buffer {
  const der = pemBlocks(pem, [label])[0];
  if (!der) throw new Error(`no ${label} PEM block`);
  return der;
}

export class AcmeIssuer implements Issuer {
  readonly backend = 'acme';
  readonly inProcess = false;
  private readonly o: AcmeOptions;
  private readonly responder: Http01Responder;
  private client: Promise<AcmeClient> | undefined;
  private readonly attempts = new Map<string, Attempt>();
  /** While the CA rate-limits this account, nothing is sent before this time. */
  private blockedUntil = 0;

  constructor(o: AcmeOptions) { this.o = o; this.responder = o.responder ?? http01Responder; }

  private get challengeSetup(): ChallengeSetup {
    const { solvers, dnsTargets, kc, ingress } = this.o;
    return { responder: this.responder, ...(solvers ? { solvers } : {}), ...(dnsTargets ? { dnsTargets } : {}), ...(kc ? { kc } : {}), ...(ingress ? { ingress } : {}) };
  }

  private getClient(): Promise<AcmeClient> {
    this.client ??= (async () => {
      const where = `Secret ${this.o.operatorNamespace}/${this.o.accountKeySecret}`;
      let key: KeyObject;
      if (this.o.accountKeyPem) key = parseAccountKey(this.o.accountKeyPem, where);
      else if (this.o.kc) key = await loadOrCreateAccountKey(this.o.kc, this.o.operatorNamespace, this.o.accountKeySecret, this.o.directoryURL);
      else throw new AccountKeyError(`${where} does not exist`);
      return new AcmeClient({ directoryURL: this.o.directoryURL, accountKey: key, ...(this.o.caBundle ? { ca: this.o.caBundle } : {}),
        ...(this.o.email ? { email: this.o.email } : {}), ...(this.o.eab ? { eab: this.o.eab } : {}) });
    })();
    this.client.catch(() => { this.client = undefined; });
    return this.client;
  }

  async health(): Promise<AuthorityHealth> {
    const server = this.o.directoryURL;
    try {
      const c = await this.getClient();
      await c.directory();
      const kid = await c.account();
      return { ready: true, reason: IssuerReason.Ready, message: `ACME server ${server}, account ${kid}`, ...(this.o.rootCertificates ? { caBundlePem: this.o.rootCertificates } : {}) };
    } catch (e) {
      if (e instanceof AccountKeyError) return { ready: false, reason: IssuerReason.AccountKeyInvalid, message: e.message };
      if (e instanceof CaUnreachable) return { ready: false, reason: IssuerReason.CAUnreachable, message: `ACME server ${server} cannot be reached: ${e.message}` };
      if (e instanceof AcmeError) return { ready: false, reason: IssuerReason.AccountRegistrationFailed, message: `ACME server ${server} refused the account: ${e.message}` };
      return { ready: false, reason: IssuerReason.CAError, message: `ACME server ${server}: ${(e as Error).message}` };
    }
  }

  async sign(req: SignRequest): Promise<SignResult> {
    const f = parseCsr(req.csrPem);
    const refused = refusal(f);
    if (refused) return { status: 'denied', reason: IssuerReason.UnsupportedByCA, message: refused };
    const now = Date.now();
    if (now < this.blockedUntil) {
      return { status: 'failed', reason: IssuerReason.RateLimited, message: `ACME server ${this.o.directoryURL} rate-limited this account; nothing is sent before ${isoSeconds(new Date(this.blockedUntil))}`, retryAfterMs: this.blockedUntil - now };
    }
    await this.prune(now);
    const names = identifiersOf(f).map((x) => `${x.type}:${x.value}`).join(',');
    let attempt = this.attempts.get(req.requestId) ?? this.restore(req);
    if (attempt && attempt.names !== names) {
      // the spec changed while an order was open: that order names other identifiers, so start over
      await this.drop(req.requestId);
      attempt = undefined;
    }
    try {
      const c = await this.getClient();
      if (!attempt) {
        const seconds = Math.min(req.durationMs, this.o.maxDurationMs ?? Number.POSITIVE_INFINITY);
        const extra = { ...(this.o.requestDuration ? { notAfter: isoSeconds(new Date(now + seconds)) } : {}), ...(this.o.profile ? { profile: this.o.profile } : {}) };
        const created = await c.newOrder(identifiersOf(f), extra);
        attempt = newAttempt(created.url, now, names);
        this.attempts.set(req.requestId, attempt);
      }
      return await this.advance(c, req, attempt);
    } catch (e) {
      return this.failed(e, req.requestId);
    }
  }

  /** An attempt from the state a previous process saved (its order, and the DNS records to delete later). */
  private restore(req: SignRequest): Attempt | undefined {
    const saved = parseSavedAttempt(req.state);
    if (!saved) return undefined;
    const a = restoreAttempt(saved, Date.now(), this.o.dnsTargets);
    this.attempts.set(req.requestId, a);
    return a;
  }

  private async failed(e: unknown, requestId: string): Promise<SignResult> {
    const r = failureOf(e, this.o.directoryURL);
    if (r.status === 'failed' && r.reason === IssuerReason.RateLimited) this.blockedUntil = Date.now() + (r.retryAfterMs ?? 60_000);
    if (e instanceof AcmeError && (e.kind === 'accountDoesNotExist' || e.status === 404 || r.status === 'denied')) {
      // the server forgot the account or the order (a reset test CA, an expired order): start over next time
      if (e.kind === 'accountDoesNotExist') this.client = undefined;
      await this.drop(requestId);
      if (r.status === 'failed' || e.kind === 'accountDoesNotExist' || e.status === 404) {
        return { status: 'failed', reason: IssuerReason.OrderLost, message: `${r.message}; a new order follows`, retryAfterMs: 2000 };
      }
    }
    return r;
  }

  private async advance(c: AcmeClient, req: SignRequest, a: Attempt): Promise<SignResult> {
    const { body: order, retryAfterMs } = await c.get<Order>(a.orderUrl, 'order');
    switch (order.status) {
      case 'pending': return this.solve(c, order, a, req.requestId, retryAfterMs);
      case 'ready': {
        const fin = await c.finalize(order, derOf(req.csrPem, 'CERTIFICATE REQUEST'));
        if (fin.body.status === 'valid') return this.download(c, fin.body, req.requestId);
        if (fin.body.status === 'invalid') return this.invalid(c, fin.body, req.requestId);
        return pending(fin.retryAfterMs ?? 1000, progressMessage(a.orderUrl, fin.body.status, ['finalized with the CSR, the CA is signing']), a);
      }
      case 'processing': return pending(retryAfterMs ?? 1000, progressMessage(a.orderUrl, 'processing', ['the CA is signing']), a);
      case 'valid': return this.download(c, order, req.requestId);
      default: return this.invalid(c, order, req.requestId);
    }
  }

  /** Presents and triggers the challenge of each pending authorization (each step once per attempt). */
  private async solve(c: AcmeClient, order: Order, a: Attempt, requestId: string, retryAfterMs: number | undefined): Promise<SignResult> {
    const parts: string[] = [];
    const authzs: Authorization[] = [];
    for (const url of order.authorizations) {
      const authz = (await c.get<Authorization>(url, 'authorization')).body;
      authzs.push(authz);
      if (authz.status !== 'valid' && authz.status !== 'pending') return this.invalid(c, order, requestId, authzs);
      const step = authz.status === 'valid' ? `${nameOf(authz)} valid` : await this.challenge(c, url, authz, a, requestId);
      if (typeof step !== 'string') return step;
      parts.push(step);
    }
    return pending(Math.min(retryAfterMs ?? 1500, 30_000), progressMessage(a.orderUrl, 'pending', parts), a);
  }

  /** One pending authorization: its challenge presented and the CA told to validate it; its progress, or why it cannot be. */
  private async challenge(c: AcmeClient, url: string, authz: Authorization, a: Attempt, requestId: string): Promise<string | SignResult> {
    const name = nameOf(authz);
    const choice = chooseSolver(authz.identifier, authz.wildcard ?? false, this.o.solvers);
    if ('error' in choice) { await this.drop(requestId); return { status: 'denied', reason: IssuerReason.NoSolver, message: choice.error }; }
    const ch = authz.challenges.find((x) => x.type === choice.type);
    if (!ch) {
      await this.drop(requestId);
      return { status: 'denied', reason: IssuerReason.ChallengeNotOffered, message: `the CA offers ${authz.challenges.map((x) => x.type).join(', ') || 'no challenge'} for ${name}; the matching solver uses ${choice.type}` };
    }
    if (!a.presented.has(url)) a.presented.set(url, await present(this.challengeSetup, c, ch, choice.type, authz, choice.index));
    if (ch.status === 'pending' && !a.responded.has(ch.url)) { await c.respond(ch.url); a.responded.add(ch.url); }
    return `${name} ${ch.type} ${ch.status === 'pending' && a.responded.has(ch.url) ? 'validating' : ch.status}`;
  }

  private async invalid(c: AcmeClient, order: Order, requestId: string, known: Authorization[] = []): Promise<SignResult> {
    const authzs = known.length ? known : await Promise.all(order.authorizations.map(async (u) => (await c.get<Authorization>(u, 'authorization')).body));
    await this.drop(requestId);
    const challengeFailed = authzs.some((x) => x.status === 'invalid');
    return { status: 'denied', reason: challengeFailed ? IssuerReason.ChallengeFailed : IssuerReason.OrderInvalid, message: `ACME server ${this.o.directoryURL}: ${invalidOrderMessage(order, authzs)}` };
  }

  private async download(c: AcmeClient, order: Order, requestId: string): Promise<SignResult> {
    if (!order.certificate) return pending(1000, 'the order is valid but names no certificate yet');
    const pem = await c.certificate(order.certificate);
    const certs = splitPem(pem);
    if (!certs.length) return { status: 'failed', reason: IssuerReason.InvalidCertificate, message: `ACME server ${this.o.directoryURL} sent no certificate at ${order.certificate}` };
    await this.drop(requestId);
    const [leaf, ...chain] = certs as [string, ...string[]];
    return { status: 'issued', certificatePem: leaf, chainPem: chain, caPem: this.o.rootCertificates ?? chain.at(-1) ?? '',
      authorityFingerprintSHA256: chain[0] ? fingerprintSHA256(chain[0]) : '' };
  }

  /** Forgets an attempt and takes its challenge answers down (DNS records too; a failed delete is not fatal). */
  private async drop(requestId: string): Promise<void> {
    const a = this.attempts.get(requestId);
    this.attempts.delete(requestId);
    if (a) for (const p of a.presented.values()) await p.cleanup().catch(() => undefined);
  }

  private async prune(now: number): Promise<void> {
    for (const [id, a] of this.attempts) if (now - a.created > ATTEMPT_TTL_MS) await this.drop(id);
  }

  async revoke(certificatePem: string): Promise<void> {
    const c = await this.getClient();
    const leaf = splitPem(certificatePem)[0];
    if (!leaf) throw new Error('no certificate to revoke');
    parseCertificate(leaf);
    try {
      await c.revoke(derOf(leaf, 'CERTIFICATE'), 5);
    } catch (e) {
      // already revoked is what we wanted
      if (e instanceof AcmeError && e.kind === 'alreadyRevoked') return;
      throw e;
    }
  }
}

const nameOf = (authz: Authorization): string => `${authz.wildcard ? '*.' : ''}${authz.identifier.value}`;
