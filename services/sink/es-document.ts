/**
 * LogRecord -> Elasticsearch document with Elastic Common Schema names (docs/architecture.md, "Records":
 * `@timestamp` as date_nanos, log.level, service.name, host.name, trace.id, span.id,
 * event.id, http.*, url.path, event.duration, error.*, labels.*), so Kibana works
 * without setup. Pure: no client, no clock.
 */
import type { LogRecord, MetricWindow, Span, TraceSummary } from '../../shared/records.js';
import { ROUTE_LABEL } from '../../shared/routing.js';
import { formatMicros } from '../../shared/time/timestamps.js';
import type { EsWriteMode } from './es-templates.js';

export type EsDocument = Record<string, unknown>;

/**
 * Where a record is written: the daily index `<prefix>-<tenant>-YYYY.MM.DD` by event time
 * (UTC), or in data-stream mode the data stream `<prefix>-<tenant>` (its backing indices
 * roll over by age, not by event day). The tenant is lower-cased, runs of anything but
 * `[a-z0-9_]` become `_`, empty is `default`.
 */
export function indexFor(prefix: string, record: { tenant: string; timestamp: number }, mode: EsWriteMode = 'daily-indices'): string {
  const tenant = record.tenant.toLowerCase().replace(/[^a-z0-9_]+/g, '_') || 'default';
  if (mode === 'data-streams') return `${prefix}-${tenant}`;
  const day = formatMicros(record.timestamp).slice(0, 10).replace(/-/g, '.');
  return `${prefix}-${tenant}-${day}`;
}

/** `date_nanos` holds 1970-01-01 up to 2262-04-11 (a signed 64-bit count of nanoseconds). */
const DATE_NANOS_MAX_MICROS = Math.floor(Number(2n ** 63n - 1n) / 1000) - 1;

/**
 * The time a log is indexed under: its event time, or, when `date_nanos` cannot hold it
 * (a log claiming year 0 or 9999), its ingest time. Such a record is still indexed (not
 * dead-lettered): its own time is kept verbatim in `sluice.event_time` and it is flagged
 * `timestamp_out_of_range`.
 */
export function indexedTime(r: { timestamp: number; observed_at: number }): { micros: number; outOfRange: boolean } {
  const outOfRange = r.timestamp < 0 || r.timestamp > DATE_NANOS_MAX_MICROS;
  return { micros: outOfRange ? r.observed_at : r.timestamp, outOfRange };
}

