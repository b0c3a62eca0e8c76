import { describe, it, expect } from '@jest/globals';
import { Registry } from 'prom-client';
import {
  MAX_ENDPOINTS_PER_IDENTITY,
  ValidationMetrics,
  type EndpointMetric,
} from '../../src/validation/validation-metrics.ts';
import type { ProbeResult } from '../../src/validation/types.ts';

interface Sample {
  labels: Record<string, string | number>;
  value: number;
}
async function samples(registry: Registry, name: string): Promise<Sample[]> {
  const m = registry.getSingleMetric(name);
  if (!m) throw new Error(`${name} not registered`);
  return (await m.get()).values.map((v) => ({ labels: v.labels as Record<string, string>, value: v.value }));
}

const ep = (
  address: string,
  verdict: EndpointMetric['verdict'],
  extra: Partial<EndpointMetric> = {},
): EndpointMetric => ({
  source: 'Service',
  object: 'pay/web',
  address,
  port: 8443,
  sni: 'web.pay.svc',
  verdict,
  ...extra,
});
const identity = (endpoints: EndpointMetric[]) => ({ namespace: 'pay', name: 'web', ownerTeam: 'payments', endpoints });

function setup() {
  let now = 1_000_000;
  const registry = new Registry();
  const metrics = new ValidationMetrics(registry, () => now);
  return { registry, metrics, advance: (ms: number) => (now += ms), now: () => now };
}

