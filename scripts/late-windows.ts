/**
 * `npm run check:late-windows`: how many metric window documents late events make, and
 * whether their sums are exact (issue #11: "Replaying 100,000 lines 1.5 hours old, and a
 * live run with the enricher SIGKILLed and restarted, each yield metric windows
 * ≤ 2 × (series × windows touched), with sums equal to a DuckDB recomputation from
 * Parquet").
 *
 * Each scenario is a run of the four services (dist/, scripts/lib/services.ts) on the
 * local stack with its own topics, groups, tenant and S3 prefix:
 * - backfill: a live pipeline (by default: a few seconds of the seeded generator's lines
 *   at the current time first, so every service's watermark is "now"; --no-prime skips
 *   it) is sent --events lines of the generator (scripts/lib/generator.ts) whose event
 *   times lie --age-minutes (90) in the past, spread over --span-seconds (60) of event
 *   time, as fast as one producer goes. Every backfilled line is then late for the
 *   enricher, and lands in late delta windows (the prime's lines count in "lines in" and
 *   in the recomputation like the others);
 * - enricher-kill: --events lines with event times now, produced at a steady rate over
 *   --live-seconds (60) in 100 ms ticks as the generator emits them; after half the lines
 *   the enricher is SIGKILLed and started again 5 s later with the same environment.
 * Then it waits until every line is in Parquet (the sink's rows counter) and the metric
 * windows stop changing (the enricher has had no input for window + lateness + idle
 * time + 5 s, and the sink's Parquet metric rows and the Elasticsearch metrics count
 * have not moved for 8 s), stops the services (each drains, flushes and commits) and
 * counts, with DuckDB over the downloaded objects:
 * - logs in Parquet: rows and distinct event ids (each must equal the lines in);
 * - metric window documents: Parquet rows of the metrics dataset (the main source),
 *   distinct window ids, and Elasticsearch's sluice-metrics-<tenant>-* count (a cross-check:
 *   the document id is the window id, so it must equal the distinct ids);
 * - series × windows touched: distinct (tenant, series, window_start) pairs, and the
 *   ratio documents / pairs, which must be ≤ 2;
 * - per (series, window), the sums of count, error_count and duration_sum_us over all
 *   its documents (the on-time one and the late deltas) against the recomputation from
 *   the logs in Parquet (the SQL of test/enricher-e2e.test.ts), exactly.
 * Prints a Markdown table; exits 1 if any check fails. Everything of a run (topics,
 * groups, indices, objects) is deleted at the end unless --keep.
 *
 *   npm run check:late-windows -- [--events 100000] [--scenario backfill|enricher-kill|both] [--keep]
 *                                  [--seed 2026] [--age-minutes 90] [--span-seconds 60] [--no-prime]
 *                                  [--live-seconds 60] [--timeout-seconds 900]
 *
 * Service logs go to .stack/logs/late-windows/<run>/. Needs the local stack (`npm run stack up`).
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hostname, cpus } from 'node:os';
import { DeleteObjectsCommand, GetObjectCommand } from '@aws-sdk/client-s3';
import { DuckDBInstance } from '@duckdb/node-api';
import kafkajs from 'kafkajs';
import type { Client } from '@elastic/elasticsearch';
import { createEsClient } from '../services/sink/es-writer.js';
import { createS3Client } from '../services/sink/object-store.js';
import { repoRoot } from '../shared/schemas.js';
import type { KafkaClient } from '../shared/kafka.js';
import { arg, benchKafka, deleteRun, fmt, isolatedEnv, runMain } from './lib/bench-common.js';
import { generate, type KafkaMessage } from './lib/generator.js';
import { esCount, listObjects } from './lib/probes.js';
import { scrape, startServices, stopServices, waitReady, type ServiceProcess } from './lib/services.js';

type Scenario = 'backfill' | 'enricher-kill';
const SCENARIO_ARG = (() => {
  const i = process.argv.indexOf('--scenario');
  return i >= 0 ? (process.argv[i + 1] ?? '') : 'both';
})();
const EVENTS = Math.round(arg('--events', 100_000));
const SEED = arg('--seed', 2026);
const AGE_MINUTES = arg('--age-minutes', 90);
const SPAN_SECONDS = arg('--span-seconds', 60);
const LIVE_SECONDS = arg('--live-seconds', 60);
const TIMEOUT_MS = arg('--timeout-seconds', 900) * 1000;
const KEEP = process.argv.includes('--keep');
const PRIME = !process.argv.includes('--no-prime');
/** The enricher's settings here (its defaults, but a short idle time). */
const WINDOW_MS = 10_000;
const LATENESS_MS = 5_000;
const IDLE_AFTER_MS = 2_000;
const KILL_DOWN_MS = 5_000;
const S3 = {
  endpoint: process.env['SLUICE_S3_ENDPOINT'] || 'http://127.0.0.1:9000',
  bucket: process.env['SLUICE_S3_BUCKET'] || 'sluice',
  accessKey: process.env['SLUICE_S3_ACCESS_KEY'] || 'sluice',
  secretKey: process.env['SLUICE_S3_SECRET_KEY'] || 'sluice-local-secret',
};
type S3 = ReturnType<typeof createS3Client>;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const t0Process = Date.now();
const say = (s: string) => process.stdout.write(`[late-windows +${((Date.now() - t0Process) / 1000).toFixed(0)}s] ${s}\n`);

