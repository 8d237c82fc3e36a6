{{/*
Fixed names. Kratix's own tooling and pipelines refer to the namespace and the ServiceAccount by
these names, so they are not values.
*/}}
{{- define "kratix.namespace" -}}kratix-platform-system{{- end -}}
{{- define "kratix.serviceAccountName" -}}kratix-platform-controller-manager{{- end -}}
{{- define "kratix.aggregationLabel" -}}platform.kratix.io/aggregate-to-controller{{- end -}}

{{- define "kratix.chart" -}}
{{ .Chart.Name }}-{{ .Chart.Version | replace "+" "_" }}
{{- end -}}

{{/* Selector labels: stable across upgrades (a Deployment's selector is immutable). */}}
{{- define "kratix.selectorLabels" -}}
app.kubernetes.io/name: kratix-py
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end -}}

{{- define "kratix.labels" -}}
app.kubernetes.io/name: kratix-py
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: kratix
helm.sh/chart: {{ include "kratix.chart" . }}
{{- end -}}

{{- define "kratix.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{/*
Seconds in a Go duration ("1h30m", "90s", "1.5h"); values.schema.json has already checked the
syntax. Templates have no duration parser, and the operator refuses an interval under 1m at
start-up, which would be a crash loop instead of an install error.
*/}}
{{- define "kratix.durationSeconds" -}}
{{- $unit := dict "ns" 0.000000001 "us" 0.000001 "µs" 0.000001 "ms" 0.001 "s" 1.0 "m" 60.0 "h" 3600.0 -}}
{{- $total := 0.0 -}}
{{- range regexFindAll "[0-9]+(\\.[0-9]+)?(ns|us|µs|ms|s|m|h)" . -1 -}}
{{- $number := regexFind "^[0-9]+(\\.[0-9]+)?" . -}}
{{- $total = addf $total (mulf (float64 $number) (get $unit (trimPrefix $number .))) -}}
{{- end -}}
{{- $total -}}
{{- end -}}

{{/* Secret keys each state store reads (Kratix's names, kratix-behaviour.md §1.3/§1.4). */}}
{{- define "kratix.secretKeys" -}}
{{- $keys := dict
  "basicAuth" (list "username" "password")
  "ssh" (list "sshPrivateKey" "knownHosts")
  "githubApp" (list "appID" "installationID" "privateKey" "apiURL")
  "accessKey" (list "accessKeyID" "secretAccessKey")
  "IAM" (list) -}}
{{- get $keys . | toJson -}}
{{- end -}}

{{- define "kratix.authMethod" -}}
{{- if eq .kind "GitStateStore" -}}{{ .authMethod | default "basicAuth" }}{{- else -}}{{ .authMethod | default "accessKey" }}{{- end -}}
{{- end -}}
