// The main thread's side of parsing cluster bytes: typed calls into the parse pool, with the
// per-object budget attached. A task the pool had to stop (time, memory) is an answer too: a
// finding with a bounded reason, never a retry.
import type { KeyObject } from 'node:crypto';
import type { Registry } from 'prom-client';
import type { Logger } from 'pino';
import { ParseAbort, ParsePool, siblingUrl } from '../runtime/parse-pool.ts';
import { DEFAULT_PARSE_BUDGET, type Extracted, type ParseBudget } from '../inventory/extract.ts';
import type { ManagedFacts, ManagedInput } from './tasks.ts';
import { SignerReason } from '../crds/reasons.ts';
import type { KeyFields, Refusal, RequestKey } from '../controllers/signer/pod-certificate.ts';

export interface ParserOptions {
  workers: number;
  timeoutMs: number;
  heapMb: number;
  maxKdfIterations: number;
}
const DEFAULT_PARSER_OPTIONS: ParserOptions = {
  workers: 1,
  timeoutMs: 5000,
  heapMb: 64,
  maxKdfIterations: DEFAULT_PARSE_BUDGET.pkcs12.maxIterations,
};

export class Parser {
  readonly budget: ParseBudget;
  private readonly pool: ParsePool;

  constructor(o: ParserOptions = DEFAULT_PARSER_OPTIONS, registry?: Registry, logger?: Logger) {
    this.budget = {
      ...DEFAULT_PARSE_BUDGET,
      pkcs12: { ...DEFAULT_PARSE_BUDGET.pkcs12, maxIterations: o.maxKdfIterations },
    };
    this.pool = new ParsePool({
      handlers: siblingUrl(import.meta.url, 'tasks'),
      size: o.workers,
      timeoutMs: o.timeoutMs,
      heapMb: o.heapMb,
      ...(registry ? { registry } : {}),
      ...(logger ? { logger } : {}),
    });
  }

  /** Certificates in a (slimmed) object of `kind`; never rejects. */
  async extract(kind: string, obj: Record<string, unknown>): Promise<Extracted> {
    try {
      // the inventory's reading waits behind what reconciles wait for (a restart queues both for every Secret)
      return await this.pool.run<Extracted>('extract', { kind, obj, budget: this.budget }, 'background');
    } catch (e) {
      if (e instanceof ParseAbort && e.reason === 'closed') return { certs: [], problems: [] }; // shutting down
      if (e instanceof ParseAbort) {
        return {
          certs: [],
          problems: [
            { key: '', reason: `not read: ${e.message}`, code: e.reason as Exclude<typeof e.reason, 'closed'> },
          ],
        };
      }
      return { certs: [], problems: [{ key: '', reason: (e as Error).message.slice(0, 200), code: 'unreadable' }] };
    }
  }

  /** The leaf of tls.crt and whether tls.key matches it; a stopped parse reads as unusable data. */
  async managedFacts(input: ManagedInput): Promise<ManagedFacts> {
    try {
      return await this.pool.run<ManagedFacts>('managedFacts', input);
    } catch {
      return { hasData: true, keyMatches: false };
    }
  }

  /**
   * A PodCertificateRequest's key, read in the pool (the stub CSR is bytes from the cluster). A parse
   * the pool stopped (time, memory) is a refusal; a closed pool (shutting down) rejects, to be retried.
   */
  async podCertificateKey(f: KeyFields): Promise<RequestKey | Refusal> {
    try {
      const r = await this.pool.run<RequestKey | Refusal>('podCertificateKey', f);
      // structured clone turns the Buffer into a plain Uint8Array
      return r.ok ? { ...r, spkiDer: Buffer.from(r.spkiDer) } : r;
    } catch (e) {
      if (e instanceof ParseAbort && e.reason !== 'closed')
        return {
          ok: false,
          reason: SignerReason.InvalidRequest,
          message: `the request's key was not read: ${e.message}`,
        };
      throw e;
    }
  }

  privateKey(b64: string): Promise<KeyObject> {
    return this.pool.run<KeyObject>('privateKey', b64);
  }

  get pending(): number {
    return this.pool.pending;
  }
  close(): Promise<void> {
    return this.pool.close();
  }
}
