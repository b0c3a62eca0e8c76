// Follows every MachineIdentity in the cluster with one watch and keeps only what a scale benchmark
// asks of each (Ready, the CA fingerprint it was issued from): 100,000 identities must not cost the
// benchmark process the memory of 100,000 objects. Reconnects from the last resourceVersion.
import * as k8s from '@kubernetes/client-node';

interface Seen {
  ready: boolean;
  authority: string;
}
type Mi = {
  metadata?: { namespace?: string; name?: string; resourceVersion?: string };
  status?: { authorityFingerprintSHA256?: string; conditions?: { type: string; status: string }[] };
};

export class IdentityTracker {
  private readonly seen = new Map<string, Seen>();
  private readonly readyAt = new Map<string, number>();
  private rv: string | undefined;
  private changedAt = 0;
  private abort: AbortController | undefined;
  private stopped = false;

  private readonly kc: k8s.KubeConfig;
  private readonly log: (l: string) => void;

  constructor(kc: k8s.KubeConfig, log: (l: string) => void) {
    this.kc = kc;
    this.log = log;
  }

  async start(): Promise<void> {
    if (this.stopped) return;
    const path = '/apis/machineidentity.io/v1alpha1/machineidentities';
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
