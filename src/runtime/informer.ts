// A list+watch cache for one resource path. Written by hand because client-node's makeInformer stops
// on ECONNREFUSED/5xx, has no sync signal, no bookmarks, no pagination and lets a throwing handler
// become an unhandled rejection (see notes/libraries.md §5). Auth and the HTTP dispatcher still come
// from client-node (applySecurityAuthentication + its undici fetch).
import type * as k8s from '@kubernetes/client-node';
import type { Counter, Registry } from 'prom-client';
import type { Logger } from 'pino';
import { backoffDelay, sleep } from './backoff.ts';
import { getJson } from './kube.ts';
import { keyOf } from './reconcile-loop.ts';
import { counter } from './metric-registry.ts';
import { callHandlers, type Handler } from './handlers.ts';
import { errForLog, errorReason, failuresAfterWatch, type LoopState } from './list-watch-retry.ts';
import { storeChanges } from './store-diff.ts';
import { watchError, type WatchEvent } from './watch-event.ts';
import { watchOnce, type WatchOutcome } from './watch-once.ts';

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

interface ObjectList<T> {
  apiVersion?: string;
  kind?: string;
  metadata?: { resourceVersion?: string; continue?: string };
  items: T[];
}

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
    this.synced = new Promise((resolve) => {
      this.resolveSynced = resolve;
    });
    this.m = {
      relists: counter(o.registry, 'informer_relists_total', 'Full relists after the first list (410 Gone)', [
        'resource',
      ]),
      restarts: counter(o.registry, 'informer_watch_restarts_total', 'Watch restarts by reason', [
        'resource',
        'reason',
      ]),
    };
    this.m.relists.inc({ resource: this.resource }, 0);
  }

  onAdd(fn: Handler<[T]>): this {
    this.handlers.add.push(fn);
    return this;
  }
  onUpdate(fn: Handler<[T, T]>): this {
    this.handlers.update.push(fn);
    return this;
  }
  onDelete(fn: Handler<[T]>): this {
    this.handlers.del.push(fn);
    return this;
  }

  hasSynced(): boolean {
    return this.isSynced;
  }
  get(key: string): T | undefined {
    return this.store.get(key);
  }
  list(): T[] {
    return [...this.store.values()];
  }
  keys(): string[] {
    return [...this.store.keys()];
  }
  lastResourceVersion(): string {
    return this.rv;
  }

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
    fresh.set(
      key,
      prev && prev.metadata?.resourceVersion === item.metadata?.resourceVersion ? prev : this.project(item),
    );
  }

  private project(obj: k8s.KubernetesObject): T {
    return (this.o.transform ? this.o.transform(obj) : stripManagedFields(obj)) as T;
  }

  private get stopped(): boolean {
    return this.stopper.signal.aborted;
  }

  // list → watch → (restart | relist on 410), forever. Every failure is retried with jittered
  // exponential backoff; a healthy watch (it delivered something) resets the backoff.
  private async run(): Promise<void> {
    const initialMs = this.o.backoff?.initialMs ?? 200;
    const maxMs = this.o.backoff?.maxMs ?? 30_000;
    let state: LoopState = { failures: 0, needList: true };
    while (!this.stopped) {
      const step = await this.listAndWatch(state);
      if (!step) break;
      state = step.state;
      this.m.restarts.inc({ resource: this.resource, reason: step.reason });
      if (state.failures > 0) await sleep(backoffDelay(state.failures - 1, initialMs, maxMs, 0.5), this.stopper.signal);
    }
  }

  /** One list (when needed) and one watch; undefined once stopped. */
  private async listAndWatch(s: LoopState): Promise<{ state: LoopState; reason: string } | undefined> {
    let needList = s.needList;
    try {
      if (needList) {
        await this.relist();
        needList = false;
      }
      const { outcome, events } = await this.watchOnce();
      if (outcome === 'stopped') return undefined;
      return {
        reason: outcome,
        state: { needList: outcome === 'gone', failures: failuresAfterWatch(s.failures, outcome, events) },
      };
    } catch (err) {
      if (this.stopped) return undefined;
      const failures = s.failures + 1;
      this.log.warn({ error: errForLog(err), failures }, 'list/watch failed; retrying');
      return { reason: needList ? 'list_error' : errorReason(err), state: { needList, failures } };
    }
  }

  /** Paginated list; the first one fills the store, later ones diff against it. */
  private async relist(): Promise<void> {
    const { fresh, rv } = await this.listAll();
    const old = this.store;
    this.store = fresh;
    this.rv = rv;
    if (this.isSynced) this.m.relists.inc({ resource: this.resource });
    this.log.debug({ items: fresh.size, resourceVersion: rv }, 'listed');
    for (const c of storeChanges(old, fresh)) {
      if (c.type === 'add') callHandlers(this.log, this.handlers.add, c.obj);
      else if (c.type === 'update') callHandlers(this.log, this.handlers.update, c.prev, c.obj);
      else callHandlers(this.log, this.handlers.del, c.obj);
    }
    if (!this.isSynced) {
      this.isSynced = true;
      this.resolveSynced();
    }
  }

  private async listAll(): Promise<{ fresh: Map<string, T>; rv: string }> {
    const fresh = new Map<string, T>();
    let cont: string | undefined;
    let rv = '';
    do {
      const page = await getJson<ObjectList<T>>(
        this.o.kc,
        this.o.path,
        {
          limit: this.o.pageSize ?? 500,
          continue: cont,
          labelSelector: this.o.labelSelector,
          fieldSelector: this.o.fieldSelector,
        },
        AbortSignal.any([this.stopper.signal, AbortSignal.timeout(60_000)]),
      );
      const kind = page.kind?.replace(/List$/, '');
      for (const item of page.items ?? []) this.keepListed(fresh, { apiVersion: page.apiVersion, kind, ...item });
      cont = page.metadata?.continue || undefined;
      rv = page.metadata?.resourceVersion ?? '';
    } while (cont);
    return { fresh, rv };
  }

  private watchOnce(): Promise<{ outcome: WatchOutcome; events: number }> {
    return watchOnce({
      kc: this.o.kc,
      request: {
        path: this.o.path,
        resourceVersion: this.rv,
        labelSelector: this.o.labelSelector,
        fieldSelector: this.o.fieldSelector,
      },
      inactivityMs: this.o.inactivityMs ?? 120_000,
      stop: this.stopper.signal,
      onEvent: (line) => this.handleEvent(line),
    });
  }

  /** Applies one watch event to the store and fires handlers; 'gone' asks the caller to relist. */
  private handleEvent(line: string): 'gone' | undefined {
    const ev = this.parseEvent(line);
    if (!ev) return undefined;
    const obj = ev.object;
    if (ev.type === 'ERROR') return watchError(obj);
    const rv = obj?.metadata?.resourceVersion;
    if (rv) this.rv = rv;
    if (ev.type === 'DELETED') this.applyDelete(obj);
    else if (ev.type === 'ADDED' || ev.type === 'MODIFIED') this.applyUpsert(obj);
    return undefined;
  }

  private parseEvent(line: string): WatchEvent<T> | undefined {
    try {
      return JSON.parse(line) as WatchEvent<T>;
    } catch (err) {
      this.log.warn({ err }, 'unparseable watch line; ignored');
      return undefined;
    }
  }

  private applyDelete(obj: T): void {
    const key = keyOf(obj);
    const prev = this.store.get(key);
    this.store.delete(key);
    callHandlers(this.log, this.handlers.del, this.deleted(prev, obj));
  }

  private applyUpsert(obj: T): void {
    const key = keyOf(obj);
    const prev = this.store.get(key);
    const stored = this.project(obj);
    this.store.set(key, stored);
    if (prev) callHandlers(this.log, this.handlers.update, prev, stored);
    else callHandlers(this.log, this.handlers.add, stored);
  }
}

/**
 * managedFields are often the largest part of an object and nothing here reads them (server-side
 * apply keeps them on the server): dropping them from the cache saves memory on every object.
 */
function stripManagedFields<T extends k8s.KubernetesObject>(obj: T): T {
  if (obj.metadata?.managedFields) delete obj.metadata.managedFields;
  return obj;
}
