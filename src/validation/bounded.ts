// Runs fn over items with at most `limit` calls pending at once. The validation controller probes an
// identity's endpoints through it: with one Promise.all an identity behind a 2,000-pod ingress controller
// handed the prober 2,000 probes at once, more than its queue takes (10 × concurrency), and the same first
// ones were accepted on every round while the rest were refused for ever (bench validate identities=1
// addresses=2000: 176 probes per round, Served stuck at ProbePending).
export async function boundedEach<T>(items: readonly T[], limit: number, fn: (t: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++] as T;
      await fn(item);
    }
  };
  const lanes = Math.max(1, Math.min(Math.floor(limit) || 1, items.length));
  await Promise.all(Array.from({ length: lanes }, lane));
}