/**
 * The first `n` lines of the seeded generator in emission order, with event times from
 * `startAt()` over about `seconds` (late lines off: the lateness under test is the
 * scenario's, not the generator's). The request rate is calibrated first (the lines per
 * request vary with the mix), with the same seed at a fixed start, so that the n-th line
 * is emitted `seconds` (±10 %) after the start; only then is `startAt()` read and the
 * lines generated from it.
 */
function workload(n: number, seed: number, startAt: () => number, seconds: number, tenant: string): { startMs: number; lines: KafkaMessage[] } {
  const gen = (rps: number, start: number) => generate({ seed, rps, seconds: seconds * 1.5, startMs: start, lateRate: 0, tenant }).messages;
  const probeStart = Date.UTC(2026, 0, 1);
  let rps = Math.max(0.1, n / seconds / 10);
  for (let attempt = 0; attempt < 8; attempt++) {
    const m = gen(rps, probeStart);
    if (m.length < n) {
      rps *= 1.5;
      continue;
    }
    const spanMs = Number(m[n - 1]!.timestamp) - probeStart;
    if (Math.abs(spanMs / (seconds * 1000) - 1) <= 0.1) break;
    rps *= spanMs / (seconds * 1000);
  }
  const startMs = startAt();
  const m = gen(rps, startMs);
  if (m.length < n) throw new Error(`the generator gave ${m.length} lines, not ${n}`);
  return { startMs, lines: m.slice(0, n) };
}

function toKafka(m: KafkaMessage, tenant: string): kafkajs.Message {
  return { key: m.key, value: m.value, headers: { service: m.headers.service, tenant } };
}

/** Send `messages` in order, 2,000 per request, acks=all. */
async function produceAll(producer: kafkajs.Producer, topic: string, messages: kafkajs.Message[]): Promise<void> {
  for (let i = 0; i < messages.length; i += 2000) await producer.send({ topic, acks: -1, messages: messages.slice(i, i + 2000) });
}

/** One Prometheus sample of a process (exact name and labels), 0 when absent or unreachable. */
async function sample(p: ServiceProcess | undefined, key: string): Promise<number> {
  if (!p) return 0;
  return (await scrape(p)).get(key) ?? 0;
}

interface RunResult {
  scenario: Scenario;
  runId: string;
  linesIn: number;
  /** Lines of the live prime (backfill) included in linesIn. */
  primeLines: number;
  logsRows: number;
  logsDistinct: number;
  docsParquet: number;
  docsDistinctIds: number;
  docsEs: number;
  lateDocs: number;
  lateEvents: number;
  pairs: number;
  pairsWithLate: number;
  pairsOverTwo: number;
  maxDocsPerPair: number;
  expectedPairs: number;
  missingPairs: number;
  extraPairs: number;
  differingPairs: number;
  differences: string[];
  worst: string[];
  produceSeconds: number;
  settleSeconds: number;
  totalSeconds: number;
  notes: string[];
}