export function toEsDocument(r: LogRecord): EsDocument {
  const time = indexedTime(r);
  const doc: EsDocument = {
    '@timestamp': formatMicros(time.micros),
    'event.id': r.event_id,
    'event.ingested': formatMicros(r.observed_at),
    'event.dataset': 'sluice.logs',
    'log.level': r.level,
    'sluice.severity_number': r.severity_number,
    'sluice.timestamp_source': r.timestamp_source,
    'sluice.tenant': r.tenant,
    'sluice.source.format': r.source.format,
    'sluice.source.topic': r.source.topic,
    'sluice.source.partition': r.source.partition,
    'sluice.source.offset': r.source.offset,
    message: r.message,
  };
  if (r.service) doc['service.name'] = r.service;
  if (r.host) doc['host.name'] = r.host;
  if (r.environment) doc['service.environment'] = r.environment;
  if (r.source.shipper) doc['agent.type'] = r.source.shipper;
  if (r.source.file) doc['log.file.path'] = r.source.file;
  if (r.trace_id) doc['trace.id'] = r.trace_id;
  if (r.span_id) doc['span.id'] = r.span_id;
  if (r.parent_span_id) doc['parent.id'] = r.parent_span_id;
  if (r.http) {
    const h = r.http;
    if (h.method) doc['http.request.method'] = h.method;
    if (h.status !== null) doc['http.response.status_code'] = h.status;
    if (h.bytes !== null) doc['http.response.body.bytes'] = h.bytes;
    if (h.path) doc['url.path'] = h.path;
    if (h.route) doc['http.route'] = h.route;
    // ECS event.duration is in nanoseconds.
    if (h.duration_us !== null) doc['event.duration'] = h.duration_us * 1000;
    if (h.client_ip) doc['client.ip'] = h.client_ip;
    if (h.user_agent) doc['user_agent.original'] = h.user_agent;
  }
  if (r.error) {
    if (r.error.type) doc['error.type'] = r.error.type;
    if (r.error.message) doc['error.message'] = r.error.message;
    if (r.error.stack) doc['error.stack_trace'] = r.error.stack;
  }
  // Same rule as attributes below: a dotted id name would become an object.
  for (const [k, v] of Object.entries(r.ids)) doc[`sluice.ids.${k.replace(/\./g, '_')}`] = v;
  for (const [k, v] of Object.entries(r.labels)) doc[`labels.${k.replace(/\./g, '_')}`] = v;
  // Attributes keep their dotted names under one object; dots become nested objects in
  // Elasticsearch, so a key that is both a leaf and a parent ("a" and "a.b") would
  // conflict: dots are replaced to keep every attribute a leaf.
  for (const [k, v] of Object.entries(r.attributes)) doc[`attributes.${k.replace(/\./g, '_')}`] = v;
  const flags = time.outOfRange ? [...r.flags, 'timestamp_out_of_range'] : r.flags;
  if (flags.length > 0) doc['sluice.flags'] = flags;
  if (time.outOfRange) doc['sluice.event_time'] = formatMicros(r.timestamp);
  return doc;
}

/** ECS `event.outcome` of a span or trace. */
function outcome(failed: boolean): 'failure' | 'success' {
  return failed ? 'failure' : 'success';
}

/** MetricWindow -> document of `<metrics prefix>-<tenant>-YYYY.MM.DD` (by window start); `_id` = window_id. */
export function metricDocument(m: MetricWindow): EsDocument {
  const doc: EsDocument = {
    '@timestamp': formatMicros(m.window_start),
    'event.end': formatMicros(m.window_end),
    'event.dataset': 'sluice.metrics',
    'sluice.tenant': m.tenant,
    'sluice.window.id': m.window_id,
    'sluice.window.count': m.count,
    'sluice.window.error_count': m.error_count,
    'sluice.window.late_count': m.late_count,
    'sluice.window.duration.sum_us': m.duration_sum_us,
    'sluice.window.duration.bucket_bounds_us': m.bucket_bounds_us,
    'sluice.window.duration.bucket_counts': m.bucket_counts,
  };
  const s = m.series;
  if (s.service !== null) doc['service.name'] = s.service;
  if (s.route !== null) doc['http.route'] = s.route;
  if (s.method !== null) doc['http.request.method'] = s.method;
  if (s.status_class !== null) doc['sluice.series.status_class'] = s.status_class;
  if (s.level !== null) doc['log.level'] = s.level;
  if (m.p50_us !== null) doc['sluice.window.duration.p50_us'] = m.p50_us;
  if (m.p90_us !== null) doc['sluice.window.duration.p90_us'] = m.p90_us;
  if (m.p99_us !== null) doc['sluice.window.duration.p99_us'] = m.p99_us;
  if (m.exemplar_trace_id !== null) doc['sluice.exemplar.trace_id'] = m.exemplar_trace_id;
  if (m.exemplar_event_id !== null) doc['sluice.exemplar.event_id'] = m.exemplar_event_id;
  // The serialized DDSketch, base64 (an Elasticsearch `binary`); absent in a window from a writer before the field.
  if (m.sketch) doc['sluice.window.duration.sketch'] = m.sketch.toString('base64');
  return doc;
}

