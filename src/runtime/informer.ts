// A list+watch cache for one resource path. Written by hand because client-node's makeInformer stops
// on ECONNREFUSED/5xx, has no sync signal, no bookmarks, no pagination and lets a throwing handler
// become an unhandled rejection (see notes/libraries.md §5). Auth and the HTTP dispatcher still come
// from client-node (applySecurityAuthentication + its undici fetch).
import * as k8s from '@kubernetes/client-node';
import type { Counter, Registry } from 'prom-client';
import type { Logger } from 'pino';
import { backoffDelay, sleep } from './backoff.ts';
import { getJson, isGone, toKubeError } from './kube.ts';
import { keyOf } from './reconcile-loop.ts';
import { counter } from './metric-registry.ts';

export interface InformerOptions {
  kc: k8s.KubeConfig;
  /** List path, e.g. `/api/v1/secrets` or `/apis/machineidentity.io/v1alpha1/namespaces/x/machineidentities`. */
  path: string;
  labelSelector?: string;
  fieldSelector?: string;
  registry: Registry;
  logger: Logger;
  /** Metric label; defaults to the last path segment. */
  resource?: string;
  pageSize?: number;
  backoff?: { initialMs?: number; maxMs?: number };
  /** A watch that delivers nothing (not even a bookmark) for this long is presumed dead and restarted. */
  inactivityMs?: number;
  /**
   * What the store keeps of each object (default: the object without managedFields). A projection
   * keeps memory bounded for big resources (the inventory keeps parsed facts, never Secret data);
   * it must keep metadata (name, namespace, resourceVersion). A relist reuses the stored projection
   * of an object whose resourceVersion did not change, so nothing is parsed twice.
   */
  transform?: (obj: k8s.KubernetesObject) => k8s.KubernetesObject;
}

type Handler<A extends unknown[]> = (...args: A) => void | Promise<void>;
type Outcome = 'gone' | 'closed' | 'timeout' | 'stopped';
interface ObjectList<T> { apiVersion?: string; kind?: string; metadata?: { resourceVersion?: string; continue?: string }; items: T[] }
interface WatchEvent<T> { type: string; object: T & { code?: number; reason?: string; message?: string } }

export class Informer<T extends k8s.KubernetesObject> {
  /** Resolves once the first complete list is in the store; never rejects. */
  readonly synced: Promise<void>;
  readonly resource: string;
  private resolveSynced!: () => void;
  private isSynced = false;
  private store = new Map<string, T>();
  private rv = '';
  private readonly handlers = { add: [] as Handler<[T]>[], update: [] as Handler<[T, T]>[], del: [] as Handler<[T]>[] };
  private readonly stopper = new AbortController();
  private loop: Promise<void> | undefined;
  private readonly o: InformerOptions;
  private readonly log: Logger;
  private readonly m: { relists: Counter<'resource'>; restarts: Counter<'resource' | 'reason'> };

  constructor(o: InformerOptions) {
    this.o = o;
    this.resource = o.resource ?? o.path.split('/').filter(Boolean).pop() ?? o.path;
    this.log = o.logger.child({ informer: this.resource });
    this.synced = new Promise((resolve) => { this.resolveSynced = resolve; });
    this.m = {
      relists: counter(o.registry, 'informer_relists_total', 'Full relists after the first list (410 Gone)', ['resource']),
      restarts: counter(o.registry, 'informer_watch_restarts_total', 'Watch restarts by reason', ['resource', 'reason']),
    };
    this.m.relists.inc({ resource: this.resource }, 0);
  }

  onAdd(fn: Handler<[T]>): this { this.handlers.add.push(fn); return this; }
  onUpdate(fn: Handler<[T, T]>): this { this.handlers.update.push(fn); return this; }
  onDelete(fn: Handler<[T]>): this { this.handlers.del.push(fn); return this; }

  hasSynced(): boolean { return this.isSynced; }
  get(key: string): T | undefined { return this.store.get(key); }
  list(): T[] { return [...this.store.values()]; }
  keys(): string[] { return [...this.store.keys()]; }
  lastResourceVersion(): string { return this.rv; }

  start(): this {
    this.loop ??= this.run();
    return this;
  }

  async stop(): Promise<void> {
    this.stopper.abort();
    await this.loop;
  }

  /** What delete handlers get: the object's last state, projected as the store keeps it. */
  private deleted(prev: T | undefined, obj: k8s.KubernetesObject): T {
    return this.o.transform ? (prev ?? this.project(obj)) : (obj as T);
  }

