// A child logger made only when something is logged through it. Every reconcile binds its key and
// reconcileID, and pino's child() serialises (and redacts) those bindings at once: under bench issuance
// that was about 2% of the operator's CPU, for loggers that almost never log (a calm reconcile is silent).
import type { Logger } from 'pino';

const LEVELS = new Set(['trace', 'debug', 'info', 'warn', 'error', 'fatal']);
const noop = (): void => undefined;

export function lazyChild(parent: Logger, bindings: Record<string, unknown>): Logger {
  let child: Logger | undefined;
  const real = (): Logger => (child ??= parent.child(bindings));
  return new Proxy(parent, {
    get(_target, prop) {
      // a call at a level that is off does nothing whichever logger it goes to
      if (typeof prop === 'string' && LEVELS.has(prop) && !child && !parent.isLevelEnabled(prop)) return noop;
      const c = real();
      const v: unknown = Reflect.get(c, prop, c);
      return typeof v === 'function' ? v.bind(c) : v;
    },
    set(_target, prop, value) {
      return Reflect.set(real(), prop, value);
    },
  });
}
