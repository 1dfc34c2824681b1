import { loadSchema } from '../../shared/schemas.js';
import type { LogRecord, MetricWindow, Span, TraceSummary } from '../../shared/records.js';
import { metricDocument, metricsDataset, spanDocument, spansDataset, toEsDocument, traceDocument, tracesDataset } from './es-document.js';
import { composedMappings, loadEsTemplates, resolveField, type EsDatasetName } from './es-templates.js';
import { bulkItemReason, classifyRequestError } from './es-writer.js';
import { versionAtLeast } from './es-capabilities.js';

const ts = Date.UTC(2026, 0, 31, 23, 59, 59) * 1000 + 123_456;

/** Every optional field filled, so the builder emits every key it can. */
const log: LogRecord = {
  event_id: '01KAXYZ', timestamp: ts, timestamp_source: 'event', observed_at: ts + 5, level: 'ERROR', severity_number: 17, message: 'boom', service: 'api', host: 'h1',
  tenant: 'acme', environment: 'prod', source: { format: 'json', shipper: 'vector', file: '/var/log/a.log', topic: 'logs.raw', partition: 2, offset: 42 },
  trace_id: 'a'.repeat(32), span_id: 'b'.repeat(16), parent_span_id: 'c'.repeat(16), ids: { request_id: 'r1', 'order.id': 'o1' },
  http: { method: 'GET', route: '/x/:id', path: '/x/1', status: 503, duration_us: 1500, bytes: 10, client_ip: '10.0.0.1', user_agent: 'curl' },
  error: { type: 'E', message: 'bad', stack: 'at x' }, attributes: { 'a.b': '1', c: '2' }, labels: { team: 'core', 'k8s.ns': 'web' }, flags: ['truncated'],
};
const metric: MetricWindow = {
  window_id: 'w1', series: { service: 'api', route: '/x/:id', method: 'GET', status_class: '5xx', level: 'ERROR' }, window_start: ts, window_end: ts + 10_000_000,
  count: 10, error_count: 2, duration_sum_us: 12345, bucket_bounds_us: [1000, 10000], bucket_counts: [3, 5, 2], p50_us: 900, p90_us: 5000, p99_us: 9000,
  exemplar_trace_id: 'a'.repeat(32), exemplar_event_id: '01KAXYZ', late_count: 1, tenant: 'acme', sketch: Buffer.from([1, 2, 3, 250]),
};
const span: Span = {
  trace_id: 'a'.repeat(32), span_id: 'b'.repeat(16), parent_span_id: 'c'.repeat(16), service: 'api', operation: 'GET /x/:id', start: ts, end: ts + 1500,
  duration_us: 1500, status: 'ERROR', event_count: 3, derivation: 'ids', tenant: 'acme',
};
const trace: TraceSummary = { trace_id: 'a'.repeat(32), root_service: 'web', root_operation: 'GET /', start: ts, duration_us: 9000, span_count: 4, services: ['web', 'api'], error: true, tenant: 'acme' };

const templates = loadEsTemplates('logs');

/** Mapping type Elasticsearch accepts for a JSON value of this kind. */
function accepts(type: string | undefined, value: unknown): boolean {
  const v = Array.isArray(value) ? value[0] : value;
  switch (type) {
    case 'keyword': case 'text': return typeof v === 'string';
    case 'long': case 'integer': case 'short': return Number.isInteger(v);
    case 'date_nanos': return typeof v === 'string' && /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/.test(v);
    case 'ip': return typeof v === 'string';
    case 'boolean': return typeof v === 'boolean';
    case 'binary': return typeof v === 'string' && /^[A-Za-z0-9+/]*={0,2}$/.test(v);
    default: return false;
  }
}

