/**
 * The sink process writes the derived datasets (issues #4 and #5): MetricWindow,
 * Span and TraceSummary records produced (Avro) to the run's metrics.derived,
 * traces.spans and traces.summaries topics reach
 * - Elasticsearch `sluice-metrics-<tenant>-*`, `sluice-spans-<tenant>-*`, `sluice-traces-<tenant>-*`, with
 *   `_id` = window_id, `<trace_id>-<span_id>`, trace_id;
 * - Parquet under `<run>/metrics/`, `<run>/spans/`, `<run>/traces/`, Hive-partitioned by
 *   the record's own time, read back by DuckDB with every row and UTC microsecond
 *   TIMESTAMP columns.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import kafkajs from 'kafkajs';
import { repoRoot } from '../shared/schemas.js';
import type { MetricWindow, Span, TraceSummary } from '../shared/records.js';
import { startServices, stopServices, waitReady, type ServiceProcess } from '../scripts/lib/services.js';
import { esCount, listObjects } from '../scripts/lib/probes.js';
import { cleanup, clients, codecsFor, downloadPrefix, endpoints, isolatedEnv, newRunId, topicName, waitFor } from './helpers.js';

const { Partitioners } = kafkajs;
const runId = newRunId('sinkds');
const tenant = runId;
const c = clients('sink-datasets');
let procs: ServiceProcess[] = [];
let instance: DuckDBInstance;
let db: DuckDBConnection;

// Two hours apart, so each dataset lands in two Hive partitions; distinct microseconds.
const h10 = Date.UTC(2026, 2, 1, 10, 0, 0) * 1000 + 7;
const h11 = h10 + 3_600_000_000 + 11;
const hex = (n: number, len: number) => n.toString(16).padStart(len, '0');

const metrics: MetricWindow[] = [h10, h10 + 10_000_000, h11].map((start, i) => ({
  window_id: `${runId}-w${i}`, series: { service: 'checkout', route: '/orders/:id', method: 'GET', status_class: '2xx', level: null }, window_start: start, window_end: start + 10_000_000,
  count: 10 + i, error_count: i, duration_sum_us: 12_345 * (i + 1), bucket_bounds_us: [1000, 10_000], bucket_counts: [3, 5, 2 + i], p50_us: 900, p90_us: null, p99_us: 9000,
  exemplar_trace_id: hex(1, 32), exemplar_event_id: null, late_count: 0, tenant,
}));
const spans: Span[] = [0, 1, 2, 3].map((i) => ({
  trace_id: hex(1 + (i >> 1), 32), span_id: hex(100 + i, 16), parent_span_id: i % 2 === 0 ? null : hex(100 + i - 1, 16), service: i % 2 === 0 ? 'web' : 'checkout', operation: `op${i}`,
  start: (i < 2 ? h10 : h11) + i, end: (i < 2 ? h10 : h11) + i + 1500, duration_us: 1500, status: i === 3 ? 'ERROR' : 'OK', event_count: 2, derivation: 'ids', tenant,
}));
const traces: TraceSummary[] = [0, 1].map((i) => ({
  trace_id: hex(1 + i, 32), root_service: 'web', root_operation: `op${2 * i}`, start: i === 0 ? h10 : h11 + 2, duration_us: 1502, span_count: 2, services: ['web', 'checkout'], error: i === 1, tenant,
}));

const datasets = [
  { name: 'metrics', topic: 'metrics.derived', records: metrics, ids: metrics.map((m) => m.window_id), times: ['window_start', 'window_end'] },
  { name: 'spans', topic: 'traces.spans', records: spans, ids: spans.map((s) => `${s.trace_id}-${s.span_id}`), times: ['start', 'end'] },
  { name: 'traces', topic: 'traces.summaries', records: traces, ids: traces.map((t) => t.trace_id), times: ['start'] },
] as const;

beforeAll(async () => {
  instance = await DuckDBInstance.create(':memory:');
  db = await instance.connect();
  procs = await startServices({
    env: isolatedEnv(runId, { SLUICE_SINK_ES_MAX_AGE_MS: '300', SLUICE_SINK_PARQUET_MAX_AGE_MS: '1000' }),
    logDir: join(repoRoot(), '.stack', 'logs', 'test', runId),
    names: ['sink'],
  });
  await waitReady(procs);
  // The sink created the run's topics at start; produce once it is consuming.
  const codecs = await codecsFor(runId);
  const producer = c.kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  for (const d of datasets) {
    const topic = topicName(runId, d.topic);
    await producer.send({ topic, acks: -1, messages: d.records.map((r, i) => ({ key: d.ids[i]!, value: codecs.encode(topic, r) })) });
  }
  await producer.disconnect();
}, 180_000);

afterAll(async () => {
  await stopServices(procs);
  db?.closeSync();
  instance?.closeSync();
  // cleanup() removes sluice-logs-<tenant>-* only.
  for (const d of datasets) await c.es.indices.delete({ index: `sluice-${d.name}-${tenant}-*`, allow_no_indices: true, ignore_unavailable: true }).catch(() => undefined);
  await cleanup(c, runId, tenant).catch((err: unknown) => console.warn(`cleanup failed: ${String(err)}`));
  await c.es.close();
  c.s3.destroy();
}, 120_000);

test.each(datasets.map((d) => [d.name, d] as const))('%s reach Elasticsearch with their deterministic ids', async (name, d) => {
  const pattern = `sluice-${name}-${tenant}-*`;
  await waitFor(`${name} documents in Elasticsearch`, () => esCount(c.es, pattern), (n) => n >= d.records.length, 90_000);
  const res = await c.es.search({ index: pattern, size: 100, query: { match_all: {} } });
  expect(res.hits.hits.map((h) => h._id).sort()).toEqual([...d.ids].sort());
  // Daily indices by the record's own time.
  expect(new Set(res.hits.hits.map((h) => h._index))).toEqual(new Set([`sluice-${name}-${tenant}-2026.03.01`]));
  expect(await esCount(c.es, pattern)).toBe(d.records.length);
}, 120_000);

test.each(datasets.map((d) => [d.name, d] as const))('%s reach Parquet, Hive-partitioned by their own time, with UTC microsecond timestamps', async (name, d) => {
  const prefix = `${runId}/${name}/`;
  let files: { dir: string; files: string[] } | undefined;
  await waitFor(
    `${name} rows in Parquet`,
    async () => {
      if (files) rmSync(files.dir, { recursive: true, force: true });
      files = await downloadPrefix(c.s3, prefix);
      if (files.files.length === 0) return 0;
      return Number((await db.runAndReadAll(`select count(*)::INTEGER from read_parquet('${files.dir}/*.parquet')`)).getRows()[0]?.[0] ?? 0);
    },
    (n) => n >= d.records.length,
    90_000,
  );
  const dir = files!.dir;
  try {
    const keys = (await listObjects(c.s3, endpoints.bucket, prefix)).map((o) => o.key);
    const hours = new Set(keys.map((k) => /\/tenant=([^/]+)\/dt=([^/]+)\/hour=(\d\d)\//.exec(k)?.slice(1).join(' ')));
    expect(hours).toEqual(new Set([`${tenant} 2026-03-01 10`, `${tenant} 2026-03-01 11`]));
    const glob = `read_parquet('${dir}/*.parquet')`;
    expect((await db.runAndReadAll(`select count(*)::INTEGER from ${glob}`)).getRows()).toEqual([[d.records.length]]);
    const types = Object.fromEntries((await db.runAndReadAll(`select column_name, column_type from (describe select * from ${glob})`)).getRows() as [string, string][]);
    for (const t of d.times) expect([t, types[t]]).toEqual([t, 'TIMESTAMP WITH TIME ZONE']);
    // The first time column holds the source's microseconds, row by row.
    const [first] = d.times;
    const got = (await db.runAndReadAll(`select epoch_us("${first}")::BIGINT from ${glob}`)).getRows().map((r) => Number(r[0])).sort();
    const want = (d.records as unknown as readonly Record<string, unknown>[]).map((r) => Number(r[first])).sort();
    expect(got).toEqual(want);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 120_000);
