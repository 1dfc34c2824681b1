/**
 * Issue #12, "index names", against the REAL local Elasticsearch (no mock):
 *
 * (a) With Sluice's templates installed as the sink installs them, names of Elastic Agent's
 *     data streams (`logs-nginx.access-default`, a foreign `metrics-system.cpu-default`)
 *     get none of them: Elasticsearch's own template resolution
 *     (`_index_template/_simulate_index`) and a real index of such a name say so, and a
 *     stand-in for Elastic's built-in `logs-*-*` / `metrics-*-*` / `traces-*-*` templates
 *     overlaps no Sluice template. The same probe does see Sluice's template on a Sluice
 *     name (so it can fail).
 * (b) The sink's writer in forced data-stream mode (SLUICE_ES_WRITE_MODE=data-streams)
 *     writes into a data stream `<prefix>-<tenant>`: the local integ-test zip has no
 *     `_data_stream` REST API, but creates data streams from templates on the first
 *     `create`, resolves them (`_resolve/index`), rolls them over and deletes non-write
 *     backing indices. The test shows the `_id` dedup holds within a backing index and
 *     not across a rollover (what docs/operations.md says), and that retention deletes an
 *     old backing index and rolls the stream over.
 *
 * The local server cannot delete a data stream (no `DELETE /_data_stream`, and the write
 * index of a stream cannot be deleted), so part (b) uses fixed test-only streams,
 * `sluice-dsit-it` (logs) and `sluice-dsit-{metrics,spans,traces}-it`, and starts by
 * letting retention delete what earlier runs left: what stays between runs is those four
 * streams with at most two small backing indices each. Each run's documents are told
 * apart by their ids. The derived datasets' prefixes overlap the logs one on purpose: the
 * longer prefix's template outranks it (templatePriority), which Elasticsearch checks.
 */
import type { LogRecord, MetricWindow, Span, TraceSummary } from '../shared/records.js';
import type { SinkBatch, SinkItem } from '../shared/runner/index.js';
import { createLogger } from '../shared/logger.js';
import { createEsClient, createEsWriter, installEsTemplates, type BulkRound } from '../services/sink/es-writer.js';
import { metricsDataset, spansDataset, tracesDataset, type EsDataset } from '../services/sink/es-document.js';
import { detectEsCapabilities } from '../services/sink/es-capabilities.js';
import { defaultEsPrefixes, elasticBuiltinPatterns, loadEsTemplates, templateName, templatePriority } from '../services/sink/es-templates.js';
import { Retention } from '../services/sink/retention.js';
import { connectChecks } from '../bin/validate-settings.js';
import { endpoints, newRunId } from './helpers.js';

const runId = newRunId('esnames');
const es = createEsClient({ url: endpoints.es, indexPrefix: defaultEsPrefixes.logs });
const log = createLogger('test-es-names', 'warn');

/** Test-only prefix and tenant of part (b): fixed, since the local server cannot delete data streams. */
const dsPrefix = 'sluice-dsit';
const dsTenant = 'it';
const dataStream = `${dsPrefix}-${dsTenant}`;

type Simulated = { template?: { mappings?: { _meta?: Record<string, unknown> } }; overlapping?: Array<{ name: string; index_patterns: string[] }> };
async function simulateIndex(name: string): Promise<Simulated> {
  return (await es.transport.request({ method: 'POST', path: `/_index_template/_simulate_index/${encodeURIComponent(name)}` })) as Simulated;
}

function record(id: string): LogRecord {
  const t = Date.UTC(2026, 2, 1, 12, 0, 0) * 1000; // an old event day: retention deletes it
  return {
    event_id: id, timestamp: t, timestamp_source: 'event', observed_at: t, level: 'INFO', severity_number: 9, message: `message ${id}`, service: 'checkout', host: 'h1',
    tenant: dsTenant, environment: null, source: { format: 'json', shipper: null, file: null, topic: 'logs.raw', partition: 0, offset: 0 },
    trace_id: null, span_id: null, parent_span_id: null, ids: {}, http: null, error: null, attributes: { run: runId }, labels: {}, flags: [],
  };
}
function batchOf<T>(values: T[]): SinkBatch<T> {
  const items: SinkItem<T>[] = values.map((value, i) => ({ value, raw: Buffer.from(String(i)), envelope: { topic: 'logs.enriched', partition: 0, offset: String(i), timestampMs: 0, key: null, headers: {} } }));
  return { topic: 'logs.enriched', partition: 0, firstOffset: '0', lastOffset: String(values.length - 1), items };
}

