// Reading errors from node:crypto and OpenSSL without echoing the input they choked on.

/** The `code` of a node:crypto / OpenSSL error (ERR_OSSL_...), which names the problem and never the input. */
export function errorCode(e: unknown): string | undefined {
  if (typeof e !== 'object' || e === null || !('code' in e)) return undefined;
  return typeof e.code === 'string' ? e.code : undefined;
}
