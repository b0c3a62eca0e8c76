// Leader election on a coordination.k8s.io/v1 Lease with client-go semantics (client-node has none).
// Acquire by create (409 = someone else created it) or by replace with the read resourceVersion
// (409 = lost the race). Renew every retryPeriod; if no renewal succeeds for renewDeadline we stop
// leading (the operator exits) before leaseDuration runs out and another candidate may take over.
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import * as k8s from '@kubernetes/client-node';
import type { Gauge, Registry } from 'prom-client';
import type { Logger } from 'pino';
import { decide, jitter, nextRecord, observe, type LeaseRecord, type Observation } from './lease-decision.ts';
import { isAlreadyExists, isConflict, isNotFound, toKubeError } from './kube.ts';
import { sleep } from './backoff.ts';
import { gauge } from './metric-registry.ts';

export interface LeaderElectorOptions {
  kc: k8s.KubeConfig;
  namespace: string;
  name: string;
  identity?: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  onStartedLeading: () => void | Promise<void>;
  onStoppedLeading: () => void | Promise<void>;
  logger: Logger;
  registry: Registry;
}

function defaultIdentity(): string {
  return `${process.env.POD_NAME || hostname()}_${randomUUID()}`;
}

const iso = (v: unknown): string | undefined =>
  v instanceof Date ? v.toISOString() : typeof v === 'string' ? v : undefined;

function recordOf(lease: k8s.V1Lease): LeaseRecord {
  const s = lease.spec ?? {};
  return {
    holderIdentity: s.holderIdentity ?? '',
    leaseDurationSeconds: s.leaseDurationSeconds,
    renewTime: iso(s.renewTime),
    acquireTime: iso(s.acquireTime),
    leaseTransitions: s.leaseTransitions,
  };
}

function specOf(r: LeaseRecord): k8s.V1LeaseSpec {
  const t = (v: string | undefined): k8s.V1MicroTime | undefined => (v ? new k8s.V1MicroTime(v) : undefined);
  return {
    holderIdentity: r.holderIdentity || undefined,
    leaseDurationSeconds: r.leaseDurationSeconds,
    renewTime: t(r.renewTime),
    acquireTime: t(r.acquireTime),
    leaseTransitions: r.leaseTransitions,
  };
}

/** Aborts one API call after `ms`: a hung request must not outlive the renew deadline. */
function timeoutOptions(ms: number): k8s.ConfigurationOptions {
  return {
    middlewareMergeStrategy: 'append',
    middleware: [
      {
        pre: (ctx) => {
          ctx.setSignal(AbortSignal.timeout(ms));
          return new k8s.Observable(Promise.resolve(ctx));
        },
        post: (res) => new k8s.Observable(Promise.resolve(res)),
      },
    ],
  };
}

export class LeaderElector {
  readonly identity: string;
  private readonly o: Required<Omit<LeaderElectorOptions, 'identity'>>;
  private readonly api: k8s.CoordinationV1Api;
  private readonly log: Logger;
  private readonly status: Gauge<'name'>;
  private readonly stopper = new AbortController();
  private observation: Observation | undefined;
  private lease: k8s.V1Lease | undefined;
  private leading = false;
  private running: Promise<void> | undefined;

  constructor(o: LeaderElectorOptions) {
    this.identity = o.identity ?? defaultIdentity();
    this.o = { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000, ...o };
    if (this.o.renewDeadlineMs >= this.o.leaseDurationMs)
      throw new Error('renewDeadline must be shorter than leaseDuration');
    if (this.o.retryPeriodMs >= this.o.renewDeadlineMs)
      throw new Error('retryPeriod must be shorter than renewDeadline');
    this.api = o.kc.makeApiClient(k8s.CoordinationV1Api);
    this.log = o.logger.child({ leaderElection: o.name, identity: this.identity });
    this.status = gauge(o.registry, 'leader_election_master_status', 'Whether this process leads (1) or not (0)', [
      'name',
    ]);
    this.status.set({ name: o.name }, 0);
  }

  isLeader(): boolean {
    return this.leading;
  }

  /**
   * Campaigns, leads, and resolves once leadership is lost, released or stopped. onStoppedLeading runs
   * whenever leadership ends, including on release()/stop().
   */
  run(): Promise<void> {
    this.running ??= this.loop();
    return this.running;
  }

  /** Stops without releasing (as a crash would): others take over after leaseDuration. */
  async stop(): Promise<void> {
    this.stopper.abort();
    await this.running;
  }

