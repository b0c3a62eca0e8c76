// Paces mass re-issuance (a CA change touches every identity it signed): `take()` returns 0 when a
// token was available, else how many ms until the next one (the caller requeues after that).
export class TokenBucket {
  private tokens: number;
  private last = Date.now();
  private readonly rate: number;
  private readonly burst: number;

  constructor(ratePerSecond: number, burst: number) {
    this.rate = ratePerSecond;
    this.burst = burst;
    this.tokens = burst;
  }

  take(now = Date.now()): number {
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.rate);
    this.last = now;
    if (this.tokens >= 1) { this.tokens -= 1; return 0; }
    // reserve the next token so concurrent callers spread out instead of all waking together
    this.tokens -= 1;
    return Math.ceil((-this.tokens / this.rate) * 1000);
  }
}
