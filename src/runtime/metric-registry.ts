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
