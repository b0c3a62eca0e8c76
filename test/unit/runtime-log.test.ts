import { describe, it, expect } from '@jest/globals';
import { inspect } from 'node:util';
import { Writable } from 'node:stream';
import { KeyMaterial, createLogger, objectRef } from '../../src/log.ts';

const PEM =
  '-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIFakeKeyBytesForTestsOnly0000000000000\n-----END PRIVATE KEY-----\n';

function capture(): { lines: string[]; stream: Writable } {
  const lines: string[] = [];
  return {
    lines,
    stream: new Writable({
      write(chunk, _enc, cb) {
        lines.push(String(chunk));
        cb();
      },
    }),
  };
}

describe('KeyMaterial', () => {
  const km = new KeyMaterial(PEM);
  it.each([
    ['JSON.stringify', () => JSON.stringify({ km })],
    ['util.inspect', () => inspect({ nested: { km } }, { depth: 10 })],
    ['template string', () => `${km}`],
    ['String()', () => String(km)],
    ['concatenation', () => 'k=' + km],
  ])('%s does not print the key', (_n, f) => {
    const out = f();
    expect(out).toContain('[key redacted]');
    expect(out).not.toContain('PRIVATE KEY');
  });

  it('reveal() is the one way out', () => {
    expect(km.reveal()).toBe(PEM);
  });

  it('pino output never contains the key, at any depth', () => {
    const { lines, stream } = capture();
    const log = createLogger({ level: 'debug', destination: stream });
    log.info({ km, deep: { a: { b: { km } } } }, 'with key');
    log.info({ privateKey: PEM, obj: { privateKey: PEM } }, 'backstop');
    const all = lines.join('');
    expect(all).not.toContain('PRIVATE KEY');
    expect(all).not.toContain('FakeKeyBytes');
  });
});

describe('logger', () => {
  it('reduces Kubernetes objects to references and keeps error causes', () => {
    const { lines, stream } = capture();
    const log = createLogger({ level: 'info', destination: stream });
    const secret = {
      kind: 'Secret',
      metadata: { namespace: 'ns', name: 's', uid: 'u', resourceVersion: '7' },
      data: { 'tls.key': 'QUJD' },
    };
    log.info({ secret, err: new Error('outer', { cause: Object.assign(new Error('inner'), { code: 'E1' }) }) }, 'x');
    const rec = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(rec.secret).toEqual({ kind: 'Secret', namespace: 'ns', name: 's', uid: 'u', resourceVersion: '7' });
    expect(JSON.stringify(rec)).not.toContain('QUJD');
    expect((rec.err as { cause: { code: string } }).cause.code).toBe('E1');
    expect(rec.level).toBe('info');
    expect(String(rec.time)).toMatch(/^\d{4}-\d\d-\d\dT/);
  });

  it('objectRef leaves non-objects alone', () => {
    expect(objectRef('x')).toBe('x');
    expect(objectRef({ kind: 'A' })).toEqual({ kind: 'A' });
  });
});
