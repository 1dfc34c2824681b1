/**
 * The Elasticsearch writer (services/sink/es-writer.ts) against the REAL local
 * Elasticsearch: templates installed at start, then one bulk whose items are
 * (a) created, (b) already present (409, counts as written), (c) refused with a real
 * 429 (an index under the `read_only_allow_delete` block, lifted after the first
 * attempt) and resent until written once, (d) refused by the template's mapping
 * (an event time before 1970 cannot be a `date_nanos`) and returned as a permanent
 * failure with Elasticsearch's error type and reason. Each run has its own index
 * prefix and tenant, and deletes what it created.
 */
import type { LogRecord, MetricWindow, Span, TraceSummary } from '../shared/records.js';
import type { SinkBatch, SinkItem } from '../shared/runner/index.js';
import { createLogger } from '../shared/logger.js';
import { createEsClient, createEsWriter, type BulkRound } from '../services/sink/es-writer.js';
import { indexFor, metricsDataset, spansDataset, tracesDataset, type EsDataset } from '../services/sink/es-document.js';
import { chooseWriteMode, detectEsCapabilities } from '../services/sink/es-capabilities.js';
import { composedMappings, defaultEsPrefixes, loadEsTemplates, templatesFor } from '../services/sink/es-templates.js';
import { esCount } from '../scripts/lib/probes.js';
import { endpoints, newRunId } from './helpers.js';

const runId = newRunId('esbulk');
const prefix = runId; // logs indices <runId>-<tenant>-YYYY.MM.DD, template sluice-<runId>
const tenant = runId;
const es = createEsClient({ url: endpoints.es, indexPrefix: prefix });
const log = createLogger('test-es-bulk', 'warn');

const day = (y: number, m: number, d: number) => Date.UTC(y, m - 1, d, 12, 0, 0) * 1000;
function record(id: string, timestamp: number): LogRecord {
  return {
    event_id: id, timestamp, timestamp_source: 'event', observed_at: Date.UTC(2026, 2, 1) * 1000, level: 'INFO', severity_number: 9, message: `message ${id}`, service: 'checkout', host: 'h1',
    tenant, environment: null, source: { format: 'json', shipper: null, file: null, topic: 'logs.raw', partition: 0, offset: 0 },
    trace_id: null, span_id: null, parent_span_id: null, ids: { request_id: `r-${id}` }, http: null, error: null, attributes: { seq: id }, labels: {}, flags: [],
  };
}
function batchOf<T>(values: T[]): SinkBatch<T> {
  const items: SinkItem<T>[] = values.map((value, i) => ({ value, raw: Buffer.from(String(i)), envelope: { topic: 'logs.enriched', partition: 0, offset: String(i), timestampMs: 0, key: null, headers: {} } }));
  return { topic: 'logs.enriched', partition: 0, firstOffset: '0', lastOffset: String(values.length - 1), items };
}
const blockedSetting = 'index.blocks.read_only_allow_delete';

afterAll(async () => {
  for (const index of [`${prefix}-*`, `${defaultEsPrefixes.metrics}-${tenant}-*`, `${defaultEsPrefixes.spans}-${tenant}-*`, `${defaultEsPrefixes.traces}-${tenant}-*`]) {
    await es.indices.delete({ index, allow_no_indices: true, ignore_unavailable: true }).catch((err: unknown) => console.warn(`cleanup ${index}: ${String(err)}`));
  }
  await es.indices.deleteIndexTemplate({ name: `sluice-${prefix}` }).catch((err: unknown) => console.warn(`cleanup template: ${String(err)}`));
  await es.close();
}, 60_000);

test('capabilities are detected; auto writes data streams exactly when the server has the data-stream API', async () => {
  const caps = await detectEsCapabilities(es);
  expect(chooseWriteMode('auto', caps).mode).toBe(caps.dataStreams ? 'data-streams' : 'daily-indices');
  expect(caps.version).toMatch(/^\d+\.\d+\.\d+/);
  // Independent check of the data-stream API.
  const status = await es.transport.request({ method: 'GET', path: '/_data_stream' }, { meta: true }).then((r) => r.statusCode, (err: { meta?: { statusCode?: number } }) => err.meta?.statusCode);
  expect(caps.dataStreams).toBe(status === 200);
  if (!caps.dataStreams) expect(caps.failureStore).toBe(false);
  console.log(`elasticsearch capabilities: ${JSON.stringify(caps)}`);
}, 30_000);

