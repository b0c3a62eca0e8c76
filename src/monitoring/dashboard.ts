// The Grafana dashboard, defined once: inventory, expiry timeline, policy violations, issuance rate, and
// what endpoints serve (validation) with the anomalies found.
// Every query reads only metrics the operator exports (a test checks it), and every metric selector is
// filtered by the `cluster` variable: the external label each cluster's Prometheus adds (docs/fleet.md), so one
// dashboard on a federating Prometheus shows one cluster, several or all. Without the label (one cluster, one
// Prometheus) the variable's "All" (`.*`) matches the empty value and nothing changes.

interface Panel {
  title: string;
  type: string;
  gridPos: { x: number; y: number; w: number; h: number };
  targets: { expr: string; legendFormat?: string; format?: string; instant?: boolean }[];
  [k: string]: unknown;
}

const exp = 'machine_identity_inventory_certificate_expiration_timestamp_seconds';
const ds = { type: 'prometheus', uid: '${datasource}' };
let nextId = 1;

/** `expr` with `cluster=~"$cluster"` in every selector of our metrics (the operator's and its Node.js ones). */
function inCluster(expr: string): string {
  return expr.replace(
    /\b((?:machine_identity|nodejs)_[a-zA-Z0-9_]+)(\{([^}]*)\})?/g,
    (_m, name: string, _braces: string | undefined, inner: string | undefined) =>
      `${name}{cluster=~"$cluster"${inner?.trim() ? `, ${inner.trim()}` : ''}}`,
  );
}

function panel(
  title: string,
  type: string,
  gridPos: Panel['gridPos'],
  targets: Panel['targets'],
  extra: Record<string, unknown> = {},
): Panel & { id: number } {
  return {
    id: nextId++,
    title,
    type,
    datasource: ds,
    gridPos,
    targets: targets.map((t, i) => ({
      refId: String.fromCharCode(65 + i),
      datasource: ds,
      ...t,
      expr: inCluster(t.expr),
    })),
    ...extra,
  };
}
const stat = (title: string, x: number, expr: string, color = 'blue', y = 0): Panel =>
  panel(title, 'stat', { x, y, w: 4, h: 4 }, [{ expr, instant: true }], {
    fieldConfig: { defaults: { color: { mode: 'fixed', fixedColor: color } }, overrides: [] },
    options: { reduceOptions: { calcs: ['lastNotNull'] } },
  });

// endpoint metrics come from the replica that probes; max without drops the scrape labels of a second one
const endpoints = (m: string, sel = ''): string =>
  `max without (instance, pod, endpoint) (${m}{namespace=~"$namespace"${sel}})`;
const SERVED_Y = 45;

/** The "Served" row: do endpoints serve the current certificate, for how long have stale ones, what anomalies. */
function servedPanels(): Panel[] {
  const y = SERVED_Y + 1;
  return [
    panel('Served', 'row', { x: 0, y: SERVED_Y, w: 24, h: 1 }, [], { collapsed: false, panels: [] }),
    stat(
      'Endpoints serving the current certificate',
      0,
      `count(${endpoints('machine_identity_endpoint_serving_current')} == 1) or vector(0)`,
      'green',
      y,
    ),
    stat(
      'Endpoints serving a replaced certificate',
      4,
      `count(${endpoints('machine_identity_endpoint_stale_seconds')} > 0) or vector(0)`,
      'orange',
      y,
    ),
    stat(
      'Endpoints serving an expired certificate',
      8,
      `count(${endpoints('machine_identity_endpoint_info', ', verdict="Expired"')}) or vector(0)`,
      'red',
      y,
    ),
    stat('Anomalies', 12, 'sum(machine_identity_anomalies{namespace=~"$namespace"}) or vector(0)', 'purple', y),
    panel('Endpoints by verdict', 'timeseries', { x: 16, y, w: 8, h: 4 }, [
      {
        expr: `count by (verdict) (${endpoints('machine_identity_endpoint_info')})`,
        legendFormat: '{{verdict}}',
      },
    ]),
    panel(
      'Stale endpoints: seconds since the certificate they serve was replaced',
      'table',
      { x: 0, y: y + 4, w: 12, h: 8 },
      [
        {
          expr: `sort_desc(${endpoints('machine_identity_endpoint_stale_seconds')} > 0)`,
          instant: true,
          format: 'table',
        },
      ],
      { fieldConfig: { defaults: { unit: 's' }, overrides: [] } },
    ),
    panel(
      'Anomalies by kind',
      'barchart',
      { x: 12, y: y + 4, w: 12, h: 8 },
      [
        {
          expr: 'sum by (anomaly) (machine_identity_anomalies{namespace=~"$namespace"})',
          instant: true,
          format: 'table',
        },
      ],
      { options: { xField: 'anomaly' } },
    ),
    panel(
      'Probes by result',
      'timeseries',
      { x: 0, y: y + 12, w: 12, h: 6 },
      [
        {
          expr: 'sum by (result) (rate(machine_identity_validation_probes_total[5m]))',
          legendFormat: '{{result}}',
        },
      ],
      { fieldConfig: { defaults: { unit: 'ops' }, overrides: [] } },
    ),
    panel(
      'Probe duration p99',
      'timeseries',
      { x: 12, y: y + 12, w: 12, h: 6 },
      [
        {
          expr: 'histogram_quantile(0.99, sum by (le) (rate(machine_identity_validation_probe_duration_seconds_bucket{result="ok"}[5m])))',
          legendFormat: 'p99',
        },
      ],
      { fieldConfig: { defaults: { unit: 's' }, overrides: [] } },
    ),
  ];
}

