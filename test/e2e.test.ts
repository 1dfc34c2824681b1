/**
 * End to end through the real stack: 1,000 JSON lines produced to logs.raw pass
 * collector -> normalizer -> enricher -> sink and each must appear exactly once in
 * Elasticsearch (count and distinct event ids) and exactly once in Parquet on S3, read
 * back by an independent reader (DuckDB), whose timestamp column is a microsecond
 * TIMESTAMP holding the source's microseconds.
 */
import { rmSync } from 'node:fs';
import { DuckDBInstance } from '@duckdb/node-api';
import kafkajs from 'kafkajs';

const { Partitioners } = kafkajs;
import { startServices, waitReady, type ServiceProcess } from '../scripts/lib/services.js';
import { esCount, listObjects } from '../scripts/lib/probes.js';
import { downloadPrefix, endpoints, isolatedEnv, testLogDir, testRun, topicName, waitFor } from './helpers.js';

const N = 1000;
let procs: ServiceProcess[] = [];
const { runId, c } = testRun('e2e', () => procs);
const tenant = runId; // tenant header -> index sluice-logs-<tenant>-YYYY.MM.DD and Parquet tenant=<tenant>/

// Event times with distinct microseconds: 2026-03-01T12:00:00.000001Z + i * 1.001 ms.
const baseUs = Date.UTC(2026, 2, 1, 12, 0, 0) * 1000;
const eventUs = (i: number) => baseUs + 1 + i * 1001;
function isoMicros(us: number): string {
  const d = new Date(Math.floor(us / 1000)).toISOString();
  return `${d.slice(0, 19)}.${String(us % 1_000_000).padStart(6, '0')}Z`;
}

beforeAll(async () => {
  procs = await startServices({
    env: isolatedEnv(runId, { SLUICE_SINK_PARQUET_MAX_AGE_MS: '3000', SLUICE_TOPIC_PARTITIONS: '3' }),
    logDir: testLogDir(runId),
  });
  await waitReady(procs);
}, 180_000);

test('1,000 lines reach Elasticsearch and Parquet exactly once', async () => {
  const producer = c.kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  const messages = Array.from({ length: N }, (_, i) => ({
    key: `k${i % 7}`,
    value: JSON.stringify({ timestamp: isoMicros(eventUs(i)), level: i % 10 === 0 ? 'error' : 'info', service: 'checkout', msg: `order ${i} processed`, seq: i }),
    headers: { tenant },
  }));
  await producer.send({ topic: topicName(runId, 'logs.raw'), messages, acks: -1 });
  await producer.disconnect();

  // Elasticsearch: exactly N documents, each event_id once, each seq once.
  await waitFor('documents in Elasticsearch', () => esCount(c.es, `sluice-logs-${tenant}-*`), (n) => n >= N, 120_000);
  const res = await c.es.search({ index: `sluice-logs-${tenant}-*`, size: N + 10, query: { match_all: {} }, _source: ['event.id', 'attributes.seq', '@timestamp'] });
  const hits = res.hits.hits;
  expect(hits.length).toBe(N);
  const ids = new Set(hits.map((h) => h._id));
  expect(ids.size).toBe(N);
  // The sink sends ECS names as dotted keys; _source keeps them as sent.
  const src = (h: (typeof hits)[number]) => h._source as Record<string, unknown>;
  for (const h of hits) expect(src(h)['event.id']).toBe(h._id);
  const seqs = new Set(hits.map((h) => String(src(h)['attributes.seq'])));
  expect(seqs.size).toBe(N);
  expect(await esCount(c.es, `sluice-logs-${tenant}-*`)).toBe(N);
  expect(hits.every((h) => h._index.startsWith(`sluice-logs-${tenant}-2026.03.01`))).toBe(true);

  // Parquet: exactly N rows over all objects, each event_id once, same ids as Elasticsearch.
  await waitFor(
    'Parquet rows',
    async () => (await listObjects(c.s3, endpoints.bucket, `${runId}/`)).length,
    (n) => n > 0,
    120_000,
  );
  const db = await (await DuckDBInstance.create(':memory:')).connect();
  let rows = 0;
  let downloaded: { dir: string; files: string[] } | undefined;
  await waitFor(
    'all rows in Parquet',
    async () => {
      if (downloaded) rmSync(downloaded.dir, { recursive: true, force: true });
      downloaded = await downloadPrefix(c.s3, `${runId}/logs/`);
      const r = await db.runAndReadAll(`select count(*)::INTEGER from read_parquet('${downloaded.dir}/*.parquet')`);
      rows = Number(r.getRows()[0]?.[0] ?? 0);
      return rows;
    },
    (n) => n >= N,
    120_000,
  );
  const dir = downloaded!.dir;
  expect(rows).toBe(N);
  const distinct = await db.runAndReadAll(`select count(distinct event_id)::INTEGER, count(distinct source_offset || '-' || source_partition)::INTEGER from read_parquet('${dir}/*.parquet')`);
  expect(distinct.getRows()[0]).toEqual([N, N]);
  const pqIds = new Set((await db.runAndReadAll(`select event_id from read_parquet('${dir}/*.parquet')`)).getRows().map((r) => String(r[0])));
  expect([...pqIds].every((id) => ids.has(id))).toBe(true);

  // The timestamp column is a TIMESTAMP of microseconds (not ms, not ns) and holds the source's microseconds.
  const desc = await db.runAndReadAll(`select column_name, column_type from (describe select * from read_parquet('${dir}/*.parquet')) where column_name = 'timestamp'`);
  expect(desc.getRows()[0]?.[1]).toBe('TIMESTAMP WITH TIME ZONE'); // TIMESTAMP(MICROS, isAdjustedToUTC=true)
  const physical = await db.runAndReadAll(`select converted_type from parquet_schema('${downloaded!.files[0]}') where name = 'timestamp'`);
  expect(String(physical.getRows()[0]?.[0])).toBe('TIMESTAMP_MICROS');
  const ts = await db.runAndReadAll(`select epoch_us("timestamp")::BIGINT, json_extract_string(attributes, '$.seq')::INTEGER from read_parquet('${dir}/*.parquet')`);
  for (const [us, seq] of ts.getRows()) expect(Number(us)).toBe(eventUs(Number(seq)));
  rmSync(dir, { recursive: true, force: true });
}, 300_000);
