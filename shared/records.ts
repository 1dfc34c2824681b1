/**
 * TypeScript shapes of the Avro records in schemas/*.avsc. Timestamps are integer
 * microseconds since the Unix epoch (Avro timestamp-micros); JavaScript numbers hold
 * them exactly until the year 2255. `records.test.ts` checks these shapes against the
 * .avsc files field by field, so the two cannot drift.
 */
export type Micros = number;

export interface RawEvent {
  event_id: string;
  tenant: string;
  observed_at: Micros;
  kafka_timestamp: Micros;
  origin: { topic: string; partition: number; offset: number; index: number };
  format: string | null;
  shipper: string | null;
  service: string | null;
  host: string | null;
  file: string | null;
  envelope_time: string | null;
  body: string;
  flags: string[];
  /**
   * Labels from the shipper envelope (LogRecord label names, e.g. `k8s.pod`). Optional
   * because events written before the field existed decode without it (the codec reads
   * with the writer's schema); the collector always sets it.
   */
  labels?: Record<string, string>;
}

export type Level = 'TRACE' | 'DEBUG' | 'INFO' | 'WARN' | 'ERROR' | 'FATAL' | 'UNKNOWN';

export interface Http {
  method: string | null;
  route: string | null;
  path: string | null;
  status: number | null;
  duration_us: number | null;
  bytes: number | null;
  client_ip: string | null;
  user_agent: string | null;
}

export interface ErrorInfo {
  type: string | null;
  message: string | null;
  stack: string | null;
}

export interface LogRecord {
  event_id: string;
  timestamp: Micros;
  timestamp_source: 'event' | 'ingest';
  observed_at: Micros;
  level: Level;
  severity_number: number;
  message: string;
  service: string | null;
  host: string | null;
  tenant: string;
  environment: string | null;
  source: { format: string; shipper: string | null; file: string | null; topic: string; partition: number; offset: number };
  trace_id: string | null;
  span_id: string | null;
  parent_span_id: string | null;
  ids: Record<string, string>;
  http: Http | null;
  error: ErrorInfo | null;
  attributes: Record<string, string>;
  labels: Record<string, string>;
  flags: string[];
}

export interface MetricWindow {
  window_id: string;
  series: { service: string | null; route: string | null; method: string | null; status_class: string | null; level: string | null };
  window_start: Micros;
  window_end: Micros;
  count: number;
  error_count: number;
  duration_sum_us: number;
  bucket_bounds_us: number[];
  bucket_counts: number[];
  p50_us: number | null;
  p90_us: number | null;
  p99_us: number | null;
  exemplar_trace_id: string | null;
  exemplar_event_id: string | null;
  late_count: number;
  tenant: string;
  /**
   * Serialized DDSketch of the durations (services/enricher/sketch.ts); null without
   * durations. Optional: a record written before the field existed, decoded with its own
   * writer schema (as the codec does), has none. A Buffer, as Avro `bytes` is in avsc.
   */
  sketch?: Buffer | null;
}

export interface Span {
  trace_id: string;
  span_id: string;
  parent_span_id: string | null;
  service: string;
  operation: string;
  start: Micros;
  end: Micros;
  duration_us: number;
  status: 'OK' | 'ERROR';
  event_count: number;
  derivation: 'ids' | 'correlation';
  tenant: string;
}

export interface TraceSummary {
  trace_id: string;
  root_service: string | null;
  root_operation: string | null;
  start: Micros;
  duration_us: number;
  span_count: number;
  services: string[];
  error: boolean;
  tenant: string;
}

export interface DeadLetter {
  stage: string;
  error_code: string;
  message: string;
  original: Buffer;
  origin_topic: string;
  origin_partition: number;
  origin_offset: number;
  origin_key: Buffer | null;
  failed_at: Micros;
  event_id: string | null;
  /** The original message's Kafka headers; null in dead letters written before they were kept. */
  origin_headers?: Record<string, string> | null;
}

/** Record name -> TypeScript shape, for typed codecs. */
export interface RecordTypes {
  RawEvent: RawEvent;
  LogRecord: LogRecord;
  MetricWindow: MetricWindow;
  Span: Span;
  TraceSummary: TraceSummary;
  DeadLetter: DeadLetter;
}
export type RecordName = keyof RecordTypes;
