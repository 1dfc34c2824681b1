/**
 * The sink against the real stack when things break (issue #4):
 * - Elasticsearch stopped for 60 s mid-stream, then started: nothing lost, nothing
 *   duplicated, and the Parquet writer kept writing meanwhile (bulkhead); the ES
 *   writer's circuit opened and closed;
 * - the same with the S3 server stopped;
 * - the sink process (both writers) killed with SIGKILL mid-batch, twice, and restarted
 *   with other batch sizes: Elasticsearch count and distinct ids equal the input; Parquet
 *   rows deduplicated by event_id equal the input, and no two objects hold the same event.
 * Every Parquet object is then read by DuckDB and by pyarrow: one schema across the
 * files, timestamps equal to the source records to the microsecond.
 *
 * These tests stop and start the local stack's servers (`scripts/stack stop|start`), so
 * they skip, saying so, when the suite runs against servers of your own.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import kafkajs from 'kafkajs';
import { repoRoot } from '../shared/schemas.js';
import type { LogRecord } from '../shared/records.js';
import type { TopicCodecs } from '../shared/codec.js';
import { scrape, startServices, stopServices, waitReady, type ServiceProcess } from '../scripts/lib/services.js';
import { esCount, listObjects } from '../scripts/lib/probes.js';
import { cleanup, clients, codecsFor, downloadPrefix, endpoints, isolatedEnv, newRunId, testLogDir, topicName, waitFor } from './helpers.js';

const { Partitioners } = kafkajs;
const external = ['SLUICE_ES_URL', 'SLUICE_S3_ENDPOINT', 'SLUICE_KAFKA_BROKERS'].filter((v) => process.env[v]);
const runDir = join(process.env['SLUICE_STACK_DIR'] || join(repoRoot(), '.stack'), 'run');
const ours = ['elasticsearch', 's3'].every((s) => existsSync(join(runDir, `${s}.pid`)));
const skipWhy = external.length > 0 ? `${external.join(', ')} point elsewhere` : !ours ? `the running servers were not started from this checkout (no pid files in ${runDir})` : '';
const maybe = skipWhy ? test.skip : test;
if (skipWhy) console.warn(`sink outage tests skipped: they stop and start the local stack's servers, and ${skipWhy}`);

const c = clients('outage');
const runs: string[] = [];
const feeds: Feed[] = [];
let procs: ServiceProcess[] = [];

afterEach(async () => {
  await stopServices(procs);
  procs = [];
  for (const f of feeds.splice(0)) await f.close().catch(() => undefined);
  // Whatever happened, the servers are up again for the next test.
  stack('start', 'elasticsearch');
  stack('start', 's3');
}, 240_000);

afterAll(async () => {
  for (const runId of runs) await cleanup(c, runId, runId).catch((err: unknown) => console.warn(`cleanup failed: ${String(err)}`));
  await c.es.close();
  c.s3.destroy();
}, 120_000);

function stack(cmd: 'start' | 'stop', server: 'elasticsearch' | 's3'): void {
  const r = spawnSync('bash', [join(repoRoot(), 'scripts', 'stack'), cmd, server], { encoding: 'utf8', timeout: 200_000 });
  if (r.status !== 0) throw new Error(`scripts/stack ${cmd} ${server} failed: ${r.stderr}`);
}

const baseUs = Date.UTC(2026, 2, 1, 10, 0, 0) * 1000;
/** Event times spread over 3 hours (several Hive partitions), each with distinct microseconds. */
const eventUs = (seq: number) => baseUs + 7 + seq * 1_000_003 + (seq % 3) * 3_600_000_000;

