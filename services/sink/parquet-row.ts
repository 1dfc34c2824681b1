/**
 * Records -> flat Parquet rows, one descriptor per dataset (logs, metrics, spans,
 * traces), like EsDataset in es-document.ts.
 *
 * Columns keep the Avro field names as flat snake_case (docs/architecture.md, "Records"); a nested record
 * becomes prefixed columns (source_topic, http_status, series_service, ...). Timestamps
 * are TIMESTAMP(MICROS, isAdjustedToUTC=true) (INT64). Avro arrays of the derived
 * records are Parquet LISTs of their item type (bucket_bounds_us, bucket_counts,
 * services): every reader we target (DuckDB, pyarrow, Spark, Athena/Trino) reads a
 * LIST natively, so a histogram bucket is `bucket_counts[3]` or an `unnest`, not a
 * JSON parse. Avro `bytes` is a BYTE_ARRAY column without annotation (a BLOB in
 * DuckDB, `binary` in pyarrow): the metrics `sketch`. Maps (ids, attributes, labels of
 * a log) stay JSON text: their keys are open-ended, and a MAP column is awkward in
 * several readers. The logs dataset also
 * keeps `flags` as JSON text, because its files were first written that way and a
 * column that changes type breaks reading old and new files together.
 *
 * services/sink/parquet-datasets.test.ts derives the expected columns from
 * schemas/*.avsc, so a descriptor cannot drift from its schema.
 */
import type { LogRecord, MetricWindow, Span, TraceSummary } from '../../shared/records.js';

export type ColumnType = 'UTF8' | 'INT32' | 'INT64' | 'BOOLEAN' | 'TIMESTAMP_MICROS' | 'BYTE_ARRAY';
export interface Column {
  name: string;
  /** The value type; of each element when `list` is set. */
  type: ColumnType;
  /** The column may be null (an Avro union with null). */
  optional: boolean;
  /** A Parquet LIST of non-null `type` elements (an Avro array); the list itself follows `optional`. */
  list?: true;
}

export type Value = string | number | boolean | Uint8Array | null;
export type Row = Record<string, Value | readonly (string | number)[]>;

export type ParquetDatasetName = 'logs' | 'metrics' | 'spans' | 'traces';

/** What the Parquet writer needs to know about one dataset. */
export interface ParquetDataset<T> {
  /** Path segment after the key prefix: `<prefix>/<name>/tenant=.../...`. */
  readonly name: ParquetDatasetName;
  readonly columns: readonly Column[];
  toRow(value: T): Row;
  /** Event time that places the row in its Hive partition, microseconds since the epoch (UTC). */
  time(value: T): number;
  tenant(value: T): string;
}

const col = (name: string, type: ColumnType, optional = false): Column => ({ name, type, optional });
const listOf = (name: string, type: ColumnType): Column => ({ name, type, optional: false, list: true });

/** The values of `columns` from the fields of the same names, in column order, as they are. */
function byName(columns: readonly Column[], value: object): Row {
  const row: Row = {};
  for (const c of columns) row[c.name] = (value as Row)[c.name]!;
  return row;
}

/** A dataset of a flat record: its columns are its fields by name; its tenant is its `tenant`. */
function flatDataset<T extends { tenant: string }>(name: ParquetDatasetName, columns: readonly Column[], time: (value: T) => number): ParquetDataset<T> {
  return { name, columns, toRow: (value) => byName(columns, value), time, tenant: (value) => value.tenant };
}

export const logColumns: readonly Column[] = [
  col('event_id', 'UTF8'),
  col('timestamp', 'TIMESTAMP_MICROS'),
  col('timestamp_source', 'UTF8'),
  col('observed_at', 'TIMESTAMP_MICROS'),
  col('level', 'UTF8'),
  col('severity_number', 'INT32'),
  col('message', 'UTF8'),
  col('service', 'UTF8', true),
  col('host', 'UTF8', true),
  col('tenant', 'UTF8'),
  col('environment', 'UTF8', true),
  col('source_format', 'UTF8'),
  col('source_shipper', 'UTF8', true),
  col('source_file', 'UTF8', true),
  col('source_topic', 'UTF8'),
  col('source_partition', 'INT32'),
  col('source_offset', 'INT64'),
  col('trace_id', 'UTF8', true),
  col('span_id', 'UTF8', true),
  col('parent_span_id', 'UTF8', true),
  col('ids', 'UTF8'),
  col('http_method', 'UTF8', true),
  col('http_route', 'UTF8', true),
  col('http_path', 'UTF8', true),
  col('http_status', 'INT32', true),
  col('http_duration_us', 'INT64', true),
  col('http_bytes', 'INT64', true),
  col('http_client_ip', 'UTF8', true),
  col('http_user_agent', 'UTF8', true),
  col('error_type', 'UTF8', true),
  col('error_message', 'UTF8', true),
  col('error_stack', 'UTF8', true),
  col('attributes', 'UTF8'),
  col('labels', 'UTF8'),
  col('flags', 'UTF8'),
];

