/**
 * Settings every service shares: Kafka, schema registry, topic names, logging and
 * shutdown. Defaults point at the local stack (`scripts/stack up`), so nothing needs
 * configuring to run against it.
 */
import type { Schema } from './config.js';

export const kafkaSchema = {
  brokers: { type: 'list', env: 'SLUICE_KAFKA_BROKERS', check: 'host-port', default: ['127.0.0.1:9092'], doc: 'Kafka bootstrap servers, comma-separated host:port.' },
  clientId: { type: 'string', env: 'SLUICE_KAFKA_CLIENT_ID', default: 'sluice', doc: 'Kafka client id prefix; the service name is appended.' },
  saslMechanism: { type: 'string', env: 'SLUICE_KAFKA_SASL_MECHANISM', default: '', choices: ['', 'plain', 'scram-sha-256', 'scram-sha-512'], doc: 'SASL mechanism; empty for none.' },
  saslUsername: { type: 'optional-string', env: 'SLUICE_KAFKA_SASL_USERNAME', doc: 'SASL user name.' },
  saslPassword: { type: 'optional-string', env: 'SLUICE_KAFKA_SASL_PASSWORD', doc: 'SASL password.', secret: true },
  ssl: { type: 'bool', env: 'SLUICE_KAFKA_SSL', default: false, doc: 'Connect to Kafka with TLS (trusting the system CAs, or SLUICE_KAFKA_CA_FILE). Implied by any of the TLS files below.' },
  caFile: { type: 'optional-string', env: 'SLUICE_KAFKA_CA_FILE', check: 'file', doc: 'PEM file of the CA(s) that signed the brokers\' certificates, instead of the system CAs.' },
  certFile: { type: 'optional-string', env: 'SLUICE_KAFKA_CERT_FILE', check: 'file', doc: 'PEM client certificate (chain) for brokers that require mutual TLS; with SLUICE_KAFKA_KEY_FILE.' },
  keyFile: { type: 'optional-string', env: 'SLUICE_KAFKA_KEY_FILE', check: 'file', doc: 'PEM private key of SLUICE_KAFKA_CERT_FILE.' },
  keyPassword: { type: 'optional-string', env: 'SLUICE_KAFKA_KEY_PASSWORD', doc: 'Passphrase of an encrypted SLUICE_KAFKA_KEY_FILE.', secret: true },
  topicPartitions: { type: 'int', env: 'SLUICE_TOPIC_PARTITIONS', default: 3, min: 1, max: 10000, doc: 'Partitions for topics Sluice creates at start (existing topics are left as they are).' },
  topicReplication: { type: 'int', env: 'SLUICE_TOPIC_REPLICATION', default: 1, min: 1, max: 10, doc: 'Replication factor for topics Sluice creates.' },
  createTopics: { type: 'bool', env: 'SLUICE_CREATE_TOPICS', default: true, doc: 'Create missing topics at start.' },
} as const satisfies Schema;

export const registrySchema = {
  registryUrl: { type: 'string', env: 'SLUICE_REGISTRY_URL', check: 'url', default: 'http://127.0.0.1:8081/apis/ccompat/v7', doc: 'Schema registry with the Confluent REST API (the local stack runs Apicurio Registry, whose Confluent-compatible API lives under /apis/ccompat/v7).' },
  registryUsername: { type: 'optional-string', env: 'SLUICE_REGISTRY_USERNAME', doc: 'Registry basic-auth user.' },
  registryPassword: { type: 'optional-string', env: 'SLUICE_REGISTRY_PASSWORD', doc: 'Registry basic-auth password.', secret: true },
  registryToken: { type: 'optional-string', env: 'SLUICE_REGISTRY_TOKEN', doc: 'Bearer token sent as `Authorization: Bearer <token>` (an OAuth access token, an API gateway key); instead of SLUICE_REGISTRY_USERNAME/_PASSWORD, not with them.', secret: true },
  registryCaFile: { type: 'optional-string', env: 'SLUICE_REGISTRY_CA_FILE', check: 'file', doc: 'PEM file of the CA(s) that signed an https:// registry\'s certificate, instead of the system CAs.' },
  registryCertFile: { type: 'optional-string', env: 'SLUICE_REGISTRY_CERT_FILE', check: 'file', doc: 'PEM client certificate (chain) for a registry that requires mutual TLS; with SLUICE_REGISTRY_KEY_FILE.' },
  registryKeyFile: { type: 'optional-string', env: 'SLUICE_REGISTRY_KEY_FILE', check: 'file', doc: 'PEM private key of SLUICE_REGISTRY_CERT_FILE.' },
  registryKeyPassword: { type: 'optional-string', env: 'SLUICE_REGISTRY_KEY_PASSWORD', doc: 'Passphrase of an encrypted SLUICE_REGISTRY_KEY_FILE.', secret: true },
} as const satisfies Schema;

