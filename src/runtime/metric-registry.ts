// Get-or-create for prom-client metrics: several queues, informers and controllers share one
// Registry, and registering the same name twice throws.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

function existing<M>(registry: Registry, name: string): M | undefined {
  return registry.getSingleMetric(name) as M | undefined;
}

export function counter<L extends string>(
  registry: Registry,
  name: string,
  help: string,
  labelNames: readonly L[],
): Counter<L> {
  return (
    existing<Counter<L>>(registry, name) ??
    new Counter<L>({ name, help, labelNames: labelNames as L[], registers: [registry] })
  );
}

export function gauge<L extends string>(
  registry: Registry,
  name: string,
  help: string,
  labelNames: readonly L[],
): Gauge<L> {
  return (
    existing<Gauge<L>>(registry, name) ??
    new Gauge<L>({ name, help, labelNames: labelNames as L[], registers: [registry] })
  );
}

export function histogram<L extends string>(
  registry: Registry,
  name: string,
  help: string,
  labelNames: readonly L[],
  buckets: number[],
): Histogram<L> {
  return (
    existing<Histogram<L>>(registry, name) ??
    new Histogram<L>({ name, help, labelNames: labelNames as L[], buckets, registers: [registry] })
  );
}

/**
 * A gauge whose collect() refills it from a cache at scrape time (`this.reset()`, then one `set` per series).
 * Its series are dropped once a scrape has read them: between scrapes a plain Gauge would hold every label set
 * and hash key of the last one, ~1.4 KB per identity for the per-identity and inventory gauges (docs/memory.md).
 */
export class ScrapeGauge<L extends string> extends Gauge<L> {
  override async get(): ReturnType<Gauge<L>['get']> {
    try {
      return await super.get();
    } finally {
      this.reset();
    }
  }
}
