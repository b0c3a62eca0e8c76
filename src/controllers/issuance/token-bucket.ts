// Paces mass re-issuance (a CA change touches every identity it signed): `take()` returns 0 when a
// token was available, else how many ms to wait before trying again. Waiting callers do not reserve
// tokens (a requeued caller simply tries again), and their retry times are spread so they do not all
// wake together.
export class TokenBucket {
  private tokens: number;
  private last: number;
  private readonly rate: number;
  private readonly burst: number;
  private readonly random: () => number;

  constructor(ratePerSecond: number, burst: number, now = Date.now(), random: () => number = Math.random) {
    this.rate = ratePerSecond;
    this.burst = Math.max(1, burst);
    this.tokens = this.burst;
    this.last = now;
    this.random = random;
  }

  take(now = Date.now()): number {
    this.tokens = Math.min(this.burst, this.tokens + (Math.max(0, now - this.last) / 1000) * this.rate);
    this.last = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 0;
    }
    const untilNext = ((1 - this.tokens) / this.rate) * 1000;
    return Math.ceil(untilNext + this.random() * (this.burst / this.rate) * 1000);
  }
}
