/**
 * Issue #10 (c), against the real stack: the quantiles of one series split across two
 * enricher instances merge, from the serialized sketches the partial MetricWindows carry,
 * to within the sketch's error of (1) one instance fed every record and (2) the exact
 * quantile.
 *
 * Three isolated runs (own topics, consumer groups, S3 prefixes) share one tenant, so
 * they compute the same series and window ids:
 * - A and B: an enricher each, fed a random half of the records (Avro LogRecords on
 *   `<run>.logs.normalized`), and a sink writing the metrics dataset to Parquet only;
 * - S: an enricher fed every record, and a sink writing the metrics dataset to
 *   Elasticsearch and Parquet. (Partial windows of A and B share their window id, so in
 *   one Elasticsearch index the second would be refused as already written: only S
 *   writes there.)
 * A's and B's partial windows are read back from their metrics topics (Avro) and from
 * their Parquet files (DuckDB; the sketch is a BLOB), S's window from Elasticsearch
 * (the sketch is a `binary` field, base64 in _source). Merged with mergeSketchQuantiles,
 * A + B give p50/p90/p99 within α·x + 0.5 µs of S's and of the exact quantile (α = 1 %,
 * +0.5 for rounding to whole µs). Merging is exact, so they also equal S's.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import kafkajs from 'kafkajs';
import { repoRoot } from '../shared/schemas.js';
import type { LogRecord, MetricWindow } from '../shared/records.js';
import { httpFields, logRecord } from '../shared/testing/records.js';
import { seededRandom } from '../shared/testing/seeded.js';
import { mergeSketchQuantiles, type MergedQuantiles } from '../services/enricher/metrics.js';
import { DDSketch, quantileIndex } from '../services/enricher/sketch.js';
import { startServices, stopServices, waitReady, type ServiceProcess } from '../scripts/lib/services.js';
import { esCount, listObjects } from '../scripts/lib/probes.js';
import { cleanup, clients, codecsFor, downloadPrefix, endpoints, isolatedEnv, newRunId, readTopic, topicName, waitFor } from './helpers.js';

const { Partitioners } = kafkajs;
const base = newRunId('skm');
const runs = { a: `${base}a`, b: `${base}b`, s: `${base}s` } as const;
const tenant = base;
const c = clients('skm');
let procs: ServiceProcess[] = [];
const tempDirs: string[] = [];

const ALPHA = 0.01;
const WINDOW_US = 10_000_000;
const WINDOWS = 3;
const PER_WINDOW = 2_000;
const SERIES = { service: 'checkout', route: '/pay', method: 'POST', status_class: '2xx', level: null };
const QS = [
  [0.5, 'p50_us'],
  [0.9, 'p90_us'],
  [0.99, 'p99_us'],
] as const;

afterAll(async () => {
  await stopServices(procs);
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
  if (process.env['SLUICE_TEST_KEEP']) return console.warn(`kept runs ${Object.values(runs).join(', ')} for inspection`);
  await c.es.indices.delete({ index: `sluice-metrics-${tenant}-*`, allow_no_indices: true, ignore_unavailable: true }).catch(() => undefined);
  for (const run of Object.values(runs)) await cleanup(c, run, tenant).catch((err: unknown) => console.warn(`cleanup of ${run} failed: ${String(err)}`));
}, 120_000);

/** Lognormal request durations in whole µs (median 30 ms, heavy tail), a few zeros. */
function workload(): { records: LogRecord[]; w0: number } {
  const r = seededRandom(10);
  // Windows well in the past (event time), aligned to the window length.
  const w0 = Math.floor((Date.now() * 1000 - 600_000_000) / WINDOW_US) * WINDOW_US;
  const records: LogRecord[] = [];
  for (let k = 0; k < WINDOWS; k++) {
    for (let i = 0; i < PER_WINDOW; i++) {
      const gauss = Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
      const duration = r() < 0.01 ? 0 : Math.round(Math.exp(Math.log(30_000) + 1.2 * gauss));
      const ts = w0 + k * WINDOW_US + Math.floor((i * WINDOW_US) / PER_WINDOW);
      records.push(
        logRecord({
          event_id: `${base}-${k}-${String(i).padStart(5, '0')}`,
          timestamp: ts,
          observed_at: ts,
          tenant,
          service: SERIES.service,
          message: `POST /pay 200 ${duration}us`,
          http: httpFields({ method: SERIES.method, route: SERIES.route, path: SERIES.route, status: 200, duration_us: duration }),
        }),
      );
    }
  }
  return { records, w0 };
}

