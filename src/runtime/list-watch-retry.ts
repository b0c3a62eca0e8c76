// How the list/watch loop counts failures and labels restarts: the decisions behind its backoff.
import { toKubeError } from './kube.ts';
import { propertyOf } from './narrow.ts';
import type { WatchOutcome } from './watch-once.ts';

export interface LoopState {
  failures: number;
  needList: boolean;
}

/** A watch that delivered events, or ended in 410 Gone, was healthy; one that closed empty counts as a failure. */
export function failuresAfterWatch(
  failures: number,
  outcome: Exclude<WatchOutcome, 'stopped'>,
  events: number,
): number {
  if (events > 0 || outcome === 'gone') return 0;
  return failures + (outcome === 'closed' ? 1 : 0);
}

export function errorReason(err: unknown): string {
  const code = toKubeError(err).code;
  if (code !== undefined) return code >= 500 ? 'http_5xx' : 'http_4xx';
  return 'connection_error';
}

// fetch() failures hide the useful part (ECONNREFUSED) in `cause`; keep logs short.
export function errForLog(err: unknown): unknown {
  const k = toKubeError(err);
  const cause = propertyOf(propertyOf(err, 'cause'), 'code');
  return { message: k.message, code: k.code ?? cause };
}