test('one bulk: created, already present (409), throttled (429) then written once, mapping failure dead-lettered', async () => {
  const rounds: Array<BulkRound<LogRecord>> = [];
  const writer = createEsWriter<LogRecord>({
    client: createEsClient({ url: endpoints.es, indexPrefix: prefix }),
    indexPrefix: prefix,
    writeMode: 'daily-indices',
    log,
    backoff: { baseMs: 50, capMs: 500 },
    onBulk: async (round) => {
      rounds.push({ ...round, retry: [...round.retry] });
      // Lift the block after the first attempt saw the 429, so the resend succeeds.
      if (round.attempt === 0 && round.retry.length > 0) await es.indices.putSettings({ index: blockedIndex, settings: { [blockedSetting]: null } });
    },
  });
  await writer.start();
  await writer.start(); // idempotent
  const tmpl = await es.indices.getIndexTemplate({ name: `sluice-${prefix}` });
  expect(tmpl.index_templates[0]?.index_template.index_patterns).toEqual([`${prefix}-*`]);

  const present = record('a-present', day(2026, 3, 1));
  const created = record('a-created', day(2026, 3, 1));
  const seed = record('b-seed', day(2026, 3, 2));
  const throttled = record('b-throttled', day(2026, 3, 2));
  const conflict = record('d-conflict', day(2026, 3, 3));
  const oldTime = record('e-before-1970', Date.UTC(1969, 11, 31, 23, 59, 59) * 1000 + 1);
  const blockedIndex = indexFor(prefix, throttled);
  await es.indices.create({ index: indexFor(prefix, conflict), mappings: { properties: { service: { properties: { name: { type: 'long' } } } } } });

  // Setup: `present` exists before the bulk; the index of `throttled` exists and is blocked.
  expect(await writer.write(batchOf([present, seed]))).toEqual([]);
  await es.indices.putSettings({ index: blockedIndex, settings: { [blockedSetting]: true } });
  rounds.length = 0;

  const failures = await writer.write(batchOf([created, present, throttled, conflict, oldTime]));

  // (d) one permanent failure, with Elasticsearch's error type and reason.
  expect(failures.map((f) => f.item.value.event_id)).toEqual(['d-conflict']);
  const err = failures[0]!.error;
  expect(err.code).toBe('SLUICE_ERR_ES_MAPPING');
  expect(err.retryable).toBe(false);
  expect(err.message).toMatch(/document_parsing_exception|mapper_parsing_exception/);
  expect(err.message).toContain('failed to parse field [service.name] of type [long]');

  // First attempt: (a) created, (b) 409, (c) 429 from the block, (d) dead; then only (c) was resent.
  expect(rounds.map((r) => ({ attempt: r.attempt, sent: r.sent, created: r.created, alreadyPresent: r.alreadyPresent, dead: r.dead, retry: r.retry.map((x) => x.item.value.event_id) }))).toEqual([
    { attempt: 0, sent: 5, created: 2, alreadyPresent: 1, dead: 1, retry: ['b-throttled'] },
    { attempt: 1, sent: 1, created: 1, alreadyPresent: 0, dead: 0, retry: [] },
  ]);
  expect(rounds[0]!.retry[0]!.status).toBe(429);
  expect(rounds[0]!.retry[0]!.reason).toContain('cluster_block_exception');

  // Real queries: each id exactly once, in the right daily index; nothing for the refused one.
  expect(await esCount(es, `${prefix}-*`)).toBe(5);
  const res = await es.search({ index: `${prefix}-*`, size: 100, query: { match_all: {} }, _source: ['event.id'] });
  const hits = res.hits.hits.map((h) => [h._id, h._index]);
  expect(hits.sort()).toEqual([
    ['a-created', `${prefix}-${tenant}-2026.03.01`],
    ['a-present', `${prefix}-${tenant}-2026.03.01`],
    ['b-seed', `${prefix}-${tenant}-2026.03.02`],
    ['b-throttled', `${prefix}-${tenant}-2026.03.02`],
    ['e-before-1970', `${prefix}-${tenant}-2026.03.01`],
  ]);
  // The pre-1970 record: indexed under its ingest time, its own time kept and flagged.
  const old = await es.search({ index: `${prefix}-*`, query: { ids: { values: ['e-before-1970'] } } });
  expect(old.hits.hits[0]!._source).toMatchObject({ '@timestamp': '2026-03-01T00:00:00.000000Z', 'sluice.event_time': '1969-12-31T23:59:59.000001Z', 'sluice.flags': ['timestamp_out_of_range'] });
  const throttledDocs = await es.count({ index: blockedIndex, query: { term: { 'event.id': 'b-throttled' } } });
  expect(throttledDocs.count).toBe(1);
  expect(await esCount(es, `${prefix}-${tenant}-1969.12.31`)).toBe(0);

  // The index got the template's mapping.
  const mapping = await es.indices.getMapping({ index: indexFor(prefix, created) });
  const props = Object.values(mapping)[0]!.mappings.properties as Record<string, { type?: string; fields?: Record<string, { type: string; ignore_above?: number }> }>;
  expect(props['@timestamp']?.type).toBe('date_nanos');
  expect(props['message']).toMatchObject({ type: 'text', fields: { keyword: { type: 'keyword', ignore_above: 1024 } } });

  // Writing the same batch again (a redelivery) adds nothing.
  rounds.length = 0;
  expect((await writer.write(batchOf([created, present, throttled]))).length).toBe(0);
  expect(rounds.map((r) => [r.created, r.alreadyPresent])).toEqual([[0, 3]]);
  expect(await esCount(es, `${prefix}-*`)).toBe(5);
  await writer.close();
}, 60_000);

