// One slow or failing authority must not occupy every worker: each authority may have at most
// `limit` issuances in flight (a quarter of the workers, at least one, stays free for the others);
// beyond that the key is requeued shortly instead of waiting in a worker.
export class FairShare {
  private readonly inFlight = new Map<string, number>();
  readonly limit: number;

  constructor(workers: number) {
    this.limit = Math.max(1, workers - Math.max(1, Math.floor(workers / 4)));
  }

  hasRoom(authority: string): boolean {
    return (this.inFlight.get(authority) ?? 0) < this.limit;
  }

  /** Takes a slot for `authority`, or returns false when it already has `limit` in flight. */
  tryAcquire(authority: string): boolean {
    const n = this.inFlight.get(authority) ?? 0;
    if (n >= this.limit) return false;
    this.inFlight.set(authority, n + 1);
    return true;
  }

  release(authority: string): void {
    const n = (this.inFlight.get(authority) ?? 1) - 1;
    if (n <= 0) this.inFlight.delete(authority);
    else this.inFlight.set(authority, n);
  }
}
