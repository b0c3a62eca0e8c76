// The root logger. JSON to stdout with ISO time; level from MIO_LOG_LEVEL. Key material is kept out of
// logs first by the KeyMaterial type and by serializers that shrink Kubernetes objects to references;
// the redact paths are only a backstop (pino's `*` matches exactly one level). `key` is NOT redacted:
// it is the workqueue key bound on every reconcile logger.
import pino, { type DestinationStream, type Logger } from 'pino';
import { propertyOf } from './runtime/narrow.ts';

export type { Logger };

const REDACTED = '[key redacted]';

/** Holds PEM private-key text. Prints as '[key redacted]' everywhere; `reveal()` is the one way out. */
export class KeyMaterial {
  readonly #pem: string;
  constructor(pem: string) {
    this.#pem = pem;
  }
  reveal(): string {
    return this.#pem;
  }
  toJSON(): string {
    return REDACTED;
  }
  toString(): string {
    return REDACTED;
  }
  [Symbol.toPrimitive](): string {
    return REDACTED;
  }
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return REDACTED;
  }
}

const REDACT_PATHS = [
  'privateKey',
  '*.privateKey',
  'keyPem',
  '*.keyPem',
  'privateKeyPem',
  '*.privateKeyPem',
  'data["tls.key"]',
  '*.data["tls.key"]',
  'data["keystore.p12"]',
  '*.data["keystore.p12"]',
  'stringData',
  '*.stringData',
];

interface ObjectRef {
  kind?: string;
  namespace?: string;
  name?: string;
  uid?: string;
  resourceVersion?: string;
}

/** `{kind, namespace, name, uid, resourceVersion}` of a Kubernetes object; never its data. */
export function objectRef(o: unknown): ObjectRef | unknown {
  if (typeof o !== 'object' || o === null) return o;
  const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
  const kind = str(propertyOf(o, 'kind'));
  const m = propertyOf(o, 'metadata');
  if (typeof m !== 'object' || m === null) return { kind };
  const field = (k: string): string | undefined => str(propertyOf(m, k));
  return {
    kind,
    namespace: field('namespace'),
    name: field('name'),
    uid: field('uid'),
    resourceVersion: field('resourceVersion'),
  };
}

const OBJECT_KEYS = ['obj', 'object', 'secret', 'resource', 'lease', 'old', 'new'] as const;

export interface LoggerOptions {
  level?: string;
  destination?: DestinationStream;
  bindings?: Record<string, unknown>;
}

export function createLogger(o: LoggerOptions = {}): Logger {
  const serializers: Record<string, pino.SerializerFn> = { err: pino.stdSerializers.errWithCause };
  for (const k of OBJECT_KEYS) serializers[k] = objectRef;
  const opts: pino.LoggerOptions = {
    level: o.level ?? process.env.MIO_LOG_LEVEL ?? 'info',
    timestamp: pino.stdTimeFunctions.isoTime,
    base: { pid: process.pid, ...o.bindings },
    formatters: { level: (label) => ({ level: label }) },
    serializers,
    redact: { paths: REDACT_PATHS, censor: REDACTED },
  };
  return o.destination ? pino(opts, o.destination) : pino(opts);
}
