/**
 * What the whole-pipeline checks share (`npm run check:late-windows`, `npm run chaos`):
 * a seeded workload, producing it, waiting until the pipeline has settled, and counting
 * a run exactly from its Parquet objects (DuckDB) and Elasticsearch:
 * - logs in Parquet: rows and distinct event ids; logs in Elasticsearch (the document id
 *   is the event id, so the count is also the number of distinct ids);
 * - metric window documents: Parquet rows, distinct window ids, Elasticsearch count;
 * - per (series, window), the sums of count, error_count and duration_sum_us over all its
 *   documents (on time and late deltas) against a recomputation from the logs in Parquet
 *   (the SQL of test/enricher-e2e.test.ts): a log series per (service, level), an HTTP
 *   series per (service, route, method, status class) for records with a status in
 *   100..599 or a duration >= 0; errors = level ERROR/FATAL (HTTP: or status >= 500).
 * A run's Elasticsearch indices are found by tenant under any prefix: `*logs-<tenant>-*`,
 * `*metrics-<tenant>-*` (the sluice- names and the legacy ones alike).
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DeleteObjectsCommand, GetObjectCommand } from '@aws-sdk/client-s3';
import { DuckDBInstance } from '@duckdb/node-api';
import kafkajs from 'kafkajs';
import type { Client } from '@elastic/elasticsearch';
import type { createS3Client } from '../../services/sink/object-store.js';
import type { KafkaClient } from '../../shared/kafka.js';
import { withRetry } from '../../shared/retry.js';
import { deleteRun, fmt } from './bench-common.js';
import { generate, type KafkaMessage } from './generator.js';
import { esCount, listObjects } from './probes.js';
import { scrape, type ServiceProcess } from './services.js';

export type S3 = ReturnType<typeof createS3Client>;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The metric window settings both checks run the enricher with (its defaults, but a short idle time). */
export const CHECK_WINDOWS = { windowMs: 10_000, latenessMs: 5_000, idleAfterMs: 2_000 } as const;

/** The enricher and sink settings of a check run (short windows, inactivity and flushes, so a run settles quickly). */
export function checkEnv(): NodeJS.ProcessEnv {
  return {
    SLUICE_LOG_LEVEL: 'info',
    SLUICE_ENRICHER_WINDOW_MS: String(CHECK_WINDOWS.windowMs),
    SLUICE_ENRICHER_ALLOWED_LATENESS_MS: String(CHECK_WINDOWS.latenessMs),
    SLUICE_ENRICHER_IDLE_AFTER_MS: String(CHECK_WINDOWS.idleAfterMs),
    // Spans and traces close 5 s after their last line (60 s by default), so a run settles sooner.
    SLUICE_ENRICHER_SPAN_INACTIVITY_MS: '5000',
    SLUICE_ENRICHER_TRACE_INACTIVITY_MS: '5000',
    SLUICE_SINK_ES_MAX_AGE_MS: '300',
    SLUICE_SINK_PARQUET_MAX_AGE_MS: '2000',
  };
}

/**
 * The first `n` lines of the seeded generator in emission order, with event times from
 * `startAt()` over about `seconds` (late lines off: the lateness under test is the
 * caller's, not the generator's). The request rate is calibrated first (the lines per
 * request vary with the mix), with the same seed at a fixed start, so that the n-th line
 * is emitted `seconds` (±10 %) after the start; only then is `startAt()` read and the
 * lines generated from it.
 */
export function workload(n: number, seed: number, startAt: () => number, seconds: number, tenant: string): { startMs: number; lines: KafkaMessage[] } {
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

export function toKafka(m: KafkaMessage, tenant: string): kafkajs.Message {
  return { key: m.key, value: m.value, headers: { service: m.headers.service, tenant } };
}

/** How long `produceAll` keeps resending one request before it gives up: longer than any outage a case makes. */
const FEED_GIVE_UP_MS = 10 * 60_000;

/**
 * Send `messages` in order, 2,000 per request, acks=all. Like a shipper with a queue
 * (rsyslog's omkafka, Fluent Bit), a request kafkajs gives up on (a broker down longer
 * than its retries) is sent again with backoff, for up to 10 minutes: an outage delays
 * the feed, it does not drop lines. Give it an idempotent producer when a line must not
 * be written twice (a resent request whose first answer was lost is then deduplicated by
 * the broker).
 */
export async function produceAll(producer: kafkajs.Producer, topic: string, messages: kafkajs.Message[], onRetry?: (err: unknown) => void): Promise<void> {
  for (let i = 0; i < messages.length; i += 2000) {
    const chunk = messages.slice(i, i + 2000);
    await withRetry(() => producer.send({ topic, acks: -1, messages: chunk }), {
      retryable: () => true,
      policy: { baseMs: 500, capMs: 5_000 },
      maxAttempts: Math.ceil(FEED_GIVE_UP_MS / 2_500),
      onRetry: (err) => onRetry?.(err),
    });
  }
}

/**
 * Send `lines` live: each once the wall clock reaches its generator emission time
 * (100 ms ticks), the first at once. `onProgress(sent)` runs after every tick.
 */
export async function produceLive(producer: kafkajs.Producer, topic: string, lines: readonly KafkaMessage[], tenant: string, onProgress?: (sent: number) => void, onRetry?: (err: unknown) => void): Promise<void> {
  const messages = lines.map((m) => toKafka(m, tenant));
  const emitAt = lines.map((m) => Number(m.timestamp));
  for (let i = 0; i < messages.length; ) {
    const now = Date.now();
    let j = i;
    while (j < messages.length && emitAt[j]! <= now) j++;
    if (j > i) await produceAll(producer, topic, messages.slice(i, j), onRetry);
    i = j;
    onProgress?.(i);
    if (i < messages.length) await sleep(Math.max(0, Math.min(100, emitAt[i]! - Date.now())));
  }
}

/** One Prometheus sample of a process (exact name and labels), 0 when absent or unreachable. */
export async function sample(p: ServiceProcess | undefined, key: string): Promise<number> {
  if (!p) return 0;
  return (await scrape(p)).get(key) ?? 0;
}

/** Download every Parquet object under `prefix` of `bucket` into `dir` (one file per object); returns how many. */
export async function downloadParquet(s3: S3, bucket: string, prefix: string, dir: string): Promise<number> {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const objects = (await listObjects(s3, bucket, prefix)).filter((o) => o.key.endsWith('.parquet'));
  for (const [i, o] of objects.entries()) {
    const r = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: o.key }));
    writeFileSync(join(dir, `${i}.parquet`), await r.Body!.transformToByteArray());
  }
  return objects.length;
}