/** The checks a run must pass, as failure messages (empty: passed). */
function failures(r: RunResult): string[] {
  const f: string[] = [];
  if (r.logsRows !== r.linesIn || r.logsDistinct !== r.linesIn) f.push(`logs in Parquet ${r.logsRows} rows / ${r.logsDistinct} distinct ids, not ${r.linesIn}`);
  if (r.docsParquet !== r.docsDistinctIds) f.push(`${r.docsParquet - r.docsDistinctIds} metric window documents in Parquet share a window id with another`);
  if (r.docsEs !== r.docsDistinctIds) f.push(`Elasticsearch holds ${r.docsEs} metric window documents, Parquet ${r.docsDistinctIds} distinct window ids`);
  if (!(r.docsParquet <= 2 * r.pairs)) f.push(`${r.docsParquet} metric window documents for ${r.pairs} (series, window) pairs: ${(r.docsParquet / r.pairs).toFixed(2)} > 2`);
  if (r.missingPairs + r.extraPairs + r.differingPairs > 0) f.push(`(series, window) sums: ${r.missingPairs} missing, ${r.extraPairs} extra, ${r.differingPairs} different from the recomputation`);
  return f;
}

/** Download every object under `prefix` into `dir` (one file per object); returns how many. */
async function download(s3: S3, prefix: string, dir: string): Promise<number> {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const objects = (await listObjects(s3, S3.bucket, prefix)).filter((o) => o.key.endsWith('.parquet'));
  for (const [i, o] of objects.entries()) {
    const r = await s3.send(new GetObjectCommand({ Bucket: S3.bucket, Key: o.key }));
    writeFileSync(join(dir, `${i}.parquet`), await r.Body!.transformToByteArray());
  }
  return objects.length;
}

const n = (v: unknown): number => Number(v);
const keyOf = (tenant: unknown, service: unknown, route: unknown, method: unknown, sc: unknown, level: unknown, w: unknown): string =>
  JSON.stringify([tenant, service, route, method, sc, level, String(w)]);

interface Sums {
  count: number;
  errors: number;
  durationSum: number;
}

/**
 * The counts of one run from its Parquet objects (DuckDB) and Elasticsearch. The
 * recomputation is test/enricher-e2e.test.ts's: a log series per (service, level), an
 * HTTP series per (service, route, method, status class) for records with a status in
 * 100..599 or a duration ≥ 0; errors = level ERROR/FATAL (HTTP: or status ≥ 500).
 */
