{{/*
Names, labels and small shared pieces. Nothing here renders an object on its own.
*/}}

{{/* The chart name, or nameOverride. */}}
{{- define "wattbit.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The prefix of every resource name: fullnameOverride, the release name when it already
contains the chart name, else "<release>-<chart>". */}}
{{- define "wattbit.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := include "wattbit.name" . -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "wattbit.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels that select the operator pod; never change them on upgrade. */}}
{{- define "wattbit.selectorLabels" -}}
app.kubernetes.io/name: {{ include "wattbit.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end -}}

{{- define "wattbit.labels" -}}
helm.sh/chart: {{ include "wattbit.chart" . }}
{{ include "wattbit.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: wattbit
{{- end -}}

{{- define "wattbit.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "wattbit.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "wattbit.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{- define "wattbit.webhookTLSSecretName" -}}
{{- default (printf "%s-webhook-tls" (include "wattbit.fullname" .)) .Values.webhook.tls.secretName -}}
{{- end -}}

{{- define "wattbit.certificateName" -}}
{{- printf "%s-webhook" (include "wattbit.fullname" .) -}}
{{- end -}}

{{/* Metadata lines every CRD copy gains (hack/sync-chart-crds.sh inserts the include). */}}
{{- define "wattbit.crdMetadata" -}}
labels:
  {{- include "wattbit.labels" . | nindent 2 }}
{{- if .Values.crds.keep }}
annotations:
  helm.sh/resource-policy: keep
{{- end }}
{{- end -}}
