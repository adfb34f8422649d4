{{/* Names and labels, as `helm create` writes them. */}}
{{- define "conferencing-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The release's full name; `conferencing-operator` when the release is named so, which
     gives the same object names as manifests/base. */}}
{{- define "conferencing-operator.fullname" -}}
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

{{- define "conferencing-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "conferencing-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "conferencing-operator.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "conferencing-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: conferencing-operator
{{- end }}

{{- define "conferencing-operator.serviceAccountName" -}}
{{- default (include "conferencing-operator.fullname" .) .Values.serviceAccount.name }}
{{- end }}

{{- define "conferencing-operator.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag }}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository $tag }}
{{- end }}
{{- end }}

{{/*
The operator's API rights, shared by the ClusterRole (rbac.scope=cluster) and each
namespace's Role (rbac.scope=namespaced), so the two modes cannot drift apart; the same rules
as manifests/base/clusterrole.yaml, whose comments say why each is needed (tests/helm.rs
compares them). Exactly the calls the operator makes, no wildcards, no ConfigMaps.
*/}}
{{- define "conferencing-operator.rules" -}}
- apiGroups: [conferencing.io]
  resources: [conferencingtenants, conferencingusers]
  verbs: [get, list, watch]
- apiGroups: [conferencing.io]
  resources: [conferencingtenants/status, conferencingusers/status]
  verbs: [update]
- apiGroups: [conferencing.io]
  resources: [conferenceidclaims]
  verbs: [get, list, watch, create, delete]
# RBAC cannot narrow Secrets by label or name pattern: admissionPolicy.enabled bounds writes
# to the operator's own PIN Secrets; rbac.scope=namespaced bounds reads to the served
# namespaces.
- apiGroups: [""]
  resources: [secrets]
  verbs: [get, list, watch, create, update, delete]
- apiGroups: [events.k8s.io]
  resources: [events]
  verbs: [create, patch]
{{- end }}