async function analyse(r: RunResult, s3: S3, es: Client, scratch: string): Promise<void> {
  const logsDir = join(scratch, 'logs');
  const metricsDir = join(scratch, 'metrics');
  const logObjects = await download(s3, `${r.runId}/logs/`, logsDir);
  const metricObjects = await download(s3, `${r.runId}/metrics/`, metricsDir);
  r.notes.push(`${logObjects} log objects, ${metricObjects} metric objects in Parquet`);
  r.docsEs = await esCount(es, `sluice-metrics-${r.runId}-*`);
  if (logObjects === 0 || metricObjects === 0) return;
  const instance = await DuckDBInstance.create(':memory:');
  const db = await instance.connect();
  const rows = async (sql: string) => (await db.runAndReadAll(sql)).getRows();
  try {
    const logs = `read_parquet('${logsDir}/*.parquet')`;
    const metrics = `read_parquet('${metricsDir}/*.parquet')`;
    const [lr] = await rows(`select count(*)::BIGINT, count(distinct event_id)::BIGINT from ${logs}`);
    r.logsRows = n(lr![0]);
    r.logsDistinct = n(lr![1]);
    const [mr] = await rows(`select count(*)::BIGINT, count(distinct window_id)::BIGINT, (count(*) filter (where late_count > 0))::BIGINT, coalesce(sum(late_count), 0)::BIGINT from ${metrics}`);
    r.docsParquet = n(mr![0]);
    r.docsDistinctIds = n(mr![1]);
    r.lateDocs = n(mr![2]);
    r.lateEvents = n(mr![3]);

    // --- The recomputation from the logs (test/enricher-e2e.test.ts). ---
    const expected = new Map<string, Sums>();
    const win = `(epoch_us("timestamp") // ${WINDOW_MS * 1000}) * ${WINDOW_MS * 1000}`;
    for (const [tenant, service, level, w, c, e] of await rows(`select tenant, service, level, ${win} as w, count(*)::BIGINT, count(*) filter (where level in ('ERROR','FATAL'))::BIGINT from ${logs} group by all`)) {
      expected.set(keyOf(tenant, service, null, null, null, level, w), { count: n(c), errors: n(e), durationSum: 0 });
    }
    const httpLike = `(http_status between 100 and 599) or http_duration_us >= 0`;
    const statusClass = `case when http_status between 100 and 599 then (http_status // 100)::VARCHAR || 'xx' end`;
    for (const [tenant, service, route, method, sc, w, c, e, d] of await rows(
      `select tenant, service, http_route, http_method, ${statusClass} as sc, ${win} as w, count(*)::BIGINT, count(*) filter (where http_status >= 500 or level in ('ERROR','FATAL'))::BIGINT, coalesce(sum(http_duration_us), 0)::BIGINT from ${logs} where ${httpLike} group by all`,
    )) {
      expected.set(keyOf(tenant, service, route, method, sc, null, w), { count: n(c), errors: n(e), durationSum: n(d) });
    }

    // --- The windows: every document of a (series, window), on time and late, summed. ---
    const actual = new Map<string, Sums & { docs: number; late: number; lateDocs: number }>();
    for (const [tenant, service, route, method, sc, level, w, docs, c, e, d, late, lateDocs] of await rows(
      `select tenant, series_service, series_route, series_method, series_status_class, series_level, epoch_us(window_start) as w, count(*)::BIGINT,
              sum("count")::BIGINT, sum(error_count)::BIGINT, sum(duration_sum_us)::BIGINT, sum(late_count)::BIGINT, (count(*) filter (where late_count > 0))::BIGINT
       from ${metrics} group by all`,
    )) {
      actual.set(keyOf(tenant, service, route, method, sc, level, w), { docs: n(docs), count: n(c), errors: n(e), durationSum: n(d), late: n(late), lateDocs: n(lateDocs) });
    }
    r.pairs = actual.size;
    r.expectedPairs = expected.size;
    r.pairsWithLate = [...actual.values()].filter((a) => a.lateDocs > 0).length;
    r.pairsOverTwo = [...actual.values()].filter((a) => a.docs > 2).length;
    r.maxDocsPerPair = Math.max(0, ...[...actual.values()].map((a) => a.docs));
    for (const [k, want] of expected) {
      const got = actual.get(k);
      if (!got) {
        r.missingPairs++;
        if (r.differences.length < 10) r.differences.push(`missing ${k}: want ${JSON.stringify(want)}`);
      } else if (got.count !== want.count || got.errors !== want.errors || got.durationSum !== want.durationSum) {
        r.differingPairs++;
        if (r.differences.length < 10) r.differences.push(`${k}: got count ${got.count} errors ${got.errors} duration ${got.durationSum} over ${got.docs} documents, want ${JSON.stringify(want)}`);
      }
    }
    for (const [k, got] of actual) {
      if (!expected.has(k)) {
        r.extraPairs++;
        if (r.differences.length < 10) r.differences.push(`extra ${k}: ${JSON.stringify(got)}`);
      }
    }
    r.worst = [...actual.entries()]
      .sort((a, b) => b[1].docs - a[1].docs)
      .slice(0, 5)
      .map(([k, a]) => {
        const [, service, route, method, sc, level, w] = JSON.parse(k) as unknown[];
        const series = level !== null ? `${String(service)} ${String(level)}` : `${String(service)} ${String(method)} ${String(route)} ${String(sc)}`;
        return `${series} @ ${new Date(Number(w) / 1000).toISOString()}: ${a.docs} documents (${a.lateDocs} late deltas holding ${a.late} of ${a.count} events)`;
      });
  } finally {
    db.closeSync();
    instance.closeSync();
  }
}

