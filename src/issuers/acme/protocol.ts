// RFC 8555's objects as the client reads them (directory, orders, authorizations, challenges), its
// problem documents (RFC 7807) as errors, and Retry-After: the protocol's vocabulary, without I/O.
export interface Directory {
  newNonce: string;
  newAccount: string;
  newOrder: string;
  revokeCert?: string;
  meta?: { externalAccountRequired?: boolean; termsOfService?: string; profiles?: Record<string, string> };
}
export interface Problem {
  type?: string;
  detail?: string;
  status?: number;
  subproblems?: { type?: string; detail?: string; identifier?: { type: string; value: string } }[];
}
export interface Identifier {
  type: 'dns' | 'ip';
  value: string;
}
export interface Order {
  status: 'pending' | 'ready' | 'processing' | 'valid' | 'invalid';
  expires?: string;
  identifiers: Identifier[];
  authorizations: string[];
  finalize: string;
  certificate?: string;
  error?: Problem;
}
export interface Challenge {
  type: string;
  url: string;
  status: 'pending' | 'processing' | 'valid' | 'invalid';
  token: string;
  error?: Problem;
  validated?: string;
}
export interface Authorization {
  identifier: Identifier;
  status: 'pending' | 'valid' | 'invalid' | 'deactivated' | 'expired' | 'revoked';
  challenges: Challenge[];
  wildcard?: boolean;
  expires?: string;
}

export const ERR = 'urn:ietf:params:acme:error:';

/** A problem document from the server (RFC 7807), with the HTTP status and the server's Retry-After. */
export class AcmeError extends Error {
  readonly problem: Problem;
  readonly status: number;
  readonly retryAfterMs: number | undefined;
  constructor(problem: Problem, status: number, retryAfterMs: number | undefined, what: string) {
    super(`${what}: ${describeProblem(problem, status)}`);
    this.problem = problem;
    this.status = status;
    this.retryAfterMs = retryAfterMs;
  }
  get kind(): string {
    return (this.problem.type ?? '').replace(ERR, '');
  }
}

/** "rateLimited: too many certificates (429)", subproblems named by identifier. */
export function describeProblem(p: Problem, status?: number): string {
  const kind = (p.type ?? 'error').replace(ERR, '');
  const subs = (p.subproblems ?? []).map((s) =>
    `${s.identifier?.value ?? '?'}: ${(s.type ?? '').replace(ERR, '')} ${s.detail ?? ''}`.trim(),
  );
  return `${kind}: ${p.detail ?? 'no detail'}${subs.length ? ` (${subs.join('; ')})` : ''}${status ? ` [HTTP ${status}]` : ''}`;
}

/** Retry-After as delta-seconds or an HTTP date (RFC 9110 §10.2.3); undefined when absent or unreadable. */
export function retryAfterMs(header: string | string[] | undefined, now = Date.now()): number | undefined {
  const v = Array.isArray(header) ? header[0] : header;
  if (!v) return undefined;
  if (/^\d+$/.test(v.trim())) return Number(v.trim()) * 1000;
  // HTTP-date only (IMF-fixdate, RFC 850, asctime): Date.parse would take '1.5' or '-1' as dates in 2001
  if (
    !/^[A-Za-z]{3},? \d{1,2}[ -][A-Za-z]{3}[ -]\d{2,4} \d{2}:\d{2}:\d{2} GMT$|^[A-Za-z]{3} [A-Za-z]{3} +\d{1,2} \d{2}:\d{2}:\d{2} \d{4}$|^[A-Za-z]+, \d{2}-[A-Za-z]{3}-\d{2} \d{2}:\d{2}:\d{2} GMT$/.test(
      v.trim(),
    )
  )
    return undefined;
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : Math.max(0, t - now);
}
