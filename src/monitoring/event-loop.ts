// Event-loop delay as a histogram (perf_hooks.monitorEventLoopDelay, 20 ms resolution): prom-client's
// nodejs_eventloop_lag_p99_seconds is reset at every scrape, so a stall between two scrapes of a
// slow Prometheus is easy to miss; the cumulative max and the p99 since start are not.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Gauge, type Registry } from 'prom-client';

export function eventLoopDelayMetrics(registry: Registry): { stop(): void } {
  const h = monitorEventLoopDelay({ resolution: 20 });
  h.enable();
  const s = (ns: number): number => (Number.isFinite(ns) ? ns / 1e9 : 0);
  new Gauge({
    name: 'machine_identity_event_loop_delay_seconds',
    help: 'Event-loop delay since the process started, by quantile (p50, p99, max)',
    labelNames: ['quantile'] as const,
    registers: [registry],
    collect() {
      this.set({ quantile: '0.5' }, s(h.percentile(50)));
      this.set({ quantile: '0.99' }, s(h.percentile(99)));
      this.set({ quantile: '1' }, s(h.max));
    },
  });
  return { stop: () => h.disable() };
}
