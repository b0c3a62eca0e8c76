// Pure decisions of the ACME backend, table-tested: what an ACME CA can certify, which identifiers an
// order names, and what a CA's answer means for the identity (denied for good, or retried later).
import type { CsrFacts } from '../../pki/csr.ts';
import { AcmeError, describeProblem, type Authorization, type Identifier, type Order } from './protocol.ts';
import { CaUnreachable } from '../https-json.ts';
import { DnsUpdateError } from './rfc2136.ts';
import { RoutingError } from './ingress.ts';
import { IssuerReason } from '../../crds/reasons.ts';
import type { SignResult } from '../types.ts';

type Failure = Extract<SignResult, { status: 'failed' | 'denied' }>;

/** Why an ACME CA cannot issue this request (RFC 8555 certifies DNS names and, with RFC 8738, IP addresses only). */
export function refusal(
  f: Pick<CsrFacts, 'dnsNames' | 'ipAddresses' | 'uris' | 'emailAddresses' | 'isCA' | 'subject'>,
): string | undefined {
  if (f.isCA) return 'ACME CAs issue end-entity certificates only: isCA needs another backend (ca, stepCA, cfssl)';
  if (f.uris.length || f.emailAddresses.length)
    return 'ACME certificates carry DNS names and IP addresses only: uris and emailAddresses need another backend';
  if (!f.dnsNames.length && !f.ipAddresses.length)
    return 'an ACME certificate needs at least one of dnsNames or ipAddresses';
  const cn = f.subject.commonName;
  if (cn && ![...f.dnsNames, ...f.ipAddresses].some((n) => n.toLowerCase() === cn.toLowerCase())) {
    return `ACME CAs only put a validated name in the common name: set subject.commonName to one of dnsNames/ipAddresses, or leave it unset (it is ${JSON.stringify(cn)})`;
  }
  return undefined;
}

export function identifiersOf(f: Pick<CsrFacts, 'dnsNames' | 'ipAddresses'>): Identifier[] {
  const seen = new Set<string>();
  const out: Identifier[] = [];
  for (const d of f.dnsNames) {
    const v = d.toLowerCase();
    if (!seen.has(`d${v}`)) {
      seen.add(`d${v}`);
      out.push({ type: 'dns', value: v });
    }
  }
  for (const ip of f.ipAddresses)
    if (!seen.has(`i${ip}`)) {
      seen.add(`i${ip}`);
      out.push({ type: 'ip', value: ip });
    }
  return out;
}

/** Problems that no retry of the same request fixes. */
const PERMANENT = new Set([
  'rejectedIdentifier',
  'unsupportedIdentifier',
  'badCSR',
  'caa',
  'unauthorized',
  'invalidProfile',
  'badSignatureAlgorithm',
  'badPublicKey',
  'externalAccountRequired',
  'invalidContact',
  'unsupportedContact',
  'userActionRequired',
  'malformed',
]);

/** What an error from talking to the CA means: denied (the CA refused for good) or failed (retry, honouring Retry-After). */
export function failureOf(e: unknown, server: string): Failure {
  if (e instanceof AcmeError) {
    if (e.status === 429 || e.kind === 'rateLimited') {
      return {
        status: 'failed',
        reason: IssuerReason.RateLimited,
        message: `ACME server ${server} rate-limited the request: ${e.message}`,
        retryAfterMs: e.retryAfterMs ?? 60_000,
      };
    }
    if (PERMANENT.has(e.kind))
      return {
        status: 'denied',
        reason: IssuerReason.CARefused,
        message: `ACME server ${server} refused: ${e.message}`,
      };
    return {
      status: 'failed',
      reason: IssuerReason.CAError,
      message: `ACME server ${server}: ${e.message}`,
      ...(e.retryAfterMs !== undefined ? { retryAfterMs: e.retryAfterMs } : { retryAfterMs: 10_000 }),
    };
  }
  if (e instanceof CaUnreachable)
    return {
      status: 'failed',
      reason: IssuerReason.CAUnreachable,
      message: `ACME server ${server} cannot be reached: ${e.message}`,
      retryAfterMs: 10_000,
    };
  if (e instanceof DnsUpdateError)
    return {
      status: 'failed',
      reason: IssuerReason.DNSUpdateFailed,
      message: `DNS-01: ${e.message}`,
      retryAfterMs: 15_000,
    };
  if (e instanceof RoutingError)
    return { status: 'failed', reason: IssuerReason.SolverFailed, message: e.message, retryAfterMs: 15_000 };
  return {
    status: 'failed',
    reason: IssuerReason.CAError,
    message: `ACME server ${server}: ${(e as Error).message}`,
    retryAfterMs: 10_000,
  };
}

/** Why an order went invalid, in the CA's own words: the failed challenge of each invalid authorization. */
export function invalidOrderMessage(order: Order, authzs: readonly Authorization[]): string {
  const parts: string[] = [];
  for (const a of authzs) {
    if (a.status === 'valid' || a.status === 'pending') continue;
    const name = `${a.wildcard ? '*.' : ''}${a.identifier.value}`;
    const failed = a.challenges.find((c) => c.error);
    parts.push(
      failed?.error
        ? `${failed.type} for ${name} failed: ${describeProblem(failed.error)}`
        : `authorization for ${name} is ${a.status}`,
    );
  }
  if (order.error) parts.push(describeProblem(order.error));
  return parts.length ? parts.join('; ') : 'the order is invalid and the CA gave no reason';
}

/** "a.example.com http-01 pending, b.example.com valid": the order's progress for the Issuing condition. */
export function progressMessage(url: string, status: string, parts: readonly string[]): string {
  return `ACME order ${url} is ${status}${parts.length ? `: ${parts.join(', ')}` : ''}`;
}
