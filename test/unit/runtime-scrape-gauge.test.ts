// ScrapeGauge: series computed at scrape time are not held between scrapes (docs/memory.md).
import { Registry } from 'prom-client';
import { describe, it, expect } from '@jest/globals';
import { ScrapeGauge } from '../../src/runtime/metric-registry.ts';

describe('ScrapeGauge', () => {
  it('renders what collect() set, then holds no series until the next scrape refills them', async () => {
    const registry = new Registry();
    let ids = ['a', 'b'];
    const g = new ScrapeGauge({
      name: 'per_identity',
      help: 'h',
      labelNames: ['name'] as const,
      registers: [registry],
      collect() {
        this.reset();
        for (const name of ids) this.set({ name }, 1);
      },
    });
    const held = (): number => Object.keys((g as unknown as { hashMap: object }).hashMap).length;
    expect(await registry.metrics()).toMatch(/per_identity\{name="a"\} 1\nper_identity\{name="b"\} 1/);
    expect(held()).toBe(0);
    ids = ['c'];
    expect(await registry.getSingleMetricAsString('per_identity')).toMatch(/^per_identity\{name="c"\} 1$/m);
    expect(await registry.getSingleMetricAsString('per_identity')).not.toMatch(/name="a"/);
    expect(held()).toBe(0);
  });
});
