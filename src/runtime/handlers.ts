// Event handlers of an informer. A handler's exception (sync or async) is logged, never propagated:
// it must not kill the watch or become an unhandled rejection.
import type { Logger } from 'pino';

export type Handler<A extends unknown[]> = (...args: A) => void | Promise<void>;

export function callHandlers<A extends unknown[]>(log: Logger, handlers: readonly Handler<A>[], ...args: A): void {
  for (const h of handlers) {
    try {
      const r = h(...args);
      if (r && typeof r.then === 'function')
        r.then(undefined, (err: unknown) => log.error({ err }, 'informer handler failed'));
    } catch (err) {
      log.error({ err }, 'informer handler failed');
    }
  }
}
