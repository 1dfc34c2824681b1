/**
 * The normalizer stage: RawEvent -> LogRecord (docs/architecture.md, "Records").
 *
 * Contract:
 * - a body that is a JSON object is read field by field: well-known names for time,
 *   level, message, service, host, trace/span ids (W3C `traceparent`, then id fields,
 *   then B3 for what is still empty), HTTP and error fields; everything else is
 *   flattened (dotted keys) into bounded `attributes`;
 * - any other body is detected as one of the text formats of `text-formats.ts` (logfmt,
 *   syslog 5424/3164, access logs, AWS ELB/ALB logs, log4j-like application logs, klog,
 *   Loghub families) or forced to one by the RawEvent `format` hint; logfmt fields take
 *   the JSON path; a body no format matches (or that fails its forced format, flagged
 *   `format_mismatch`, or is hinted `text`) goes to the generic header reader
 *   (shared/formats/header.ts), which reads the time, level, host and program of any
 *   line from the catalogue of documented layouts; with `readers: 'generic'` every
 *   system-specific reader is off and only JSON, logfmt and the header reader run;
 * - JSON and logfmt fields with no well-known time or level key are searched by the shape
 *   of their values (`timeByShape`, `levelByShape`: first keys named like a time or a
 *   level, then any value that is one), in that fixed order, which `explain` reports; a
 *   `date` and a `time` field that read as one time count as a well-known key, and win;
 * - the event time comes from the log; when it is absent or unparseable the Kafka
 *   timestamp is used and `timestamp_source` is "ingest". The same holds for a time
 *   outside what the sinks can store (before 1970 or after 2255-06-05, `isStorableTime`:
 *   year 0, year 9999, negative epochs). Zone-less times are read in `zone` (UTC by
 *   default); year-less ones get the year rule of `yearlessMicros`;
 * - JSON nested so deep that serialising a part of it overflows the stack is not read
 *   field by field: the body stays text, flagged `json_too_deep`;
 * - a multi-line message that holds a Java/.NET/Node, Python or Go stack trace
 *   (stack-trace.ts) fills `error` when the fields did not, and keeps the text before
 *   the trace as the message;
 * - a message that opens with a Go-middleware request line (`POST /push (200) 33.1ms`,
 *   Loki, Grafana, Cortex, Tempo; request-line.ts) fills `http` when the fields did not;
 * - an event time beyond the future or past horizon of the Kafka timestamp is kept and
 *   flagged `clock_skew_future` / `clock_skew_past` (clock.ts);
 * - the stage is pure: same RawEvent, same LogRecord (`onClockSkew` only observes), except
 *   for the order of numeric dates (`03/04/2024`), which a stream learns from its values
 *   (header.ts); the stage's StreamMemory only speeds up what it would read anyway.
 */
import type { Stage, StageInput, StageOutput } from '../../shared/stage.js';
import type { ErrorInfo, Http, LogRecord, RawEvent } from '../../shared/records.js';
import { assertZone, isStorableTime, parseTimestamp } from '../../shared/time/timestamps.js';
import { parseCatalogueTime } from '../../shared/time/catalogue.js';
import { readHeader, StreamMemory } from '../../shared/formats/header.js';
import { readWithFormats, type CompiledFormat, type RuleRead } from '../../shared/formats/rules.js';
import { fromLetter, severityNumber, toLevel } from '../../shared/levels.js';
import { detectAndParse, hintFamily, parseAs } from './text-formats.js';
import { looksLikeLogfmt } from './logfmt.js';
import type { ParsedText } from './parsed.js';
import { clockSkew, type ClockHorizons, type ClockObserver } from './clock.js';
import { requestLineHttp } from './request-line.js';
import { splitStackTrace } from './stack-trace.js';
import { envelopeMicros, envelopeTime, timeOfDayLine, traceFromText } from './fallbacks.js';