describe('ValidationMetrics', () => {
  it('exports one series per endpoint with the DESIGN16 labels', async () => {
    const { registry, metrics, now } = setup();
    metrics.setIdentity(
      'pay/web',
      identity([ep('10.0.0.1', 'Current'), ep('10.0.0.2', 'Stale', { staleSinceMs: now() - 600_000 })]),
      now(),
    );
    const info = await samples(registry, 'machine_identity_endpoint_info');
    expect(info.map((s) => s.labels)).toEqual([
      {
        namespace: 'pay',
        name: 'web',
        owner_team: 'payments',
        source: 'Service',
        object: 'pay/web',
        address: '10.0.0.2',
        port: '8443',
        sni: 'web.pay.svc',
        verdict: 'Stale',
      },
      expect.objectContaining({ address: '10.0.0.1', verdict: 'Current' }),
    ]);
    const current = await samples(registry, 'machine_identity_endpoint_serving_current');
    expect(current.map((s) => [s.labels.address, s.value])).toEqual([
      ['10.0.0.2', 0],
      ['10.0.0.1', 1],
    ]);
    expect(current[0]?.labels).not.toHaveProperty('sni');
    const stale = await samples(registry, 'machine_identity_endpoint_stale_seconds');
    expect(stale.map((s) => [s.labels.address, s.value])).toEqual([
      ['10.0.0.2', 600],
      ['10.0.0.1', 0],
    ]);
  });

  it('stale seconds grow at scrape time without a write, from the caller clock at set time', async () => {
    const { registry, metrics, advance } = setup();
    // the controller's own clock may differ from the metrics clock: staleness is taken at set time
    metrics.setIdentity('pay/web', identity([ep('10.0.0.2', 'Stale', { staleSinceMs: 5_000 })]), 65_000);
    expect((await samples(registry, 'machine_identity_endpoint_stale_seconds'))[0]?.value).toBe(60);
    advance(30_000);
    expect((await samples(registry, 'machine_identity_endpoint_stale_seconds'))[0]?.value).toBe(90);
  });

  it.each([
    { verdict: 'Current' as const, staleSinceMs: 0, stale: 0 }, // a current endpoint is never stale
    { verdict: 'AwaitingReload' as const, staleSinceMs: 940_000, stale: 60 },
    { verdict: 'Expired' as const, staleSinceMs: undefined, stale: 0 },
    { verdict: 'Unreachable' as const, staleSinceMs: undefined, stale: 0 },
    { verdict: 'Stale' as const, staleSinceMs: 2_000_000, stale: 0 }, // a clock ahead: never negative
  ])(
    '$verdict with staleSinceMs $staleSinceMs exports $stale stale seconds',
    async ({ verdict, staleSinceMs, stale }) => {
      const { registry, metrics, now } = setup();
      metrics.setIdentity(
        'k',
        identity([ep('10.0.0.1', verdict, staleSinceMs === undefined ? {} : { staleSinceMs })]),
        now(),
      );
      expect((await samples(registry, 'machine_identity_endpoint_stale_seconds'))[0]?.value).toBe(stale);
    },
  );

  it('removes the series of endpoints and identities that disappeared', async () => {
    const { registry, metrics, now } = setup();
    metrics.setIdentity('pay/web', identity([ep('10.0.0.1', 'Current'), ep('10.0.0.2', 'Current')]), now());
    metrics.setIdentity('pay/api', { ...identity([ep('10.0.0.9', 'Current')]), name: 'api' }, now());
    metrics.setIdentity('pay/web', identity([ep('10.0.0.2', 'Stale', { staleSinceMs: now() })]), now());
    for (const name of [
      'machine_identity_endpoint_info',
      'machine_identity_endpoint_serving_current',
      'machine_identity_endpoint_stale_seconds',
    ])
      expect((await samples(registry, name)).map((s) => s.labels.address).sort()).toEqual(['10.0.0.2', '10.0.0.9']);
    // a verdict change replaces the info series in place
    expect((await samples(registry, 'machine_identity_endpoint_info')).map((s) => s.labels.verdict).sort()).toEqual([
      'Current',
      'Stale',
    ]);
    metrics.removeIdentity('pay/api');
    metrics.setIdentity('pay/web', identity([]), now());
    expect(await samples(registry, 'machine_identity_endpoint_info')).toEqual([]);
    expect(await samples(registry, 'machine_identity_endpoint_stale_seconds')).toEqual([]);
  });

  it('two server names through one controller address keep the worse value', async () => {
    const { registry, metrics, now } = setup();
    metrics.setIdentity(
      'k',
      identity([
        ep('10.0.0.1', 'Current', { source: 'Ingress', object: 'pay/web', sni: 'a.example.com' }),
        ep('10.0.0.1', 'Stale', {
          source: 'Ingress',
          object: 'pay/web',
          sni: 'b.example.com',
          staleSinceMs: now() - 1000,
        }),
      ]),
      now(),
    );
    expect(await samples(registry, 'machine_identity_endpoint_info')).toHaveLength(2);
    expect((await samples(registry, 'machine_identity_endpoint_serving_current')).map((s) => s.value)).toEqual([0]);
    expect((await samples(registry, 'machine_identity_endpoint_stale_seconds')).map((s) => s.value)).toEqual([1]);
  });

  it('bounds the series of one identity, keeping the endpoints that need attention', async () => {
    const { registry, metrics, now } = setup();
    const many = Array.from({ length: 5000 }, (_, i) => ep(`10.1.${i >> 8}.${i & 255}`, 'Current'));
    many.push(ep('10.9.9.9', 'Stale', { staleSinceMs: now() }));
    metrics.setIdentity('k', identity(many), now());
    const info = await samples(registry, 'machine_identity_endpoint_info');
    expect(info).toHaveLength(MAX_ENDPOINTS_PER_IDENTITY);
    expect(info[0]?.labels).toMatchObject({ address: '10.9.9.9', verdict: 'Stale' });
  });

  it('cuts hostile label values', async () => {
    const { registry, metrics, now } = setup();
    metrics.setIdentity(
      'k',
      { ...identity([ep('10.0.0.1', 'Current', { object: `pay/${'x'.repeat(5000)}` })]), ownerTeam: 'y'.repeat(9000) },
      now(),
    );
    const [s] = await samples(registry, 'machine_identity_endpoint_info');
    expect(String(s?.labels.object).length).toBeLessThanOrEqual(256);
    expect(String(s?.labels.owner_team).length).toBeLessThanOrEqual(256);
  });

  it('counts probes by result and times them', async () => {
    const { registry, metrics } = setup();
    const ok = { ok: true, at: 0, durationMs: 20 } as ProbeResult;
    const timeout: ProbeResult = { ok: false, error: 'timeout', message: 'no answer', at: 0, durationMs: 5000 };
    metrics.observeProbe(ok);
    metrics.observeProbe(ok);
    metrics.observeProbe(timeout);
    const counts = await samples(registry, 'machine_identity_validation_probes_total');
    expect(counts.map((s) => [s.labels.result, s.value])).toEqual([
      ['ok', 2],
      ['timeout', 1],
    ]);
    const text = await registry.metrics();
    expect(text).toContain('machine_identity_validation_probe_duration_seconds_bucket{le="0.025",result="ok"} 2');
    expect(text).toContain('machine_identity_validation_probe_duration_seconds_bucket{le="2.5",result="timeout"} 0');
    expect(text).toContain('machine_identity_validation_probe_duration_seconds_count{result="timeout"} 1');
  });
});