async function produce(run: string, records: readonly LogRecord[]): Promise<void> {
  const codecs = await codecsFor(run);
  const topic = topicName(run, 'logs.normalized');
  const producer = c.kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  try {
    for (let i = 0; i < records.length; i += 1000) {
      const messages = records.slice(i, i + 1000).map((r) => ({ key: r.service ?? '', value: codecs.encode(topic, r) }));
      await producer.send({ topic, acks: -1, messages });
    }
  } finally {
    await producer.disconnect();
  }
}

/** Every MetricWindow of a run's metrics topic (`count` of them), decoded with the registry's schemas. */
async function windowsFromTopic(run: string, count: number): Promise<MetricWindow[]> {
  const codecs = await codecsFor(run);
  const messages = await readTopic(c.kafka, topicName(run, 'metrics.derived'), count, 120_000);
  return Promise.all(messages.map(async (m) => (await codecs.decode(m.value)) as MetricWindow));
}

interface ParquetWindow {
  window_id: string;
  window_start: number;
  bucket_counts: number[];
  sketch: Buffer | null;
}

/** The HTTP series' windows a run's sink wrote to Parquet. */
async function windowsFromParquet(run: string): Promise<ParquetWindow[]> {
  const { dir } = await downloadPrefix(c.s3, `${run}/metrics/`);
  tempDirs.push(dir);
  const instance = await DuckDBInstance.create(':memory:');
  const db = await instance.connect();
  try {
    const rows = (
      await db.runAndReadAll(
        `select window_id, epoch_us(window_start)::BIGINT, bucket_counts, to_base64(sketch) from read_parquet('${dir}/*.parquet') where series_route = '${SERIES.route}' order by window_start`,
      )
    ).getRows();
    return rows.map(([id, start, counts, sketch]) => ({
      window_id: id as string,
      window_start: Number(start),
      bucket_counts: (counts as { items: unknown[] }).items.map(Number),
      sketch: sketch === null ? null : Buffer.from(sketch as string, 'base64'),
    }));
  } finally {
    db.closeSync();
    instance.closeSync();
  }
}

const durationsOf = (w: { bucket_counts: readonly number[] }): number => w.bucket_counts.reduce((a, b) => a + b, 0);
/** Within the sketch's error of `x`: α·x, plus 0.5 for the rounding to whole µs. */
const within = (p: number | null, x: number): boolean => p !== null && Math.abs(p - x) <= ALPHA * x + 0.5;

