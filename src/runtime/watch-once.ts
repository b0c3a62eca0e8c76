// One watch connection: opened from a resourceVersion, read line by line until the server closes
// it, the caller stops, nothing arrives for `inactivityMs` (presumed dead), or an event asks for a
// relist (410 Gone).
import type * as k8s from '@kubernetes/client-node';
import { isGone } from './kube.ts';
import { LineSplitter } from './watch-lines.ts';
import { openWatch, type WatchRequest } from './watch-request.ts';

export type WatchOutcome = 'gone' | 'closed' | 'timeout' | 'stopped';

export interface WatchOnceOptions {
  kc: k8s.KubeConfig;
  request: WatchRequest;
  inactivityMs: number;
  /** Aborted when the informer stops. */
  stop: AbortSignal;
  /** Applies one event line; 'gone' ends the watch and asks for a relist. May throw (a failed watch). */
  onEvent: (line: string) => 'gone' | undefined;
}

/** Watches once; `events` counts the event lines applied (a watch that delivered something was healthy). */
export async function watchOnce(o: WatchOnceOptions): Promise<{ outcome: WatchOutcome; events: number }> {
  const ac = new AbortController();
  let timedOut = false;
  let timer: NodeJS.Timeout | undefined;
  // re-armed on every chunk: refresh() moves the one timer instead of a clear and a new timer per chunk
  const arm = (): void => {
    if (timer) {
      timer.refresh();
      return;
    }
    timer = setTimeout(() => {
      timedOut = true;
      ac.abort();
    }, o.inactivityMs);
    timer.unref();
  };
  const onStop = (): void => ac.abort();
  o.stop.addEventListener('abort', onStop, { once: true });
  const counted = { events: 0 };
  try {
    arm();
    const outcome = await readWatch(o, ac.signal, arm, counted);
    return { outcome, events: counted.events };
  } catch (err) {
    return { outcome: failedWatchOutcome(err, o.stop.aborted, timedOut), events: counted.events };
  } finally {
    clearTimeout(timer);
    o.stop.removeEventListener('abort', onStop);
    ac.abort(); // releases the connection whichever way we left
  }
}

async function readWatch(
  o: WatchOnceOptions,
  signal: AbortSignal,
  onChunk: () => void,
  counted: { events: number },
): Promise<WatchOutcome> {
  const res = await openWatch(o.kc, o.request, signal);
  const decoder = new TextDecoder();
  const lines = new LineSplitter();
  for await (const chunk of res.chunks) {
    onChunk();
    for (const line of lines.push(decoder.decode(chunk, { stream: true }))) {
      counted.events++;
      if (o.onEvent(line) === 'gone') return 'gone';
    }
  }
  return 'closed';
}

/** Why a watch ended with an error; an error that is none of these is rethrown (a failed watch). */
function failedWatchOutcome(err: unknown, stopped: boolean, timedOut: boolean): WatchOutcome {
  if (stopped) return 'stopped';
  if (timedOut) return 'timeout';
  if (isGone(err)) return 'gone';
  throw err;
}