/**
 * Wait until every line is in Parquet and the metric windows stop changing: the enricher
 * has read nothing new for window + lateness + idle + 5 s (its last windows are closed by
 * the idle flush by then), and neither the sink's Parquet metric rows nor the
 * Elasticsearch metrics count moved for 8 s. Returns the seconds it took.
 */
async function settle(procs: () => readonly ServiceProcess[], es: Client, tenant: string, lines: number): Promise<number> {
  const start = Date.now();
  const quietInput = WINDOW_MS + LATENESS_MS + IDLE_AFTER_MS + 5_000;
  const quietOutput = 8_000;
  let lastInput = -1;
  let lastOutput = '';
  let inputAt = Date.now();
  let outputAt = Date.now();
  let lastSay = 0;
  for (;;) {
    const ps = procs();
    const sink = ps.find((p) => p.name === 'sink');
    const enricher = ps.find((p) => p.name === 'enricher');
    const sinkMetrics = sink ? await scrape(sink) : new Map<string, number>();
    const logRows = sinkMetrics.get('sluice_parquet_rows_total{dataset="logs"}') ?? 0;
    const metricRows = sinkMetrics.get('sluice_parquet_rows_total{dataset="metrics"}') ?? 0;
    const input = await sample(enricher, 'sluice_records_received_total{stage="enricher"}');
    const esMetrics = await esCount(es, `sluice-metrics-${tenant}-*`);
    const output = `${metricRows}/${esMetrics}`;
    const now = Date.now();
    if (input !== lastInput) {
      lastInput = input;
      inputAt = now;
    }
    if (output !== lastOutput) {
      lastOutput = output;
      outputAt = now;
    }
    if (logRows >= lines && now - inputAt >= quietInput && now - outputAt >= quietOutput) return (now - start) / 1000;
    if (now - lastSay >= 10_000) {
      say(`  waiting: logs in Parquet ${fmt(logRows)}/${fmt(lines)}, metric rows in Parquet ${fmt(metricRows)}, in Elasticsearch ${fmt(esMetrics)}, enricher read ${fmt(input)} (this process)`);
      lastSay = now;
    }
    if (now - start > TIMEOUT_MS) throw new Error(`not settled after ${TIMEOUT_MS / 1000} s: logs in Parquet ${logRows}/${lines}, metric rows ${metricRows}, Elasticsearch ${esMetrics}`);
    await sleep(1000);
  }
}

