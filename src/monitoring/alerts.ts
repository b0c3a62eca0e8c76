// The alert rules, defined once: rendered as a plain Prometheus rules file, as the Helm chart's
// PrometheusRule (thresholds from values), and checked by promtool in the tests.
// `${NAME}` marks a threshold: the plain file gets the default, the chart a Helm value.

export interface Threshold {
  value: string;
  helm: string;
  description: string;
}
export const THRESHOLDS = {
  EXPIRING_DAYS: {
    value: '14',
    helm: '.Values.prometheusRule.expiringDays',
    description: 'days left below which a long-lived certificate alerts',
  },
  LIFETIME_LEFT: {
    value: '0.1',
    helm: '.Values.prometheusRule.lifetimeFractionLeft',
    description: 'fraction of lifetime left below which any certificate alerts',
  },
  NOT_READY_FOR: {
    value: '15m',
    helm: '.Values.prometheusRule.notReadyFor',
    description: 'how long an identity may stay not Ready',
  },
  SERVING_STALE_AFTER: {
    value: '300',
    helm: '.Values.prometheusRule.servingStaleAfterSeconds',
    description:
      'seconds after a renewal an endpoint may still serve the replaced certificate (keep it above validation.staleGrace)',
  },
  SERVING_STALE_FOR: {
    value: '2m',
    helm: '.Values.prometheusRule.servingStaleFor',
    description: 'how long an endpoint must stay past servingStaleAfterSeconds before it alerts',
  },
  JOB: {
    value: 'machine-identity-operator',
    helm: '.Values.prometheusRule.job',
    description: 'the scrape job of the operator (the chart: <fullname>-metrics)',
  },
} satisfies Record<string, Threshold>;

export interface AlertRule {
  alert: string;
  expr: string;
  for?: string;
  severity: 'critical' | 'warning' | 'info';
  summary: string;
  description: string;
}

// identity metrics are exported by every replica: one series per identity whichever replica answers.
// Every `by`/`on` list names `cluster` (the external label a fleet's Prometheus servers add, docs/fleet.md):
// on a federating Prometheus one alert per cluster, and a certificate of the same name in two clusters is two
// series, not a many-to-many match; where no series has the label it is empty and changes nothing.
const byIdentity = (m: string): string => `max without (instance, pod, endpoint) (${m})`;
const exp = 'machine_identity_inventory_certificate_expiration_timestamp_seconds';
const nb = 'machine_identity_inventory_certificate_not_before_timestamp_seconds';
const owner = '{{ with $labels.owner_team }}owner {{ . }}, {{ end }}managed {{ $labels.managed }}';
// one alert per identity and object (a Service, Ingress, Gateway listener, webhook), not per pod address
// the cluster of a fleet (empty, so nothing, where the series have no `cluster` label)
const inCluster = '{{ with $labels.cluster }}[cluster {{ . }}] {{ end }}';
const byServingObject = (m: string): string =>
  `max by (cluster, namespace, name, owner_team, source, object) (max without (instance, pod, endpoint) (${m}))`;
const servedBy = inCluster + 'MachineIdentity {{ $labels.namespace }}/{{ $labels.name }}';
const servedOwner = '{{ with $labels.owner_team }} (owner {{ . }}){{ end }}';
const validateHint =
  '`kubectl mi validate {{ $labels.name }} -n {{ $labels.namespace }}` lists the endpoints and what each serves.';
const where =
  inCluster +
  '{{ $labels.kind }} {{ $labels.namespace }}/{{ $labels.name }} key {{ $labels.key }} ({{ $labels.subject }})';

