{{/*
Chart name, truncated to 63 characters (DNS label limit).
*/}}
{{- define "mio.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name: <release>-<chart>, or the release name alone when it already contains the chart name.
*/}}
{{- define "mio.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
helm.sh/chart label value.
*/}}
{{- define "mio.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Selector labels: stable for the life of a release (Deployment selectors are immutable).
*/}}
{{- define "mio.selectorLabels" -}}
app.kubernetes.io/name: {{ include "mio.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end }}

{{/*
Standard labels for every resource.
*/}}
{{- define "mio.labels" -}}
helm.sh/chart: {{ include "mio.chart" . }}
{{ include "mio.selectorLabels" . }}
app.kubernetes.io/version: {{ include "mio.imageTag" . | trunc 63 | trimSuffix "-" | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: machine-identity-operator
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
Labels for resources that are not part of the operator workload (RBAC for users, CRDs).
*/}}
{{- define "mio.baseLabels" -}}
helm.sh/chart: {{ include "mio.chart" . }}
app.kubernetes.io/name: {{ include "mio.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ include "mio.imageTag" . | trunc 63 | trimSuffix "-" | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: machine-identity-operator
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
ServiceAccount name.
*/}}
{{- define "mio.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "mio.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
Image tag (defaults to the chart's appVersion).
*/}}
{{- define "mio.imageTag" -}}
{{- default .Chart.AppVersion .Values.image.tag }}
{{- end }}

{{/*
Image reference: repository@digest when a digest is set, else repository:tag.
*/}}
{{- define "mio.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (include "mio.imageTag" .) }}
{{- end }}
{{- end }}

{{/*
MIO_HTTP_ADDR: host:port (the operator accepts an IPv4 address or a host name, not a bracketed IPv6 one).
*/}}
{{- define "mio.httpAddr" -}}
{{- printf "%s:%d" (toString .Values.http.host) (int .Values.http.port) }}
{{- end }}

{{/*
Checks of value combinations the schema cannot express.
*/}}
{{- define "mio.validate" -}}
{{- if and (gt (int .Values.replicas) 1) (not .Values.leaderElection.enabled) }}
{{- fail "replicas > 1 requires leaderElection.enabled=true: two active operators would race on the same certificates" }}
{{- end }}
{{- end }}

{{/*
Aliases under the chart's own name, for generated templates (templates/crds/) and parent charts.
*/}}
{{- define "machine-identity-operator.name" -}}{{ include "mio.name" . }}{{- end }}
{{- define "machine-identity-operator.fullname" -}}{{ include "mio.fullname" . }}{{- end }}
{{- define "machine-identity-operator.chart" -}}{{ include "mio.chart" . }}{{- end }}
{{- define "machine-identity-operator.labels" -}}{{ include "mio.baseLabels" . }}{{- end }}
{{- define "machine-identity-operator.selectorLabels" -}}{{ include "mio.selectorLabels" . }}{{- end }}

{{/* DNS names of the webhook Service, for its serving certificate. */}}
{{- define "mio.webhookHosts" -}}
{{- $svc := printf "%s-webhook" (include "mio.fullname" .) -}}
{{- printf "%s.%s.svc,%s.%s.svc.cluster.local,%s.%s,%s" $svc .Release.Namespace $svc .Release.Namespace $svc .Release.Namespace $svc -}}
{{- end }}

{{/*
One scoped grant of the operator's ServiceAccount (rbac-grants.yaml): a ClusterRole and ClusterRoleBinding
for scope "cluster", a Role and RoleBinding per namespace for scope "namespaces", nothing for "none".
Arguments: root, sa, grant (name suffix), scope, namespaces, why (a comment), rules.
*/}}
{{- define "mio.grant" -}}
{{- $root := .root }}
{{- $name := printf "%s-%s" (include "mio.fullname" $root) .grant }}
{{- $kind := ternary "ClusterRole" "Role" (eq .scope "cluster") }}
{{- $targets := list "" }}
{{- if eq .scope "namespaces" }}{{ $targets = .namespaces }}{{ else if ne .scope "cluster" }}{{ $targets = list }}{{ end }}
{{- range $ns := $targets }}
---
# {{ $.why }}
apiVersion: rbac.authorization.k8s.io/v1
kind: {{ $kind }}
metadata:
  name: {{ $name }}
  {{- if $ns }}
  namespace: {{ $ns }}
  {{- end }}
  labels:
    {{- include "mio.labels" $root | nindent 4 }}
rules:
  {{- toYaml $.rules | nindent 2 }}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: {{ $kind }}Binding
metadata:
  name: {{ $name }}
  {{- if $ns }}
  namespace: {{ $ns }}
  {{- end }}
  labels:
    {{- include "mio.labels" $root | nindent 4 }}
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: {{ $kind }}
  name: {{ $name }}
subjects:
  - kind: ServiceAccount
    name: {{ $.sa }}
    namespace: {{ $root.Release.Namespace }}
{{- end }}
{{- end }}
