import type { Http, LogRecord, RawEvent } from '../records.js';

/** A LogRecord for tests: every field with a neutral default, `over` on top. */
export function logRecord(over: Partial<LogRecord> = {}): LogRecord {
  return {
    event_id: '01J0000000000000000000000',
    timestamp: 0,
    timestamp_source: 'event',
    observed_at: 0,
    level: 'INFO',
    severity_number: 9,
    message: 'm',
    service: null,
    host: null,
    tenant: 't',
    environment: null,
    source: { format: 'json', shipper: null, file: null, topic: 'logs.raw', partition: 0, offset: 0 },
    trace_id: null,
    span_id: null,
    parent_span_id: null,
    ids: {},
    http: null,
    error: null,
    attributes: {},
    labels: {},
    flags: [],
    ...over,
  };
}

/** An Http block for tests: nulls but for `over`. */
export function httpFields(over: Partial<Http> = {}): Http {
  return { method: null, route: null, path: null, status: null, duration_us: null, bytes: null, client_ip: null, user_agent: null, ...over };
}

/** A RawEvent for tests: every field with a neutral default, `over` on top. */
export function rawEvent(over: Partial<RawEvent> = {}): RawEvent {
  return {
    event_id: '01J0000000000000000000000',
    tenant: 't',
    observed_at: 0,
    kafka_timestamp: 0,
    origin: { topic: 'logs.raw', partition: 0, offset: 0, index: 0 },
    format: null,
    shipper: null,
    service: null,
    host: null,
    file: null,
    envelope_time: null,
    body: '',
    flags: [],
    labels: {},
    ...over,
  };
}
