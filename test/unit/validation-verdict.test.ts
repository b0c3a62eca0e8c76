// The Served verdict: what one endpoint's probe means for the Secret's current certificate, and the
// condition from all of them (worst first, stable messages), the probe schedule and the remediation plan.
import { describe, expect, it } from '@jest/globals';
import { endpointVerdict, servedCondition, type EndpointResult } from '../../src/validation/verdict.ts';
import { nextProbeDelay, validateRequested } from '../../src/validation/schedule.ts';
import { remediationPlan } from '../../src/validation/remediation.ts';
import { servedStatusChange } from '../../src/validation/served-status.ts';
import type { ProbeResult, ServedCert, ServeTarget } from '../../src/validation/types.ts';
import type { MachineIdentityModel } from '../../src/crds/index.ts';

const NOW = Date.parse('2026-12-07T10:00:00Z');
const cert = (fp: string, serial: string, notAfter = NOW + 86_400_000): ServedCert => ({
  serialNumber: serial,
  fingerprintSHA256: fp,
  publicKeySHA256: 'PK',
  subjectDN: 'CN=web',
  issuerDN: 'CN=ca',
  notBefore: NOW - 1000,
  notAfter,
  dnsNames: ['web.apps.svc'],
  ipAddresses: [],
  isCA: false,
  selfSigned: false,
  authorityKeyId: 'aa',
});
const ok = (leaf: ServedCert, presented = 2): ProbeResult => ({
  ok: true,
  at: NOW,
  durationMs: 3,
  protocol: 'TLSv1.3',
  cipher: 'TLS_AES_128_GCM_SHA256',
  leaf,
  chain: [],
  presented,
  clientCertRequested: false,
});
const current = { serialNumber: 'b2', fingerprintSHA256: 'NEW', replacedAt: NOW - 10 * 60_000, chainLength: 2 };
const base = { current, nowMs: NOW, graceMs: 120_000 };

describe('endpointVerdict', () => {
  it.each([
    ['not probed yet', undefined, undefined, 'Pending'],
    [
      'no handshake',
      { ok: false, at: NOW, durationMs: 5000, error: 'timeout', message: 'no answer in 5s' },
      undefined,
      'Unreachable',
    ],
    ['the current certificate, whole chain', ok(cert('NEW', 'b2')), undefined, 'Current'],
    ['the current leaf alone', ok(cert('NEW', 'b2'), 1), undefined, 'IncompleteChain'],
    ['the previous one, past the grace', ok(cert('OLD', 'a1')), undefined, 'Stale'],
    ['an expired one', ok(cert('OLD', 'a1', NOW - 1)), undefined, 'Expired'],
    [
      'current, the caBundle trusts its issuer',
      ok(cert('NEW', 'b2')),
      [{ subjectDN: 'CN=ca', subjectKeyId: 'aa', fingerprintSHA256: 'CA' }],
      'Current',
    ],
    [
      'current, the caBundle does not',
      ok(cert('NEW', 'b2')),
      [{ subjectDN: 'CN=other', subjectKeyId: 'bb', fingerprintSHA256: 'X' }],
      'Untrusted',
    ],
  ] as const)('%s', (_name, probe, bundle, verdict) => {
    expect(
      endpointVerdict({ ...base, probe: probe as ProbeResult | undefined, ...(bundle ? { bundle } : {}) }).verdict,
    ).toBe(verdict);
  });

  it('the previous certificate inside the grace period is AwaitingReload, with an absolute time', () => {
    const o = endpointVerdict({
      ...base,
      current: { ...current, replacedAt: NOW - 30_000 },
      probe: ok(cert('OLD', 'a1')),
    });
    expect(o.verdict).toBe('AwaitingReload');
    expect(o.message).toBe('serves serial a1, not the current b2 (replaced at 2026-12-07T09:59:30Z)');
  });

  it.each([
    ['probed before the renewal, past the grace: no evidence yet', current.replacedAt - 1, 'AwaitingReload'],
    ['probed at the renewal, past the grace', current.replacedAt, 'Stale'],
    ['probed after the renewal, past the grace', current.replacedAt + 60_000, 'Stale'],
  ])('the previous certificate %s', (_name, at, verdict) => {
    expect(endpointVerdict({ ...base, probe: { ...ok(cert('OLD', 'a1')), at } }).verdict).toBe(verdict);
  });
});