test('quantiles of a series split across two enricher instances merge to within the sketch error of one instance and of the exact values', async () => {
  const { records, w0 } = workload();
  const r = seededRandom(20);
  const halves: [LogRecord[], LogRecord[]] = [[], []];
  for (const rec of records) halves[r() < 0.5 ? 0 : 1].push(rec);

  // Input topics first (3 partitions, as the pipeline's), then the services, then the data.
  const admin = c.kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: Object.values(runs).map((run) => ({ topic: topicName(run, 'logs.normalized'), numPartitions: 3 })), waitForLeaders: true });
  await admin.disconnect();
  const common = { SLUICE_ENRICHER_IDLE_AFTER_MS: '1000', SLUICE_SINK_DATASETS: 'metrics', SLUICE_SINK_PARQUET_MAX_AGE_MS: '1000', SLUICE_SINK_ES_MAX_AGE_MS: '300' };
  for (const [run, writers] of [[runs.a, 'parquet'], [runs.b, 'parquet'], [runs.s, 'es,parquet']] as const) {
    const env = isolatedEnv(run, { ...common, SLUICE_SINK_WRITERS: writers });
    procs.push(...(await startServices({ env, logDir: join(repoRoot(), '.stack', 'logs', 'test', run), names: ['enricher', 'sink'] })));
  }
  await waitReady(procs);
  await produce(runs.a, halves[0]);
  await produce(runs.b, halves[1]);
  await produce(runs.s, records);

  // Each run emits, per window, its HTTP series and its log series (level INFO).
  const expectedWindows = 2 * WINDOWS;
  const [fromA, fromB, fromS] = await Promise.all([windowsFromTopic(runs.a, expectedWindows), windowsFromTopic(runs.b, expectedWindows), windowsFromTopic(runs.s, expectedWindows)]);
  const httpOf = (ws: MetricWindow[]) => ws.filter((w) => w.series.route === SERIES.route).sort((x, y) => x.window_start - y.window_start);
  const [topicA, topicB, topicS] = [httpOf(fromA), httpOf(fromB), httpOf(fromS)];
  for (const ws of [topicA, topicB, topicS]) {
    expect(ws.map((w) => [w.window_start, w.series, w.late_count])).toEqual(Array.from({ length: WINDOWS }, (_, k) => [w0 + k * WINDOW_US, SERIES, 0]));
    for (const w of ws) expect(Buffer.isBuffer(w.sketch)).toBe(true);
  }
  // Same series and window on every instance: the same window id.
  expect(topicA.map((w) => w.window_id)).toEqual(topicS.map((w) => w.window_id));
  expect(topicB.map((w) => w.window_id)).toEqual(topicS.map((w) => w.window_id));

  // Read back through the sinks: A's and B's partial windows from Parquet, S's from Elasticsearch.
  await waitFor('Parquet metrics of A and B', async () => (await listObjects(c.s3, endpoints.bucket, `${runs.a}/metrics/`)).length * (await listObjects(c.s3, endpoints.bucket, `${runs.b}/metrics/`)).length, (n) => n > 0, 120_000);
  const parquetA = await waitFor('A windows in Parquet', () => windowsFromParquet(runs.a), (ws) => ws.length >= WINDOWS, 60_000);
  const parquetB = await waitFor('B windows in Parquet', () => windowsFromParquet(runs.b), (ws) => ws.length >= WINDOWS, 60_000);
  await waitFor('S windows in Elasticsearch', () => esCount(c.es, `sluice-metrics-${tenant}-*`), (n) => n >= expectedWindows, 120_000);
  const hits = (await c.es.search({ index: `sluice-metrics-${tenant}-*`, size: 100, query: { term: { 'http.route': SERIES.route } }, sort: [{ '@timestamp': 'asc' }] })).hits.hits;
  const esS = hits.map((h) => h._source as Record<string, unknown>);
  expect(esS.map((d) => d['sluice.window.id'])).toEqual(topicS.map((w) => w.window_id));

  // The bytes are the same on every path: topic = Parquet (A, B), topic = Elasticsearch (S).
  expect(parquetA.map((w) => [w.window_id, w.sketch])).toEqual(topicA.map((w) => [w.window_id, w.sketch]));
  expect(parquetB.map((w) => [w.window_id, w.sketch])).toEqual(topicB.map((w) => [w.window_id, w.sketch]));
  expect(esS.map((d) => Buffer.from(d['sluice.window.duration.sketch'] as string, 'base64'))).toEqual(topicS.map((w) => w.sketch));

  const report: string[] = [];
  for (let k = 0; k < WINDOWS; k++) {
    const start = w0 + k * WINDOW_US;
    const exactSorted = records.filter((x) => x.timestamp >= start && x.timestamp < start + WINDOW_US).map((x) => x.http!.duration_us!).sort((x, y) => x - y);
    const a = parquetA[k]!;
    const b = parquetB[k]!;
    const s = esS[k]!;
    // Both instances saw part of this window.
    expect([durationsOf(a) > PER_WINDOW / 4, durationsOf(b) > PER_WINDOW / 4, durationsOf(a) + durationsOf(b)]).toEqual([true, true, PER_WINDOW]);
    expect(DDSketch.deserialize(Buffer.from(s['sluice.window.duration.sketch'] as string, 'base64')).count).toBe(PER_WINDOW);

    const merged: MergedQuantiles = mergeSketchQuantiles([a, b]);
    expect(merged.durations).toBe(PER_WINDOW);
    expect(mergeSketchQuantiles([topicA[k]!, topicB[k]!])).toEqual(merged);
    for (const [q, field] of QS) {
      const got = merged[field];
      const single = s[`sluice.window.duration.${field}`] as number;
      const exact = exactSorted[quantileIndex(q, exactSorted.length)]!;
      // (1) within the sketch's error of the single instance, (2) of the exact quantile.
      expect({ k, q, got, single, ok: within(got, single) }).toEqual({ k, q, got, single, ok: true });
      expect({ k, q, got, exact, ok: within(got, exact) }).toEqual({ k, q, got, exact, ok: true });
      expect({ k, q, single, exact, ok: within(single, exact) }).toEqual({ k, q, single, exact, ok: true });
      // Merging is exact: the same number as the single instance.
      expect(got).toBe(single);
      report.push(`w${k} p${q * 100}: merged ${got} µs, single ${single} µs, exact ${exact} µs (${((100 * Math.abs((got as number) - exact)) / exact).toFixed(3)} %)`);
    }
  }
  console.log(`sketch merge across two enricher instances (A ${halves[0].length} + B ${halves[1].length} records, ${WINDOWS} windows):\n${report.join('\n')}`);
}, 420_000);