async function runScenario(scenario: Scenario, kafka: KafkaClient, es: Client, s3: S3): Promise<RunResult> {
  const started = Date.now();
  const runId = `lw${scenario === 'backfill' ? 'b' : 'k'}${Date.now().toString(36)}`;
  const tenant = runId;
  const r: RunResult = {
    scenario, runId, linesIn: 0, primeLines: 0, logsRows: 0, logsDistinct: 0, docsParquet: 0, docsDistinctIds: 0, docsEs: 0, lateDocs: 0, lateEvents: 0, pairs: 0, pairsWithLate: 0, pairsOverTwo: 0,
    maxDocsPerPair: 0, expectedPairs: 0, missingPairs: 0, extraPairs: 0, differingPairs: 0, differences: [], worst: [], produceSeconds: NaN, settleSeconds: NaN, totalSeconds: NaN, notes: [],
  };
  const env: NodeJS.ProcessEnv = {
    ...isolatedEnv(runId, ['COLLECTOR', 'NORMALIZER', 'ENRICHER', 'ENRICHER_TRACES', 'SINK_ES', 'SINK_PARQUET']),
    SLUICE_LOG_LEVEL: 'info',
    SLUICE_S3_PREFIX: runId,
    SLUICE_ENRICHER_WINDOW_MS: String(WINDOW_MS),
    SLUICE_ENRICHER_ALLOWED_LATENESS_MS: String(LATENESS_MS),
    SLUICE_ENRICHER_IDLE_AFTER_MS: String(IDLE_AFTER_MS),
    SLUICE_SINK_ES_MAX_AGE_MS: '300',
    SLUICE_SINK_PARQUET_MAX_AGE_MS: '2000',
  };
  const logDir = join(repoRoot(), '.stack', 'logs', 'late-windows', runId);
  const topic = `${runId}.logs.raw`;
  say(`${scenario}: run ${runId}, service logs in ${logDir}`);
  let procs: ServiceProcess[] = [];
  const stopOnSignal = () => {
    void stopServices(procs).finally(() => process.exit(130));
  };
  process.once('SIGINT', stopOnSignal);
  try {
    procs = await startServices({ env, logDir });
    await waitReady(procs);
    const producer = kafka.producer({ createPartitioner: kafkajs.Partitioners.DefaultPartitioner });
    await producer.connect();
    try {
      if (scenario === 'backfill') {
        if (PRIME) {
          // A live pipeline: each service's watermark is at the current time before the backfill.
          const prime = generate({ seed: SEED + 1, rps: 10, seconds: 5, startMs: Date.now() - 5_000, lateRate: 0, tenant }).messages;
          await produceAll(producer, topic, prime.map((m) => toKafka(m, tenant)));
          r.primeLines = prime.length;
          const enricher = procs.find((p) => p.name === 'enricher');
          for (const deadline = Date.now() + 120_000; (await sample(enricher, 'sluice_records_received_total{stage="enricher"}')) < prime.length; ) {
            if (Date.now() > deadline) throw new Error('the live prime did not reach the enricher in 120 s');
            await sleep(250);
          }
          say(`${scenario}: ${fmt(prime.length)} live lines (event times now) read by the enricher`);
        }
        const { startMs, lines } = workload(EVENTS, SEED, () => Date.now() - AGE_MINUTES * 60_000, SPAN_SECONDS, tenant);
        say(`${scenario}: producing ${fmt(lines.length)} lines with event times ${AGE_MINUTES} min old (${SPAN_SECONDS} s of event time from ${new Date(startMs).toISOString()}) as fast as possible`);
        const t = Date.now();
        await produceAll(producer, topic, lines.map((m) => toKafka(m, tenant)));
        r.produceSeconds = (Date.now() - t) / 1000;
        r.linesIn = r.primeLines + lines.length;
      } else {
        // Event times now: the generator's clock starts at the first send, and each line is
        // sent once the wall clock reaches its emission time (100 ms ticks).
        const { startMs, lines } = workload(EVENTS, SEED, () => Date.now() + 5_000, LIVE_SECONDS, tenant);
        const messages = lines.map((m) => toKafka(m, tenant));
        const emitAt = lines.map((m) => Number(m.timestamp));
        say(`${scenario}: producing ${fmt(lines.length)} lines live over about ${LIVE_SECONDS} s; the enricher is SIGKILLed after half and restarted ${KILL_DOWN_MS / 1000} s later`);
        const behindMs = Date.now() - startMs;
        if (behindMs > 0) r.notes.push(`generating the lines ended ${behindMs} ms after their start: the first ones were sent that late`);
        let killTask: Promise<void> | undefined;
        const t = Date.now();
        for (let i = 0; i < messages.length; ) {
          const now = Date.now();
          let j = i;
          while (j < messages.length && emitAt[j]! <= now) j++;
          if (j > i) await produceAll(producer, topic, messages.slice(i, j));
          i = j;
          if (!killTask && i >= messages.length / 2) {
            killTask = (async () => {
              const k = procs.findIndex((p) => p.name === 'enricher');
              const enricher = procs[k]!;
              const killedAt = Date.now();
              enricher.child.kill('SIGKILL');
              await enricher.exited;
              say(`${scenario}: enricher (pid ${enricher.child.pid}) SIGKILLed after ${fmt(i)} lines sent, ${((killedAt - t) / 1000).toFixed(1)} s into the feed`);
              await sleep(KILL_DOWN_MS);
              const [again] = await startServices({ env, logDir, names: ['enricher'] });
              procs[k] = again!;
              await waitReady([again!]);
              say(`${scenario}: enricher restarted (pid ${again!.child.pid}), ready ${((Date.now() - killedAt) / 1000).toFixed(1)} s after the kill`);
              r.notes.push(`enricher SIGKILLed ${((killedAt - t) / 1000).toFixed(1)} s into the feed after ${fmt(i)} lines, started again ${KILL_DOWN_MS / 1000} s later, ready ${((Date.now() - killedAt) / 1000).toFixed(1)} s after the kill`);
            })();
          }
          if (i < messages.length) await sleep(Math.max(0, Math.min(100, emitAt[i]! - Date.now())));
        }
        r.produceSeconds = (Date.now() - t) / 1000;
        await killTask;
        r.linesIn = lines.length;
      }
    } finally {
      await producer.disconnect();
    }
    say(`${scenario}: ${fmt(r.linesIn)} lines produced in ${r.produceSeconds.toFixed(1)} s; waiting for Parquet and the last windows`);
    r.settleSeconds = await settle(() => procs, es, tenant, r.linesIn);
    say(`${scenario}: settled ${r.settleSeconds.toFixed(1)} s after the last send; stopping the services`);
    await stopServices(procs);
    await analyse(r, s3, es, join(logDir, 'parquet'));
    rmSync(join(logDir, 'parquet'), { recursive: true, force: true });
    r.totalSeconds = (Date.now() - started) / 1000;
    return r;
  } finally {
    process.removeListener('SIGINT', stopOnSignal);
    await stopServices(procs);
    if (KEEP) say(`${scenario}: kept run ${runId} (topics ${runId}.*, indices *-${tenant}-*, objects ${S3.bucket}/${runId}/)`);
    else await cleanup(runId, tenant, kafka, es, s3);
  }
}