const target = (name: string): ServeTarget => ({
  key: `Service/apps/${name}/443/web.apps.svc`,
  source: 'Service',
  namespace: 'apps',
  name,
  secret: { namespace: 'apps', name: 'web-tls' },
  sni: 'web.apps.svc',
  service: { namespace: 'apps', name, port: 443 },
  addresses: [],
});
const result = (
  name: string,
  ip: string,
  probe: ProbeResult | undefined,
  workload = 'Deployment/web',
): EndpointResult => ({
  target: target(name),
  address: { ip, port: 8443, pod: `apps/${name}-${ip}`, workload },
  probe,
  outcome: endpointVerdict({ ...base, probe }),
});

describe('servedCondition', () => {
  it('no endpoints: Unknown NoEndpoints', () => {
    expect(servedCondition([])).toMatchObject({ status: 'Unknown', reason: 'NoEndpoints' });
  });
  it('all current: True', () => {
    expect(servedCondition([result('web', '10.0.0.1', ok(cert('NEW', 'b2')))])).toMatchObject({
      status: 'True',
      reason: 'ServingCurrentCertificate',
      message: 'all 1 endpoint serve the current certificate',
    });
  });
  it('2 of 3 stale: False ServingStaleCertificate naming the Service and the serials', () => {
    const c = servedCondition([
      result('web', '10.0.0.1', ok(cert('OLD', '0a1b2c3d4e5f6a7b'))),
      result('web', '10.0.0.2', ok(cert('OLD', '0a1b2c3d4e5f6a7b'))),
      result('web', '10.0.0.3', ok(cert('NEW', 'b2'))),
    ]);
    expect(c).toMatchObject({ status: 'False', reason: 'ServingStaleCertificate' });
    expect(c.message).toBe(
      '2 of 3 endpoints of Service apps/web: serves serial 0a1b2c3d4e5f…, not the current b2 (replaced at 2026-12-07T09:50:00Z)',
    );
  });
  it('expired wins over stale, unreachable is False, pending is Unknown', () => {
    expect(
      servedCondition([
        result('web', '10.0.0.1', ok(cert('OLD', 'a1'))),
        result('web', '10.0.0.2', ok(cert('OLD', 'a1', NOW - 5))),
      ]).reason,
    ).toBe('ServingExpiredCertificate');
    expect(
      servedCondition([
        result('web', '10.0.0.1', {
          ok: false,
          at: NOW,
          durationMs: 1,
          error: 'refused',
          message: 'connection refused',
        }),
      ]),
    ).toMatchObject({ status: 'False', reason: 'EndpointUnreachable' });
    expect(servedCondition([result('web', '10.0.0.1', undefined)])).toMatchObject({
      status: 'Unknown',
      reason: 'ProbePending',
    });
  });
});

describe('nextProbeDelay', () => {
  const hour = 3_600_000;
  it.each([
    ['just issued, all current', 0, ['Current'], 15_000],
    ['20 s after issuance', 20_000, ['Current'], 30_000],
    ['a minute after', 61_000, ['Current'], 120_000],
    ['long after, all current: the interval', 10 * hour, ['Current'], hour],
    ['long after, one stale: every minute', 10 * hour, ['Current', 'Stale'], 60_000],
    ['no endpoints: the interval', 10 * hour, [], hour],
  ] as const)('%s', (_n, since, verdicts, want) => {
    expect(nextProbeDelay({ nowMs: NOW, intervalMs: hour, revisionSeenAt: NOW - since, verdicts })).toBe(want);
  });
  it('a validate request newer than the last probe', () => {
    expect(validateRequested('2026-12-07T10:00:00Z', NOW - 1, NOW)).toBe(NOW);
    expect(validateRequested('2026-12-07T10:00:00Z', NOW, NOW)).toBeUndefined();
    expect(validateRequested('2026-12-07T10:00:00Z', NOW + 1, NOW)).toBeUndefined();
    expect(validateRequested('garbage', undefined, NOW)).toBeUndefined();
    expect(validateRequested(undefined, undefined, NOW)).toBeUndefined();
    // a tenant's time far ahead would ask again after every probe: not a request
    expect(validateRequested('2027-01-01T00:00:00Z', NOW - 1, NOW)).toBeUndefined();
  });
});

