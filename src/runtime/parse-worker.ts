// The parse pool's worker: imports the handlers module named in workerData and answers one task at
// a time. A handler's exception is an answer (name and message only), never the worker's death.
import { parentPort, workerData } from 'node:worker_threads';

type Handlers = Record<string, (input: never) => unknown>;
const { handlers: url } = workerData as { handlers: string };
const handlers = ((await import(url)) as { default: Handlers }).default;

parentPort!.on('message', (m: { id: number; op: string; input: unknown }) => {
  try {
    const fn = handlers[m.op];
    if (!fn) throw new Error(`unknown parse op ${JSON.stringify(m.op)}`);
    parentPort!.postMessage({ id: m.id, ok: true, value: fn(m.input as never) });
  } catch (e) {
    const err = e instanceof Error ? e : new Error(String(e));
    parentPort!.postMessage({ id: m.id, ok: false, error: { name: err.name, message: err.message.slice(0, 300) } });
  }
});
