import { describe, it, expect } from '@jest/globals';
import { loadConfig, parseDurationMs } from '../../src/config.ts';

describe('parseDurationMs', () => {
  it.each([
    ['15s', 15_000],
    ['1h30m', 5_400_000],
    ['90m', 5_400_000],
    ['500ms', 500],
    ['2160h', 2160 * 3_600_000],
    ['1.5s', 1500],
  ])('%s = %d ms', (s, ms) => expect(parseDurationMs(s)).toBe(ms));
  it.each(['', '15', 's', '1d', '-1s', '1h 30m', 'abc'])('rejects %j', (s) =>
    expect(() => parseDurationMs(s)).toThrow(/invalid duration/),
  );
});

describe('loadConfig', () => {
  it('has defaults a cluster install can run with', () => {
    const c = loadConfig({});
    expect(c.http).toEqual({ host: '0.0.0.0', port: 8080 });
    expect(c.leaderElection).toMatchObject({
      enabled: true,
      leaseName: 'machine-identity-operator',
      leaseDurationMs: 15_000,
      renewDeadlineMs: 10_000,
      retryPeriodMs: 2_000,
    });
    expect(c.policyDefaultAction).toBe('Allow');
    expect(c.namespace).toBe('machine-identity-system');
  });
  it('reads the chart variables', () => {
    const c = loadConfig({
      POD_NAMESPACE: 'ops',
      POD_NAME: 'mio-0',
      MIO_HTTP_ADDR: '127.0.0.1:0',
      MIO_LEADER_ELECT: 'false',
      MIO_POLICY_DEFAULT_ACTION: 'Deny',
      MIO_WORKERS: '8',
    });
    expect(c).toMatchObject({
      namespace: 'ops',
      identity: 'mio-0',
      http: { host: '127.0.0.1', port: 0 },
      policyDefaultAction: 'Deny',
      workers: 8,
    });
    expect(c.leaderElection.enabled).toBe(false);
  });
  it('names every bad variable in one message', () => {
    expect(() =>
      loadConfig({ MIO_LEASE_DURATION: 'soon', MIO_WORKERS: '0', MIO_POLICY_DEFAULT_ACTION: 'Maybe' }),
    ).toThrow(/MIO_LEASE_DURATION.*MIO_POLICY_DEFAULT_ACTION.*MIO_WORKERS|MIO_LEASE_DURATION/);
  });
  it('serves the webhook on :9443 by default and not at all when off', () => {
    expect(loadConfig({}).webhook).toEqual({
      host: '0.0.0.0',
      port: 9443,
      secretName: 'machine-identity-operator-webhook-tls',
      hosts: ['localhost'],
      configName: '',
    });
    expect(loadConfig({ MIO_WEBHOOK_ADDR: 'off' }).webhook).toBeUndefined();
    expect(
      loadConfig({
        MIO_WEBHOOK_ADDR: '127.0.0.1:0',
        MIO_WEBHOOK_HOSTS: 'svc.ns.svc, 127.0.0.1',
        MIO_WEBHOOK_CONFIG_NAME: 'mio',
      }).webhook,
    ).toMatchObject({ host: '127.0.0.1', port: 0, hosts: ['svc.ns.svc', '127.0.0.1'], configName: 'mio' });
    expect(() => loadConfig({ MIO_WEBHOOK_ADDR: 'on' })).toThrow(/MIO_WEBHOOK_ADDR/);
  });
  it('refuses a renew deadline not shorter than the lease', () => {
    expect(() => loadConfig({ MIO_LEASE_DURATION: '10s', MIO_RENEW_DEADLINE: '10s' })).toThrow(/RENEW_DEADLINE/);
  });
});
