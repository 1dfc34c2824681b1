{{/*
Names, labels and the settings each service gets. The four services share one image
and differ in command, settings, admin port and consumer groups.
*/}}

{{/* The services, in pipeline order. */}}
{{- define "sluice.components" -}}
{{- list "collector" "normalizer" "enricher" "sink" | toJson -}}
{{- end -}}

{{- define "sluice.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Release-qualified name; the component is appended to it (<= 63 characters). */}}
{{- define "sluice.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 52 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 52 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 52 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "sluice.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "sluice.labels" -}}
helm.sh/chart: {{ include "sluice.chart" . }}
{{ include "sluice.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: sluice
{{- end -}}

{{- define "sluice.selectorLabels" -}}
app.kubernetes.io/name: {{ include "sluice.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Labels of one service: (dict "root" $ "component" "collector"). */}}
{{- define "sluice.componentLabels" -}}
{{ include "sluice.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "sluice.componentSelectorLabels" -}}
{{ include "sluice.selectorLabels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "sluice.componentName" -}}
{{- printf "%s-%s" (include "sluice.fullname" .root) .component -}}
{{- end -}}

{{- define "sluice.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "sluice.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "sluice.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository $tag -}}
{{- end -}}
{{- end -}}

{{/* ---------------------------------------------------------------------------
Credentials. The variables that hold them, per service, and the Secret they come from.
--------------------------------------------------------------------------- */}}

{{/* Every credential variable, with the `secrets` value that fills it. */}}
{{- define "sluice.secretVariables" -}}
SLUICE_KAFKA_SASL_USERNAME: kafkaSaslUsername
SLUICE_KAFKA_SASL_PASSWORD: kafkaSaslPassword
SLUICE_KAFKA_KEY_PASSWORD: kafkaKeyPassword
SLUICE_REGISTRY_USERNAME: registryUsername
SLUICE_REGISTRY_PASSWORD: registryPassword
SLUICE_REGISTRY_TOKEN: registryToken
SLUICE_REGISTRY_KEY_PASSWORD: registryKeyPassword
SLUICE_ES_USERNAME: esUsername
SLUICE_ES_PASSWORD: esPassword
SLUICE_ES_API_KEY: esApiKey
SLUICE_S3_ACCESS_KEY: s3AccessKey
SLUICE_S3_SECRET_KEY: s3SecretKey
{{- end -}}

{{/* The credential variables one service reads (JSON list): Kafka and the registry for
all, Elasticsearch and S3 for the sink only. */}}
{{- define "sluice.componentSecretVariables" -}}
{{- $all := list "SLUICE_KAFKA_SASL_USERNAME" "SLUICE_KAFKA_SASL_PASSWORD" "SLUICE_KAFKA_KEY_PASSWORD" "SLUICE_REGISTRY_USERNAME" "SLUICE_REGISTRY_PASSWORD" "SLUICE_REGISTRY_TOKEN" "SLUICE_REGISTRY_KEY_PASSWORD" -}}
{{- if eq .component "sink" -}}
{{- $all = concat $all (list "SLUICE_ES_USERNAME" "SLUICE_ES_PASSWORD" "SLUICE_ES_API_KEY" "SLUICE_S3_ACCESS_KEY" "SLUICE_S3_SECRET_KEY") -}}
{{- end -}}
{{- $all | toJson -}}
{{- end -}}

{{/* The chart creates a Secret when no existingSecret is named and some credential is set. */}}
{{- define "sluice.createSecret" -}}
{{- if not .Values.secrets.existingSecret -}}
{{- range $var, $key := (include "sluice.secretVariables" . | fromYaml) -}}
{{- if index $.Values.secrets $key -}}true{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "sluice.secretName" -}}
{{- default (printf "%s-credentials" (include "sluice.fullname" .)) .Values.secrets.existingSecret -}}
{{- end -}}

{{/* Keys the Secret holds (JSON list): all of them for an existing Secret (each
referenced as optional), the non-empty ones for the chart's own. */}}
{{- define "sluice.secretKeys" -}}
{{- $keys := list -}}
{{- range $var, $key := (include "sluice.secretVariables" . | fromYaml) -}}
{{- if or $.Values.secrets.existingSecret (index $.Values.secrets $key) -}}
{{- $keys = append $keys $var -}}
{{- end -}}
{{- end -}}
{{- $keys | toJson -}}
{{- end -}}

{{/* ---------------------------------------------------------------------------
Settings. The environment of one service, as a YAML map: the settings the chart derives
from the values, then `env` and <service>.env, which may neither override a derived
setting nor carry a credential.
--------------------------------------------------------------------------- */}}

{{- define "sluice.kafkaSasl" -}}
{{- $m := .Values.kafka.sasl.mechanism | default "" -}}
{{- $map := dict "" "" "plain" "plaintext" "scram-sha-256" "scram_sha256" "scram-sha-512" "scram_sha512" -}}
{{- if not (hasKey $map $m) -}}
{{- fail (printf "kafka.sasl.mechanism must be one of \"\", plain, scram-sha-256, scram-sha-512 (got %q)" $m) -}}
{{- end -}}
{{- index $map $m -}}
{{- end -}}

{{- define "sluice.s3Endpoint" -}}
{{- if .Values.s3.endpoint -}}
{{- .Values.s3.endpoint -}}
{{- else -}}
{{- printf "https://s3.%s.amazonaws.com" .Values.s3.region -}}
{{- end -}}
{{- end -}}

{{- define "sluice.componentEnv" -}}
{{- $root := .root -}}
{{- $v := $root.Values -}}
{{- $name := .component -}}
{{- $c := index $v $name -}}
{{- $_ := include "sluice.kafkaSasl" $root -}}
{{- if or (lt (int $c.adminPort) 1) (gt (int $c.adminPort) 65535) -}}
{{- fail (printf "%s.adminPort must be a port number 1-65535 (0, \"pick a free one\", cannot be probed)" $name) -}}
{{- end -}}
{{- $env := dict
  "SLUICE_KAFKA_BROKERS" (required "kafka.brokers is required" $v.kafka.brokers)
  "SLUICE_KAFKA_CLIENT_ID" $v.kafka.clientId
  "SLUICE_KAFKA_SSL" (ternary "true" "false" (eq (toString $v.kafka.ssl) "true"))
  "SLUICE_TOPIC_PARTITIONS" (toString (int $v.topics.partitions))
  "SLUICE_TOPIC_REPLICATION" (toString (int $v.topics.replication))
  "SLUICE_CREATE_TOPICS" (ternary "true" "false" (eq (toString $v.topics.create) "true"))
  "SLUICE_TOPIC_RAW" $v.topics.raw
  "SLUICE_TOPIC_COLLECTED" $v.topics.collected
  "SLUICE_TOPIC_NORMALIZED" $v.topics.normalized
  "SLUICE_TOPIC_ENRICHED" $v.topics.enriched
  "SLUICE_TOPIC_METRICS" $v.topics.metrics
  "SLUICE_TOPIC_SPANS" $v.topics.spans
  "SLUICE_TOPIC_TRACES" $v.topics.traces
  "SLUICE_TOPIC_DLQ" $v.topics.dlq
  "SLUICE_REGISTRY_URL" (required "registry.url is required" $v.registry.url)
  "SLUICE_LOG_LEVEL" $v.logLevel
  "SLUICE_ADMIN_HOST" $v.adminHost
  "SLUICE_CONFIG" "/etc/sluice/sluice.yaml"
  "SLUICE_SHUTDOWN_TIMEOUT_MS" (toString (int $v.shutdownTimeoutMs))
-}}
{{- if $v.kafka.sasl.mechanism -}}
{{- $_ := set $env "SLUICE_KAFKA_SASL_MECHANISM" $v.kafka.sasl.mechanism -}}
{{- end -}}
{{- range $kind := list "kafka" "registry" -}}
{{- $tls := (index $v $kind).tls -}}
{{- if $tls.secret -}}
{{- if ne (empty $tls.certKey) (empty $tls.keyKey) -}}
{{- fail (printf "%s.tls: certKey and keyKey go together (mutual TLS needs both), or neither" $kind) -}}
{{- end -}}
{{- if and (eq $kind "registry") (not (hasPrefix "https://" $v.registry.url)) -}}
{{- fail "registry.tls.secret is set but registry.url is not https://" -}}
{{- end -}}
{{- $dir := printf "/etc/sluice-tls/%s" $kind -}}
{{- $var := printf "SLUICE_%s" (upper $kind) -}}
{{- if $tls.caKey -}}{{- $_ := set $env (printf "%s_CA_FILE" $var) (printf "%s/%s" $dir $tls.caKey) -}}{{- end -}}
{{- if $tls.certKey -}}{{- $_ := set $env (printf "%s_CERT_FILE" $var) (printf "%s/%s" $dir $tls.certKey) -}}{{- end -}}
{{- if $tls.keyKey -}}{{- $_ := set $env (printf "%s_KEY_FILE" $var) (printf "%s/%s" $dir $tls.keyKey) -}}{{- end -}}
{{- end -}}
{{- end -}}
{{- $upper := upper $name -}}
{{- if ne $name "sink" -}}
{{- $_ := set $env (printf "SLUICE_%s_GROUP" $upper) $c.group -}}
{{- end -}}
{{- $_ := set $env (printf "SLUICE_%s_ADMIN_PORT" $upper) (toString (int $c.adminPort)) -}}
{{- if eq $name "enricher" -}}
{{- $_ := set $env "SLUICE_ENRICHER_TRACES_GROUP" $c.tracesGroup -}}
{{- $_ := set $env "SLUICE_ENRICHER_UPSTREAM_GROUPS" (printf "%s,%s" $v.collector.group $v.normalizer.group) -}}
{{- if $c.catalog -}}
{{- $_ := set $env "SLUICE_ENRICHER_CATALOG_FILE" "/etc/sluice/catalog.json" -}}
{{- end -}}
{{- end -}}
{{- if eq $name "sink" -}}
{{- $_ := set $env "SLUICE_SINK_WRITERS" (join "," $c.writers) -}}
{{- $_ := set $env "SLUICE_SINK_DATASETS" (join "," $c.datasets) -}}
{{- $_ := set $env "SLUICE_SINK_ES_GROUP" $c.esGroup -}}
{{- $_ := set $env "SLUICE_SINK_PARQUET_GROUP" $c.parquetGroup -}}
{{- $_ := set $env "SLUICE_ES_URL" $v.elasticsearch.url -}}
{{- $_ := set $env "SLUICE_ES_INDEX_PREFIX" $v.elasticsearch.indexPrefix -}}
{{- $_ := set $env "SLUICE_ES_METRICS_PREFIX" (default "sluice-metrics" $v.elasticsearch.metricsPrefix) -}}
{{- $_ := set $env "SLUICE_ES_SPANS_PREFIX" (default "sluice-spans" $v.elasticsearch.spansPrefix) -}}
{{- $_ := set $env "SLUICE_ES_TRACES_PREFIX" (default "sluice-traces" $v.elasticsearch.tracesPrefix) -}}
{{- $_ := set $env "SLUICE_ES_WRITE_MODE" (default "auto" $v.elasticsearch.writeMode) -}}
{{- if $v.elasticsearch.caSecret.name -}}
{{- $_ := set $env "SLUICE_ES_CA_FILE" (printf "/etc/sluice-tls/elasticsearch/%s" $v.elasticsearch.caSecret.key) -}}
{{- end -}}
{{- $_ := set $env "SLUICE_S3_ENDPOINT" (include "sluice.s3Endpoint" $root) -}}
{{- $_ := set $env "SLUICE_S3_REGION" $v.s3.region -}}
{{- $_ := set $env "SLUICE_S3_BUCKET" $v.s3.bucket -}}
{{- if $v.s3.prefix -}}
{{- $_ := set $env "SLUICE_S3_PREFIX" $v.s3.prefix -}}
{{- end -}}
{{- $_ := set $env "SLUICE_S3_FORCE_PATH_STYLE" (ternary "true" "false" (eq (toString $v.s3.forcePathStyle) "true")) -}}
{{- $_ := set $env "SLUICE_S3_CREDENTIALS" (default "static" $v.s3.credentials) -}}
{{- end -}}
{{- $secretVars := include "sluice.secretVariables" $root | fromYaml -}}
{{- $derived := keys $env -}}
{{- /* global env first, then the service's own: the service's wins */ -}}
{{- range $pair := list (list "env" $v.env) (list (printf "%s.env" $name) $c.env) -}}
{{- $where := index $pair 0 -}}
{{- range $k, $val := (index $pair 1 | default dict) -}}
{{- if hasKey $secretVars $k -}}
{{- fail (printf "%s.%s is a credential: set it in secrets (or secrets.existingSecret), not in a ConfigMap" $where $k) -}}
{{- end -}}
{{- if has $k $derived -}}
{{- fail (printf "%s.%s is set by the chart from its values (see values.yaml); set that value instead" $where $k) -}}
{{- end -}}
{{- $_ := set $env $k (toString $val) -}}
{{- end -}}
{{- end -}}
{{- toYaml $env -}}
{{- end -}}

{{/* extraEnv may not give a credential a literal value. */}}
{{- define "sluice.checkExtraEnv" -}}
{{- $secretVars := include "sluice.secretVariables" . | fromYaml -}}
{{- range .Values.extraEnv -}}
{{- if and (hasKey $secretVars .name) (hasKey . "value") -}}
{{- fail (printf "extraEnv %s has a literal value: credentials come from secrets (or valueFrom)" .name) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* ---------------------------------------------------------------------------
KEDA. The effective settings of one service (global keda merged with <service>.keda)
and the (consumer group, topic) pairs it scales on.
--------------------------------------------------------------------------- */}}
{{- define "sluice.keda" -}}
{{- $v := .root.Values -}}
{{- $c := index $v .component -}}
{{- $k := mergeOverwrite (deepCopy (omit $v.keda "enabled")) (default dict $c.keda) -}}
{{- $_ := set $k "enabled" (and $v.keda.enabled (ne (toString (get (default dict $c.keda) "enabled")) "false")) -}}
{{- $partitions := int $v.topics.partitions -}}
{{- $max := $partitions -}}
{{- if not (kindIs "invalid" $k.maxReplicaCount) -}}
{{- $max = int $k.maxReplicaCount -}}
{{- end -}}
{{- if $k.enabled -}}
{{- if gt $max $partitions -}}
{{- fail (printf "%s: keda maxReplicaCount %d exceeds topics.partitions %d: a consumer group has at most one active member per partition" .component $max $partitions) -}}
{{- end -}}
{{- if lt $max 1 -}}
{{- fail (printf "%s: keda maxReplicaCount must be at least 1" .component) -}}
{{- end -}}
{{- if gt (int $k.minReplicaCount) $max -}}
{{- fail (printf "%s: keda minReplicaCount %d exceeds maxReplicaCount %d" .component (int $k.minReplicaCount) $max) -}}
{{- end -}}
{{- end -}}
{{- $_ := set $k "maxReplicaCount" $max -}}
{{- toYaml $k -}}
{{- end -}}

{{/* [{group, topic}] one service's lag is measured on (JSON list). */}}
{{- define "sluice.kedaLagSources" -}}
{{- $v := .root.Values -}}
{{- $c := index $v .component -}}
{{- $out := list -}}
{{- if eq .component "collector" -}}
{{- $out = list (dict "group" $c.group "topic" $v.topics.raw) -}}
{{- else if eq .component "normalizer" -}}
{{- $out = list (dict "group" $c.group "topic" $v.topics.collected) -}}
{{- else if eq .component "enricher" -}}
{{- $out = list (dict "group" $c.group "topic" $v.topics.normalized) (dict "group" $c.tracesGroup "topic" $v.topics.spans) -}}
{{- else if eq .component "sink" -}}
{{- /* The sink's group for a (writer, dataset): logs keep the configured group, the
       other datasets append -<dataset> (services/sink/main.ts). Scale on the first
       writer of the first dataset, in the order es, parquet / logs, metrics, spans,
       traces: by default sluice-sink-es on logs.enriched. */ -}}
{{- $topics := dict "logs" $v.topics.enriched "metrics" $v.topics.metrics "spans" $v.topics.spans "traces" $v.topics.traces -}}
{{- $dataset := "" -}}
{{- range list "logs" "metrics" "spans" "traces" -}}
{{- if and (not $dataset) (has . $c.datasets) -}}{{- $dataset = . -}}{{- end -}}
{{- end -}}
{{- if not $dataset -}}{{- fail "sink.datasets must list some of logs, metrics, spans, traces" -}}{{- end -}}
{{- $base := "" -}}
{{- if has "es" $c.writers -}}{{- $base = $c.esGroup -}}{{- else if has "parquet" $c.writers -}}{{- $base = $c.parquetGroup -}}{{- else -}}{{- fail "sink.writers must list es and/or parquet" -}}{{- end -}}
{{- $group := ternary $base (printf "%s-%s" $base $dataset) (eq $dataset "logs") -}}
{{- $out = list (dict "group" $group "topic" (index $topics $dataset)) -}}
{{- end -}}
{{- $out | toJson -}}
{{- end -}}