  /** A listed object into the new store; an unchanged one keeps its projection (parsed once). */
  private keepListed(fresh: Map<string, T>, item: k8s.KubernetesObject): void {
    const key = keyOf(item);
    const prev = this.store.get(key);
    fresh.set(key, prev && prev.metadata?.resourceVersion === item.metadata?.resourceVersion ? prev : this.project(item));
  }

  private project(obj: k8s.KubernetesObject): T {
    return (this.o.transform ? this.o.transform(obj) : stripManagedFields(obj)) as T;
  }

  private get stopped(): boolean { return this.stopper.signal.aborted; }

  // list → watch → (restart | relist on 410), forever. Every failure is retried with jittered
  // exponential backoff; a healthy watch (it delivered something) resets the backoff.
  private async run(): Promise<void> {
    const initialMs = this.o.backoff?.initialMs ?? 200;
    const maxMs = this.o.backoff?.maxMs ?? 30_000;
    let failures = 0;
    let needList = true;
    while (!this.stopped) {
      let reason: string;
      try {
        if (needList) {
          reason = 'list_error';
          await this.relist();
          needList = false;
        }
        const { outcome, events } = await this.watchOnce();
        if (outcome === 'stopped') break;
        reason = outcome;
        needList = outcome === 'gone';
        failures = events > 0 || outcome === 'gone' ? 0 : failures + (outcome === 'closed' ? 1 : 0);
      } catch (err) {
        if (this.stopped) break;
        reason = needList ? 'list_error' : errorReason(err);
        failures++;
        this.log.warn({ error: errForLog(err), failures }, 'list/watch failed; retrying');
      }
      this.m.restarts.inc({ resource: this.resource, reason });
      if (failures > 0) await sleep(backoffDelay(failures - 1, initialMs, maxMs, 0.5), this.stopper.signal);
    }
  }

  /** Paginated list; the first one fills the store, later ones diff against it. */
  private async relist(): Promise<void> {
    const fresh = new Map<string, T>();
    let cont: string | undefined;
    let rv = '';
    do {
      const page = await getJson<ObjectList<T>>(this.o.kc, this.o.path, {
        limit: this.o.pageSize ?? 500, continue: cont, labelSelector: this.o.labelSelector, fieldSelector: this.o.fieldSelector,
      }, AbortSignal.any([this.stopper.signal, AbortSignal.timeout(60_000)]));
      const kind = page.kind?.replace(/List$/, '');
      for (const item of page.items ?? []) this.keepListed(fresh, { apiVersion: page.apiVersion, kind, ...item });
      cont = page.metadata?.continue || undefined;
      rv = page.metadata?.resourceVersion ?? '';
    } while (cont);
    const old = this.store;
    this.store = fresh;
    this.rv = rv;
    if (this.isSynced) this.m.relists.inc({ resource: this.resource });
    this.log.debug({ items: fresh.size, resourceVersion: rv }, 'listed');
    for (const [k, obj] of fresh) {
      const prev = old.get(k);
      if (!prev) this.emit(this.handlers.add, obj);
      else if (prev.metadata?.resourceVersion !== obj.metadata?.resourceVersion) this.emit(this.handlers.update, prev, obj);
    }
    for (const [k, obj] of old) if (!fresh.has(k)) this.emit(this.handlers.del, obj);
    if (!this.isSynced) {
      this.isSynced = true;
      this.resolveSynced();
    }
  }