/** A run's counts (see the file comment). */
export interface RunCounts {
  logsRows: number;
  logsDistinct: number;
  logsEs: number;
  docsParquet: number;
  docsDistinctIds: number;
  docsEs: number;
  lateDocs: number;
  lateEvents: number;
  /** Σ count over the log-level series' documents: every log record is in exactly one. */
  levelCountSum: number;
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
  notes: string[];
}

export function emptyCounts(): RunCounts {
  return {
    logsRows: 0, logsDistinct: 0, logsEs: 0, docsParquet: 0, docsDistinctIds: 0, docsEs: 0, lateDocs: 0, lateEvents: 0, levelCountSum: 0, pairs: 0, pairsWithLate: 0, pairsOverTwo: 0,
    maxDocsPerPair: 0, expectedPairs: 0, missingPairs: 0, extraPairs: 0, differingPairs: 0, differences: [], worst: [], notes: [],
  };
}

/** Whether the per-(series, window) sums equal the recomputation. */
export const sumsExact = (r: RunCounts): boolean => r.missingPairs + r.extraPairs + r.differingPairs === 0 && r.pairs > 0;

const n = (v: unknown): number => Number(v);
const keyOf = (tenant: unknown, service: unknown, route: unknown, method: unknown, sc: unknown, level: unknown, w: unknown): string =>
  JSON.stringify([tenant, service, route, method, sc, level, String(w)]);

interface Sums {
  count: number;
  errors: number;
  durationSum: number;
}