async function backingIndices(stream = dataStream): Promise<string[]> {
  // A wildcard, so that a stream not created yet resolves to nothing instead of a 404.
  const r = await es.indices.resolveIndex({ name: `${stream}*`, expand_wildcards: 'all' });
  const ds = (r.data_streams ?? []).find((d) => d.name === stream);
  return ds ? ([] as string[]).concat(ds.backing_indices) : [];
}
async function runDocs(): Promise<Array<{ id: string; index: string }>> {
  await es.indices.refresh({ index: dataStream });
  const r = await es.search({ index: dataStream, size: 1000, query: { term: { 'attributes.run': runId } }, _source: false });
  return r.hits.hits.map((h) => ({ id: h._id as string, index: h._index }));
}

/** Test-only prefixes of the derived datasets in part (b); they overlap `sluice-dsit-*`, and their templates outrank it. */
const derivedPrefixes = [`${dsPrefix}-metrics`, `${dsPrefix}-spans`, `${dsPrefix}-traces`] as const;

const agentIndices = [`logs-nginx.access-${runId}`, `metrics-system.cpu-${runId}`];

afterAll(async () => {
  for (const index of agentIndices) await es.indices.delete({ index, ignore_unavailable: true }).catch((err: unknown) => console.warn(`cleanup ${index}: ${String(err)}`));
  // A server with the data-stream API can delete the test's streams; the local one cannot (see above).
  const caps = await detectEsCapabilities(es);
  if (caps.dataStreams) {
    for (const name of [dataStream, ...derivedPrefixes.map((p) => `${p}-${dsTenant}`)]) {
      await es.transport.request({ method: 'DELETE', path: `/_data_stream/${name}` }).catch((err: unknown) => console.warn(`cleanup ${name}: ${String(err)}`));
    }
  }
  await es.close();
}, 60_000);

describe('(a) Sluice templates capture nobody else\'s indices', () => {
  beforeAll(async () => {
    // What a sink with the default settings installs on this server (auto: daily indices here).
    await installEsTemplates(es, loadEsTemplates(defaultEsPrefixes));
  }, 60_000);

  test.each(['logs-nginx.access-default', 'metrics-system.cpu-default', 'traces-apm-default'])('%s resolves to no Sluice template', async (name) => {
    const sim = await simulateIndex(name);
    expect(sim.template?.mappings?._meta?.['managed_by']).toBeUndefined();
    expect((sim.overlapping ?? []).filter((o) => o.name.startsWith('sluice-'))).toEqual([]);
  });

  test('the probe sees Sluice\'s template on a Sluice name', async () => {
    const sim = await simulateIndex(`${defaultEsPrefixes.logs}-${runId}-2026.03.01`);
    expect(sim.template?.mappings?._meta?.['managed_by']).toBe('sluice');
  });

  test('real indices named like Elastic Agent\'s get no Sluice mapping', async () => {
    for (const index of agentIndices) {
      await es.indices.create({ index });
      const mapping = await es.indices.getMapping({ index });
      const m = mapping[index]?.mappings as { _meta?: Record<string, unknown>; dynamic?: unknown; properties?: Record<string, unknown> } | undefined;
      expect([index, m?._meta?.['managed_by'], m?.dynamic, Object.keys(m?.properties ?? {})]).toEqual([index, undefined, undefined, []]);
    }
  });

  test.each(elasticBuiltinPatterns.filter((p) => /^(logs|metrics|traces)-/.test(p)))('a stand-in for Elastic\'s built-in %s template (priority 100, data stream) overlaps no Sluice template', async (pattern) => {
    const r = (await es.transport.request({
      method: 'POST',
      path: '/_index_template/_simulate',
      body: { index_patterns: [pattern], priority: 100, data_stream: {}, template: { mappings: { properties: { '@timestamp': { type: 'date' } } } } },
    })) as Simulated;
    const ours = new Set(Object.values(defaultEsPrefixes).map(templateName));
    expect((r.overlapping ?? []).filter((o) => ours.has(o.name) || o.name.startsWith('sluice-'))).toEqual([]);
  });
});

