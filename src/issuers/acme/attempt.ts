// One issuance attempt of the ACME backend (an order, the challenge answers it put up) and the state
// it survives a restart with: status.pendingRequest of the identity holds the order URL and the DNS
// records to delete later, so a new operator process resumes the order instead of starting over.
import { deleteTxt, type Rfc2136Target } from './rfc2136.ts';

/** A DNS record an attempt wrote. */
interface DnsRecord {
  solver: number;
  zone: string;
  name: string;
  value: string;
}
/** A challenge answer that is up: how to take it down (and the DNS record, to save it). */
export interface Presented {
  cleanup: () => Promise<void>;
  dns?: DnsRecord;
}
export interface Attempt {
  orderUrl: string;
  created: number;
  /** By authorization URL. */
  presented: Map<string, Presented>;
  /** Challenge URLs the CA was told to validate. */
  responded: Set<string>;
  /** The order's identifiers (`dns:a.example.com,ip:10.0.0.1`): a changed spec starts a new order. */
  names: string;
}
/** The resumable state, as written to the identity's status.pendingRequest. */
interface SavedAttempt {
  order: string;
  names: string;
  dns?: (DnsRecord & { authz: string })[];
}

/** Attempts older than this are dropped (their orders have expired at the CA by then). */
const ATTEMPT_TTL_MS = 24 * 3600_000;

export function newAttempt(orderUrl: string, created: number, names: string): Attempt {
  return { orderUrl, created, presented: new Map(), responded: new Set(), names };
}

export function stateOf(a: Attempt): string {
  const dns = [...a.presented.entries()].flatMap(([authz, p]) => (p.dns ? [{ authz, ...p.dns }] : []));
  return JSON.stringify({ order: a.orderUrl, names: a.names, ...(dns.length ? { dns } : {}) } satisfies SavedAttempt);
}

/** The saved state of a previous process, when it names an order (anything else is ignored). */
export function parseSavedAttempt(state: string | undefined): SavedAttempt | undefined {
  if (!state) return undefined;
  let saved: SavedAttempt;
  try {
    saved = JSON.parse(state) as SavedAttempt;
  } catch {
    return undefined;
  }
  if (typeof saved.order !== 'string' || !saved.order.startsWith('http')) return undefined;
  return saved;
}

/** An attempt from saved state: its order, and cleanups for the DNS records whose solver is still configured. */
export function restoreAttempt(
  saved: SavedAttempt,
  now: number,
  dnsTargets: ReadonlyMap<number, Rfc2136Target> | undefined,
): Attempt {
  const a = newAttempt(saved.order, now, String(saved.names));
  for (const d of saved.dns ?? []) {
    const target = dnsTargets?.get(d.solver);
    if (target) a.presented.set(d.authz, { dns: d, cleanup: () => deleteTxt(target, d.zone, d.name, d.value) });
  }
  return a;
}

/** The open attempts of one issuer, by request id. */
export class AttemptStore {
  private readonly attempts = new Map<string, Attempt>();

  get(requestId: string): Attempt | undefined {
    return this.attempts.get(requestId);
  }

  set(requestId: string, a: Attempt): void {
    this.attempts.set(requestId, a);
  }

  /** The open attempt, or the one a previous process saved in `state` (its order, and the DNS records to delete later). */
  findOrRestore(
    requestId: string,
    state: string | undefined,
    dnsTargets: ReadonlyMap<number, Rfc2136Target> | undefined,
  ): Attempt | undefined {
    const open = this.attempts.get(requestId);
    if (open) return open;
    const saved = parseSavedAttempt(state);
    if (!saved) return undefined;
    const a = restoreAttempt(saved, Date.now(), dnsTargets);
    this.attempts.set(requestId, a);
    return a;
  }

  /** Forgets an attempt and takes its challenge answers down (DNS records too; a failed delete is not fatal). */
  async drop(requestId: string): Promise<void> {
    const a = this.attempts.get(requestId);
    this.attempts.delete(requestId);
    if (a) for (const p of a.presented.values()) await p.cleanup().catch(() => undefined);
  }

  /** Drops the attempts older than ATTEMPT_TTL_MS. */
  async prune(now: number): Promise<void> {
    for (const [id, a] of this.attempts) if (now - a.created > ATTEMPT_TTL_MS) await this.drop(id);
  }
}
