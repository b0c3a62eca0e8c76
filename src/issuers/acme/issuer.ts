// acme backend: one ACME order per issuance attempt, advanced one step per call so a worker never
// waits for a CA: create the order, present each authorization's challenge (HTTP-01 from the
// operator's own listener, DNS-01 through RFC 2136), tell the CA to validate, finalize with the
// identity's CSR, download the chain. Between steps the identity shows Issuing with the order state.
import { parseCsr } from '../../pki/csr.ts';
import { fingerprintSHA256, parseCertificate, splitPem } from '../../pki/certs.ts';
import { pemBlocks } from '../../pki/pem.ts';
import { IssuerReason } from '../../crds/reasons.ts';
import { isoSeconds } from '../in-cluster-ca.ts';
import type { AuthorityHealth, Issuer, SignRequest, SignResult } from '../types.ts';
import type { AcmeClient } from './client.ts';
import { AcmeError, type Authorization, type Order } from './protocol.ts';
import { AcmeAccount, type AccountOptions } from './account.ts';
import { chooseSolver, type SolverSpec } from './solvers.ts';
import type { Rfc2136Target } from './rfc2136.ts';
import { failureOf, identifiersOf, invalidOrderMessage, progressMessage, refusal } from './decisions.ts';
import { http01Responder, type Http01Responder } from './http01.ts';
import type { IngressRouting } from './ingress.ts';
import { AttemptStore, newAttempt, stateOf, type Attempt } from './attempt.ts';
import { present, type ChallengeSetup } from './challenges.ts';

export interface AcmeOptions extends AccountOptions {
  solvers?: SolverSpec[];
  /** RFC 2136 targets, by solver index (TSIG secrets resolved from their Secrets). */
  dnsTargets?: Map<number, Rfc2136Target>;
  requestDuration?: boolean;
  profile?: string;
  maxDurationMs?: number;
  responder?: Http01Responder;
  /** Where http01.ingress routes challenges (the operator's Service); undefined when this process has no HTTP-01 listener. */
  ingress?: Omit<IngressRouting, 'kc'>;
}

const pending = (retryAfterMs: number, message: string, a?: Attempt): SignResult => ({
  status: 'pending',
  retryAfterMs,
  message,
  ...(a ? { state: stateOf(a) } : {}),
});