class Feed {
  sent = 0;
  private readonly producer = c.kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, idempotent: true, maxInFlightRequests: 1 });
  constructor(
    private readonly runId: string,
    private readonly codecs: TopicCodecs,
  ) {}
  async connect(): Promise<void> {
    await this.producer.connect();
  }
  record(seq: number): LogRecord {
    return {
      event_id: `${this.runId}-${String(seq).padStart(6, '0')}`, timestamp: eventUs(seq), timestamp_source: 'event', observed_at: eventUs(seq) + 5, level: seq % 10 === 0 ? 'ERROR' : 'INFO', severity_number: seq % 10 === 0 ? 17 : 9,
      message: `request ${seq} done`, service: `svc-${seq % 4}`, host: 'h1', tenant: this.runId, environment: null,
      source: { format: 'json', shipper: null, file: null, topic: 'logs.raw', partition: 0, offset: seq }, trace_id: null, span_id: null, parent_span_id: null, ids: {}, http: null, error: null,
      attributes: { seq: String(seq) }, labels: {}, flags: [],
    };
  }
  async send(n: number): Promise<void> {
    const topic = topicName(this.runId, 'logs.enriched');
    const messages = [];
    for (let i = 0; i < n; i++) messages.push({ key: `k${(this.sent + i) % 7}`, value: this.codecs.encode(topic, this.record(this.sent + i)) });
    await this.producer.send({ topic, acks: -1, messages });
    this.sent += n;
  }
  /** `n` records in small slices over `ms`: a stream, not one burst. */
  async stream(n: number, ms: number): Promise<void> {
    const slices = 20;
    for (let i = 0; i < slices; i++) {
      await this.send(Math.floor(n / slices));
      await new Promise((r) => setTimeout(r, ms / slices));
    }
  }
  async close(): Promise<void> {
    await this.producer.disconnect();
  }
}

async function setup(label: string, extra: Record<string, string> = {}): Promise<{ runId: string; feed: Feed; env: NodeJS.ProcessEnv; logDir: string }> {
  const runId = newRunId(label);
  runs.push(runId);
  const admin = c.kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: topicName(runId, 'logs.enriched'), numPartitions: 3 }], waitForLeaders: true });
  await admin.disconnect();
  const feed = new Feed(runId, await codecsFor(runId));
  await feed.connect();
  feeds.push(feed);
  const env = isolatedEnv(runId, { SLUICE_SINK_ES_MAX_AGE_MS: '300', SLUICE_SINK_PARQUET_MAX_AGE_MS: '1500', SLUICE_SINK_PARQUET_MAX_ROWS: '400', ...extra });
  return { runId, feed, env, logDir: testLogDir(runId) };
}

const esDocs = (runId: string) => esCount(c.es, `sluice-logs-${runId.toLowerCase()}-*`);

/** Distinct Kafka offsets covered by the Parquet objects' keys (`<topic>+<partition>+<first>+<last>`). */
async function parquetCovered(runId: string): Promise<number> {
  const ranges = new Set<string>();
  for (const o of await listObjects(c.s3, endpoints.bucket, `${runId}/logs/`)) {
    const m = /\+(\d+)\+(\d{20})\+(\d{20})\.parquet$/.exec(o.key);
    if (m) ranges.add(`${m[1]}:${m[2]}:${m[3]}`);
  }
  let n = 0;
  for (const r of ranges) {
    const [, first, last] = r.split(':');
    n += Number(last) - Number(first) + 1;
  }
  return n;
}

