// What the validation controller saw at each endpoint, as metrics (the names DESIGN16 fixes). The controller
// hands over each identity's endpoints after a probe round; series are computed from that at scrape time, so
// an endpoint or identity that disappears takes its series with it (no stale label sets), and
// machine_identity_endpoint_stale_seconds keeps growing between probes without anyone writing it.
//
// Cardinality: one series per metric per endpoint (source, object, address, port) of a managed identity,
// at most MAX_ENDPOINTS_PER_IDENTITY per identity (those not serving the current certificate kept first).
// The verdict is a label of the info series only, so a change of verdict replaces that series, never adds one.
import { Gauge, type Registry } from 'prom-client';
import { counter, histogram } from '../runtime/metric-registry.ts';
import type { EndpointSource, EndpointVerdict, ProbeResult } from './types.ts';

/** An identity with a Service of thousands of pods still exports a bounded number of series. */
export const MAX_ENDPOINTS_PER_IDENTITY = 256;
const LABEL_MAX = 256;
const cut = (s: string): string => (s.length > LABEL_MAX ? `${s.slice(0, LABEL_MAX - 1)}…` : s);

export interface EndpointMetric {
  source: EndpointSource;
  /** namespace/name of the object (status.served's `object`). */
  object: string;
  address: string;
  port: number;
  sni: string;
  verdict: EndpointVerdict;
  /** When the certificate this endpoint serves was replaced in the Secret (epoch ms); unset when it serves the current one. */
  staleSinceMs?: number;
}

export interface IdentityMetric {
  namespace: string;
  name: string;
  ownerTeam: string;
  endpoints: readonly EndpointMetric[];
}

const SERIES_LABELS = ['namespace', 'name', 'owner_team', 'source', 'object', 'address', 'port'] as const;
type SeriesLabels = Record<(typeof SERIES_LABELS)[number], string>;

interface Row {
  labels: SeriesLabels;
  sni: string;
  verdict: EndpointVerdict;
  /** Seconds stale at `setAt` (on the clock of whoever called setIdentity); undefined when current. */
  staleAtSet?: number;
  /** This class's clock when the identity was set: staleness grows from there. */
  setAt: number;
}

const rank = (v: EndpointVerdict): number => (v === 'Current' ? 1 : 0);

/** The rows an identity exports: capped, the ones that need attention first. */
function endpointRows(identity: IdentityMetric, nowMs: number, setAt: number): Row[] {
  const sorted = [...identity.endpoints].sort((a, b) => rank(a.verdict) - rank(b.verdict));
  return sorted.slice(0, MAX_ENDPOINTS_PER_IDENTITY).map((e) => ({
    labels: {
      namespace: identity.namespace,
      name: identity.name,
      owner_team: cut(identity.ownerTeam),
      source: e.source,
      object: cut(e.object),
      address: cut(e.address),
      port: String(e.port),
    },
    sni: cut(e.sni),
    verdict: e.verdict,
    ...(e.verdict !== 'Current' && e.staleSinceMs !== undefined
      ? { staleAtSet: Math.max(0, (nowMs - e.staleSinceMs) / 1000) }
      : {}),
    setAt,
  }));
}

/** Two SNIs through one controller Service share (source, object, address, port): keep the worse of them. */
function merge(rows: Iterable<Row>, value: (r: Row) => number, worse: (a: number, b: number) => number) {
  const out = new Map<string, { labels: SeriesLabels; value: number }>();
  for (const r of rows) {
    const k = SERIES_LABELS.map((l) => r.labels[l]).join('\u0000');
    const prev = out.get(k);
    const v = value(r);
    out.set(k, { labels: r.labels, value: prev ? worse(prev.value, v) : v });
  }
  return out.values();
}

export class ValidationMetrics {
  private readonly identities = new Map<string, Row[]>();
  private readonly probes;
  private readonly durations;

  private readonly clock: () => number;

  constructor(registry: Registry, clock: () => number = Date.now) {
    this.clock = clock;
    const rows = (): Row[] => [...this.identities.values()].flat();
    new Gauge({
      name: 'machine_identity_endpoint_info',
      help: 'An endpoint that should serve a managed identity (1), with its server name and the last verdict',
      labelNames: [...SERIES_LABELS, 'sni', 'verdict'],
      registers: [registry],
      collect() {
        this.reset();
        for (const r of rows()) this.set({ ...r.labels, sni: r.sni, verdict: r.verdict }, 1);
      },
    });
    new Gauge({
      name: 'machine_identity_endpoint_serving_current',
      help: "1 when the endpoint serves the identity's current certificate, else 0",
      labelNames: SERIES_LABELS,
      registers: [registry],
      collect() {
        this.reset();
        for (const s of merge(rows(), (r) => (r.verdict === 'Current' ? 1 : 0), Math.min)) this.set(s.labels, s.value);
      },
    });
    new Gauge({
      name: 'machine_identity_endpoint_stale_seconds',
      help: 'Seconds since the certificate the endpoint serves was replaced in the Secret (0 when it serves the current one)',
      labelNames: SERIES_LABELS,
      registers: [registry],
      collect() {
        this.reset();
        const now = clock();
        const stale = (r: Row): number =>
          r.staleAtSet === undefined ? 0 : r.staleAtSet + Math.max(0, now - r.setAt) / 1000;
        for (const s of merge(rows(), stale, Math.max)) this.set(s.labels, s.value);
      },
    });
    this.probes = counter(registry, 'machine_identity_validation_probes_total', 'TLS probes of endpoints by result', [
      'result',
    ]);
    this.durations = histogram(
      registry,
      'machine_identity_validation_probe_duration_seconds',
      'Duration of one TLS probe (connect and handshake) by result',
      ['result'],
      [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    );
  }

  /**
   * The endpoints of one identity after a probe round (replaces what was there: endpoints that are gone
   * lose their series). `nowMs` is the caller's clock for `staleSinceMs`; staleness then grows on this
   * class's clock, so a controller with a test clock still exports growing seconds.
   */
  setIdentity(key: string, identity: IdentityMetric, nowMs: number): void {
    if (identity.endpoints.length === 0) this.identities.delete(key);
    else this.identities.set(key, endpointRows(identity, nowMs, this.clock()));
  }

  removeIdentity(key: string): void {
    this.identities.delete(key);
  }

  observeProbe(result: ProbeResult): void {
    const label = { result: result.ok ? 'ok' : result.error };
    this.probes.inc(label);
    this.durations.observe(label, Math.max(0, result.durationMs) / 1000);
  }
}
