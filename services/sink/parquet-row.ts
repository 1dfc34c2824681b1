/**
 * LogRecord -> one flat Parquet row with the Avro field names as snake_case columns
 * (DESIGN.md). Nested records become prefixed columns (source_topic, http_status, ...);
 * maps and lists are JSON text. Timestamps are TIMESTAMP_MICROS (INT64, UTC).
 */
import type { LogRecord } from '../../shared/records.js';

export type ColumnType = 'UTF8' | 'INT32' | 'INT64' | 'TIMESTAMP_MICROS';
export interface Column {
  name: string;
  type: ColumnType;
  optional: boolean;
}

export const logColumns: readonly Column[] = [
  { name: 'event_id', type: 'UTF8', optional: false },
  { name: 'timestamp', type: 'TIMESTAMP_MICROS', optional: false },
  { name: 'timestamp_source', type: 'UTF8', optional: false },
  { name: 'observed_at', type: 'TIMESTAMP_MICROS', optional: false },
  { name: 'level', type: 'UTF8', optional: false },
  { name: 'severity_number', type: 'INT32', optional: false },
  { name: 'message', type: 'UTF8', optional: false },
  { name: 'service', type: 'UTF8', optional: true },
  { name: 'host', type: 'UTF8', optional: true },
  { name: 'tenant', type: 'UTF8', optional: false },
  { name: 'environment', type: 'UTF8', optional: true },
  { name: 'source_format', type: 'UTF8', optional: false },
  { name: 'source_shipper', type: 'UTF8', optional: true },
  { name: 'source_file', type: 'UTF8', optional: true },
  { name: 'source_topic', type: 'UTF8', optional: false },
  { name: 'source_partition', type: 'INT32', optional: false },
  { name: 'source_offset', type: 'INT64', optional: false },
  { name: 'trace_id', type: 'UTF8', optional: true },
  { name: 'span_id', type: 'UTF8', optional: true },
  { name: 'parent_span_id', type: 'UTF8', optional: true },
  { name: 'ids', type: 'UTF8', optional: false },
  { name: 'http_method', type: 'UTF8', optional: true },
  { name: 'http_route', type: 'UTF8', optional: true },
  { name: 'http_path', type: 'UTF8', optional: true },
  { name: 'http_status', type: 'INT32', optional: true },
  { name: 'http_duration_us', type: 'INT64', optional: true },
  { name: 'http_bytes', type: 'INT64', optional: true },
  { name: 'http_client_ip', type: 'UTF8', optional: true },
  { name: 'http_user_agent', type: 'UTF8', optional: true },
  { name: 'error_type', type: 'UTF8', optional: true },
  { name: 'error_message', type: 'UTF8', optional: true },
  { name: 'error_stack', type: 'UTF8', optional: true },
  { name: 'attributes', type: 'UTF8', optional: false },
  { name: 'labels', type: 'UTF8', optional: false },
  { name: 'flags', type: 'UTF8', optional: false },
];

export type Row = Record<string, string | number | null>;

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

/** Hive partition path for a record by event time: `tenant=<t>/dt=YYYY-MM-DD/hour=HH`. */
export function partitionPath(r: Pick<LogRecord, 'tenant' | 'timestamp'>): string {
  const iso = new Date(Math.floor(r.timestamp / 1000)).toISOString();
  const tenant = encodeURIComponent(r.tenant || 'default');
  return `tenant=${tenant}/dt=${iso.slice(0, 10)}/hour=${iso.slice(11, 13)}`;
}