/** Rows and distinct event ids of the run's logs in Parquet (DuckDB over a download of every object). */
async function parquetRowCounts(runId: string): Promise<[number, number]> {
  const { dir, files } = await downloadPrefix(c.s3, `${runId}/logs/`);
  try {
    if (!files.some((f) => f.endsWith('.parquet'))) return [0, 0];
    const db = await (await DuckDBInstance.create(':memory:')).connect();
    const r = await db.runAndReadAll(`select count(*)::INTEGER, count(distinct event_id)::INTEGER from read_parquet('${dir}/*.parquet')`);
    const [rows, distinct] = r.getRows()[0] as [number, number];
    return [rows, distinct];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Documents per event.id, exactly (a composite aggregation, paged; cardinality would be approximate). */
async function esIdCounts(index: string): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  let after: Record<string, string> | undefined;
  for (;;) {
    const r = await c.es.search({ index, size: 0, aggs: { ids: { composite: { size: 10_000, sources: [{ id: { terms: { field: 'event.id' } } }], ...(after ? { after } : {}) } } } });
    const agg = (r.aggregations as { ids: { buckets: Array<{ key: { id: string }; doc_count: number }>; after_key?: Record<string, string> } }).ids;
    for (const b of agg.buckets) counts.set(b.key.id, b.doc_count);
    if (agg.buckets.length < 10_000 || !agg.after_key) return counts;
    after = agg.after_key;
  }
}

/** Every check a user of the stores would make, for `n` records of `feed`. */
async function verifyStores(runId: string, feed: Feed): Promise<void> {
  const n = feed.sent;
  await waitFor('Elasticsearch to hold every record', () => esDocs(runId), (x) => x >= n, 180_000);
  await waitFor('Parquet to cover every offset', () => parquetCovered(runId), (x) => x >= n, 180_000);
  // The covered offsets are summed from object names, so a crashed owner's object not yet
  // replaced overlaps its replacements and the sum can reach n early (one CI run counted
  // 29,772 of 30,000 rows right after that). Wait for the rows themselves: exactly n rows,
  // n distinct ids. A row lost for good, or a duplicate that stays, times this out.
  await waitFor('Parquet to hold every record exactly once', () => parquetRowCounts(runId), ([rows, distinct]) => rows === n && distinct === n, 180_000);
  // Elasticsearch: exactly n documents, n distinct event ids (a duplicate in another daily index would show).
  expect(await esDocs(runId)).toBe(n);
  const ids = await esIdCounts(`sluice-logs-${runId.toLowerCase()}-*`);
  expect([ids.size, [...ids.values()].filter((k) => k > 1).length]).toEqual([n, 0]);

  // Parquet: every object read by DuckDB; rows = distinct event ids = n.
  const { dir, files } = await downloadPrefix(c.s3, `${runId}/logs/`);
  try {
    const parquet = files.filter((f) => f.endsWith('.parquet'));
    const db = await (await DuckDBInstance.create(':memory:')).connect();
    const all = `read_parquet('${dir}/*.parquet')`;
    const counts = await db.runAndReadAll(`select count(*)::INTEGER, count(distinct event_id)::INTEGER from ${all}`);
    expect(counts.getRows()[0]).toEqual([n, n]);
    const ts = await db.runAndReadAll(`select epoch_us("timestamp")::BIGINT, json_extract_string(attributes, '$.seq')::INTEGER from ${all}`);
    let wrong = 0;
    for (const [us, seq] of ts.getRows()) if (Number(us) !== eventUs(Number(seq))) wrong++;
    expect(wrong).toBe(0);
    // pyarrow (PyPI): every file opens, one schema across the files, timestamps in microseconds.
    const py = spawnSync(process.env['SLUICE_PYTHON'] ?? 'python3', ['-c', PYARROW_CHECK, ...parquet], { encoding: 'utf8', timeout: 120_000 });
    if (py.status === 3) throw new Error('pyarrow is not installed: `npm test` provides it in .venv, or set SLUICE_PYTHON');
    expect(py.stderr).toBe('');
    const report = JSON.parse(py.stdout) as { files: number; rows: number; schemas: number; timestamp: string; micros_ok: boolean };
    expect(report).toMatchObject({ files: parquet.length, rows: n, schemas: 1, micros_ok: true });
    expect(report.timestamp).toMatch(/^timestamp\[us/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const PYARROW_CHECK = `
import json, sys
try:
    import pyarrow.parquet as pq
except ImportError:
    sys.exit(3)
schemas, rows, ts_type, ok = set(), 0, None, True
for f in sys.argv[1:]:
    t = pq.read_table(f)
    schemas.add(str(t.schema.remove_metadata()))
    rows += t.num_rows
    col = t.column('timestamp')
    ts_type = str(col.type)
    ok = ok and col.type.unit == 'us'
print(json.dumps({"files": len(sys.argv) - 1, "rows": rows, "schemas": len(schemas), "timestamp": ts_type, "micros_ok": ok}))
`;

async function circuitOpen(p: ServiceProcess, stage: string): Promise<number> {
  const m = await scrape(p);
  return m.get(`sluice_sink_circuit_open{stage="${stage}"}`) ?? 0;
}

/**
 * `server` stopped for 60 s mid-stream: the other store's writer covers every record
 * meanwhile (bulkhead: `meanwhile` counts them) and the stopped one's circuit (`stage`)
 * opens; once the server is back it closes, and nothing is lost or written twice.
 */
function serverDown(title: string, label: string, server: 'elasticsearch' | 's3', stage: string, first: [string, (runId: string) => Promise<number>], meanwhile: [string, (runId: string) => Promise<number>]): void {
  maybe(title, async () => {
    const { runId, feed, env, logDir } = await setup(label);
    procs = await startServices({ env, logDir, names: ['sink'] });
    await waitReady(procs);
    await feed.send(1000);
    await waitFor(first[0], () => first[1](runId), (x) => x >= 1000, 60_000);

    stack('stop', server);
    const downAt = Date.now();
    await feed.stream(2000, 15_000);
    await waitFor(meanwhile[0], () => meanwhile[1](runId), (x) => x >= feed.sent, 40_000);
    expect(await circuitOpen(procs[0]!, stage)).toBe(1);
    await new Promise((r) => setTimeout(r, Math.max(0, 60_000 - (Date.now() - downAt))));
    stack('start', server);
    await feed.send(500);
    await verifyStores(runId, feed);
    expect(await circuitOpen(procs[0]!, stage)).toBe(0);
    await feed.close();
  }, 420_000);
}

serverDown('Elasticsearch down for 60 s: Parquet keeps writing; afterwards nothing lost, nothing twice', 'esdown', 'elasticsearch', 'sink-es', ['the first records in Elasticsearch', esDocs], ['Parquet to cover every record while Elasticsearch is down', parquetCovered]);

serverDown('S3 down for 60 s: Elasticsearch keeps writing; afterwards nothing lost, nothing twice', 's3down', 's3', 'sink-parquet', ['the first Parquet objects', parquetCovered], ['Elasticsearch to hold every record while S3 is down', esDocs]);

maybe('SIGKILL mid-batch, twice, restarted with other batch sizes: nothing lost, no event in two objects', async () => {
  const { runId, feed, env, logDir } = await setup('sinkkill', { SLUICE_SINK_PARQUET_MAX_AGE_MS: '60000', SLUICE_SINK_PARQUET_MAX_ROWS: '3000' });
  for (let i = 0; i < 6; i++) await feed.send(5000);
  for (const [round, rows] of [[1, '3000'], [2, '1700']] as const) {
    procs = await startServices({ env: { ...env, SLUICE_SINK_PARQUET_MAX_ROWS: rows }, logDir, names: ['sink'] });
    await waitReady(procs);
    // Kill once both writers are under way: some documents and objects written, not all.
    const target = (feed.sent * round) / 3;
    await waitFor(`round ${round}: writers under way`, async () => Math.min(await esDocs(runId), await parquetCovered(runId)), (x) => x >= target * 0.3, 120_000);
    procs[0]!.child.kill('SIGKILL');
    await procs[0]!.exited;
    procs = [];
  }
  // Restarted with a third batch size: the batches start where the commits were, with other boundaries.
  procs = await startServices({ env: { ...env, SLUICE_SINK_PARQUET_MAX_ROWS: '2300', SLUICE_SINK_PARQUET_MAX_AGE_MS: '1000' }, logDir, names: ['sink'] });
  await waitReady(procs);
  await verifyStores(runId, feed);
  await feed.close();
}, 420_000);
