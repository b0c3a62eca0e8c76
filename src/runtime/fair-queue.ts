// The work queue's waiting line, fair between tenants: each tenant (a key's namespace) has its own FIFO,
// and keys are handed out round-robin across the tenants that have any waiting. A namespace that adds
// 10,000 keys at once then delays another namespace's key by at most one key per busy tenant, instead of
// putting it behind all 10,000. Within one tenant the order stays first in, first out. O(1) per push/shift.

/** The tenant of a `namespace/name` key: its namespace; cluster-scoped keys (`name`) share the tenant ''. */
export function namespaceOf(key: string): string {
  const slash = key.indexOf('/');
  return slash < 0 ? '' : key.slice(0, slash);
}

/** A FIFO of strings with O(1) shift (an array with a moving head, compacted as it drains). */
class Fifo {
  private items: string[] = [];
  private head = 0;

  get size(): number {
    return this.items.length - this.head;
  }
  push(s: string): void {
    this.items.push(s);
  }
  shift(): string | undefined {
    if (this.head >= this.items.length) return undefined;
    const s = this.items[this.head++];
    // drop the consumed prefix once it is half the array, so memory follows what is waiting
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return s;
  }
}

export class FairQueue {
  private readonly byTenant = new Map<string, Fifo>();
  /** Tenants with keys waiting, in the order they are served next (each appears once). */
  private readonly turns = new Fifo();
  private count = 0;
  private readonly tenantOf: (key: string) => string;

  constructor(tenantOf: (key: string) => string = namespaceOf) {
    this.tenantOf = tenantOf;
  }

  get length(): number {
    return this.count;
  }

  push(key: string): void {
    const tenant = this.tenantOf(key);
    let q = this.byTenant.get(tenant);
    if (!q) {
      this.byTenant.set(tenant, (q = new Fifo()));
      this.turns.push(tenant);
    }
    q.push(key);
    this.count++;
  }

  /** The next key: the oldest of the tenant whose turn it is; that tenant then goes to the back of the line. */
  shift(): string | undefined {
    const tenant = this.turns.shift();
    if (tenant === undefined) return undefined;
    const q = this.byTenant.get(tenant);
    const key = q?.shift();
    if (!q || key === undefined) return undefined; // unreachable: a tenant in line always has a key
    this.count--;
    if (q.size > 0) this.turns.push(tenant);
    else this.byTenant.delete(tenant);
    return key;
  }

  clear(): void {
    this.byTenant.clear();
    while (this.turns.shift() !== undefined);
    this.count = 0;
  }
}