/** The Grafana dashboard as JSON. */
export function dashboard(): object {
  return buildDashboard();
}

function buildDashboard(): { panels: Panel[]; [k: string]: unknown } {
  nextId = 1;
  const panels: Panel[] = [
    stat('Certificates', 0, 'sum(machine_identity_inventory_certificates{namespace=~"$namespace"})'),
    stat(
      'Managed',
      4,
      'sum(machine_identity_inventory_certificates{namespace=~"$namespace", managed="true"})',
      'green',
    ),
    stat(
      'Expiring in 30 days',
      8,
      `count(${exp}{namespace=~"$namespace"} - time() < 30 * 86400 and ${exp}{namespace=~"$namespace"} - time() > 0) or vector(0)`,
      'orange',
    ),
    stat('Expired', 12, `count(${exp}{namespace=~"$namespace"} - time() <= 0) or vector(0)`, 'red'),
    stat(
      'Not compliant',
      16,
      'sum(machine_identity_inventory_certificates{namespace=~"$namespace", compliant="false"}) or vector(0)',
      'red',
    ),
    stat(
      'Identities not Ready',
      20,
      'count(max without (instance, pod, endpoint) (machine_identity_certificate_ready_status{namespace=~"$namespace", condition="False"}) == 1) or vector(0)',
      'red',
    ),
    panel(
      'Expiry timeline: certificates expiring per day (next 90 days)',
      'barchart',
      { x: 0, y: 4, w: 24, h: 8 },
      [
        {
          expr: `count by (day) (label_replace(floor((${exp}{namespace=~"$namespace"} - time()) / 86400) >= 0 < 90, "day", "$1", "__name__", "(.*)"))`,
          instant: true,
          format: 'table',
        },
      ],
      { options: { xField: 'day' } },
    ),
    panel(
      'Soonest to expire',
      'table',
      { x: 0, y: 12, w: 24, h: 10 },
      [
        {
          expr: `sort(bottomk(50, ${exp}{namespace=~"$namespace"} - time()))`,
          instant: true,
          format: 'table',
        },
      ],
      { fieldConfig: { defaults: { unit: 's' }, overrides: [] } },
    ),
    panel('Policy violations', 'table', { x: 0, y: 22, w: 12, h: 9 }, [
      {
        expr: 'sum by (cluster, policy, rule, enforcement, namespace, kind, name) (machine_identity_policy_violations{namespace=~"$namespace"})',
        instant: true,
        format: 'table',
      },
    ]),
    panel('Certificates by issuer and key algorithm', 'piechart', { x: 12, y: 22, w: 12, h: 9 }, [
      {
        expr: 'sum by (issuer, key_algorithm) (machine_identity_inventory_certificates{namespace=~"$namespace"})',
        legendFormat: '{{issuer}} {{key_algorithm}}',
        instant: true,
      },
    ]),
    panel(
      'Issuance rate by authority and result',
      'timeseries',
      { x: 0, y: 31, w: 12, h: 8 },
      [
        {
          expr: 'sum by (authority, result) (rate(machine_identity_issuance_total[5m]))',
          legendFormat: '{{authority}} {{result}}',
        },
      ],
      { fieldConfig: { defaults: { unit: 'ops' }, overrides: [] } },
    ),
    panel(
      'Issuance latency p99 by authority',
      'timeseries',
      { x: 12, y: 31, w: 12, h: 8 },
      [
        {
          expr: 'histogram_quantile(0.99, sum by (authority, le) (rate(machine_identity_issuance_duration_seconds_bucket[5m])))',
          legendFormat: '{{authority}}',
        },
      ],
      { fieldConfig: { defaults: { unit: 's' }, overrides: [] } },
    ),
    panel('Unreadable certificate content', 'timeseries', { x: 0, y: 39, w: 12, h: 6 }, [
      {
        expr: 'sum by (kind) (increase(machine_identity_inventory_parse_errors_total[1h]))',
        legendFormat: '{{kind}}',
      },
    ]),
    ...servedPanels(),
  ];
  return {
    title: 'Machine identities',
    uid: 'machine-identity-operator',
    tags: ['machine-identity', 'certificates', 'tls'],
    timezone: 'browser',
    schemaVersion: 39,
    version: 1,
    refresh: '1m',
    time: { from: 'now-24h', to: 'now' },
    editable: true,
    templating: {
      list: [
        { name: 'datasource', type: 'datasource', query: 'prometheus', label: 'Data source' },
        {
          name: 'cluster',
          type: 'query',
          datasource: ds,
          query: 'label_values(machine_identity_inventory_certificates, cluster)',
          includeAll: true,
          multi: true,
          allValue: '.*',
          current: { text: 'All', value: '$__all' },
          label: 'Cluster',
          refresh: 2,
        },
        {
          name: 'namespace',
          type: 'query',
          datasource: ds,
          query: 'label_values(machine_identity_inventory_certificates{cluster=~"$cluster"}, namespace)',
          includeAll: true,
          multi: true,
          allValue: '.*',
          current: { text: 'All', value: '$__all' },
          label: 'Namespace',
          refresh: 2,
        },
      ],
    },
    panels,
  };
}

/** Every PromQL expression of the dashboard. */
export function dashboardExpressions(): string[] {
  return buildDashboard().panels.flatMap((p) => p.targets.map((t) => t.expr));
}