describe.each<[EsDatasetName, Record<string, unknown>]>([
  ['logs', toEsDocument(log)],
  ['metrics', metricDocument(metric)],
  ['spans', spanDocument(span)],
  ['traces', traceDocument(trace)],
])('%s template maps every field its document builder emits', (dataset, doc) => {
  const mappings = composedMappings(templates, dataset);
  test.each(Object.keys(doc))('%s', (field) => {
    const m = resolveField(mappings, field);
    expect([field, m?.type]).toEqual([field, expect.any(String)]);
    expect([field, m?.type, accepts(m?.type, doc[field])]).toEqual([field, m?.type, true]);
  });
  test('is strict at the root, with @timestamp as date_nanos', () => {
    expect(mappings.dynamic).toBe('strict');
    expect(resolveField(mappings, '@timestamp')?.type).toBe('date_nanos');
    expect(resolveField(mappings, 'no_such_field')).toBeUndefined();
  });
});

describe('logs template', () => {
  const m = composedMappings(templates, 'logs');
  test('message is text with a bounded keyword subfield; ids are keywords', () => {
    const message = resolveField(m, 'message');
    expect(message?.type).toBe('text');
    expect(message?.fields?.['keyword']).toMatchObject({ type: 'keyword', ignore_above: 1024 });
    for (const f of ['event.id', 'trace.id', 'span.id', 'parent.id', 'sluice.ids.request_id']) expect([f, resolveField(m, f)?.type]).toEqual([f, 'keyword']);
  });
  test('labels.*, attributes.* and sluice.ids.* are bounded keywords, whatever the key', () => {
    for (const f of ['labels.anything', 'attributes.x_y', 'sluice.ids.user_id']) expect(resolveField(m, f)).toEqual({ type: 'keyword', ignore_above: 1024 });
  });
  test('covers every LogRecord Avro field (each leaf reaches the document under some name)', () => {
    const doc = toEsDocument(log);
    // Avro fields -> document keys; kept here so a new Avro field fails this test until mapped.
    const to: Record<string, string[]> = {
      event_id: ['event.id'], timestamp: ['@timestamp'], timestamp_source: ['sluice.timestamp_source'], observed_at: ['event.ingested'], level: ['log.level'],
      severity_number: ['sluice.severity_number'], message: ['message'], service: ['service.name'], host: ['host.name'], tenant: ['sluice.tenant'], environment: ['service.environment'],
      source: ['sluice.source.format', 'agent.type', 'log.file.path', 'sluice.source.topic', 'sluice.source.partition', 'sluice.source.offset'],
      trace_id: ['trace.id'], span_id: ['span.id'], parent_span_id: ['parent.id'], ids: ['sluice.ids.request_id', 'sluice.ids.order_id'],
      http: ['http.request.method', 'http.route', 'url.path', 'http.response.status_code', 'event.duration', 'http.response.body.bytes', 'client.ip', 'user_agent.original'],
      error: ['error.type', 'error.message', 'error.stack_trace'], attributes: ['attributes.a_b', 'attributes.c'], labels: ['labels.team', 'labels.k8s_ns'], flags: ['sluice.flags'],
    };
    expect(loadSchema('LogRecord').fields.map((f) => f.name).sort()).toEqual(Object.keys(to).sort());
    for (const keys of Object.values(to)) for (const k of keys) expect([k, k in doc]).toEqual([k, true]);
  });
});

