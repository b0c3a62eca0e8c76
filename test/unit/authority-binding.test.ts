// The pure decisions of the authority-binding controller: when to look at a binding again, which trust
// bundle to publish, which Secrets a spec reads, and the status fields it owns.
import { describe, it, expect } from '@jest/globals';
import {
  CONFLICT_RESYNC_MS,
  desiredBundle,
  notReady,
  requeueDelay,
  RESYNC_MS,
  type Outcome,
} from '../../src/controllers/authority-binding/binding-outcome.ts';
import { secretNames, secretRefs } from '../../src/controllers/authority-binding/secret-refs.ts';
import { statusFields } from '../../src/controllers/authority-binding/binding-status.ts';
import { caRecordOf, ContinuityResult } from '../../src/controllers/authority-binding/ca-continuity-result.ts';

const now = new Date('2026-01-01T00:00:00Z');
const at = (ms: number): Date => new Date(now.getTime() + ms);
const ready = (extra: Partial<Outcome> = {}): Outcome => ({
  ready: { type: 'Ready', status: 'True', reason: 'Ready', message: 'ok' },
  ...extra,
});

describe('requeueDelay', () => {
  it.each<[string, Outcome, number, number]>([
    ['a Ready binding without expiry resyncs every 6 hours', ready(), 0, RESYNC_MS],
    ['a foreign trust-bundle ConfigMap shortens the resync to 5 minutes', ready(), 2, CONFLICT_RESYNC_MS],
    ['a Ready CA expiring in 1 hour: just after it expires', ready({ notAfter: at(3600_000) }), 0, 3600_000 + 1000],
    ['a Ready CA expiring in 10 hours: the resync comes first', ready({ notAfter: at(10 * 3600_000) }), 0, RESYNC_MS],
    [
      'a conflict and a CA expiring in 1 hour: the conflict resync comes first',
      ready({ notAfter: at(3600_000) }),
      1,
      CONFLICT_RESYNC_MS,
    ],
    ['a CA already expired: no sooner than a second', ready({ notAfter: at(-60_000) }), 0, 1000],
    ['a not-Ready binding ignores notAfter', notReady('InvalidCA', 'x', { notAfter: at(60_000) }), 0, RESYNC_MS],
    [
      'a CA not yet valid: just after it becomes valid',
      notReady('CANotYetValid', 'x', { requeueAt: at(120_000) }),
      0,
      121_000,
    ],
    ['requeueAt wins over notAfter', ready({ requeueAt: at(30_000), notAfter: at(60_000) }), 0, 31_000],
  ])('%s', (_name, o, conflicts, want) => {
    expect(requeueDelay(now, o, conflicts)).toBe(want);
  });
});

describe('desiredBundle', () => {
  const spec = {
    trustBundle: { configMapName: 'ca', key: 'ca.crt' },
    namespaceSelector: { matchLabels: { team: 'a' } },
  };
  it.each<[string, Parameters<typeof desiredBundle>[0], Outcome, string | undefined, ReturnType<typeof desiredBundle>]>(
    [
      ['no spec (invalid): remove ours', undefined, ready(), 'PEM', { kind: 'remove' }],
      ['no trustBundle: remove ours', {}, ready(), 'PEM', { kind: 'remove' }],
      [
        'selfSigned has no CA to publish: remove ours',
        spec,
        ready({ backend: 'selfSigned' }),
        'PEM',
        { kind: 'remove' },
      ],
      ['nothing recorded yet: keep what is published', spec, ready({ backend: 'ca' }), undefined, { kind: 'keep' }],
      [
        'a recorded CA: publish it where the selector says',
        spec,
        ready({ backend: 'ca' }),
        'PEM',
        {
          kind: 'publish',
          configMapName: 'ca',
          key: 'ca.crt',
          bundlePem: 'PEM',
          namespaceSelector: { matchLabels: { team: 'a' } },
        },
      ],
      [
        'a not-Ready CA still publishes the record',
        spec,
        notReady('CASecretMissing', 'x', { backend: 'ca' }),
        'PEM',
        {
          kind: 'publish',
          configMapName: 'ca',
          key: 'ca.crt',
          bundlePem: 'PEM',
          namespaceSelector: { matchLabels: { team: 'a' } },
        },
      ],
    ],
  )('%s', (_name, s, o, pem, want) => {
    expect(desiredBundle(s, o, () => pem)).toEqual(want);
  });
});

