{{- define "kratix-destination.namespace" -}}
{{- .Values.namespace | default (ternary "flux-system" "argocd" (eq .Values.gitops "flux")) -}}
{{- end -}}

{{- define "kratix-destination.labels" -}}
app.kubernetes.io/name: kratix-destination
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: kratix
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version | replace "+" "_" }}
{{- end -}}

{{/*
The Destination's directory inside the state store, <source.path>/<destination.path>, normalised
as kratix-py's writers do (statestores/paths.py): empty and "." segments dropped, so "", "." and
"/" are the store's root and "./a//b/" is "a/b". "" is the root.
*/}}
{{- define "kratix-destination.dir" -}}
{{- $segments := list -}}
{{- range list .Values.source.path .Values.destination.path -}}
{{- range splitList "/" (. | default "") -}}
{{- if and . (ne . ".") -}}
{{- $segments = append $segments . -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- join "/" $segments -}}
{{- end -}}

{{/* Flux's form: "./<dir>/<sub>" (Flux paths are relative to the source's root). */}}
{{- define "kratix-destination.fluxPath" -}}
{{- $dir := include "kratix-destination.dir" .root -}}
{{- if $dir }}./{{ $dir }}/{{ .sub }}{{ else }}./{{ .sub }}{{ end -}}
{{- end -}}

{{/* ArgoCD's form: "<dir>/<sub>/". */}}
{{- define "kratix-destination.argoPath" -}}
{{- $dir := include "kratix-destination.dir" .root -}}
{{- if $dir }}{{ $dir }}/{{ .sub }}/{{ else }}{{ .sub }}/{{ end -}}
{{- end -}}

{{/*
Rules across values that values.schema.json cannot express; each names the value to fix.
*/}}
{{- define "kratix-destination.validate" -}}
{{- $src := .Values.source -}}
{{- range $value, $path := dict "source.path" $src.path "destination.path" .Values.destination.path -}}
{{- if has ".." (splitList "/" ($path | default "")) -}}
{{- fail (printf "%s: %q climbs out of the state store with '..'; kratix-py never writes there" $value $path) -}}
{{- end -}}
{{- end -}}
{{- $secret := $src.secret -}}
{{- if eq $src.kind "git" -}}
{{- if not $src.git.url -}}
{{- fail "source.git.url: required with source.kind git (the GitStateStore's spec.url)" -}}
{{- end -}}
{{- if and (eq .Values.gitops "flux") (eq $src.git.authMethod "ssh") (not (hasPrefix "ssh://" $src.git.url)) -}}
{{- fail (printf "source.git.url: Flux needs an ssh:// URL for SSH, e.g. ssh://git@host/org/repo.git (got %q)" $src.git.url) -}}
{{- end -}}
{{- else -}}
{{- if eq .Values.gitops "argocd" -}}
{{- fail "source.kind: ArgoCD reads Git repositories only; use gitops: flux for a BucketStateStore" -}}
{{- end -}}
{{- if not $src.bucket.endpoint -}}
{{- fail "source.bucket.endpoint: required with source.kind bucket (the BucketStateStore's spec.endpoint)" -}}
{{- end -}}
{{- if not $src.bucket.bucketName -}}
{{- fail "source.bucket.bucketName: required with source.kind bucket (the BucketStateStore's spec.bucketName)" -}}
{{- end -}}
{{- end -}}
{{- if $secret.create -}}
{{- if not $secret.name -}}
{{- fail "source.secret.name: required with source.secret.create (the name of the Secret to create)" -}}
{{- end -}}
{{- range $key := include "kratix-destination.secretInputs" . | fromJsonArray -}}
{{- if not (get $secret $key) -}}
{{- fail (printf "source.secret.%s: required to create the Secret for %s" $key (include "kratix-destination.auth" $)) -}}
{{- end -}}
{{- end -}}
{{- if and (eq $.Values.gitops "argocd") $secret.knownHosts -}}
{{- fail "source.secret.knownHosts: ArgoCD reads known hosts from its argocd-ssh-known-hosts-cm ConfigMap, not from the repository Secret" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* How the source authenticates, in words for messages. */}}
{{- define "kratix-destination.auth" -}}
{{- if eq .Values.source.kind "bucket" -}}a bucket with access keys{{- else -}}Git with {{ .Values.source.git.authMethod }}{{- end -}}
{{- end -}}

{{/* The source.secret values a created Secret needs. */}}
{{- define "kratix-destination.secretInputs" -}}
{{- if eq .Values.source.kind "bucket" -}}
{{- list "accessKey" "secretKey" | toJson -}}
{{- else if eq .Values.source.git.authMethod "ssh" -}}
{{- ternary (list "sshPrivateKey" "knownHosts") (list "sshPrivateKey") (eq .Values.gitops "flux") | toJson -}}
{{- else -}}
{{- list "username" "password" | toJson -}}
{{- end -}}
{{- end -}}