describe('derived documents', () => {
  test('each Avro field of MetricWindow, Span and TraceSummary reaches its document', () => {
    // Count of document keys vs Avro leaves: series has 5 leaves, everything else 1.
    expect(Object.keys(metricDocument(metric)).length).toBe(loadSchema('MetricWindow').fields.length - 1 + 5 + 1 /* event.dataset */);
    expect(spanDocument(span)).toMatchObject({ '@timestamp': '2026-01-31T23:59:59.123456Z', 'event.duration': 1_500_000, 'event.outcome': 'failure', 'parent.id': 'c'.repeat(16), 'span.name': 'GET /x/:id' });
    expect(traceDocument(trace)).toMatchObject({ 'service.name': 'web', 'sluice.trace.services': ['web', 'api'], 'event.outcome': 'failure', 'event.duration': 9_000_000 });
  });
  test('the metrics sketch is base64 in a binary field that is neither indexed nor in doc values; absent without one', () => {
    const m = composedMappings(templates, 'metrics');
    expect(resolveField(m, 'sluice.window.duration.sketch')).toEqual({ type: 'binary', doc_values: false });
    expect(Buffer.from(metricDocument(metric)['sluice.window.duration.sketch'] as string, 'base64')).toEqual(metric.sketch);
    const { sketch: _s, ...older } = metric;
    expect('sluice.window.duration.sketch' in metricDocument(older)).toBe(false);
    expect('sluice.window.duration.sketch' in metricDocument({ ...metric, sketch: null })).toBe(false);
  });
  test('index names and deterministic ids', () => {
    expect(metricsDataset.index('sluice-metrics', metric)).toBe('sluice-metrics-acme-2026.01.31');
    expect(spansDataset.index('sluice-spans', span)).toBe('sluice-spans-acme-2026.01.31');
    expect(tracesDataset.index('sluice-traces', trace)).toBe('sluice-traces-acme-2026.01.31');
    expect(metricsDataset.index('sluice-metrics', metric, 'data-streams')).toBe('sluice-metrics-acme');
    expect(spansDataset.index('sluice-spans', span, 'data-streams')).toBe('sluice-spans-acme');
    expect(tracesDataset.index('sluice-traces', trace, 'data-streams')).toBe('sluice-traces-acme');
    expect([metricsDataset.id(metric), spansDataset.id(span), tracesDataset.id(trace)]).toEqual(['w1', `${'a'.repeat(32)}-${'b'.repeat(16)}`, 'a'.repeat(32)]);
  });
});

describe('template files', () => {
  test('each dataset prefix names its index template and pattern; unset ones are the sluice- defaults', () => {
    const t = loadEsTemplates('applogs');
    expect(t.indexTemplates.map((x) => [x.name, x.body.index_patterns])).toEqual([
      ['sluice-applogs', ['applogs-*']], ['sluice-metrics', ['sluice-metrics-*']], ['sluice-spans', ['sluice-spans-*']], ['sluice-traces', ['sluice-traces-*']],
    ]);
    const legacy = loadEsTemplates({ logs: 'logs', metrics: 'metrics', spans: 'spans', traces: 'traces' });
    expect(legacy.indexTemplates.map((x) => [x.name, x.body.index_patterns])).toEqual([
      ['sluice-logs', ['logs-*']], ['sluice-metrics', ['metrics-*']], ['sluice-spans', ['spans-*']], ['sluice-traces', ['traces-*']],
    ]);
    expect(t.components.map((c) => c.name).sort()).toEqual(['sluice-dynamic-fields', 'sluice-logs-mappings', 'sluice-metrics-mappings', 'sluice-settings', 'sluice-spans-mappings', 'sluice-traces-mappings']);
    const settings = t.components.find((c) => c.name === 'sluice-settings')!.body.template.settings as { index: { mapping: { total_fields: { limit: number } } } };
    expect(settings.index.mapping.total_fields.limit).toBe(2000);
  });
});

describe('writer error reporting', () => {
  test('item reason carries the Elasticsearch type, reason and cause', () => {
    const r = bulkItemReason({ status: 400, error: { type: 'document_parsing_exception', reason: 'failed to parse field [@timestamp]', caused_by: { type: 'illegal_argument_exception', reason: 'before the epoch' } } });
    expect(r).toBe('document_parsing_exception: failed to parse field [@timestamp] (caused by illegal_argument_exception: before the epoch)');
    expect(bulkItemReason({ status: 500 })).toBe('status 500');
  });
  test('a whole request: 400/413 permanent, anything else retryable', () => {
    expect(classifyRequestError({ meta: { statusCode: 400 } }).retryable).toBe(false);
    expect(classifyRequestError({ meta: { statusCode: 413 } }).retryable).toBe(false);
    expect(classifyRequestError({ meta: { statusCode: 503 } }).retryable).toBe(true);
    expect(classifyRequestError(new Error('ECONNREFUSED')).retryable).toBe(true);
  });
  test('failure store needs 9.1+', () => {
    expect([versionAtLeast('9.5.3', [9, 1]), versionAtLeast('9.0.2', [9, 1]), versionAtLeast('8.19.21', [9, 1]), versionAtLeast(null, [9, 1])]).toEqual([true, false, false, false]);
  });
});