describe('(b) forced data-stream mode on the local server', () => {
  test('documents are created in the data stream sluice-dsit-it; _id dedup holds within a backing index, not across a rollover; retention deletes the old backing index and rolls over', async () => {
    const caps = await detectEsCapabilities(es);
    console.log(`elasticsearch ${caps.version}: data-stream API ${caps.dataStreams ? 'present' : 'absent'} (${caps.evidence.join('; ')})`);
    const rounds: Array<BulkRound<LogRecord>> = [];
    const writer = createEsWriter<LogRecord>({ client: createEsClient({ url: endpoints.es, indexPrefix: dsPrefix }), indexPrefix: dsPrefix, writeMode: 'data-streams', log, onBulk: (r) => void rounds.push(r) });
    await writer.start();
    expect(writer.mode).toBe('data-streams');
    const tmpl = (await es.indices.getIndexTemplate({ name: templateName(dsPrefix) })).index_templates[0]!.index_template;
    expect(tmpl.data_stream).toBeDefined();
    expect(tmpl.index_patterns).toEqual([`${dsPrefix}-*`]);

    // Earlier runs' documents (an old event day) sit in non-write backing indices after a rollover: retention deletes them.
    const retention = new Retention({ log, onDeleted: () => undefined, es: { client: es, prefixes: [dsPrefix], days: 7 } });
    if ((await backingIndices()).length > 0) {
      await es.indices.rollover({ alias: dataStream });
      await retention.runOnce();
    }

    const records = Array.from({ length: 20 }, (_, i) => record(`${runId}-${String(i).padStart(2, '0')}`));
    expect(await writer.write(batchOf(records))).toEqual([]);
    expect(rounds.at(-1)).toMatchObject({ created: 20, alreadyPresent: 0, dead: 0 });

    // A data stream, not a daily index: resolve lists it with its backing index, which holds the documents.
    const first = await backingIndices();
    expect(first.length).toBeGreaterThanOrEqual(1);
    const write1 = first.at(-1)!;
    expect(write1.startsWith(`.ds-${dataStream}-`)).toBe(true);
    const resolvedDaily = await es.indices.resolveIndex({ name: `${dsPrefix}-*-2026.03.01`, expand_wildcards: 'all' });
    expect(resolvedDaily.indices).toEqual([]);
    let docs = await runDocs();
    expect(docs.map((d) => d.id).sort()).toEqual(records.map((r) => r.event_id).sort());
    expect(new Set(docs.map((d) => d.index))).toEqual(new Set([write1]));
    const mapping = (await es.indices.getMapping({ index: write1 }))[write1]!.mappings as { _meta?: Record<string, unknown>; _data_stream_timestamp?: { enabled: boolean } };
    expect(mapping._meta?.['managed_by']).toBe('sluice');
    expect(mapping._data_stream_timestamp?.enabled).toBe(true);

    // A redelivery into the same backing index: every item 409, nothing added.
    expect(await writer.write(batchOf(records))).toEqual([]);
    expect(rounds.at(-1)).toMatchObject({ created: 0, alreadyPresent: 20 });
    expect((await runDocs()).length).toBe(20);

    // After a rollover the same ids are new to the write index: a replay now duplicates (the documented caveat).
    await es.indices.rollover({ alias: dataStream });
    const write2 = (await backingIndices()).at(-1)!;
    expect(write2).not.toBe(write1);
    expect(await writer.write(batchOf(records))).toEqual([]);
    expect(rounds.at(-1)).toMatchObject({ created: 20, alreadyPresent: 0 });
    docs = await runDocs();
    expect(docs.length).toBe(40);
    expect(new Set(docs.map((d) => d.index))).toEqual(new Set([write1, write2]));

    // Retention: write1 (every event before the cutoff, not the write index) goes; the write index stays and is young: no rollover.
    const pass = await retention.runOnce();
    expect(pass.backingIndices).toEqual([write1]);
    expect(pass.rolledOver).toEqual([]);
    expect(await backingIndices()).toEqual([write2]);
    docs = await runDocs();
    expect(new Set(docs.map((d) => d.index))).toEqual(new Set([write2]));
    expect(docs.length).toBe(20);
    // With a zero max age the write index (it holds documents) is rolled over.
    const rolling = new Retention({ log, onDeleted: () => undefined, es: { client: es, prefixes: [dsPrefix], days: 7 }, rolloverMaxAge: '0ms' });
    expect((await rolling.runOnce()).rolledOver).toEqual([dataStream]);
    const after = await backingIndices();
    expect(after.length).toBe(2);
    expect(after[0]).toBe(write2);
    await writer.close();
  }, 120_000);

  test('metric windows, spans and trace summaries go to their data streams too, beside an overlapping prefix', async () => {
    const t = Date.UTC(2026, 2, 1, 12, 0, 0) * 1000; // an old day again, so the next run's retention clears it
    const metric: MetricWindow = {
      window_id: `w-${runId}`, series: { service: 'api', route: '/x/:id', method: 'GET', status_class: '2xx', level: null }, window_start: t, window_end: t + 10_000_000,
      count: 10, error_count: 0, duration_sum_us: 12345, bucket_bounds_us: [1000, 10000], bucket_counts: [3, 5, 2], p50_us: 900, p90_us: null, p99_us: null,
      exemplar_trace_id: null, exemplar_event_id: null, late_count: 0, tenant: dsTenant,
    };
    const traceId = runId.padEnd(32, '0').slice(0, 32);
    const span: Span = { trace_id: traceId, span_id: 'b'.repeat(16), parent_span_id: null, service: 'api', operation: 'GET /x/:id', start: t, end: t + 1500, duration_us: 1500, status: 'OK', event_count: 2, derivation: 'correlation', tenant: dsTenant };
    const trace: TraceSummary = { trace_id: traceId, root_service: 'api', root_operation: null, start: t, duration_us: 1500, span_count: 1, services: ['api'], error: false, tenant: dsTenant };
    const cases: Array<[string, EsDataset<never>, unknown, string]> = [
      [derivedPrefixes[0], metricsDataset as EsDataset<never>, metric, `w-${runId}`],
      [derivedPrefixes[1], spansDataset as EsDataset<never>, span, `${traceId}-${'b'.repeat(16)}`],
      [derivedPrefixes[2], tracesDataset as EsDataset<never>, trace, traceId],
    ];
    for (const [prefix, dataset, value, id] of cases) {
      const stream = `${prefix}-${dsTenant}`;
      // What earlier runs left: rolled over and deleted by retention (old event day).
      if ((await backingIndices(stream)).length > 0) {
        await es.indices.rollover({ alias: stream });
        await new Retention({ log, onDeleted: () => undefined, es: { client: es, prefixes: [prefix], days: 7 } }).runOnce();
      }
      const rounds: Array<BulkRound<never>> = [];
      const writer = createEsWriter<never>({ client: createEsClient({ url: endpoints.es, indexPrefix: prefix }), indexPrefix: prefix, writeMode: 'data-streams', dataset, log, onBulk: (r) => void rounds.push(r) });
      await writer.start();
      expect(await writer.write(batchOf([value as never]))).toEqual([]);
      expect([stream, rounds.at(-1)?.created]).toEqual([stream, 1]);
      await writer.close();
      const backing = await backingIndices(stream);
      expect(backing.length).toBe(1);
      await es.indices.refresh({ index: stream });
      const hits = (await es.search({ index: stream, query: { ids: { values: [id] } } })).hits.hits;
      expect(hits.map((h) => h._index)).toEqual([backing[0]]);
      // The logs test stream's template (sluice-dsit-*) also matches this name; the longer prefix outranks it.
      expect(templatePriority(prefix).priority).toBeGreaterThan(templatePriority(dsPrefix).priority);
      const sim = (await es.transport.request({ method: 'POST', path: `/_index_template/_simulate_index/${stream}` })) as { overlapping?: Array<{ name: string }> };
      expect((sim.overlapping ?? []).map((o) => o.name)).toContain(templateName(dsPrefix));
    }
    // Retention for the logs prefix leaves the derived streams alone: their "tenant" part would contain a dash.
    const pass = await new Retention({ log, onDeleted: () => undefined, es: { client: es, prefixes: [dsPrefix], days: 7 }, rolloverMaxAge: '0ms' }).runOnce();
    expect(pass.rolledOver.filter((n) => n !== dataStream)).toEqual([]);
    for (const prefix of derivedPrefixes) expect((await backingIndices(`${prefix}-${dsTenant}`)).length).toBe(1);
  }, 120_000);
});

test('sluice validate --connect names the write mode the sink would use here, and warns of prefixes under Elastic\'s own templates', async () => {
  const caps = await detectEsCapabilities(es);
  const env = { ...process.env, SLUICE_ES_URL: endpoints.es, SLUICE_SINK_WRITERS: 'es' };
  const esCheck = async (extra: Record<string, string>) => (await connectChecks({}, { ...env, ...extra })).find((x) => x.what === 'elasticsearch')!;
  const plain = await esCheck({});
  expect(plain.ok).toBe(true);
  expect(plain.detail).toContain(`writes ${caps.dataStreams ? 'data-streams' : 'daily-indices'} (SLUICE_ES_WRITE_MODE=auto`);
  expect(plain.detail).not.toContain('overlap');
  const legacy = await esCheck({ SLUICE_ES_INDEX_PREFIX: 'logs', SLUICE_ES_WRITE_MODE: 'data-streams' });
  expect(legacy.detail).toContain('writes data-streams (SLUICE_ES_WRITE_MODE=data-streams)');
  expect(legacy.detail).toContain("prefixes logs overlap Elastic's built-in logs-*-*");
}, 60_000);
