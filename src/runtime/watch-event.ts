// One event of a watch stream, and what an ERROR event means.
import * as k8s from '@kubernetes/client-node';

export interface WatchEvent<T> {
  type: string;
  object: T & { code?: number; reason?: string; message?: string };
}

/** An ERROR event: 410 Gone asks for a relist; anything else ends the watch as a failure. */
export function watchError(obj: WatchEvent<unknown>['object'] | undefined): 'gone' {
  if (obj?.code === 410) return 'gone';
  throw new k8s.ApiException(
    obj?.code ?? 500,
    `watch error: ${obj?.reason ?? ''} ${obj?.message ?? ''}`,
    JSON.stringify(obj),
    {},
  );
}