/** Delete a run's topics, groups, indices and objects; a failure is printed, not thrown. */
async function cleanup(runId: string, tenant: string, kafka: KafkaClient, es: Client, s3: S3): Promise<void> {
  await deleteRun(kafka, runId);
  for (const p of ['logs', 'metrics', 'spans', 'traces']) await es.indices.delete({ index: `${p}-${tenant}-*`, allow_no_indices: true, ignore_unavailable: true }).catch((err: unknown) => say(`cleanup of ${p}-${tenant}-* failed: ${String(err)}`));
  try {
    const objects = await listObjects(s3, S3.bucket, `${runId}/`);
    for (let i = 0; i < objects.length; i += 1000) {
      await s3.send(new DeleteObjectsCommand({ Bucket: S3.bucket, Delete: { Objects: objects.slice(i, i + 1000).map((o) => ({ Key: o.key })) } }));
    }
  } catch (err) {
    say(`cleanup of ${S3.bucket}/${runId}/ failed: ${String(err)}`);
  }
}

const f1 = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : '—');
const f2 = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : '—');
const mark = (ok: boolean) => (ok ? 'ok' : '**FAIL**');

function table(results: readonly RunResult[]): string {
  const col = (f: (r: RunResult) => string) => `| ${results.map(f).join(' | ')} |`;
  const ratio = (r: RunResult) => r.docsParquet / r.pairs;
  const sumsOk = (r: RunResult) => r.missingPairs + r.extraPairs + r.differingPairs === 0 && r.pairs > 0;
  const lines = [
    `| | ${results.map((r) => `${r.scenario} (${r.runId})`).join(' | ')} |`,
    `|---|${results.map(() => '---:').join('|')}|`,
    `| lines in${results.some((r) => r.primeLines > 0) ? ' (of which live prime)' : ''} ` + col((r) => `${fmt(r.linesIn)}${r.primeLines > 0 ? ` (${fmt(r.primeLines)})` : ''}`),
    `| logs in Parquet: rows / distinct event ids ` + col((r) => `${fmt(r.logsRows)} / ${fmt(r.logsDistinct)} ${mark(r.logsRows === r.linesIn && r.logsDistinct === r.linesIn)}`),
    `| metric window documents: Parquet rows / distinct window ids / Elasticsearch sluice-metrics-<tenant>-* ` +
      col((r) => `${fmt(r.docsParquet)} / ${fmt(r.docsDistinctIds)} / ${fmt(r.docsEs)} ${mark(r.docsParquet === r.docsDistinctIds && r.docsEs === r.docsDistinctIds)}`),
    `| of which late deltas (late_count > 0); their Σ late_count (an HTTP line counts in two series) ` + col((r) => `${fmt(r.lateDocs)}; ${fmt(r.lateEvents)}`),
    `| series × windows touched: distinct (series, window) pairs (with late deltas) ` + col((r) => `${fmt(r.pairs)} (${fmt(r.pairsWithLate)})`),
    `| documents / (series × windows), must be ≤ 2 ` + col((r) => `${f2(ratio(r))} ${mark(ratio(r) <= 2)}`),
    `| pairs with more than 2 documents; most documents for one pair ` + col((r) => `${fmt(r.pairsOverTwo)}; ${fmt(r.maxDocsPerPair)}`),
    `| per-pair sums of count, error_count, duration_sum_us = DuckDB recomputation from the logs in Parquet ` +
      col((r) => (sumsOk(r) ? `equal for all ${fmt(r.expectedPairs)} pairs ok` : `${fmt(r.missingPairs)} missing, ${fmt(r.extraPairs)} extra, ${fmt(r.differingPairs)} differ (of ${fmt(r.expectedPairs)}) **FAIL**`)),
    `| produce s / settle s / whole run s ` + col((r) => `${f1(r.produceSeconds)} / ${f1(r.settleSeconds)} / ${f1(r.totalSeconds)}`),
    `| result ` + col((r) => (failures(r).length === 0 ? 'PASS' : '**FAIL**')),
  ];
  return lines.join('\n');
}

