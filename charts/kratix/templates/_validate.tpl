{{/*
Rules that span several values, which values.schema.json cannot express. Each failure names the
value and says what to do, so a bad value stops `helm install` instead of crash-looping the
operator or leaving a state store that can never become Ready.
*/}}
{{- define "kratix.validate" -}}

{{- if and (gt (int .Values.replicas) 1) (not .Values.operator.leaderElection) -}}
{{- fail (printf "replicas: %d needs operator.leaderElection: true; without it every replica would reconcile every object and start duplicate pipeline Jobs" (int .Values.replicas)) -}}
{{- end -}}

{{- $interval := .Values.operator.reconcileInterval -}}
{{- if lt (float64 (include "kratix.durationSeconds" $interval)) 60.0 -}}
{{- fail (printf "operator.reconcileInterval: %q is shorter than 1m, the minimum (Kratix's too)" $interval) -}}
{{- end -}}

{{- $stores := dict -}}
{{- range $i, $store := .Values.stateStores -}}
{{- $where := printf "stateStores[%d] (%s %s)" $i $store.kind $store.name -}}
{{- $key := printf "%s/%s" $store.kind $store.name -}}
{{- if hasKey $stores $key -}}
{{- fail (printf "%s: a %s named %q is already defined above" $where $store.kind $store.name) -}}
{{- end -}}
{{- $_ := set $stores $key true -}}
{{- $method := include "kratix.authMethod" $store -}}
{{- $secretRef := $store.secretRef | default dict -}}
{{- if and (eq $method "IAM") $secretRef.values -}}
{{- fail (printf "%s.secretRef.values: authMethod IAM reads no Secret; remove the values or use authMethod accessKey" $where) -}}
{{- end -}}
{{- with $secretRef.values -}}
{{- $allowed := include "kratix.secretKeys" $method | fromJsonArray -}}
{{- range $name, $_ := . -}}
{{- if not (has $name $allowed) -}}
{{- fail (printf "%s.secretRef.values.%s: not a key kratix-py reads with authMethod %s; use %s (Flux's accesskey/secretkey are for the destination side)" $where $name $method (join ", " $allowed)) -}}
{{- end -}}
{{- end -}}
{{- range $name := $allowed -}}
{{- $optional := or (and (eq $method "basicAuth") (eq $name "username")) (and (eq $method "githubApp") (eq $name "apiURL")) -}}
{{- if and (not $optional) (not (get $secretRef.values $name)) -}}
{{- fail (printf "%s.secretRef.values.%s: missing; authMethod %s needs %s" $where $name $method (join ", " $allowed)) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- $names := dict -}}
{{- $paths := dict -}}
{{- range $i, $dest := .Values.destinations -}}
{{- $where := printf "destinations[%d] (%s)" $i $dest.name -}}
{{- if hasKey $names $dest.name -}}
{{- fail (printf "%s.name: a Destination named %q is already defined above" $where $dest.name) -}}
{{- end -}}
{{- $_ := set $names $dest.name true -}}
{{- $path := $dest.path | trimPrefix "/" | trimSuffix "/" | default "." -}}
{{- $pathKey := printf "%s/%s|%s" $dest.stateStoreRef.kind $dest.stateStoreRef.name $path -}}
{{- if hasKey $paths $pathKey -}}
{{- fail (printf "%s.path: %q is already used by Destination %s in the same state store; each Destination needs its own directory" $where $dest.path (get $paths $pathKey)) -}}
{{- end -}}
{{- $_ := set $paths $pathKey $dest.name -}}
{{- $filepath := $dest.filepath | default dict -}}
{{- if and $filepath.filename (ne ($filepath.mode | default "nestedByMetadata") "aggregatedYAML") -}}
{{- fail (printf "%s.filepath.filename: only used with filepath.mode aggregatedYAML" $where) -}}
{{- end -}}
{{- end -}}

{{- end -}}