export interface NormalizeOptions {
  outputTopic: string;
  maxAttributes: number;
  maxAttributeBytes: number;
  maxJsonDepth: number;
  /**
   * IANA zone (e.g. "Europe/Berlin") for timestamps that carry no offset; optional,
   * default UTC. Checked by `createNormalizeStage` (an unknown zone throws RangeError).
   */
  zone?: string | undefined;
  /** Largest tolerated lead of event time over the Kafka timestamp, µs; beyond it `clock_skew_future` (clock.ts). Unset or 0: unchecked. */
  futureHorizonUs?: ClockHorizons['futureHorizonUs'];
  /** Largest tolerated lag of event time behind the Kafka timestamp, µs; beyond it `clock_skew_past`. Unset or 0: unchecked. */
  pastHorizonUs?: ClockHorizons['pastHorizonUs'];
  /**
   * Called once per record that carries an event time, with its skew (ingest - event).
   * The stage stays pure: the observer is the caller's (main.ts feeds a metric) and
   * must not throw.
   */
  onClockSkew?: ClockObserver | undefined;
  /**
   * 'all' (default): every reader. 'generic': JSON, logfmt and the generic header reader
   * only, every reader written for a system or product switched off (the honest measure of
   * `npm run corpus:accuracy -- --generic-only`).
   */
  readers?: 'all' | 'generic' | undefined;
  /** User-declared formats (sluice.yaml `formats`, shared/formats/rules.ts), tried first. */
  formats?: readonly CompiledFormat[] | undefined;
  /**
   * Called with each record and where its reader, time and level came from (`sluice parse
   * --explain`, rule match counts). An observer, as `onClockSkew`: it must not throw.
   */
  onExplain?: ((record: LogRecord, explanation: Explanation) => void) | undefined;
}