describe('secretRefs', () => {
  it.each<[string, unknown, [string, string][]]>([
    ['nothing', undefined, []],
    ['a ca secretRef names a key pair: tls.key', { ca: { secretRef: { name: 'root' } } }, [['root', 'tls.key']]],
    [
      'a *SecretRef with its key',
      { cfssl: { url: 'https://x', authKeySecretRef: { name: 'auth', key: 'k' } } },
      [['auth', 'k']],
    ],
    [
      'several, nested in arrays',
      {
        acme: {
          solvers: [{ dns01: { rfc2136: { tsigSecretRef: { name: 'tsig', key: 's' } } } }],
          accountKeySecretRef: { name: 'acct' },
        },
      },
      [
        ['tsig', 's'],
        ['acct', 'tls.key'],
      ],
    ],
    [
      'a secretRef without a string name is walked, not taken',
      { secretRef: { name: 3, inner: { secretRef: { name: 'deep' } } } },
      [['deep', 'tls.key']],
    ],
    ['a non-string key falls back to tls.key', { secretRef: { name: 'x', key: 1 } }, [['x', 'tls.key']]],
  ])('%s', (_name, spec, want) => {
    expect(secretRefs(spec)).toEqual(want);
    expect(secretNames(spec)).toEqual(want.map(([n]) => n));
  });

  it('stops 8 levels deep (hostile nesting)', () => {
    let spec: unknown = { secretRef: { name: 'bottom' } };
    for (let i = 0; i < 8; i++) spec = { a: spec };
    expect(secretRefs(spec)).toEqual([['bottom', 'tls.key']]);
    expect(secretRefs({ a: spec })).toEqual([]);
  });
});

describe('statusFields', () => {
  const notAfter = new Date('2030-01-01T00:00:00.123Z');
  it('a ca binding shows the recorded CA, not the one in the Secret', () => {
    expect(
      statusFields(
        ready({ backend: 'ca', fingerprint: 'NEW', notAfter }),
        { fingerprint: 'OLD', previous: [] },
        { caPublishedAt: 't' },
      ),
    ).toEqual({ backend: 'ca', caFingerprintSHA256: 'OLD', caNotAfter: '2030-01-01T00:00:00Z', caPublishedAt: 't' });
  });
  it('without a record: the resolved CA', () => {
    expect(statusFields(ready({ backend: 'vault', fingerprint: 'FP' }), undefined, {})).toEqual({
      backend: 'vault',
      caFingerprintSHA256: 'FP',
      caNotAfter: undefined,
    });
  });
});

describe('caRecordOf and ContinuityResult', () => {
  it('reads the record from the parsed status, copying the previous CAs', () => {
    const previousCAs = [{ fingerprintSHA256: 'P', trustBundle: 'PEM-P', retiredAt: 't0', retireAfter: 't1' }];
    const rec = caRecordOf({
      caFingerprintSHA256: 'F',
      caTrustBundle: 'PEM',
      previousCAs,
      caPublishedAt: 't2',
      caRegenerationHandled: 'r',
    });
    expect(rec).toEqual({
      fingerprint: 'F',
      trustBundle: 'PEM',
      previous: previousCAs,
      publishedAt: 't2',
      regenerationHandled: 'r',
    });
    expect(rec.previous).not.toBe(previousCAs);
  });
  it('no status: an empty record', () => {
    expect(caRecordOf(undefined)).toEqual({
      fingerprint: undefined,
      trustBundle: undefined,
      previous: [],
      publishedAt: undefined,
      regenerationHandled: undefined,
    });
  });
  it('nothing recorded: no bundle and nothing for the issuer cache', () => {
    const r = new ContinuityResult();
    expect(r.bundlePem()).toBeUndefined();
    expect(r.cacheFields()).toEqual({});
  });
  it('not yet published: identities wait (reissueNotBefore is Infinity)', () => {
    const r = new ContinuityResult();
    r.record = { fingerprint: 'F', previous: [] };
    expect(r.cacheFields()).toEqual({ trustBundlePem: undefined, reissueNotBefore: Infinity });
  });
  it('published: identities move after the propagation delay', () => {
    const r = new ContinuityResult();
    r.propagationDelayMs = 300_000;
    r.record = { fingerprint: 'F', previous: [], publishedAt: '2026-01-01T00:00:00.000Z' };
    expect(r.cacheFields().reissueNotBefore).toBe(Date.parse('2026-01-01T00:05:00.000Z'));
  });
});