/** Span -> document of `<spans prefix>-<tenant>-YYYY.MM.DD` (by start); `_id` = `<trace_id>-<span_id>`. */
export function spanDocument(s: Span): EsDocument {
  const doc: EsDocument = {
    '@timestamp': formatMicros(s.start),
    'event.end': formatMicros(s.end),
    // ECS event.duration is in nanoseconds.
    'event.duration': s.duration_us * 1000,
    'event.outcome': outcome(s.status === 'ERROR'),
    'event.dataset': 'sluice.spans',
    'trace.id': s.trace_id,
    'span.id': s.span_id,
    'span.name': s.operation,
    'service.name': s.service,
    'sluice.tenant': s.tenant,
    'sluice.span.status': s.status,
    'sluice.span.event_count': s.event_count,
    'sluice.span.derivation': s.derivation,
  };
  if (s.parent_span_id !== null) doc['parent.id'] = s.parent_span_id;
  return doc;
}

/** TraceSummary -> document of `<traces prefix>-<tenant>-YYYY.MM.DD` (by start); `_id` = trace_id. */
export function traceDocument(t: TraceSummary): EsDocument {
  const doc: EsDocument = {
    '@timestamp': formatMicros(t.start),
    'event.duration': t.duration_us * 1000,
    'event.outcome': outcome(t.error),
    'event.dataset': 'sluice.traces',
    'trace.id': t.trace_id,
    'sluice.tenant': t.tenant,
    'sluice.trace.span_count': t.span_count,
    'sluice.trace.services': t.services,
    'sluice.trace.error': t.error,
  };
  if (t.root_service !== null) doc['service.name'] = t.root_service;
  if (t.root_operation !== null) doc['sluice.trace.root_operation'] = t.root_operation;
  return doc;
}

/**
 * What the writer needs to know about one dataset: its index or data stream (`prefix` is
 * the dataset's index prefix: SLUICE_ES_INDEX_PREFIX for logs, SLUICE_ES_METRICS_PREFIX,
 * ..._SPANS_, ..._TRACES_ for the others; `mode` as indexFor), its `_id`
 * (deterministic, so a re-delivery is a 409, never a duplicate) and its document.
 */
export interface EsDataset<T> {
  readonly name: 'logs' | 'metrics' | 'spans' | 'traces';
  index(prefix: string, value: T, mode?: EsWriteMode): string;
  id(value: T): string;
  document(value: T): EsDocument;
}

/** A routed record's index prefix (its `sluice_route` label, set by a sluice.yaml route), when it is a valid one. */
export function routedPrefix(r: LogRecord): string | null {
  const route = r.labels[ROUTE_LABEL];
  return route !== undefined && ROUTE_INDEX.test(route) ? route : null;
}
const ROUTE_INDEX = /^[a-z0-9][a-z0-9_.]{0,62}$/;

/** Logs: `<prefix>-<tenant>-<day>`, or `<route index>-<tenant>-<day>` for a routed record (no `-<day>` in data-stream mode). */
export const logsDataset: EsDataset<LogRecord> = { name: 'logs', index: (p, r, mode) => indexFor(routedPrefix(r) ?? p, { tenant: r.tenant, timestamp: indexedTime(r).micros }, mode), id: (r) => r.event_id, document: toEsDocument };
export const metricsDataset: EsDataset<MetricWindow> = {
  name: 'metrics',
  index: (p, m, mode) => indexFor(p, { tenant: m.tenant, timestamp: m.window_start }, mode),
  id: (m) => m.window_id,
  document: metricDocument,
};
export const spansDataset: EsDataset<Span> = {
  name: 'spans',
  index: (p, s, mode) => indexFor(p, { tenant: s.tenant, timestamp: s.start }, mode),
  id: (s) => `${s.trace_id}-${s.span_id}`,
  document: spanDocument,
};
export const tracesDataset: EsDataset<TraceSummary> = {
  name: 'traces',
  index: (p, t, mode) => indexFor(p, { tenant: t.tenant, timestamp: t.start }, mode),
  id: (t) => t.trace_id,
  document: traceDocument,
};