/** Where a record's reader, time and level came from (`sluice parse --explain`). */
export interface Explanation {
  reader: string;
  time: string;
  level: string;
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type JsonObject = { [k: string]: Json };

const TIME_KEYS = ['@timestamp', 'timestamp', 'time', 'ts', 'datetime', 'date', '@t', 'Timestamp', 't'];
const LEVEL_KEYS = ['level', 'log.level', 'severity', 'lvl', 'loglevel', 'levelname', 'severity_text', 'SeverityText', '@l', 'Level'];
const MESSAGE_KEYS = ['message', 'msg', '@m', '@mt', 'Message', 'log', 'body', 'Body'];
/** Fields that name the service: they win over the Kafka header and the envelope. */
const SERVICE_KEYS = ['service', 'service.name', 'app', 'application'];
/**
 * Fields that often carry a logger or component name rather than the service (pino child
 * loggers, OnlineBoutique's `name: "recommendationservice-server"`): used only when
 * neither a service field, the Kafka header nor the envelope named the service.
 */
const WEAK_SERVICE_KEYS = ['name', 'logger_name', 'component'];
const HOST_KEYS = ['host', 'hostname', 'host.name', 'host.hostname', 'Hostname'];
const TRACE_KEYS = ['trace_id', 'traceId', 'traceID', 'TraceID', 'traceid', 'trace.id', 'dd.trace_id', '@tr'];
const SPAN_KEYS = ['span_id', 'spanId', 'spanID', 'SpanID', 'spanid', 'span.id', 'dd.span_id', '@sp'];
const PARENT_KEYS = ['parent_span_id', 'parentSpanId', 'parent_id', 'ParentSpanID', 'parent.id'];
const ID_KEYS: Readonly<Record<string, string>> = {
  request_id: 'request_id', requestId: 'request_id', 'x-request-id': 'request_id', req_id: 'request_id',
  correlation_id: 'correlation_id', correlationId: 'correlation_id',
  transaction_id: 'transaction_id', transactionId: 'transaction_id', 'transaction.id': 'transaction_id',
  order_id: 'order_id', orderId: 'order_id', user_id: 'user_id', userId: 'user_id',
};
const ID_KEY_ENTRIES: ReadonlyArray<readonly [string, string]> = Object.entries(ID_KEYS);

/** Flatten nested objects to dotted keys, up to `maxDepth`; deeper values stay JSON text. */
function flatten(obj: JsonObject, maxDepth: number): Map<string, Json> {
  const out = new Map<string, Json>();
  const stack: Array<{ prefix: string; value: JsonObject; depth: number }> = [{ prefix: '', value: obj, depth: 1 }];
  while (stack.length > 0) {
    const { prefix, value, depth } = stack.pop()!;
    for (const [k, v] of Object.entries(value)) {
      const key = prefix ? `${prefix}.${k}` : k;
      if (v !== null && typeof v === 'object' && !Array.isArray(v) && depth < maxDepth) stack.push({ prefix: key, value: v, depth: depth + 1 });
      else out.set(key, v);
    }
  }
  return out;
}

function take(fields: Map<string, Json>, keys: readonly string[]): Json | undefined {
  for (const k of keys) {
    if (fields.has(k)) {
      const v = fields.get(k) as Json;
      fields.delete(k);
      if (v !== null && v !== '') return v;
    }
  }
  return undefined;
}

/** As `take`, also naming the key the value came from (to give it back unchanged). */
function takeEntry(fields: Map<string, Json>, keys: readonly string[]): [string, Json] | undefined {
  for (const k of keys) {
    if (fields.has(k)) {
      const v = fields.get(k) as Json;
      fields.delete(k);
      if (v !== null && v !== '') return [k, v];
    }
  }
  return undefined;
}

function str(v: Json | undefined): string | null {
  if (v === undefined || v === null) return null;
  return typeof v === 'string' ? v : JSON.stringify(v);
}

function hexId(v: Json | undefined, len: 16 | 32): string | null {
  if (v === undefined || v === null) return null;
  let s = String(v).trim().toLowerCase();
  if (/^\d+$/.test(s) && s.length > 0 && !/^[0-9a-f]{16}$|^[0-9a-f]{32}$/.test(s)) {
    // Datadog-style decimal ids.
    try {
      s = BigInt(s).toString(16);
    } catch {
      return null;
    }
  }
  if (!/^[0-9a-f]+$/.test(s) || s.length > len) return null;
  s = s.padStart(len, '0');
  return /^0+$/.test(s) ? null : s;
}

/** W3C traceparent: version-traceid-parentid-flags. */
function fromTraceparent(v: Json | undefined): { trace: string; span: string } | null {
  if (typeof v !== 'string') return null;
  const m = /^[0-9a-f]{2}-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$/.exec(v.trim().toLowerCase());
  return m ? { trace: m[1] as string, span: m[2] as string } : null;
}

interface B3Ids { trace: string | null; span: string | null; parent: string | null }

/** B3 single header: `{TraceId}-{SpanId}[-{SamplingState}[-{ParentSpanId}]]` (openzipkin/b3-propagation). */
const B3_SINGLE = /^([0-9a-f]{32}|[0-9a-f]{16})-([0-9a-f]{16})(?:-(?:[01d])(?:-([0-9a-f]{16}))?)?$/;
/** B3 multi headers (lower-cased name) -> the id they carry and its hex width. */
const B3_MULTI: Readonly<Record<string, readonly [keyof B3Ids, 16 | 32]>> = {
  'x-b3-traceid': ['trace', 32], 'x-b3-spanid': ['span', 16], 'x-b3-parentspanid': ['parent', 16],
};

/**
 * B3 propagation (Zipkin): a `b3` single field or `X-B3-TraceId`/`-SpanId`/`-ParentSpanId`
 * fields, any case, at the top level or nested (`headers.x-b3-traceid` once flattened).
 * 16-hex trace ids are left-padded to 32. A field is consumed only when its value is a
 * valid id; a sampling-only `b3` (`0`, `1`, `d`) or a malformed one stays an attribute.
 * The single field wins over the multi fields, as in the spec's extraction order.
 */
function fromB3(fields: Map<string, Json>): B3Ids | null {
  let single: B3Ids | null = null;
  const multi: B3Ids = { trace: null, span: null, parent: null };
  let found = false;
  for (const [key, value] of fields) {
    // Cheap filter first: every B3 name ends in `b3` or holds `b3-`.
    if (!/b3/i.test(key)) continue;
    const name = key.slice(key.lastIndexOf('.') + 1).toLowerCase();
    if (name === 'b3') {
      const m = typeof value === 'string' ? B3_SINGLE.exec(value.trim().toLowerCase()) : null;
      if (!m) continue;
      fields.delete(key);
      single ??= { trace: hexId(m[1], 32), span: hexId(m[2], 16), parent: hexId(m[3], 16) };
      found = true;
      continue;
    }
    const slot = B3_MULTI[name];
    if (slot === undefined) continue;
    const [which, len] = slot;
    const text = typeof value === 'string' ? value.trim().toLowerCase() : null;
    const id = text !== null && (text.length === len || (which === 'trace' && text.length === 16)) ? hexId(text, len) : null;
    if (id === null) continue;
    fields.delete(key);
    multi[which] ??= id;
    found = true;
  }
  return found ? single ?? multi : null;
}

function num(v: Json | undefined): number | null {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string' && /^-?\d+(\.\d+)?$/.test(v.trim())) return Number(v);
  return null;
}

/**
 * HTTP fields. Only a method or a status makes an event an HTTP event: a `path`, `url`,
 * `size` or `ip` alone is as often a file, a fetched URL or a payload size (zap's
 * `url`, logrus's `size`), and is given back under its own key.
 */
function httpOf(fields: Map<string, Json>): Http | null {
  const method = take(fields, ['http.method', 'http.request.method', 'method', 'req.method']);
  const rawStatus = takeEntry(fields, ['http.status_code', 'http.response.status_code', 'status', 'statusCode', 'res.statusCode', 'status_code']);
  const status = num(rawStatus?.[1]);
  if (method === undefined && status === null) {
    if (rawStatus !== undefined) fields.set(rawStatus[0], rawStatus[1]);
    return null;
  }
  const path = take(fields, ['url.path', 'http.path', 'path', 'req.url', 'url']);
  const durMs = num(take(fields, ['duration_ms', 'responseTime', 'response_time_ms', 'elapsed_ms', 'latency_ms']) ?? null);
  const durUs = num(take(fields, ['duration_us', 'http.duration_us']) ?? null);
  const bytes = num(take(fields, ['bytes', 'http.response.body.bytes', 'res.bytes', 'size']) ?? null);
  const ip = take(fields, ['client.ip', 'client_ip', 'remote_addr', 'ip', 'req.remoteAddress']);
  const ua = take(fields, ['user_agent', 'user_agent.original', 'http.user_agent', 'req.headers.user-agent']);
  return {
    method: str(method)?.toUpperCase() ?? null,
    route: null,
    path: str(path),
    status: status === null ? null : Math.trunc(status),
    duration_us: durUs !== null ? Math.round(durUs) : durMs !== null ? Math.round(durMs * 1000) : null,
    bytes: bytes === null ? null : Math.trunc(bytes),
    client_ip: str(ip),
    user_agent: str(ua),
  };
}

/**
 * Error fields: OTel/ECS `error.*`/`exception.*`, pino/bunyan `err` (`name` is the type),
 * zap `stacktrace`, Serilog CLEF `@x`. A type or message the fields lack is read from
 * the stack's header line when it is a recognised trace (winston's `{message, stack}`).
 */
function errorOf(fields: Map<string, Json>): ErrorInfo | null {
  const type = take(fields, ['error.type', 'err.type', 'exception.type', 'error.kind', 'err.name', 'error.name']);
  const message = take(fields, ['error.message', 'err.message', 'exception.message', 'error']);
  const stack = take(fields, ['error.stack', 'err.stack', 'exception.stacktrace', 'stack', 'stack_trace', 'error.stack_trace', 'stacktrace', '@x']);
  if (type === undefined && message === undefined && stack === undefined) return null;
  const error: ErrorInfo = { type: str(type), message: str(message), stack: str(stack) };
  if (error.stack !== null && (error.type === null || error.message === null)) {
    const header = splitStackTrace(error.stack);
    if (header && header.message === header.error.stack?.split('\n', 1)[0]) {
      error.type ??= header.error.type;
      error.message ??= header.error.message;
    }
  }
  return error;
}

export function createNormalizeStage(opts: NormalizeOptions): Stage<RawEvent> {
  if (opts.zone) assertZone(opts.zone);
  const streams = new StreamMemory();
  return {
    name: 'normalize',
    process(input: StageInput<RawEvent>): StageOutput[] {
      const ex = opts.onExplain ? { reader: '', time: '', level: '' } : undefined;
      const record = normalize(input.value, opts, streams, ex);
      if (ex) opts.onExplain?.(record, ex);
      if (opts.onClockSkew) {
        const skew = clockSkew(record, input.value.kafka_timestamp, opts);
        if (skew) opts.onClockSkew(skew);
      }
      return [{ topic: opts.outputTopic, key: record.service, value: record }];
    },
  };
}

function parseJsonObject(body: string): JsonObject | null {
  const t = body.trimStart();
  if (!t.startsWith('{')) return null;
  try {
    const v = JSON.parse(body) as Json;
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? v : null;
  } catch {
    return null;
  }
}

/**
 * One RawEvent to its LogRecord. `streams` remembers each stream's time layout and date
 * order (pass the same memory for the lines of one run); `explain`, when given, is filled.
 */
export function normalize(ev: RawEvent, opts: NormalizeOptions, streams?: StreamMemory, explain?: Explanation): LogRecord {
  // Without `explain` no explanation is built: its strings would cost every record.
  const ex = explain;
  const record = read(ev, opts, streams, ex);
  if (record.timestamp_source === 'ingest' && envelopeMicros(ev) !== undefined) {
    envelopeTime(ev, record);
    if (ex) ex.time = 'shipper envelope (no time in the body)';
  }
  if (ex) {
    if (record.timestamp_source === 'ingest' && ex.time === '') ex.time = 'Kafka timestamp (no time in the body)';
    if (record.level === 'UNKNOWN') ex.level = 'none found';
  }
  traceFromText(record);
  if (record.error === null) {
    const split = splitStackTrace(record.message);
    if (split) {
      record.message = split.message;
      record.error = split.error;
    }
  }
  if (record.http === null) record.http = requestLineHttp(record.message);
  const flag = clockSkew(record, ev.kafka_timestamp, opts)?.flag;
  if (flag) record.flags.push(flag);
  return record;
}

/**
 * The body read as JSON, a text format or by the generic header reader; `normalize` then
 * derives from the message. Here and below, `ex` is filled when given and only then.
 */
function read(ev: RawEvent, opts: NormalizeOptions, streams: StreamMemory | undefined, ex: Explanation | undefined): LogRecord {
  const generic = opts.readers === 'generic';
  if (opts.formats && opts.formats.length > 0) {
    const rr = readWithFormats(opts.formats, { topic: ev.origin.topic, service: ev.service, format: ev.format, file: ev.file }, ev.body, { ingest: ev.kafka_timestamp, zone: opts.zone });
    if (rr) return fromRule(baseRecord(ev), rr, ev, opts, ex);
  }
  const family = generic && ev.format !== 'json' && ev.format !== 'logfmt' ? undefined : hintFamily(ev.format);
  if (family === undefined || family === 'json') {
    const obj = parseJsonObject(ev.body);
    if (obj) {
      const base = baseRecord(ev);
      base.source.format = ev.format ?? 'json';
      if (ex) ex.reader = 'json';
      try {
        fromFields(base, flatten(obj, opts.maxJsonDepth), ev, opts, ex);
        return base;
      } catch (err) {
        // JSON.parse is iterative, but JSON.stringify of a part below maxJsonDepth recurses:
        // 10,000 levels throw RangeError. Such a body is read as text instead.
        if (!isStackOverflow(err)) throw err;
        const text = baseRecord(ev);
        text.flags.push('json_too_deep');
        if (ex) ex.reader = 'text (JSON too deep)';
        return text;
      }
    }
    if (family === 'json') {
      const base = baseRecord(ev);
      base.flags.push('format_mismatch');
      return fromHeader(base, ev, opts, streams, ex);
    }
  }
  const base = baseRecord(ev);
  if (family === 'text') {
    // The shipper said the body is plain text: nothing is read from it.
    if (ex) ex.reader = 'text (format hint)';
    return base;
  }
  const line = trimEol(ev.body);
  const ctx = { ingest: ev.kafka_timestamp, zone: opts.zone };
  const parsed = generic ? (looksLikeLogfmt(line) ? parseAs('logfmt', line, ctx) : null) : family === undefined ? detectAndParse(line, ctx) : parseAs(family, line, ctx);
  if (!parsed) {
    if (family !== undefined) base.flags.push('format_mismatch');
    if (!generic && timeOfDayLine(ev, base)) {
      if (ex) ex.reader = ex.time = ex.level = 'logback time-of-day line (fallbacks.ts)';
      return base;
    }
    return fromHeader(base, ev, opts, streams, ex);
  }
  base.source.format = ev.format ?? parsed.format;
  if (ex) ex.reader = parsed.format;
  if (parsed.fields) fromFields(base, parsed.fields, ev, opts, ex);
  else {
    fromText(base, parsed, opts);
    if (ex && base.timestamp_source === 'event') ex.time = `${parsed.format} reader`;
    if (ex && base.level !== 'UNKNOWN') ex.level = `${parsed.format} reader`;
  }
  return base;
}

/**
 * A user format read the body: its fields take the JSON path, then the rule's own time and
 * level win; without a time in the rule the generic header reader reads the line's.
 */
function fromRule(base: LogRecord, rr: RuleRead, ev: RawEvent, opts: NormalizeOptions, ex: Explanation | undefined): LogRecord {
  base.source.format = rr.format;
  if (ex) ex.reader = `format "${rr.format}" (sluice.yaml)`;
  const captured = [...rr.fields.keys()].some((k) => MESSAGE_KEYS.includes(k));
  fromFields(base, rr.fields as Map<string, Json>, ev, opts, ex);
  base.message = captured ? base.message + rr.rest : rr.rest.trimStart();
  if (rr.time !== undefined && isStorableTime(rr.time)) {
    base.timestamp = rr.time;
    base.timestamp_source = 'event';
    if (ex) ex.time = `format "${rr.format}" time layout`;
  } else if (base.timestamp_source === 'ingest') {
    const h = readHeader(trimEol(ev.body), { ingest: ev.kafka_timestamp, zone: opts.zone, reference: envelopeMicros(ev) });
    if (h.time !== undefined && isStorableTime(h.time)) {
      base.timestamp = h.time;
      base.timestamp_source = 'event';
      if (ex) ex.time = `generic header, layout "${h.timeLayout}" (the format has no time)`;
    }
  }
  if (rr.level !== undefined) {
    base.level = rr.level;
    base.severity_number = severityNumber[rr.level];
    if (ex) ex.level = `format "${rr.format}" level field`;
  }
  return base;
}

/** Stream identity for the header reader's memory: lines of one source share a layout. */
function streamKey(ev: RawEvent): string {
  return `${ev.tenant}\u0000${ev.service ?? ''}\u0000${ev.host ?? ''}\u0000${ev.file ?? ''}\u0000${ev.origin.topic}`;
}

/** A text body no specific reader claimed: the generic header reader (shared/formats/header.ts). */
function fromHeader(base: LogRecord, ev: RawEvent, opts: NormalizeOptions, streams: StreamMemory | undefined, ex: Explanation | undefined): LogRecord {
  const line = trimEol(ev.body);
  const h = readHeader(line, { ingest: ev.kafka_timestamp, zone: opts.zone, reference: envelopeMicros(ev) }, streams?.get(streamKey(ev)));
  if (ex) ex.reader = 'generic header';
  if (h.time !== undefined && isStorableTime(h.time)) {
    base.timestamp = h.time;
    base.timestamp_source = 'event';
    if (ex) ex.time = `layout "${h.timeLayout}" at ${h.timeStart}-${h.timeEnd}`;
  }
  if (h.level !== undefined) {
    base.level = h.level;
    base.severity_number = severityNumber[h.level];
    if (ex) ex.level = `header token ${JSON.stringify(h.levelText)}`;
  }
  if (h.host !== undefined) base.host = h.host;
  if (h.program !== undefined) {
    base.service ??= h.program;
    base.attributes['program'] = h.program;
  }
  if (h.pid !== undefined) base.attributes['pid'] = h.pid;
  if (h.messageStart > 0) base.message = line.slice(h.messageStart);
  base.flags.push(...h.flags);
  return base;
}

function isStackOverflow(err: unknown): boolean {
  // By name: the error may come from another realm (jest's vm), where instanceof fails.
  return err instanceof Error && err.name === 'RangeError' && /call stack/i.test(err.message);
}

/** The record before the body is read: Kafka time as 'ingest', the body as the message. */
function baseRecord(ev: RawEvent): LogRecord {
  return {
    event_id: ev.event_id,
    timestamp: ev.kafka_timestamp,
    timestamp_source: 'ingest',
    observed_at: ev.observed_at,
    level: 'UNKNOWN',
    severity_number: 0,
    message: ev.body,
    service: ev.service,
    host: ev.host,
    tenant: ev.tenant,
    environment: null,
    source: { format: ev.format ?? 'text', shipper: ev.shipper, file: ev.file, topic: ev.origin.topic, partition: ev.origin.partition, offset: ev.origin.offset },
    trace_id: null,
    span_id: null,
    parent_span_id: null,
    ids: {},
    http: null,
    error: null,
    attributes: {},
    labels: { ...ev.labels },
    flags: [...ev.flags],
  };
}

function trimEol(s: string): string {
  let end = s.length;
  while (end > 0 && (s.charCodeAt(end - 1) === 0x0a || s.charCodeAt(end - 1) === 0x0d)) end--;
  return end === s.length ? s : s.slice(0, end);
}

function putAttributes(base: LogRecord, entries: Iterable<[string, Json]>, opts: NormalizeOptions): void {
  let kept = Object.keys(base.attributes).length;
  for (const [k, v] of entries) {
    if (kept >= opts.maxAttributes) {
      base.flags.push('attributes_truncated');
      break;
    }
    let s = str(v) ?? '';
    // A UTF-16 code unit is at most 3 UTF-8 bytes: short strings need no byte count.
    if (s.length * 3 > opts.maxAttributeBytes && Buffer.byteLength(s) > opts.maxAttributeBytes) s = s.slice(0, opts.maxAttributeBytes);
    base.attributes[k] = s;
    kept++;
  }
}

function fromText(base: LogRecord, p: ParsedText, opts: NormalizeOptions): void {
  if (p.time !== undefined && isStorableTime(p.time)) {
    base.timestamp = p.time;
    base.timestamp_source = 'event';
  }
  if (p.level) {
    base.level = p.level;
    base.severity_number = severityNumber[p.level];
  }
  base.message = p.message;
  if (p.host) base.host = p.host;
  if (p.service) base.service = p.service;
  if (p.http) base.http = p.http;
  if (p.traceId) base.trace_id = p.traceId;
  if (p.ids) Object.assign(base.ids, p.ids);
  putAttributes(base, Object.entries(p.attributes), opts);
}

/** A time value of a field: RFC 3339, epoch, or any calendar layout of the catalogue. */
function fieldTime(v: Json | undefined, ev: RawEvent, opts: NormalizeOptions): number | undefined {
  const t = parseTimestamp(v, opts.zone) ?? (typeof v === 'string' ? parseCatalogueTime(v, { ingest: ev.kafka_timestamp, zone: opts.zone }) : undefined);
  return t !== undefined && isStorableTime(t) ? t : undefined;
}

/** Keys that name a time by their last part (`t.$date`, `created_at`, `eventTime`). */
const TIME_NAME = /(?:^|[._@$-])(?:t|ts|time|timestamp|date|datetime|when)$|time$|date$|_at$|At$/i;
/** Keys that name a level (`s` is MongoDB's severity). */
const LEVEL_NAME = /(?:^|[._@-])(?:level|severity|lvl|loglevel|sev|priority|s)$|level$/i;
const SHAPE_LEVEL_WORDS = new Set(['TRACE', 'DEBUG', 'INFO', 'NOTICE', 'WARN', 'WARNING', 'ERROR', 'FATAL', 'CRITICAL', 'trace', 'debug', 'info', 'warn', 'warning', 'error', 'fatal', 'critical']);
const EPOCH_MIN_US = Date.UTC(2000, 0, 1) * 1000;

/** A date and a time of day in two fields (`date=2024-03-01 time=12:00:00`: Fortinet, IIS W3C); both consumed. */
function dateAndTime(fields: Map<string, Json>, ev: RawEvent, opts: NormalizeOptions): number | undefined {
  const date = fields.get('date');
  const tod = fields.get('time');
  if (typeof date !== 'string' || typeof tod !== 'string' || !/^\d{1,2}:\d{2}/.test(tod)) return undefined;
  const t = fieldTime(`${date} ${tod}`, ev, opts);
  if (t !== undefined) {
    fields.delete('date');
    fields.delete('time');
  }
  return t;
}

/**
 * No well-known key held the time: keys named like a time, then any string value that a
 * catalogue layout reads in full, in field order. The key is consumed.
 */
function timeByShape(fields: Map<string, Json>, ev: RawEvent, opts: NormalizeOptions): [string, number] | undefined {
  for (const pass of [1, 2]) {
    for (const [k, v] of fields) {
      if (pass === 1 ? !TIME_NAME.test(k) : typeof v !== 'string') continue;
      if (typeof v !== 'string' && typeof v !== 'number') continue;
      let t = pass === 1 ? fieldTime(v, ev, opts) : parseCatalogueTime(v as string, { ingest: ev.kafka_timestamp, zone: opts.zone });
      // An epoch must look like a recent time, not a count.
      if (t !== undefined && (typeof v === 'number' || /^\d+(\.\d+)?$/.test(String(v))) && (t < EPOCH_MIN_US || t > ev.kafka_timestamp + 86_400_000_000)) t = undefined;
      if (t !== undefined && isStorableTime(t)) {
        fields.delete(k);
        return [k, t];
      }
    }
  }
  return undefined;
}

/** No well-known key held the level: keys named like a level, then a value that is a level word. */
function levelByShape(fields: Map<string, Json>): [string, ReturnType<typeof toLevel>] | undefined {
  for (const [k, v] of fields) {
    if (!LEVEL_NAME.test(k) || (typeof v !== 'string' && typeof v !== 'number')) continue;
    const l = typeof v === 'string' && v.length === 1 ? fromLetter(v) : typeof v === 'string' && /^D[1-5]$/.test(v) ? 'DEBUG' : toLevel(v);
    if (l !== 'UNKNOWN') {
      fields.delete(k);
      return [k, l];
    }
  }
  for (const [k, v] of fields) {
    if (typeof v === 'string' && SHAPE_LEVEL_WORDS.has(v)) {
      fields.delete(k);
      return [k, toLevel(v)];
    }
  }
  return undefined;
}

/** The field-by-field path shared by JSON objects and logfmt pairs. */
function fromFields(base: LogRecord, fields: Map<string, Json>, ev: RawEvent, opts: NormalizeOptions, ex: Explanation | undefined): void {
  // Serilog CLEF leaves out `@l` for Information.
  const clef = fields.has('@t') && (fields.has('@mt') || fields.has('@m'));
  // The time: a date and a time field, else a well-known key, else by shape. The first step
  // that reads a time wins: later steps do not run, and the fields they would take stay attributes.
  let ts = dateAndTime(fields, ev, opts);
  if (ts !== undefined) {
    if (ex) ex.time = 'fields "date" and "time"';
  } else {
    const timeEntry = takeEntry(fields, TIME_KEYS);
    ts = fieldTime(timeEntry?.[1], ev, opts);
    if (ts !== undefined && timeEntry !== undefined) {
      if (ex) ex.time = `field "${timeEntry[0]}"`;
    } else {
      const shaped = timeByShape(fields, ev, opts);
      if (shaped) {
        ts = shaped[1];
        if (ex) ex.time = `field "${shaped[0]}" (by its ${TIME_NAME.test(shaped[0]) ? 'name' : 'value'})`;
      }
    }
  }
  if (ts !== undefined) {
    base.timestamp = ts;
    base.timestamp_source = 'event';
  }
  const levelEntry = takeEntry(fields, LEVEL_KEYS);
  let level = levelEntry === undefined && clef ? 'INFO' : toLevel(levelEntry?.[1]);
  if (levelEntry !== undefined && level !== 'UNKNOWN') {
    if (ex) ex.level = `field "${levelEntry[0]}"`;
  } else if (clef && levelEntry === undefined) {
    if (ex) ex.level = 'Serilog CLEF default (Information)';
  } else if (levelEntry === undefined) {
    const shaped = levelByShape(fields);
    if (shaped) {
      level = shaped[1];
      if (ex) ex.level = `field "${shaped[0]}" (by its ${LEVEL_NAME.test(shaped[0]) ? 'name' : 'value'})`;
    }
  }
  base.level = level;
  base.severity_number = severityNumber[level];
  const message = take(fields, MESSAGE_KEYS);
  base.message = message === undefined ? '' : (str(message) ?? '');
  base.service = str(take(fields, SERVICE_KEYS)) ?? ev.service ?? str(take(fields, WEAK_SERVICE_KEYS));
  base.host = str(take(fields, HOST_KEYS)) ?? ev.host;
  base.environment = str(take(fields, ['environment', 'env', 'deployment.environment', 'service.environment']));
  const tp = fromTraceparent(take(fields, ['traceparent']));
  base.trace_id = tp?.trace ?? hexId(take(fields, TRACE_KEYS), 32);
  base.span_id = tp?.span ?? hexId(take(fields, SPAN_KEYS), 16);
  base.parent_span_id = hexId(take(fields, PARENT_KEYS), 16);
  // B3 only fills what traceparent and the trace fields left empty, and never mixes a
  // span of one trace into another.
  const b3 = fromB3(fields);
  if (b3 && (base.trace_id === null || b3.trace === null || b3.trace === base.trace_id)) {
    base.trace_id ??= b3.trace;
    base.span_id ??= b3.span;
    base.parent_span_id ??= b3.parent;
  }
  for (const [k, name] of ID_KEY_ENTRIES) {
    const v = fields.get(k);
    if (v !== undefined && v !== null) {
      base.ids[name] = str(v) as string;
      fields.delete(k);
    }
  }
  base.http = httpOf(fields);
  base.error = errorOf(fields);
  putAttributes(base, fields, opts);
}