export const ALERTS: readonly AlertRule[] = [
  {
    alert: 'MachineIdentityCertificateExpiringSoon',
    severity: 'warning',
    for: '10m',
    expr: `(${exp} - time()) > 0 and (${exp} - time()) < \${EXPIRING_DAYS} * 86400 and on (cluster, namespace, kind, name, key, subject, issuer) (${exp} - ${nb}) > 2 * \${EXPIRING_DAYS} * 86400`,
    summary: 'A certificate expires within ${EXPIRING_DAYS} days',
    description: `${where} expires in {{ $value | humanizeDuration }}; ${owner}.`,
  },
  {
    alert: 'MachineIdentityCertificateLifetimeLow',
    severity: 'warning',
    for: '2m',
    expr: `(${exp} - time()) / on (cluster, namespace, kind, name, key, subject, issuer) group_left () (${exp} - ${nb}) < \${LIFETIME_LEFT} and (${exp} - time()) > 0`,
    summary: 'A certificate has less than ${LIFETIME_LEFT} of its lifetime left',
    description: `${where} has {{ $value | humanizePercentage }} of its lifetime left (short-lived identities included); ${owner}.`,
  },
  {
    alert: 'MachineIdentityCertificateExpired',
    severity: 'critical',
    expr: `time() - ${exp} >= 0`,
    summary: 'A certificate in the cluster has expired',
    description: `${where} expired {{ $value | humanizeDuration }} ago; ${owner}.`,
  },
  {
    alert: 'MachineIdentityNotReady',
    severity: 'warning',
    for: '${NOT_READY_FOR}',
    expr: `${byIdentity('machine_identity_certificate_ready_status{condition="False"}')} == 1`,
    summary: 'A MachineIdentity is not Ready',
    description:
      'MachineIdentity {{ $labels.namespace }}/{{ $labels.name }} (authority {{ $labels.authority }}) has not been Ready for ${NOT_READY_FOR}: `kubectl mi status {{ $labels.name }} -n {{ $labels.namespace }}` says why.',
  },
  {
    alert: 'MachineIdentityIssuanceFailing',
    severity: 'warning',
    for: '15m',
    expr: 'sum by (cluster, authority) (increase(machine_identity_issuance_total{result="failed"}[15m])) > 0 and sum by (cluster, authority) (increase(machine_identity_issuance_total{result="success"}[15m])) == 0',
    summary: 'Issuance from an authority keeps failing',
    description:
      'Every issuance from authority {{ $labels.authority }} failed in the last 15 minutes ({{ $value }} failures).',
  },
  {
    // cert-manager users run CertManagerHittingRateLimits for the same reason: a rate-limited account stalls every renewal behind it
    alert: 'MachineIdentityCARateLimited',
    severity: 'warning',
    expr: 'sum by (cluster, authority, backend) (increase(machine_identity_ca_errors_total{reason="RateLimited"}[15m])) > 0',
    summary: 'A CA is rate-limiting the operator',
    description:
      "Authority {{ $labels.authority }} ({{ $labels.backend }}) was rate-limited {{ $value }} times in the last 15 minutes: requests wait for the CA's Retry-After; check for identities reissuing in a loop.",
  },
  {
    alert: 'MachineIdentityRenewalOverdue',
    severity: 'warning',
    for: '5m',
    expr: `time() - ${byIdentity('machine_identity_certificate_renewal_timestamp_seconds')} > 900`,
    summary: 'A MachineIdentity was not renewed at its renewal time',
    description:
      'MachineIdentity {{ $labels.namespace }}/{{ $labels.name }} should have been renewed {{ $value | humanizeDuration }} ago.',
  },
  {
    alert: 'MachineIdentityPolicyViolation',
    severity: 'warning',
    for: '5m',
    expr: 'sum by (cluster, policy, rule, namespace, kind, name) (machine_identity_policy_violations{enforcement="Enforce"}) > 0',
    summary: 'An Enforce IssuancePolicy is violated',
    description:
      '{{ $labels.kind }} {{ $labels.namespace }}/{{ $labels.name }} violates rule {{ $labels.rule }} of IssuancePolicy {{ $labels.policy }}.',
  },
  {
    alert: 'MachineIdentityPolicyAuditViolation',
    severity: 'info',
    for: '15m',
    expr: 'sum by (cluster, policy, rule, namespace, kind, name) (machine_identity_policy_violations{enforcement="Audit"}) > 0',
    summary: 'An Audit IssuancePolicy reports a violation',
    description:
      '{{ $labels.kind }} {{ $labels.namespace }}/{{ $labels.name }} violates rule {{ $labels.rule }} of IssuancePolicy {{ $labels.policy }} (Audit).',
  },
  {
    alert: 'MachineIdentityUntrustedCertificate',
    severity: 'warning',
    for: '5m',
    expr: 'sum by (cluster, policy, namespace, kind, name) (machine_identity_policy_violations{rule="allowedAuthorities", kind!="MachineIdentity"}) > 0',
    summary: 'A certificate from a CA that policy does not allow',
    description:
      '{{ $labels.kind }} {{ $labels.namespace }}/{{ $labels.name }} holds a certificate that no authority allowed by IssuancePolicy {{ $labels.policy }} issued.',
  },
  {
    alert: 'MachineIdentitySelfSignedCertificate',
    severity: 'warning',
    for: '5m',
    expr: 'sum by (cluster, policy, namespace, kind, name) (machine_identity_policy_violations{rule="forbidSelfSigned"}) > 0',
    summary: 'A self-signed certificate where policy forbids it',
    description:
      '{{ $labels.kind }} {{ $labels.namespace }}/{{ $labels.name }} holds a self-signed leaf certificate; IssuancePolicy {{ $labels.policy }} forbids them.',
  },
  {
    alert: 'MachineIdentityServingStale',
    severity: 'warning',
    for: '${SERVING_STALE_FOR}',
    expr: `${byServingObject('machine_identity_endpoint_stale_seconds')} > \${SERVING_STALE_AFTER}`,
    summary: 'An endpoint still serves a replaced certificate',
    description: `${servedBy}${servedOwner}: an endpoint of {{ $labels.source }} {{ $labels.object }} still serves a certificate that was replaced {{ $value | humanizeDuration }} ago (the workload did not reload the renewed Secret). Restart it, make it reload the mounted file, or set spec.rollout.restartWhenStaleAfter. ${validateHint}`,
  },
  {
    alert: 'MachineIdentityServingExpired',
    severity: 'critical',
    expr: `count by (cluster, namespace, name, owner_team, source, object) (max without (instance, pod, endpoint) (machine_identity_endpoint_info{verdict="Expired"})) > 0`,
    summary: 'An endpoint serves an expired certificate',
    description: `${servedBy}${servedOwner}: {{ $value }} endpoint(s) of {{ $labels.source }} {{ $labels.object }} serve an expired certificate, which clients refuse. Restart the workload now. ${validateHint}`,
  },
  {
    alert: 'MachineIdentityAnomaly',
    severity: 'warning',
    for: '5m',
    expr: 'max by (cluster, anomaly, namespace, kind, name) (machine_identity_anomalies) > 0',
    summary: 'A certificate or key is used where it should not be',
    description:
      '{{ $labels.kind }} {{ $labels.namespace }}/{{ $labels.name }}: anomaly {{ $labels.anomaly }} (docs/api-reference.md, AnomalyReason, says what it means). `kubectl describe` shows the Warning Event with the details; a cluster admin can mute the kind in a namespace with the Namespace annotation machineidentity.io/mute-anomalies.',
  },
  {
    // one thread serves the Lease renewals, the admission webhook and every reconcile: a blocked event loop stalls all of them
    alert: 'MachineIdentityOperatorEventLoopLag',
    severity: 'warning',
    for: '5m',
    expr: 'max by (cluster, namespace, pod, instance) (nodejs_eventloop_lag_p99_seconds{job="${JOB}"}) > 0.1',
    summary: "The operator's event loop is lagging",
    description:
      'Replica {{ $labels.pod }} ({{ $labels.instance }}) has had an event-loop delay p99 of {{ $value | humanizeDuration }} (over 100ms) for 5 minutes: ' +
      "Lease renewals, webhook answers and reconciles wait behind it. Check CPU throttling (the container's CPU limit), GC pressure " +
      "(nodejs_heap_size_used_bytes near the chart's heapLimitMB) and the parse pool (machine_identity_parse_queue_depth, " +
      'machine_identity_parse_aborted_total, machine_identity_inventory_parse_errors_total by reason: a hostile Secret or ConfigMap).',
  },
  {
    alert: 'MachineIdentityOperatorDown',
    severity: 'critical',
    for: '5m',
    expr: 'absent(up{job="${JOB}"} == 1)',
    summary: 'machine-identity-operator is down',
    description:
      'No replica of machine-identity-operator (job ${JOB}) has been up for 5 minutes: nothing is issued, renewed or reported.',
  },
];

/** Every metric name a PromQL expression reads: identifiers that are not functions, keywords or label lists. */
export function metricNames(expr: string): string[] {
  const e = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, '')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '')
    .replace(/\[[^\]]*\]/g, '')
    .replace(/\$\{[A-Z_]+\}/g, '1');
  const out = new Set<string>();
  for (const m of e.matchAll(/\b([a-zA-Z_:][a-zA-Z0-9_:]*)\b(\s*\()?/g)) {
    const [, w = '', call] = m;
    if (call || ['and', 'or', 'unless', 'bool', 'offset', 'inf', 'nan'].includes(w.toLowerCase())) continue;
    out.add(w);
  }
  return [...out];
}
