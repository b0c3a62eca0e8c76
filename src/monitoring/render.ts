// Generated monitoring files: the plain Prometheus rules file, the chart's PrometheusRule template
// (thresholds as Helm values), and the Grafana dashboard (plain JSON and the chart's copy).
import * as yaml from 'js-yaml';
import { ALERTS, THRESHOLDS } from './alerts.ts';
import { dashboard } from './dashboard.ts';

const HEADER = '# Generated from src/monitoring/alerts.ts by `npm run gen`: edit that file, not this one.\n';
const RULES_FILE = 'deploy/prometheus/machine-identity-operator.rules.yaml';
const CHART_RULE_TEMPLATE = 'deploy/helm/machine-identity-operator/templates/prometheusrule.yaml';
const DASHBOARD_FILE = 'deploy/grafana/machine-identity-operator.json';
const CHART_DASHBOARD_FILE = 'deploy/helm/machine-identity-operator/dashboards/machine-identity-operator.json';

type ThresholdName = keyof typeof THRESHOLDS;
const withValues =
  (overrides: Partial<Record<ThresholdName, string>>) =>
  (s: string): string =>
    s.replace(
      /\$\{([A-Z_]+)\}/g,
      (_m, k: string) => overrides[k as ThresholdName] ?? THRESHOLDS[k as ThresholdName].value,
    );
const withDefaults = withValues({});

function rulesDocument(subst: (s: string) => string = withDefaults): { groups: object[] } {
  return {
    groups: [
      {
        name: 'machine-identity-operator',
        rules: ALERTS.map((a) => ({
          alert: a.alert,
          expr: subst(a.expr),
          ...(a.for ? { for: subst(a.for) } : {}),
          labels: { severity: a.severity },
          annotations: { summary: subst(a.summary), description: subst(a.description) },
        })),
      },
    ],
  };
}

function helmTemplate(): string {
  const helmValue = (k: string): string =>
    k === 'JOB'
      ? '{{ .Values.prometheusRule.job | default (printf "%s-metrics" (include "mio.fullname" .)) }}'
      : `{{ ${THRESHOLDS[k as keyof typeof THRESHOLDS].helm} }}`;
  // Prometheus's own {{ $labels.x }} templates must pass through Helm untouched
  const subst = (s: string): string =>
    s
      .replace(/\{\{([^}]*)\}\}/g, (_m, inner: string) => `{{\`{{${inner}}}\`}}`)
      .replace(/\$\{([A-Z_]+)\}/g, (_m, k: string) => helmValue(k));
  const groups = yaml.dump(rulesDocument(subst).groups, { lineWidth: -1, noRefs: true });
  return `${HEADER}{{- if .Values.prometheusRule.enabled }}
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: {{ include "mio.fullname" . }}
  namespace: {{ .Values.prometheusRule.namespace | default .Release.Namespace }}
  labels:
    {{- include "mio.labels" . | nindent 4 }}
    {{- with .Values.prometheusRule.labels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  groups:
${groups
  .split('\n')
  .filter(Boolean)
  .map((l) => `    ${l}`)
  .join('\n')}
{{- end }}
`;
}

/** The plain rules file with some thresholds changed (tests shorten MachineIdentityServingStale's wait with it). */
export function rulesYaml(overrides: Partial<Record<ThresholdName, string>>): string {
  return HEADER + yaml.dump(rulesDocument(withValues(overrides)), { lineWidth: -1, noRefs: true });
}

export function renderMonitoringFiles(): Map<string, string> {
  const json = `${JSON.stringify(dashboard(), null, 2)}\n`;
  return new Map([
    [RULES_FILE, HEADER + yaml.dump(rulesDocument(), { lineWidth: -1, noRefs: true })],
    [CHART_RULE_TEMPLATE, helmTemplate()],
    [DASHBOARD_FILE, json],
    [CHART_DASHBOARD_FILE, json],
  ]);
}
