// A benchmark's create, retried as any client would when the API server is busy: 429, a 5xx (an
// admission webhook that timed out under load answers 500) or a dropped connection; an AlreadyExists
// after such a retry means the first attempt landed. Retries are counted so a figure can say how many.
export const createRetries = { count: 0 };

const statusOf = (e: unknown): number | undefined => {
  const code = (e as { code?: unknown } | undefined)?.code;
  return typeof code === 'number' ? code : undefined;
};

/** Whether a failed create is worth another try (busy or unreachable API server). */
function retryable(status: number | undefined): boolean {
  return status === undefined || status === 429 || status >= 500;
}

export async function createWithRetry(create: () => Promise<unknown>, attempts = 8): Promise<void> {
  for (let i = 1; ; i++) {
    try {
      await create();
      return;
    } catch (e) {
      const status = statusOf(e);
      if (status === 409 && i > 1) return;
      if (i >= attempts || !retryable(status)) throw e;
      createRetries.count++;
      await new Promise((r) => setTimeout(r, Math.min(5000, 250 * 2 ** (i - 1))));
    }
  }
}