export const topicSchema = {
  topicRaw: { type: 'string', env: 'SLUICE_TOPIC_RAW', default: 'logs.raw', doc: 'Raw lines from shippers.' },
  topicCollected: { type: 'string', env: 'SLUICE_TOPIC_COLLECTED', default: 'logs.collected', doc: 'RawEvent, written by the collector.' },
  topicDelayed: { type: 'string', env: 'SLUICE_TOPIC_DELAYED', default: 'logs.collected.delayed', doc: 'RawEvent of tenants over their rate limit, each with its release time (header sluice-not-before), written and released to logs.collected by the collector (sluice.yaml tenants.limits, over_limit: delay).' },
  topicNormalized: { type: 'string', env: 'SLUICE_TOPIC_NORMALIZED', default: 'logs.normalized', doc: 'LogRecord, written by the normalizer.' },
  topicEnriched: { type: 'string', env: 'SLUICE_TOPIC_ENRICHED', default: 'logs.enriched', doc: 'LogRecord with enrichment, written by the enricher.' },
  topicMetrics: { type: 'string', env: 'SLUICE_TOPIC_METRICS', default: 'metrics.derived', doc: 'MetricWindow, written by the enricher.' },
  topicSpans: { type: 'string', env: 'SLUICE_TOPIC_SPANS', default: 'traces.spans', doc: 'Span, written by the enricher.' },
  topicTraces: { type: 'string', env: 'SLUICE_TOPIC_TRACES', default: 'traces.summaries', doc: 'TraceSummary, written by the enricher.' },
  topicDlq: { type: 'string', env: 'SLUICE_TOPIC_DLQ', default: 'logs.dlq', doc: 'DeadLetter, written by every stage.' },
} as const satisfies Schema;

export const processSchema = {
  logLevel: { type: 'string', env: 'SLUICE_LOG_LEVEL', default: 'info', choices: ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'], doc: 'pino log level.' },
  adminHost: { type: 'string', env: 'SLUICE_ADMIN_HOST', default: '127.0.0.1', doc: 'Address of the admin endpoints (/metrics, /healthz, /readyz). Loopback by default; set 0.0.0.0 only behind a network policy (the endpoints have no authentication; a service bound wider than loopback logs a warning at start).' },
  configFile: { type: 'optional-string', env: 'SLUICE_CONFIG', check: 'file', doc: 'The sluice.yaml to read (settings of every service, user-declared formats: docs/configuration.md, docs/formats.md); unset: ./sluice.yaml when it exists, else none. A broken file stops the service with exit code 78 and every problem listed.' },
  shutdownTimeoutMs: { type: 'int', env: 'SLUICE_SHUTDOWN_TIMEOUT_MS', default: 30000, min: 1000, unit: 'ms', doc: 'Deadline for the graceful shutdown (drain, flush, commit, close) before the process exits anyway.' },
} as const satisfies Schema;

export const commonSchema = { ...kafkaSchema, ...registrySchema, ...topicSchema, ...processSchema } as const satisfies Schema;

/**
 * Variables read by scripts/stack (the local stack), not by the services. Listed so the
 * services' strict prefix check does not reject them. See README, "The local stack".
 */
export const stackVariables = [
  'SLUICE_STACK_DIR', 'SLUICE_M2_REPO',
  'SLUICE_KAFKA_PORT', 'SLUICE_KAFKA_CONTROLLER_PORT', 'SLUICE_KAFKA_SSL_PORT', 'SLUICE_KAFKA_SASL_SSL_PORT', 'SLUICE_KAFKA_SCRAM_PASSWORD', 'SLUICE_KAFKA_PROXIED_PORT', 'SLUICE_KAFKA_PROXIED_ADVERTISED_PORT', 'SLUICE_KAFKA_VERSION', 'SLUICE_KAFKA_HEAP', 'SLUICE_KAFKA_LOG4J_VERSION',
  'SLUICE_REGISTRY_PORT', 'SLUICE_REGISTRY_MANAGEMENT_PORT', 'SLUICE_REGISTRY_TLS_PORT', 'SLUICE_REGISTRY_MTLS_PORT', 'SLUICE_REGISTRY_VERSION', 'SLUICE_REGISTRY_JAVA', 'SLUICE_REGISTRY_STORAGE', 'SLUICE_REGISTRY_TOPIC', 'SLUICE_REGISTRY_HEAP',
  'SLUICE_ES_PORT', 'SLUICE_ES_TRANSPORT_PORT', 'SLUICE_ES_VERSION', 'SLUICE_ES_JAVA_HOME', 'SLUICE_ES_JAVA_OPTS', 'SLUICE_ES_USER',
  'SLUICE_S3_PORT', 'SLUICE_S3_LOG_LEVEL', 'SLUICE_S3PROXY_VERSION', 'SLUICE_S3PROXY_INSTALL',
] as const;
