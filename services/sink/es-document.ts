/**
 * LogRecord -> Elasticsearch document with Elastic Common Schema names (DESIGN.md:
 * `@timestamp` as date_nanos, log.level, service.name, host.name, trace.id, span.id,
 * event.id, http.*, url.path, event.duration, error.*, labels.*), so Kibana works
 * without setup. Pure: no client, no clock.
 */
import type { LogRecord } from '../../shared/records.js';
import { formatMicros } from '../normalizer/timestamps.js';

export type EsDocument = Record<string, unknown>;

/** Index for a record: `<prefix>-<tenant>-YYYY.MM.DD` by event time (UTC). */
export function indexFor(prefix: string, record: Pick<LogRecord, 'tenant' | 'timestamp'>): string {
  const day = formatMicros(record.timestamp).slice(0, 10).replace(/-/g, '.');
  const tenant = record.tenant.toLowerCase().replace(/[^a-z0-9_]+/g, '_') || 'default';
  return `${prefix}-${tenant}-${day}`;
}

export function toEsDocument(r: LogRecord): EsDocument {
  const doc: EsDocument = {
    '@timestamp': formatMicros(r.timestamp),
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
  for (const [k, v] of Object.entries(r.ids)) doc[`sluice.ids.${k}`] = v;
  for (const [k, v] of Object.entries(r.labels)) doc[`labels.${k.replace(/\./g, '_')}`] = v;
  // Attributes keep their dotted names under one object; dots become nested objects in
  // Elasticsearch, so a key that is both a leaf and a parent ("a" and "a.b") would
  // conflict: dots are replaced to keep every attribute a leaf.
  for (const [k, v] of Object.entries(r.attributes)) doc[`attributes.${k.replace(/\./g, '_')}`] = v;
  if (r.flags.length > 0) doc['sluice.flags'] = r.flags;
  return doc;
}
