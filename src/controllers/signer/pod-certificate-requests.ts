// The PodCertificateRequests the signer answers, watched at the version the API server serves
// (certificates-api.ts). It follows the server: every REDISCOVER_MS, and at once when a status write
// answered 404, it asks discovery again; when discovery now prefers another version (an upgrade to
// 1.37 that turned v1beta1 off, or one that made v1 available), it watches that one instead: a new
// informer whose first list delivers every request again (answered ones are skipped), then the old
// one is stopped. A server that stops serving both keeps the old watch (it retries) and is reported.
import { Informer } from '../../runtime/informer.ts';
import type { Handler } from '../../runtime/handlers.ts';
import type { OperatorContext } from '../context.ts';
import { certificatesApi, certificatesPath, REDISCOVER_MS, type CertificatesVersion } from './certificates-api.ts';
import { reportServed } from './served-report.ts';
import type { Pcr } from './pod-certificate-api.ts';

type Ctx = Pick<OperatorContext, 'kc' | 'registry' | 'log'>;

/** The version to switch to, or undefined to keep watching `current`. */
export function switchTo(
  current: CertificatesVersion,
  preferred: CertificatesVersion | undefined,
): CertificatesVersion | undefined {
  return preferred !== undefined && preferred !== current ? preferred : undefined;
}

export class PodCertificateRequests {
  /** The first informer's sync: the controller starts its workers once the first list is in. */
  readonly synced: Promise<void>;
  private informer: Informer<Pcr>;
  private watching: CertificatesVersion;
  private readonly adds: Handler<[Pcr]>[] = [];
  private readonly updates: Handler<[Pcr, Pcr]>[] = [];
  private timer: NodeJS.Timeout | undefined;
  private following: Promise<void> = Promise.resolve();
  private readonly ctx: Ctx;

  constructor(ctx: Ctx, version: CertificatesVersion) {
    this.ctx = ctx;
    this.watching = version;
    this.informer = this.make(version);
    this.synced = this.informer.synced;
  }

  /** The version requests are read and answered at. */
  get version(): CertificatesVersion {
    return this.watching;
  }
  get(key: string): Pcr | undefined {
    return this.informer.get(key);
  }
  list(): Pcr[] {
    return this.informer.list();
  }
  hasSynced(): boolean {
    return this.informer.hasSynced();
  }
  onAdd(fn: Handler<[Pcr]>): this {
    this.adds.push(fn);
    this.informer.onAdd(fn);
    return this;
  }
  onUpdate(fn: Handler<[Pcr, Pcr]>): this {
    this.updates.push(fn);
    this.informer.onUpdate(fn);
    return this;
  }

  start(): this {
    this.informer.start();
    this.timer ??= setInterval(() => this.follow(false), REDISCOVER_MS).unref();
    return this;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.following;
    await this.informer.stop();
  }

  /** A path of the watched version answered 404: ask discovery now, not at the next interval. */
  notFound(): void {
    this.follow(true);
  }

  private follow(fresh: boolean): void {
    this.following = this.following.then(async () => {
      const api = certificatesApi(this.ctx.kc);
      const served = await (fresh ? api.refresh() : api.served()).catch(() => undefined);
      if (!served) return; // discovery failed: keep what we have, ask again later
      reportServed(this.ctx, 'podcertificaterequests', served.podcertificaterequests);
      const next = switchTo(this.watching, served.podcertificaterequests);
      if (next && this.timer) await this.swap(next);
    });
  }

  private async swap(next: CertificatesVersion): Promise<void> {
    this.ctx.log.warn(
      { from: this.watching, to: next },
      'PodCertificateRequests: the API server changed; watching the new version',
    );
    const old = this.informer;
    this.informer = this.make(next);
    this.watching = next;
    for (const fn of this.adds) this.informer.onAdd(fn);
    for (const fn of this.updates) this.informer.onUpdate(fn);
    this.informer.start();
    await old.stop();
  }

  private make(version: CertificatesVersion): Informer<Pcr> {
    return new Informer<Pcr>({
      kc: this.ctx.kc,
      path: certificatesPath(version, 'podcertificaterequests'),
      registry: this.ctx.registry,
      logger: this.ctx.log,
      resource: 'podcertificaterequests',
    });
  }
}
