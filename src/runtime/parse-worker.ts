// The parse pool's worker: imports the handlers module named in workerData and answers one task at
// a time. A handler's exception is an answer (name and message only), never the worker's death.
import { parentPort, workerData } from 'node:worker_threads';
import { propertyOf } from './narrow.ts';

type Handlers = Record<string, ((input: never) => unknown) | undefined>;
interface Task {
  id: number;
  op: string;
  input: unknown;
}

const port = parentPort;
if (!port) throw new Error('parse-worker runs only as a worker thread');
const url = propertyOf(workerData, 'handlers');
if (typeof url !== 'string') throw new Error('parse-worker: workerData.handlers must be a module URL');
const handlers = propertyOf(await import(url), 'default') as Handlers;
port.postMessage({ ready: true }); // the pool times tasks from here: starting is not the task's cost

port.on('message', (m: Task) => {
  try {
    const fn = handlers[m.op];
    if (!fn) throw new Error(`unknown parse op ${JSON.stringify(m.op)}`);
    port.postMessage({ id: m.id, ok: true, value: fn(m.input as never) });
  } catch (e) {
    const err = e instanceof Error ? e : new Error(String(e));
    port.postMessage({ id: m.id, ok: false, error: { name: err.name, message: err.message.slice(0, 300) } });
  }
});
