// Follows every MachineIdentity in the cluster with one watch and keeps only what a scale benchmark
// asks of each (Ready, the CA fingerprint it was issued from): 100,000 identities must not cost the
// benchmark process the memory of 100,000 objects. Reconnects from the last resourceVersion.
// The one place benchmarks learn when identities became Ready: bench scale, bench issuance (one
// namespace, create-to-Ready latency) and bench fairness (the quiet namespace's samples).
import * as k8s from '@kubernetes/client-node';

interface Seen {
  ready: boolean;
  authority: string;
}
type Mi = {
  metadata?: { namespace?: string; name?: string; resourceVersion?: string };
  status?: { authorityFingerprintSHA256?: string; conditions?: { type: string; status: string }[] };
};

export interface TrackerOptions {
  /** Watch this namespace only (default: every namespace). */
  namespace?: string;
  /** Note when the watch first delivers each identity of this namespace (seenAt). */
  track?: string;
}

export class IdentityTracker {
  private readonly seen = new Map<string, Seen>();
  private readonly readyAt = new Map<string, number>();
  private readonly seenAtMap = new Map<string, number>();
  private rv: string | undefined;
  private changedAt = 0;
  private abort: AbortController | undefined;
  private stopped = false;

  private readonly kc: k8s.KubeConfig;
  private readonly log: (l: string) => void;
  private readonly o: TrackerOptions;

  constructor(kc: k8s.KubeConfig, log: (l: string) => void, o: TrackerOptions = {}) {
    this.kc = kc;
    this.log = log;
    this.o = o;
  }

  /** Resolves once the watch is open: an identity created after it is seen. */
  async start(): Promise<void> {
    if (this.stopped) return;
    const ns = this.o.namespace ? `/namespaces/${encodeURIComponent(this.o.namespace)}` : '';
    const path = `/apis/machineidentity.io/v1alpha1${ns}/machineidentities`;
    this.abort = await new k8s.Watch(this.kc).watch(
      path,
      { allowWatchBookmarks: true, ...(this.rv ? { resourceVersion: this.rv } : {}) },
      (type: string, o: Mi) => this.event(type, o),
      (err: unknown) => {
        if (this.stopped) return;
        const gone = String((err as { message?: string } | undefined)?.message ?? '').includes('410');
        if (gone) this.rv = undefined;
        if (err) this.log(`identity watch ended (${String(err).slice(0, 120)}); reconnecting`);
        setTimeout(() => void this.start().catch((e: Error) => this.log(`watch restart: ${e.message}`)), 500);
      },
    );
  }

  private event(type: string, o: Mi): void {
    if (o.metadata?.resourceVersion) this.rv = o.metadata.resourceVersion;
    if (type === 'BOOKMARK') return;
    if (type === 'ERROR') {
      this.rv = undefined;
      return;
    }
    const key = `${o.metadata?.namespace}/${o.metadata?.name}`;
    if (this.o.track !== undefined && o.metadata?.namespace === this.o.track && !this.seenAtMap.has(key))
      this.seenAtMap.set(key, performance.now());
    if (type === 'DELETED') {
      this.seen.delete(key);
      return;
    }
    const ready = !!o.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
    const authority = o.status?.authorityFingerprintSHA256 ?? '';
    const was = this.seen.get(key);
    if (was?.ready !== ready || was.authority !== authority) this.changedAt = performance.now();
    this.seen.set(key, { ready, authority });
    if (ready && !this.readyAt.has(key)) this.readyAt.set(key, performance.now());
  }

  /** Identities that are Ready (and, with `authority`, issued from that CA). */
  count(authority?: string): number {
    let n = 0;
    for (const s of this.seen.values()) if (s.ready && (authority === undefined || s.authority === authority)) n++;
    return n;
  }

  /** performance.now() when each identity ("namespace/name") was first seen Ready. */
  firstReady(): ReadonlyMap<string, number> {
    return this.readyAt;
  }

  /** performance.now() when the watch first delivered `key` (identities of the `track` namespace only). */
  seenAt(key: string): number | undefined {
    return this.seenAtMap.get(key);
  }

  /** performance.now() of the last first-time Ready seen. */
  lastReadyAt(): number {
    let t = 0;
    for (const v of this.readyAt.values()) t = Math.max(t, v);
    return t;
  }

  /** performance.now() of the last change of any identity's Ready or CA (an issuance or a reissue). */
  lastChangeAt(): number {
    return this.changedAt;
  }

  stop(): void {
    this.stopped = true;
    this.abort?.abort();
  }
}
