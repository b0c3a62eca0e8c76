import { describe, it, expect, jest } from '@jest/globals';
import { Writable } from 'node:stream';
import pino from 'pino';
import { lazyChild } from '../../src/runtime/lazy-logger.ts';

function capture(level: string): { lines: () => Record<string, unknown>[]; log: pino.Logger } {
  const out: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      out.push(String(chunk));
      cb();
    },
  });
  return {
    lines: () => out.map((l) => JSON.parse(l) as Record<string, unknown>),
    log: pino({ level, redact: ['*.privateKey'] }, stream),
  };
}

describe('lazyChild', () => {
  it.each([
    { name: 'info at level info: logged with the bindings', level: 'info', call: 'info', logged: true, made: true },
    {
      name: 'debug at level info: nothing, and no child made',
      level: 'info',
      call: 'debug',
      logged: false,
      made: false,
    },
    { name: 'error at level warn: logged with the bindings', level: 'warn', call: 'error', logged: true, made: true },
  ] as const)('$name', ({ level, call, logged, made }) => {
    const { lines, log } = capture(level);
    const child = jest.spyOn(log, 'child');
    const lazy = lazyChild(log, { key: 'ns/a', reconcileID: 'r1' });
    lazy[call]({ detail: { privateKey: 'secret' } }, 'hello');
    expect(child).toHaveBeenCalledTimes(made ? 1 : 0);
    const got = lines();
    expect(got).toHaveLength(logged ? 1 : 0);
    if (logged)
      expect(got[0]).toMatchObject({
        key: 'ns/a',
        reconcileID: 'r1',
        msg: 'hello',
        detail: { privateKey: '[Redacted]' },
      });
  });

  it('makes the child once, and a child of it carries both bindings', () => {
    const { lines, log } = capture('info');
    const child = jest.spyOn(log, 'child');
    const lazy = lazyChild(log, { key: 'ns/a' });
    lazy.info('one');
    lazy.warn('two');
    lazy.child({ step: 'x' }).info('three');
    // once for the lazy child itself, once for the explicit child of it
    expect(child.mock.calls.map((c) => c[0])).toEqual([{ key: 'ns/a' }, { step: 'x' }]);
    expect(lines().map((l) => [l.msg, l.key, l.step])).toEqual([
      ['one', 'ns/a', undefined],
      ['two', 'ns/a', undefined],
      ['three', 'ns/a', 'x'],
    ]);
  });

  it('a logger never used makes no child at all', () => {
    const { log } = capture('debug');
    const child = jest.spyOn(log, 'child');
    lazyChild(log, { key: 'ns/a' });
    expect(child).not.toHaveBeenCalled();
  });
});