export function toParquetRow(r: LogRecord): Row {
  return {
    event_id: r.event_id,
    timestamp: r.timestamp,
    timestamp_source: r.timestamp_source,
    observed_at: r.observed_at,
    level: r.level,
    severity_number: r.severity_number,
    message: r.message,
    service: r.service,
    host: r.host,
    tenant: r.tenant,
    environment: r.environment,
    source_format: r.source.format,
    source_shipper: r.source.shipper,
    source_file: r.source.file,
    source_topic: r.source.topic,
    source_partition: r.source.partition,
    source_offset: r.source.offset,
    trace_id: r.trace_id,
    span_id: r.span_id,
    parent_span_id: r.parent_span_id,
    ids: JSON.stringify(r.ids),
    http_method: r.http?.method ?? null,
    http_route: r.http?.route ?? null,
    http_path: r.http?.path ?? null,
    http_status: r.http?.status ?? null,
    http_duration_us: r.http?.duration_us ?? null,
    http_bytes: r.http?.bytes ?? null,
    http_client_ip: r.http?.client_ip ?? null,
    http_user_agent: r.http?.user_agent ?? null,
    error_type: r.error?.type ?? null,
    error_message: r.error?.message ?? null,
    error_stack: r.error?.stack ?? null,
    attributes: JSON.stringify(r.attributes),
    labels: JSON.stringify(r.labels),
    flags: JSON.stringify(r.flags),
  };
}

export const logsParquet: ParquetDataset<LogRecord> = { name: 'logs', columns: logColumns, toRow: toParquetRow, time: (r) => r.timestamp, tenant: (r) => r.tenant };

const metricColumns: readonly Column[] = [
  col('window_id', 'UTF8'),
  col('series_service', 'UTF8', true),
  col('series_route', 'UTF8', true),
  col('series_method', 'UTF8', true),
  col('series_status_class', 'UTF8', true),
  col('series_level', 'UTF8', true),
  col('window_start', 'TIMESTAMP_MICROS'),
  col('window_end', 'TIMESTAMP_MICROS'),
  col('count', 'INT64'),
  col('error_count', 'INT64'),
  col('duration_sum_us', 'INT64'),
  listOf('bucket_bounds_us', 'INT64'),
  listOf('bucket_counts', 'INT64'),
  col('p50_us', 'INT64', true),
  col('p90_us', 'INT64', true),
  col('p99_us', 'INT64', true),
  col('exemplar_trace_id', 'UTF8', true),
  col('exemplar_event_id', 'UTF8', true),
  col('late_count', 'INT64'),
  col('tenant', 'UTF8'),
  col('sketch', 'BYTE_ARRAY', true),
];

/** MetricWindow rows; the Hive partition is the window start. Dedup key: window_id (a re-emitted window has the same id). */
export const metricsParquet: ParquetDataset<MetricWindow> = {
  name: 'metrics',
  columns: metricColumns,
  toRow: (m) => ({
    ...byName(metricColumns, m),
    // The series_ columns are the fields of its nested record (in the same places).
    series_service: m.series.service,
    series_route: m.series.route,
    series_method: m.series.method,
    series_status_class: m.series.status_class,
    series_level: m.series.level,
    // Absent in a window from a writer before the field.
    sketch: m.sketch ?? null,
  }),
  time: (m) => m.window_start,
  tenant: (m) => m.tenant,
};

/**
 * Span rows; the Hive partition is the span start. `start` and `end` keep their Avro
 * names although `end` is an SQL keyword (DuckDB, Trino: quote it, `"end"`).
 */
export const spansParquet = flatDataset<Span>(
  'spans',
  [
    col('trace_id', 'UTF8'),
    col('span_id', 'UTF8'),
    col('parent_span_id', 'UTF8', true),
    col('service', 'UTF8'),
    col('operation', 'UTF8'),
    col('start', 'TIMESTAMP_MICROS'),
    col('end', 'TIMESTAMP_MICROS'),
    col('duration_us', 'INT64'),
    col('status', 'UTF8'),
    col('event_count', 'INT32'),
    col('derivation', 'UTF8'),
    col('tenant', 'UTF8'),
  ],
  (s) => s.start,
);

/** TraceSummary rows; the Hive partition is the trace start. */
export const tracesParquet = flatDataset<TraceSummary>(
  'traces',
  [
    col('trace_id', 'UTF8'),
    col('root_service', 'UTF8', true),
    col('root_operation', 'UTF8', true),
    col('start', 'TIMESTAMP_MICROS'),
    col('duration_us', 'INT64'),
    col('span_count', 'INT32'),
    listOf('services', 'UTF8'),
    col('error', 'BOOLEAN'),
    col('tenant', 'UTF8'),
  ],
  (t) => t.start,
);

/** Hive partition path by event time (UTC): `tenant=<t>/dt=YYYY-MM-DD/hour=HH`. */
export function partitionPath(r: { tenant: string; timestamp: number }): string {
  const iso = new Date(Math.floor(r.timestamp / 1000)).toISOString();
  const tenant = encodeURIComponent(r.tenant || 'default');
  return `tenant=${tenant}/dt=${iso.slice(0, 10)}/hour=${iso.slice(11, 13)}`;
}