/** Count a run (objects under `<runId>/` of `bucket`, indices of `tenant`), using `scratch` for the downloads. */
export async function countRun(r: RunCounts, o: { runId: string; tenant: string; bucket: string; s3: S3; es: Client; scratch: string }): Promise<void> {
  const logsDir = join(o.scratch, 'logs');
  const metricsDir = join(o.scratch, 'metrics');
  const logObjects = await downloadParquet(o.s3, o.bucket, `${o.runId}/logs/`, logsDir);
  const metricObjects = await downloadParquet(o.s3, o.bucket, `${o.runId}/metrics/`, metricsDir);
  r.notes.push(`${logObjects} log objects, ${metricObjects} metric objects in Parquet`);
  await o.es.indices.refresh({ index: `*logs-${o.tenant}-*,*metrics-${o.tenant}-*`, allow_no_indices: true, ignore_unavailable: true }).catch(() => undefined);
  r.logsEs = await esCount(o.es, `*logs-${o.tenant}-*`);
  r.docsEs = await esCount(o.es, `*metrics-${o.tenant}-*`);
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
    const [mr] = await rows(
      `select count(*)::BIGINT, count(distinct window_id)::BIGINT, (count(*) filter (where late_count > 0))::BIGINT, coalesce(sum(late_count), 0)::BIGINT, coalesce(sum("count") filter (where series_level is not null), 0)::BIGINT from ${metrics}`,
    );
    r.docsParquet = n(mr![0]);
    r.docsDistinctIds = n(mr![1]);
    r.lateDocs = n(mr![2]);
    r.lateEvents = n(mr![3]);
    r.levelCountSum = n(mr![4]);

    // --- The recomputation from the logs (test/enricher-e2e.test.ts). ---
    const expected = new Map<string, Sums>();
    const win = `(epoch_us("timestamp") // ${CHECK_WINDOWS.windowMs * 1000}) * ${CHECK_WINDOWS.windowMs * 1000}`;
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
 * Wait until every line is in Parquet (the sink's rows counter; with `esToo`, also
 * searchable in Elasticsearch) and the metric windows stop changing: the enricher has read
 * nothing new for window + lateness + idle + 5 s (its last windows are closed by the idle
 * flush by then), and neither the sink's Parquet metric rows, the Elasticsearch metrics
 * count nor what the enricher holds (sluice_records_held) moved for 8 s. `procs()` is read on every poll (a restarted service replaces its
 * entry, with counters from 0 again: a check that restarts the sink passes `parquetRows`).
 * Returns the seconds it took, and when every line was first stored (ms since the epoch);
 * throws after `timeoutMs`.
 */
export async function settle(o: {
  procs: () => readonly ServiceProcess[];
  es: Client;
  tenant: string;
  lines: number;
  timeoutMs: number;
  say: (s: string) => void;
  /** Rows of the logs dataset durable in Parquet; default: the sink's counter (which a restart of the sink resets). */
  parquetRows?: () => Promise<number>;
  esToo?: boolean;
}): Promise<{ seconds: number; storedAtMs: number }> {
  const start = Date.now();
  const quietInput = CHECK_WINDOWS.windowMs + CHECK_WINDOWS.latenessMs + CHECK_WINDOWS.idleAfterMs + 5_000;
  const quietOutput = 8_000;
  let lastInput = -1;
  let lastOutput = '';
  let inputAt = Date.now();
  let outputAt = Date.now();
  let lastSay = 0;
  let storedAtMs = NaN;
  for (;;) {
    const ps = o.procs();
    const sink = ps.find((p) => p.name === 'sink');
    const enricher = ps.find((p) => p.name === 'enricher');
    const sinkMetrics = sink ? await scrape(sink) : new Map<string, number>();
    const logRows = o.parquetRows ? await o.parquetRows() : (sinkMetrics.get('sluice_parquet_rows_total{dataset="logs"}') ?? 0);
    const metricRows = sinkMetrics.get('sluice_parquet_rows_total{dataset="metrics"}') ?? 0;
    const input = await sample(enricher, 'sluice_records_received_total{stage="enricher"}');
    // What the enricher holds (open windows, spans): a graceful stop leaves it to the next owner, so it must be at
    // rest. Spans close on event time and may stay held without new input: settled is "not changing", not 0.
    const held = await sample(enricher, 'sluice_records_held{stage="enricher"}');
    const esMetrics = await esCount(o.es, `*metrics-${o.tenant}-*`);
    const esLogs = o.esToo ? await esCount(o.es, `*logs-${o.tenant}-*`) : o.lines;
    const output = `${metricRows}/${esMetrics}/${held}`;
    const now = Date.now();
    if (input !== lastInput) {
      lastInput = input;
      inputAt = now;
    }
    if (output !== lastOutput) {
      lastOutput = output;
      outputAt = now;
    }
    if (logRows >= o.lines && esLogs >= o.lines && Number.isNaN(storedAtMs)) storedAtMs = now;
    if (logRows >= o.lines && esLogs >= o.lines && now - inputAt >= quietInput && now - outputAt >= quietOutput) return { seconds: (now - start) / 1000, storedAtMs };
    if (now - lastSay >= 10_000) {
      o.say(`  waiting: logs in Parquet ${fmt(logRows)}/${fmt(o.lines)}${o.esToo ? `, searchable ${fmt(esLogs)}` : ''}, metric rows in Parquet ${fmt(metricRows)}, in Elasticsearch ${fmt(esMetrics)}, enricher read ${fmt(input)} (this process), holds ${fmt(held)}`);
      lastSay = now;
    }
    if (now - start > o.timeoutMs) throw new Error(`not settled after ${o.timeoutMs / 1000} s: logs in Parquet ${logRows}/${o.lines}${o.esToo ? `, searchable ${esLogs}` : ''}, metric rows ${metricRows}, Elasticsearch ${esMetrics}`);
    await sleep(1000);
  }
}

/** Delete a run's topics, groups, indices and objects; a failure is printed, not thrown. */
export async function cleanupRun(o: { runId: string; tenant: string; bucket: string; kafka: KafkaClient; es: Client; s3: S3; say: (s: string) => void }): Promise<void> {
  await deleteRun(o.kafka, o.runId);
  for (const p of ['logs', 'metrics', 'spans', 'traces']) {
    await o.es.indices.delete({ index: `*${p}-${o.tenant}-*`, allow_no_indices: true, ignore_unavailable: true }).catch((err: unknown) => o.say(`cleanup of *${p}-${o.tenant}-* failed: ${String(err)}`));
  }
  try {
    const objects = await listObjects(o.s3, o.bucket, `${o.runId}/`);
    for (let i = 0; i < objects.length; i += 1000) {
      await o.s3.send(new DeleteObjectsCommand({ Bucket: o.bucket, Delete: { Objects: objects.slice(i, i + 1000).map((x) => ({ Key: x.key })) } }));
    }
  } catch (err) {
    o.say(`cleanup of ${o.bucket}/${o.runId}/ failed: ${String(err)}`);
  }
}
