/**
 * Sink settings (prefix SLUICE_SINK_, SLUICE_ES_, SLUICE_S3_), on top of the common ones.
 * Batch settings apply to each (writer, dataset) pair on its own.
 */
import type { Schema } from '../../shared/config.js';
import { commonSchema } from '../../shared/common-config.js';

export const sinkSchema = {
  writers: { type: 'list', env: 'SLUICE_SINK_WRITERS', default: ['es', 'parquet'], doc: 'Writers this process runs: es, parquet. Each writer of each dataset is its own consumer group.' },
  datasets: { type: 'list', env: 'SLUICE_SINK_DATASETS', default: ['logs', 'metrics', 'spans', 'traces'], doc: 'Datasets this process writes, each read from its topic: logs (SLUICE_TOPIC_ENRICHED), metrics (SLUICE_TOPIC_METRICS), spans (SLUICE_TOPIC_SPANS), traces (SLUICE_TOPIC_TRACES). Elasticsearch: logs under SLUICE_ES_INDEX_PREFIX, the others under SLUICE_ES_METRICS_PREFIX, SLUICE_ES_SPANS_PREFIX, SLUICE_ES_TRACES_PREFIX (default sluice-logs-*, sluice-metrics-*, sluice-spans-*, sluice-traces-*); Parquet keys `<SLUICE_S3_PREFIX>/<dataset>/...`.' },
  adminPort: { type: 'int', env: 'SLUICE_SINK_ADMIN_PORT', default: 9704, min: 0, max: 65535, doc: 'Admin port; 0 picks a free one.' },
  esGroupId: { type: 'string', env: 'SLUICE_SINK_ES_GROUP', default: 'sluice-sink-es', doc: 'Consumer group of the Elasticsearch writer of logs; the metrics, spans and traces writers use `<group>-metrics`, `<group>-spans` and `<group>-traces`.' },
  esMaxDocs: { type: 'int', env: 'SLUICE_SINK_ES_MAX_DOCS', default: 2000, min: 1, doc: 'Bulk request size, documents.' },
  esMaxBytes: { type: 'int', env: 'SLUICE_SINK_ES_MAX_BYTES', default: 5_000_000, min: 1024, unit: 'bytes', doc: 'Bulk request size, bytes of input.' },
  esMaxAgeMs: { type: 'int', env: 'SLUICE_SINK_ES_MAX_AGE_MS', default: 1000, min: 10, unit: 'ms', doc: 'Longest a document waits before its bulk request is sent.' },
  esCaughtUpDocs: { type: 'int', env: 'SLUICE_SINK_ES_CAUGHT_UP_DOCS', default: 1, min: 0, doc: 'Send a bulk request at once, without waiting for its age, when the partition has been read to its end and this many documents wait: documents are searchable as soon as the sink has read what there is (1, the default), while a backlog still goes in full bulk requests. 0: off (only size and age).' },
  parquetGroupId: { type: 'string', env: 'SLUICE_SINK_PARQUET_GROUP', default: 'sluice-sink-parquet', doc: 'Consumer group of the Parquet writer of logs; the metrics, spans and traces writers use `<group>-metrics`, `<group>-spans` and `<group>-traces`.' },
  parquetMaxRows: { type: 'int', env: 'SLUICE_SINK_PARQUET_MAX_ROWS', default: 100_000, min: 1, doc: 'Rotate a Parquet object at this many rows (per Kafka partition and dataset).' },
  parquetMaxBytes: { type: 'int', env: 'SLUICE_SINK_PARQUET_MAX_BYTES', default: 64_000_000, min: 1024, unit: 'bytes', doc: 'Rotate at this many bytes of input.' },
  parquetMaxAgeMs: { type: 'int', env: 'SLUICE_SINK_PARQUET_MAX_AGE_MS', default: 15_000, min: 100, unit: 'ms', doc: 'Rotate when the oldest buffered row has waited this long.' },
  esRetentionDays: { type: 'int', env: 'SLUICE_SINK_ES_RETENTION_DAYS', default: 0, min: 0, max: 36500, unit: 'days', doc: 'Delete the daily Elasticsearch indices of the sink\'s datasets (and route prefixes) older than this many days, at start and hourly; only indices Sluice\'s templates created (mapping _meta.managed_by: sluice). Data streams under the same prefixes: each is rolled over once its write index is a day old, and a backing index other than the write index is deleted once its newest @timestamp is older than this. 0: keep everything, no rollover (or attach ILM or a data-stream lifecycle yourself).' },
  parquetRetentionDays: { type: 'int', env: 'SLUICE_SINK_PARQUET_RETENTION_DAYS', default: 0, min: 0, max: 36500, unit: 'days', doc: 'Delete Parquet objects under <SLUICE_S3_PREFIX>/<dataset>/ whose dt= partition is older than this many days, at start and hourly. 0: keep everything (or use a bucket lifecycle rule).' },
  bufferMaxBytes: { type: 'int', env: 'SLUICE_SINK_BUFFER_MAX_BYTES', default: 256_000_000, min: 0, unit: 'bytes', doc: 'Memory budget of the whole sink process: encoded bytes of the records held over all partitions, datasets and writers (buffered or being written). Over it, every buffer holding at least 1/16 of it is written at once (or its partition pauses). The heap holds several times this. 0: only the per-buffer bounds.' },
  parquetCaughtUpRows: { type: 'int', env: 'SLUICE_SINK_PARQUET_CAUGHT_UP_ROWS', default: 10_000, min: 0, doc: 'Rotate at once, without waiting for the age, when the partition has been read to its end and this many rows wait: a burst that ended is written at once, and its tail (the rows after that, once the partition has had no new row for 0.5 s) once more, whatever its size; a trickle still rotates by age (no small objects). 0: off.' },
  parquetRowGroupSize: { type: 'int', env: 'SLUICE_SINK_PARQUET_ROW_GROUP_SIZE', default: 50_000, min: 1, doc: 'Rows per Parquet row group.' },
  parquetCompression: { type: 'string', env: 'SLUICE_SINK_PARQUET_COMPRESSION', default: 'ZSTD', choices: ['ZSTD', 'SNAPPY', 'GZIP', 'UNCOMPRESSED'], doc: 'Parquet page compression (every reader we test reads ZSTD and SNAPPY).' },
  esUrl: { type: 'string', env: 'SLUICE_ES_URL', check: 'url', default: 'http://127.0.0.1:9200', doc: 'Elasticsearch URL.' },
  esUsername: { type: 'optional-string', env: 'SLUICE_ES_USERNAME', doc: 'Basic-auth user.' },
  esPassword: { type: 'optional-string', env: 'SLUICE_ES_PASSWORD', doc: 'Basic-auth password.', secret: true },
  esApiKey: { type: 'optional-string', env: 'SLUICE_ES_API_KEY', doc: 'API key (base64 id:key), instead of basic auth.', secret: true },
  esCaFile: { type: 'optional-string', env: 'SLUICE_ES_CA_FILE', check: 'file', doc: 'PEM file of the CA that signed the Elasticsearch certificate.' },
  esIndexPrefix: { type: 'string', env: 'SLUICE_ES_INDEX_PREFIX', default: 'sluice-logs', doc: 'Log indices are `<prefix>-<tenant>-YYYY.MM.DD` (data streams `<prefix>-<tenant>`), searchable as `<prefix>-*`. The default matches none of Elastic\'s built-in templates (logs-*-*, metrics-*-*, traces-*-*); `logs`, the name before the sluice- namespace, keeps an existing deployment\'s indices but its template must outrank Elastic\'s and so also captures Elastic Agent\'s logs-*-* indices.' },
  esMetricsPrefix: { type: 'string', env: 'SLUICE_ES_METRICS_PREFIX', default: 'sluice-metrics', doc: 'Metric window indices `<prefix>-<tenant>-YYYY.MM.DD` (data streams `<prefix>-<tenant>`). `metrics` keeps the old names (with the same caveat as SLUICE_ES_INDEX_PREFIX=logs).' },
  esSpansPrefix: { type: 'string', env: 'SLUICE_ES_SPANS_PREFIX', default: 'sluice-spans', doc: 'Span indices `<prefix>-<tenant>-YYYY.MM.DD` (data streams `<prefix>-<tenant>`). `spans` keeps the old names.' },
  esTracesPrefix: { type: 'string', env: 'SLUICE_ES_TRACES_PREFIX', default: 'sluice-traces', doc: 'Trace summary indices `<prefix>-<tenant>-YYYY.MM.DD` (data streams `<prefix>-<tenant>`). `traces` keeps the old names (with the same caveat as SLUICE_ES_INDEX_PREFIX=logs).' },
  esWriteMode: { type: 'string', env: 'SLUICE_ES_WRITE_MODE', default: 'auto', choices: ['auto', 'data-streams', 'daily-indices'], doc: 'auto: data streams when the server has the data-stream API (GET /_data_stream), daily indices otherwise. data-streams: documents are created in data streams `<prefix>-<tenant>` with `_id` = event id; that dedups a replay only within one backing index, so a replay that straddles a rollover can write a document twice. daily-indices: `<prefix>-<tenant>-YYYY.MM.DD`, where the `_id` dedup is exact. Going back from data streams to daily indices needs the data streams deleted first (Elasticsearch refuses the template otherwise).' },
  s3Endpoint: { type: 'string', env: 'SLUICE_S3_ENDPOINT', check: 'url', default: 'http://127.0.0.1:9000', doc: 'S3 endpoint: an S3-compatible server, or for AWS S3 https://s3.<region>.amazonaws.com (an empty value counts as unset, i.e. this default).' },
  s3Region: { type: 'string', env: 'SLUICE_S3_REGION', default: 'us-east-1', doc: 'S3 region.' },
  s3Bucket: { type: 'string', env: 'SLUICE_S3_BUCKET', default: 'sluice', doc: 'Bucket for Parquet objects.' },
  s3Prefix: { type: 'string', env: 'SLUICE_S3_PREFIX', default: '', doc: 'Key prefix inside the bucket (no trailing slash).' },
  s3Credentials: { type: 'string', env: 'SLUICE_S3_CREDENTIALS', default: 'static', choices: ['static', 'chain'], doc: 'static: sign with SLUICE_S3_ACCESS_KEY and SLUICE_S3_SECRET_KEY. chain: the AWS default credential chain instead (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE with the shared config and credentials files, web identity as EKS IRSA mounts it, ECS and EC2 instance metadata).' },
  s3AccessKey: { type: 'string', env: 'SLUICE_S3_ACCESS_KEY', default: 'sluice', doc: 'Access key id with SLUICE_S3_CREDENTIALS=static (the default is the local stack\'s).', secret: true },
  s3SecretKey: { type: 'string', env: 'SLUICE_S3_SECRET_KEY', default: 'sluice-local-secret', doc: 'Secret access key with SLUICE_S3_CREDENTIALS=static (the default is the local stack\'s).', secret: true },
  s3ForcePathStyle: { type: 'bool', env: 'SLUICE_S3_FORCE_PATH_STYLE', default: true, doc: 'Path-style URLs (needed by most S3-compatible servers).' },
} as const satisfies Schema;

export const schema = { ...commonSchema, ...sinkSchema } as const;
export const strictPrefixes = ['SLUICE_SINK_', 'SLUICE_ES_', 'SLUICE_S3_'] as const;