describe('remediationPlan', () => {
  const stale = result('web', '10.0.0.1', ok(cert('OLD', 'a1')));
  it('report only without restartWhenStaleAfter', () => {
    expect(
      remediationPlan({ namespace: 'apps', afterMs: undefined, nowMs: NOW, replacedAt: NOW - hour(), results: [stale] })
        .restart,
    ).toEqual([]);
  });
  it('waits until restartWhenStaleAfter has passed since the renewal', () => {
    expect(
      remediationPlan({ namespace: 'apps', afterMs: 600_000, nowMs: NOW, replacedAt: NOW - 60_000, results: [stale] }),
    ).toMatchObject({
      restart: [],
      waitMs: 540_000,
    });
  });
  it('restarts each stale workload once, never another namespace or a bare pod', () => {
    const plan = remediationPlan({
      namespace: 'apps',
      afterMs: 60_000,
      nowMs: NOW,
      replacedAt: NOW - 600_000,
      results: [
        stale,
        result('web', '10.0.0.2', ok(cert('OLD', 'a1'))),
        result('web', '10.0.0.3', ok(cert('OLD', 'a1')), 'Pod/bare'),
        { ...stale, address: { ...stale.address, pod: 'ingress/ctrl-1', workload: 'Deployment/ctrl' } },
        result('web', '10.0.0.4', ok(cert('NEW', 'b2')), 'StatefulSet/fresh'),
      ],
    });
    expect(plan.restart).toEqual([{ kind: 'Deployment', name: 'web' }]);
    expect(plan.unmanaged).toEqual(['apps/web-10.0.0.3']);
  });
});
const hour = (): number => 3_600_000;

describe('servedStatusChange', () => {
  const mi = (status: object): MachineIdentityModel =>
    ({
      metadata: { name: 'web', namespace: 'apps', uid: 'u', generation: 1 },
      status,
    }) as unknown as MachineIdentityModel;
  const results = [result('web', '10.0.0.1', ok(cert('NEW', 'b2')))];
  const condition = servedCondition(results);
  it('writes the condition and the endpoints the first time', () => {
    const s = servedStatusChange(mi({}), { condition, results, probedAtMs: NOW, answerRequest: false }, new Date(NOW));
    expect(s?.conditions?.map((c) => c.type)).toEqual(['Served']);
    expect(s?.served).toMatchObject({ lastProbeTime: '2026-12-07T10:00:00Z', endpointCount: 1 });
    expect(s?.served?.endpoints?.[0]).toMatchObject({
      object: 'apps/web',
      address: '10.0.0.1',
      verdict: 'Current',
      servedSerialNumber: 'b2',
    });
  });
  it('writes nothing when the same verdicts are found an hour later, unless a validate request waits', () => {
    const first = servedStatusChange(
      mi({}),
      { condition, results, probedAtMs: NOW, answerRequest: false },
      new Date(NOW),
    );
    const later = { condition, results, probedAtMs: NOW + 3_600_000, answerRequest: false };
    expect(servedStatusChange(mi(first ?? {}), later, new Date(NOW + 3_600_000))).toBeUndefined();
    expect(
      servedStatusChange(mi(first ?? {}), { ...later, answerRequest: true }, new Date(NOW + 3_600_000))?.served
        ?.lastProbeTime,
    ).toBe('2026-12-07T11:00:00Z');
  });
});