test('metric, span and trace documents fit their strict templates', async () => {
  const ts = Date.UTC(2026, 2, 1, 12, 0, 0) * 1000 + 1;
  const metric: MetricWindow = {
    window_id: `w-${runId}`, series: { service: 'api', route: '/x/:id', method: 'GET', status_class: '2xx', level: null }, window_start: ts, window_end: ts + 10_000_000,
    count: 10, error_count: 0, duration_sum_us: 12345, bucket_bounds_us: [1000, 10000], bucket_counts: [3, 5, 2], p50_us: 900, p90_us: null, p99_us: null,
    exemplar_trace_id: 'a'.repeat(32), exemplar_event_id: null, late_count: 0, tenant,
  };
  const span: Span = { trace_id: 'a'.repeat(32), span_id: 'b'.repeat(16), parent_span_id: null, service: 'api', operation: 'GET /x/:id', start: ts, end: ts + 1500, duration_us: 1500, status: 'OK', event_count: 2, derivation: 'correlation', tenant };
  const trace: TraceSummary = { trace_id: 'a'.repeat(32), root_service: 'api', root_operation: null, start: ts, duration_us: 1500, span_count: 1, services: ['api'], error: false, tenant };
  const write = async <T>(dataset: EsDataset<T>, value: T) => {
    const writer = createEsWriter<T>({ client: createEsClient({ url: endpoints.es, indexPrefix: defaultEsPrefixes[dataset.name] }), indexPrefix: defaultEsPrefixes[dataset.name], writeMode: 'daily-indices', log, dataset });
    await writer.start();
    const failures = await writer.write(batchOf([value]));
    await writer.close();
    return failures.map((f) => f.error.message);
  };
  expect(await write(metricsDataset, metric)).toEqual([]);
  expect(await write(spansDataset, span)).toEqual([]);
  expect(await write(tracesDataset, trace)).toEqual([]);
  for (const [pattern, id, field, value] of [
    [`sluice-metrics-${tenant}-*`, `w-${runId}`, 'sluice.window.count', 10],
    [`sluice-spans-${tenant}-*`, `${'a'.repeat(32)}-${'b'.repeat(16)}`, 'event.duration', 1_500_000],
    [`sluice-traces-${tenant}-*`, 'a'.repeat(32), 'sluice.trace.span_count', 1],
  ] as const) {
    expect(await esCount(es, pattern)).toBe(1);
    const r = await es.search({ index: pattern, query: { bool: { filter: [{ ids: { values: [id] } }, { term: { [field]: value } }] } } });
    expect([pattern, r.hits.hits.length]).toEqual([pattern, 1]);
  }
}, 60_000);

test('an index created from the previous metrics template gains the new sketch field at start, so windows with a sketch are not refused', async () => {
  const ts = Date.UTC(2026, 2, 2, 12, 0, 0) * 1000;
  const index = indexFor(defaultEsPrefixes.metrics, { tenant, timestamp: ts });
  // Today's index as the template before `sketch` made it: strict, without the field.
  const old = composedMappings(templatesFor(loadEsTemplates('logs'), 'metrics'), 'metrics');
  const window = (old.properties?.['sluice'] as { properties: Record<string, { properties: Record<string, { properties: Record<string, unknown> }> }> }).properties['window']!.properties['duration']!.properties;
  delete window['sketch'];
  await es.indices.create({ index, mappings: old as never });
  const metric: MetricWindow = {
    window_id: `sk-${runId}`, series: { service: 'api', route: null, method: null, status_class: null, level: null }, window_start: ts, window_end: ts + 10_000_000,
    count: 1, error_count: 0, duration_sum_us: 5, bucket_bounds_us: [10], bucket_counts: [1, 0], p50_us: 5, p90_us: 5, p99_us: 5,
    exemplar_trace_id: null, exemplar_event_id: null, late_count: 0, tenant, sketch: Buffer.from([1, 2, 3]),
  };
  const writer = createEsWriter<MetricWindow>({ client: createEsClient({ url: endpoints.es, indexPrefix: defaultEsPrefixes.metrics }), indexPrefix: defaultEsPrefixes.metrics, writeMode: 'daily-indices', log, dataset: metricsDataset });
  await writer.start();
  const failures = await writer.write(batchOf([metric]));
  await writer.close();
  expect(failures.map((f) => f.error.message)).toEqual([]);
  const mapping = await es.indices.getMapping({ index });
  expect(JSON.stringify(mapping[index]?.mappings)).toContain('"sketch":{"type":"binary"');
}, 60_000);
