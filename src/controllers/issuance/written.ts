// Secrets this process just wrote, until the informer delivers them: a reconcile that runs in between
// (woken by the status write) would otherwise miss the Secret in the cache and read it from the API.
import type * as k8s from '@kubernetes/client-node';

const TTL_MS = 60_000;

export class RecentlyWritten {
  private readonly m = new Map<string, { secret: k8s.V1Secret; at: number }>();

  remember(secret: k8s.V1Secret): void {
    const key = `${secret.metadata?.namespace}/${secret.metadata?.name}`;
    this.m.set(key, { secret, at: Date.now() });
    if (this.m.size > 10_000) this.prune();
  }

  /** The Secret we wrote, unless the informer's copy (if any) is at least as new. */
  get(key: string, cached: k8s.V1Secret | undefined): k8s.V1Secret | undefined {
    const e = this.m.get(key);
    if (!e) return cached;
    const newer = cached && Number(cached.metadata?.resourceVersion) >= Number(e.secret.metadata?.resourceVersion);
    if (newer || Date.now() - e.at > TTL_MS) {
      this.m.delete(key);
      return cached;
    }
    return e.secret;
  }

  forget(key: string): void {
    this.m.delete(key);
  }

  private prune(): void {
    const now = Date.now();
    for (const [k, e] of this.m) if (now - e.at > TTL_MS) this.m.delete(k);
  }
}