async function main(): Promise<void> {
  if (!['backfill', 'enricher-kill', 'both'].includes(SCENARIO_ARG)) throw new Error(`--scenario must be backfill, enricher-kill or both, got ${SCENARIO_ARG}`);
  const scenarios: Scenario[] = SCENARIO_ARG === 'both' ? ['backfill', 'enricher-kill'] : [SCENARIO_ARG as Scenario];
  const { kafka } = benchKafka();
  const es = createEsClient({ url: process.env['SLUICE_ES_URL'] || 'http://127.0.0.1:9200', indexPrefix: 'logs' });
  const s3 = createS3Client({ endpoint: S3.endpoint, region: 'us-east-1', accessKey: S3.accessKey, secretKey: S3.secretKey, forcePathStyle: true });
  say(`${fmt(EVENTS)} lines per scenario, seed ${SEED}; scenarios: ${scenarios.join(', ')}; ${hostname()}, ${cpus().length} cores`);
  const results: RunResult[] = [];
  try {
    for (const s of scenarios) results.push(await runScenario(s, kafka, es, s3));
  } finally {
    await es.close().catch(() => undefined);
  }
  process.stdout.write(`\n### Late metric windows, ${new Date().toISOString().slice(0, 10)}, ${fmt(EVENTS)} lines per scenario\n\n${table(results)}\n`);
  for (const r of results) {
    process.stdout.write(`\n${r.scenario}: ${r.notes.join('; ')}\n`);
    if (r.worst.length > 0) process.stdout.write(`  most documents per (series, window):\n${r.worst.map((w) => `    ${w}`).join('\n')}\n`);
    if (r.differences.length > 0) process.stdout.write(`  differences from the recomputation (first ${r.differences.length}):\n${r.differences.map((d) => `    ${d}`).join('\n')}\n`);
    const f = failures(r);
    if (f.length > 0) process.stdout.write(`  FAILED: ${f.join('; ')}\n`);
  }
  if (results.some((r) => failures(r).length > 0)) {
    console.error('[late-windows] a check failed (see the table)');
    process.exitCode = 1;
  }
}

runMain(main);