  private async watchOnce(): Promise<{ outcome: Outcome; events: number }> {
    const ac = new AbortController();
    const inactivityMs = this.o.inactivityMs ?? 120_000;
    let timedOut = false;
    let timer: NodeJS.Timeout | undefined;
    const arm = (): void => {
      clearTimeout(timer);
      timer = setTimeout(() => { timedOut = true; ac.abort(); }, inactivityMs);
      timer.unref();
    };
    const onStop = (): void => ac.abort();
    this.stopper.signal.addEventListener('abort', onStop, { once: true });
    let events = 0;
    try {
      arm();
      const res = await this.openWatch(ac.signal);
      const stream = res.body.stream();
      if (!stream) return { outcome: 'closed', events };
      const decoder = new TextDecoder();
      // pieces of the line not yet ended: only each new chunk is scanned for a newline, so a 1.5 MB
      // object arriving in small chunks costs linear time, not a rescan of everything buffered per chunk
      let pieces: string[] = [];
      for await (const chunk of stream) {
        arm();
        const text = decoder.decode(chunk, { stream: true });
        let start = 0;
        for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', start)) {
          pieces.push(text.slice(start, nl));
          const line = pieces.length === 1 ? pieces[0]! : pieces.join('');
          pieces = [];
          start = nl + 1;
          if (!line.trim()) continue;
          events++;
          if (this.handleEvent(line) === 'gone') return { outcome: 'gone', events };
        }
        if (start < text.length) pieces.push(text.slice(start));
      }
      return { outcome: 'closed', events };
    } catch (err) {
      if (this.stopped) return { outcome: 'stopped', events };
      if (timedOut) return { outcome: 'timeout', events };
      if (isGone(err)) return { outcome: 'gone', events };
      throw err;
    } finally {
      clearTimeout(timer);
      this.stopper.signal.removeEventListener('abort', onStop);
      ac.abort(); // releases the connection whichever way we left
    }
  }

  private async openWatch(signal: AbortSignal): Promise<k8s.ResponseContext> {
    const cluster = this.o.kc.getCurrentCluster();
    if (!cluster) throw new Error('no current cluster in kubeconfig');
    const url = new URL(cluster.server + this.o.path);
    const q: Record<string, string | undefined> = {
      watch: 'true', allowWatchBookmarks: 'true', resourceVersion: this.rv,
      // Server-side close every 5-10 min (as client-go) spreads reconnects and refreshes the connection.
      timeoutSeconds: String(300 + Math.floor(Math.random() * 300)),
      labelSelector: this.o.labelSelector, fieldSelector: this.o.fieldSelector,
    };
    for (const [k, v] of Object.entries(q)) if (v) url.searchParams.set(k, v);
    const ctx = new k8s.RequestContext(url.toString(), k8s.HttpMethod.GET);
    ctx.setHeaderParam('Accept', 'application/json');
    ctx.setSignal(signal);
    await this.o.kc.applySecurityAuthentication(ctx);
    const res = await new k8s.IsomorphicFetchHttpLibrary().send(ctx).toPromise();
    if (res.httpStatusCode !== 200) {
      const body = await res.body.text();
      throw new k8s.ApiException(res.httpStatusCode, `watch ${this.o.path}: HTTP ${res.httpStatusCode}`, body, res.headers);
    }
    return res;
  }

  /** Applies one watch event to the store and fires handlers; 'gone' asks the caller to relist. */
  private handleEvent(line: string): 'gone' | undefined {
    let ev: WatchEvent<T>;
    try {
      ev = JSON.parse(line) as WatchEvent<T>;
    } catch (err) {
      this.log.warn({ err }, 'unparseable watch line; ignored');
      return undefined;
    }
    const obj = ev.object;
    if (ev.type === 'ERROR') {
      if (obj?.code === 410) return 'gone';
      throw new k8s.ApiException(obj?.code ?? 500, `watch error: ${obj?.reason ?? ''} ${obj?.message ?? ''}`, JSON.stringify(obj), {});
    }
    const rv = obj?.metadata?.resourceVersion;
    if (rv) this.rv = rv;
    if (ev.type === 'BOOKMARK') return undefined;
    const key = keyOf(obj);
    const prev = this.store.get(key);
    if (ev.type === 'DELETED') {
      this.store.delete(key);
      this.emit(this.handlers.del, this.deleted(prev, obj));
    } else if (ev.type === 'ADDED' || ev.type === 'MODIFIED') {
      const stored = this.project(obj);
      this.store.set(key, stored);
      if (prev) this.emit(this.handlers.update, prev, stored);
      else this.emit(this.handlers.add, stored);
    }
    return undefined;
  }

  // A handler's exception (sync or async) is logged, never propagated: it must not kill the watch
  // or become an unhandled rejection.
  private emit<A extends unknown[]>(handlers: Handler<A>[], ...args: A): void {
    for (const h of handlers) {
      try {
        const r = h(...args);
        if (r && typeof r.then === 'function') r.then(undefined, (err: unknown) => this.log.error({ err }, 'informer handler failed'));
      } catch (err) {
        this.log.error({ err }, 'informer handler failed');
      }
    }
  }
}

function errorReason(err: unknown): string {
  const code = toKubeError(err).code;
  if (code !== undefined) return code >= 500 ? 'http_5xx' : 'http_4xx';
  return 'connection_error';
}

// fetch() failures hide the useful part (ECONNREFUSED) in `cause`; keep logs short.
function errForLog(err: unknown): unknown {
  const k = toKubeError(err);
  const cause = (err as { cause?: { code?: string } } | undefined)?.cause?.code;
  return { message: k.message, code: k.code ?? cause };
}

/**
 * managedFields are often the largest part of an object and nothing here reads them (server-side
 * apply keeps them on the server): dropping them from the cache saves memory on every object.
 */
function stripManagedFields<T extends k8s.KubernetesObject>(obj: T): T {
  if (obj.metadata?.managedFields) delete obj.metadata.managedFields;
  return obj;
}