  /** Stops and hands the lease over at once: empty holder, leaseDurationSeconds 1. */
  async release(): Promise<void> {
    const wasLeading = this.leading;
    await this.stop();
    if (!wasLeading || !this.lease?.metadata) return;
    const record = recordOf(this.lease);
    if (record.holderIdentity !== this.identity) return;
    const now = new Date().toISOString();
    const body: k8s.V1Lease = {
      ...this.lease,
      spec: specOf({ ...record, holderIdentity: '', leaseDurationSeconds: 1, renewTime: now, acquireTime: now }),
    };
    try {
      await this.api.replaceNamespacedLease(
        { name: this.o.name, namespace: this.o.namespace, body },
        timeoutOptions(this.o.retryPeriodMs),
      );
      this.log.info('lease released');
    } catch (err) {
      this.log.warn({ err: toKubeError(err) }, 'lease release failed; others take over after leaseDuration');
    }
  }

  private get stopped(): boolean {
    return this.stopper.signal.aborted;
  }

  private async loop(): Promise<void> {
    try {
      if (!(await this.acquire())) return;
      this.setLeading(true);
      this.log.info('started leading');
      this.callback(this.o.onStartedLeading, 'onStartedLeading');
      await this.renew();
    } finally {
      if (this.leading) {
        this.setLeading(false);
        this.log.warn('stopped leading');
        this.callback(this.o.onStoppedLeading, 'onStoppedLeading');
      }
    }
  }

  private async acquire(): Promise<boolean> {
    while (!this.stopped) {
      if (await this.tryAcquireOrRenew()) return true;
      await sleep(jitter(this.o.retryPeriodMs), this.stopper.signal);
    }
    return false;
  }

  // Renew every retryPeriod; give up when renewDeadline passes without a success or someone else
  // holds the lease.
  private async renew(): Promise<void> {
    let lastSuccess = Date.now();
    while (!this.stopped) {
      await sleep(this.o.retryPeriodMs, this.stopper.signal);
      if (this.stopped) return;
      if (await this.tryAcquireOrRenew(lastSuccess + this.o.renewDeadlineMs - Date.now())) {
        lastSuccess = Date.now();
        continue;
      }
      const holder = this.observation?.record.holderIdentity;
      if (holder && holder !== this.identity) return void this.log.warn({ holder }, 'lease taken by another candidate');
      if (Date.now() - lastSuccess >= this.o.renewDeadlineMs)
        return void this.log.error('failed to renew lease within renewDeadline');
    }
  }

  /** One read-decide-write round; true if we hold the lease afterwards. */
  private async tryAcquireOrRenew(budgetMs = this.o.renewDeadlineMs): Promise<boolean> {
    const opts = timeoutOptions(Math.max(100, Math.min(budgetMs, this.o.renewDeadlineMs)));
    try {
      return await this.acquireOrRenew(opts);
    } catch (err) {
      if (isConflict(err) || isAlreadyExists(err)) this.log.debug('lost the lease race');
      else this.log.warn({ err: toKubeError(err) }, 'lease read/write failed');
      return false;
    }
  }

  private async acquireOrRenew(opts: k8s.ConfigurationOptions): Promise<boolean> {
    const leaseSeconds = Math.max(1, Math.round(this.o.leaseDurationMs / 1000));
    const ref = { name: this.o.name, namespace: this.o.namespace };
    const current = await this.readLease(ref, opts);
    const now = Date.now();
    this.observation = current ? observe(this.observation, recordOf(current), now) : undefined;
    const d = decide(this.observation, this.identity, now, leaseSeconds);
    if (d.action === 'wait') return false;
    const spec = specOf(
      nextRecord(this.observation?.record, d.action, this.identity, new Date(now).toISOString(), leaseSeconds),
    );
    this.lease =
      d.action === 'create'
        ? await this.api.createNamespacedLease({ namespace: ref.namespace, body: { metadata: { ...ref }, spec } }, opts)
        : await this.api.replaceNamespacedLease({ ...ref, body: { ...current, spec } }, opts);
    this.observation = observe(this.observation, recordOf(this.lease), Date.now());
    if (d.action === 'takeover') this.log.info({ previous: current?.spec?.holderIdentity }, 'took over lease');
    return true;
  }

  /** The lease, or undefined when it does not exist yet. */
  private async readLease(
    ref: { name: string; namespace: string },
    opts: k8s.ConfigurationOptions,
  ): Promise<k8s.V1Lease | undefined> {
    try {
      return await this.api.readNamespacedLease(ref, opts);
    } catch (err) {
      if (!isNotFound(err)) throw err;
      return undefined;
    }
  }

  private setLeading(v: boolean): void {
    this.leading = v;
    this.status.set({ name: this.o.name }, v ? 1 : 0);
  }

  private callback(fn: () => void | Promise<void>, what: string): void {
    try {
      const r = fn();
      if (r && typeof r.then === 'function')
        r.then(undefined, (err: unknown) => this.log.error({ err }, `${what} failed`));
    } catch (err) {
      this.log.error({ err }, `${what} failed`);
    }
  }
}