/** The DER of the first PEM block with this label (the request's CSR, a certificate to revoke). */
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
  private readonly account: AcmeAccount;
  private readonly attempts = new AttemptStore();
  /** While the CA rate-limits this account, nothing is sent before this time. */
  private blockedUntil = 0;

  constructor(o: AcmeOptions) {
    this.o = o;
    this.responder = o.responder ?? http01Responder;
    this.account = new AcmeAccount(o);
  }

  private get challengeSetup(): ChallengeSetup {
    const { solvers, dnsTargets, kc, ingress } = this.o;
    return {
      responder: this.responder,
      ...(solvers ? { solvers } : {}),
      ...(dnsTargets ? { dnsTargets } : {}),
      ...(kc ? { kc } : {}),
      ...(ingress ? { ingress } : {}),
    };
  }

  health(): Promise<AuthorityHealth> {
    return this.account.health();
  }

  async sign(req: SignRequest): Promise<SignResult> {
    const f = parseCsr(req.csrPem);
    const refused = refusal(f);
    if (refused) return { status: 'denied', reason: IssuerReason.UnsupportedByCA, message: refused };
    const now = Date.now();
    if (now < this.blockedUntil) {
      return {
        status: 'failed',
        reason: IssuerReason.RateLimited,
        message: `ACME server ${this.o.directoryURL} rate-limited this account; nothing is sent before ${isoSeconds(new Date(this.blockedUntil))}`,
        retryAfterMs: this.blockedUntil - now,
      };
    }
    await this.attempts.prune(now);
    const names = identifiersOf(f)
      .map((x) => `${x.type}:${x.value}`)
      .join(',');
    let attempt = this.attempts.findOrRestore(req.requestId, req.state, this.o.dnsTargets);
    if (attempt && attempt.names !== names) {
      // the spec changed while an order was open: that order names other identifiers, so start over
      await this.attempts.drop(req.requestId);
      attempt = undefined;
    }
    try {
      const c = await this.account.get();
      if (!attempt) {
        const seconds = Math.min(req.durationMs, this.o.maxDurationMs ?? Number.POSITIVE_INFINITY);
        const extra = {
          ...(this.o.requestDuration ? { notAfter: isoSeconds(new Date(now + seconds)) } : {}),
          ...(this.o.profile ? { profile: this.o.profile } : {}),
        };
        const created = await c.newOrder(identifiersOf(f), extra);
        attempt = newAttempt(created.url, now, names);
        this.attempts.set(req.requestId, attempt);
      }
      return await this.advance(c, req, attempt);
    } catch (e) {
      return this.failed(e, req.requestId);
    }
  }

  private async failed(e: unknown, requestId: string): Promise<SignResult> {
    const r = failureOf(e, this.o.directoryURL);
    if (r.status === 'failed' && r.reason === IssuerReason.RateLimited)
      this.blockedUntil = Date.now() + (r.retryAfterMs ?? 60_000);
    if (e instanceof AcmeError && (e.kind === 'accountDoesNotExist' || e.status === 404 || r.status === 'denied')) {
      // the server forgot the account or the order (a reset test CA, an expired order): start over next time
      if (e.kind === 'accountDoesNotExist') this.account.forget();
      await this.attempts.drop(requestId);
      if (r.status === 'failed' || e.kind === 'accountDoesNotExist' || e.status === 404) {
        return {
          status: 'failed',
          reason: IssuerReason.OrderLost,
          message: `${r.message}; a new order follows`,
          retryAfterMs: 2000,
        };
      }
    }
    return r;
  }

  private async advance(c: AcmeClient, req: SignRequest, a: Attempt): Promise<SignResult> {
    const { body: order, retryAfterMs } = await c.get<Order>(a.orderUrl, 'order');
    switch (order.status) {
      case 'pending':
        return this.solve(c, order, a, req.requestId, retryAfterMs);
      case 'ready': {
        const fin = await c.finalize(order, derOf(req.csrPem, 'CERTIFICATE REQUEST'));
        if (fin.body.status === 'valid') return this.download(c, fin.body, req.requestId);
        if (fin.body.status === 'invalid') return this.invalid(c, fin.body, req.requestId);
        return pending(
          fin.retryAfterMs ?? 1000,
          progressMessage(a.orderUrl, fin.body.status, ['finalized with the CSR, the CA is signing']),
          a,
        );
      }
      case 'processing':
        return pending(retryAfterMs ?? 1000, progressMessage(a.orderUrl, 'processing', ['the CA is signing']), a);
      case 'valid':
        return this.download(c, order, req.requestId);
      default:
        return this.invalid(c, order, req.requestId);
    }
  }

  /** Presents and triggers the challenge of each pending authorization (each step once per attempt). */
  private async solve(
    c: AcmeClient,
    order: Order,
    a: Attempt,
    requestId: string,
    retryAfterMs: number | undefined,
  ): Promise<SignResult> {
    const parts: string[] = [];
    const authzs: Authorization[] = [];
    for (const url of order.authorizations) {
      const authz = (await c.get<Authorization>(url, 'authorization')).body;
      authzs.push(authz);
      if (authz.status !== 'valid' && authz.status !== 'pending') return this.invalid(c, order, requestId, authzs);
      const step =
        authz.status === 'valid' ? `${nameOf(authz)} valid` : await this.challenge(c, url, authz, a, requestId);
      if (typeof step !== 'string') return step;
      parts.push(step);
    }
    return pending(Math.min(retryAfterMs ?? 1500, 30_000), progressMessage(a.orderUrl, 'pending', parts), a);
  }

  /** One pending authorization: its challenge presented and the CA told to validate it; its progress, or why it cannot be. */
  private async challenge(
    c: AcmeClient,
    url: string,
    authz: Authorization,
    a: Attempt,
    requestId: string,
  ): Promise<string | SignResult> {
    const name = nameOf(authz);
    const choice = chooseSolver(authz.identifier, authz.wildcard ?? false, this.o.solvers);
    if ('error' in choice) {
      await this.attempts.drop(requestId);
      return { status: 'denied', reason: IssuerReason.NoSolver, message: choice.error };
    }
    const ch = authz.challenges.find((x) => x.type === choice.type);
    if (!ch) {
      await this.attempts.drop(requestId);
      return {
        status: 'denied',
        reason: IssuerReason.ChallengeNotOffered,
        message: `the CA offers ${authz.challenges.map((x) => x.type).join(', ') || 'no challenge'} for ${name}; the matching solver uses ${choice.type}`,
      };
    }
    if (!a.presented.has(url))
      a.presented.set(url, await present(this.challengeSetup, c, ch, choice.type, authz, choice.index));
    if (ch.status === 'pending' && !a.responded.has(ch.url)) {
      await c.respond(ch.url);
      a.responded.add(ch.url);
    }
    return `${name} ${ch.type} ${ch.status === 'pending' && a.responded.has(ch.url) ? 'validating' : ch.status}`;
  }

  private async invalid(
    c: AcmeClient,
    order: Order,
    requestId: string,
    known: Authorization[] = [],
  ): Promise<SignResult> {
    const authzs = known.length
      ? known
      : await Promise.all(order.authorizations.map(async (u) => (await c.get<Authorization>(u, 'authorization')).body));
    await this.attempts.drop(requestId);
    const challengeFailed = authzs.some((x) => x.status === 'invalid');
    return {
      status: 'denied',
      reason: challengeFailed ? IssuerReason.ChallengeFailed : IssuerReason.OrderInvalid,
      message: `ACME server ${this.o.directoryURL}: ${invalidOrderMessage(order, authzs)}`,
    };
  }

  private async download(c: AcmeClient, order: Order, requestId: string): Promise<SignResult> {
    if (!order.certificate) return pending(1000, 'the order is valid but names no certificate yet');
    const pem = await c.certificate(order.certificate);
    const certs = splitPem(pem);
    if (!certs.length)
      return {
        status: 'failed',
        reason: IssuerReason.InvalidCertificate,
        message: `ACME server ${this.o.directoryURL} sent no certificate at ${order.certificate}`,
      };
    await this.attempts.drop(requestId);
    const [leaf, ...chain] = certs as [string, ...string[]];
    return {
      status: 'issued',
      certificatePem: leaf,
      chainPem: chain,
      caPem: this.o.rootCertificates ?? chain.at(-1) ?? '',
      authorityFingerprintSHA256: chain[0] ? fingerprintSHA256(chain[0]) : '',
    };
  }

  async revoke(certificatePem: string): Promise<void> {
    const c = await this.account.get();
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
