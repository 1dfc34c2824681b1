/**
 * One set of stages, two transports (docs/architecture.md): the same input through the
 * Kafka pipeline (collector, normalizer, enricher as processes, real Kafka and registry,
 * one partition per topic) and through `sluice parse --enrich --derived` (the built CLI:
 * the same stages on the MemoryRunner) gives the same records.
 *
 * Input, in this order on one raw topic: the head of five real logs of the corpus (HDFS,
 * ZooKeeper, Apache access, Kafka broker logs with multi-line stack traces, Loki logfmt)
 * with a tenant header, then the seeded generator's services (W3C trace context,
 * access lines with durations) with their own keys, headers and timestamps. The CLI
 * reads the same messages as a `kcat -C -J` dump (`--kcat --topic <the raw topic>`).
 *
 * Asserted, byte for byte after sorting: logs.enriched equals the CLI's stdout;
 * the on-time windows of metrics.derived, traces.spans and traces.summaries equal its
 * derived files, and the late deltas add up to the same per series window (they merge
 * per input batch, and batches are the transport's); the dead letters by code equal its
 * summary. The only field set aside is observed_at, the
 * collector's wall clock (the CLI's clock is fixed at its start).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import kafkajs from 'kafkajs';
import { repoRoot } from '../shared/schemas.js';
import type { DeadLetter, LogRecord, MetricWindow, Span, TraceSummary } from '../shared/records.js';
import { generate } from '../scripts/lib/generator.js';
import { startServices, stopServices, waitReady, type ServiceProcess } from '../scripts/lib/services.js';
import { metricToNdjson, spanToNdjson, toNdjson, traceToNdjson } from '../bin/parse-pipeline.js';
import { cleanup, clients, codecsFor, isolatedEnv, newRunId, readAll, topicName, waitFor } from './helpers.js';

const runId = newRunId('conf');
const tenant = runId;
const c = clients('conf');
const corpus = resolve(process.env['SLUICE_CORPUS_DIR'] || join(repoRoot(), '..', 'shared', 'corpus'));
/** Corpus files and how many of their first lines are used. */
const CORPUS = [
  ['loghub/HDFS/HDFS_2k.log', 600],
  ['loghub/Zookeeper/Zookeeper_2k.log', 600],
  ['elastic-examples/apache_logs/apache_logs', 600],
  ['elastic-examples/kafka_monitoring/kafka0/logs/server.log.2016-12-19-20', 721],
  ['elastic-examples/kafka_monitoring/kafka0/logs/controller.log.2016-12-19-18', 1032],
  ['loki-drain/distributor-logfmt.txt', 600],
] as const;
/** The Kafka timestamp of every corpus line. */
const MTIME = Date.UTC(2026, 10, 30, 12, 0, 0);
/** Short event-time settings, so everything derived closes soon after the input ends. */
const SETTINGS = {
  SLUICE_ENRICHER_WINDOW_MS: '10000',
  SLUICE_ENRICHER_ALLOWED_LATENESS_MS: '5000',
  SLUICE_ENRICHER_SPAN_INACTIVITY_MS: '5000',
  SLUICE_ENRICHER_TRACE_INACTIVITY_MS: '10000',
  // The end of the input is the one moment whose outcome depends on timing on Kafka: the
  // collector emits the last held multi-line events after its timeout, and the enricher,
  // behind the collector by however long it takes to catch up, advances its watermarks once
  // idle. The timeout is kept far below the idle time, so the last events always arrive
  // before anything closes, on both runners.
  SLUICE_COLLECTOR_MULTILINE_TIMEOUT_MS: '1000',
  SLUICE_ENRICHER_IDLE_AFTER_MS: '8000',
};
let procs: ServiceProcess[] = [];
let dir = '';

afterAll(async () => {
  await stopServices(procs);
  if (dir) rmSync(dir, { recursive: true, force: true });
  await cleanup(c, runId, tenant).catch((err: unknown) => console.warn(`cleanup failed: ${String(err)}`));
}, 120_000);

/** The lines of `a` not matched one for one in `b`. */
function without(a: readonly string[], b: readonly string[]): string[] {
  const left = new Map<string, number>();
  for (const l of b) left.set(l, (left.get(l) ?? 0) + 1);
  return a.filter((l) => {
    const n = left.get(l) ?? 0;
    if (n > 0) left.set(l, n - 1);
    return n === 0;
  });
}

/** On-time metric windows (late_count 0): the same records on both runners. */
const onTime = (lines: readonly string[]): string[] => lines.filter((l) => (JSON.parse(l) as MetricWindow).late_count === 0);
/**
 * Late deltas summed per series window: late records merge into one delta per series
 * window and input batch, and batches are the transport's (a Kafka fetch, 500 lines of
 * `sluice parse`), so the deltas are compared by what they add up to.
 */
function lateSums(lines: readonly string[]): string[] {
  const sums = new Map<string, number[]>();
  for (const l of lines) {
    const w = JSON.parse(l) as Omit<MetricWindow, 'window_start'> & { window_start: string };
    if (w.late_count === 0) continue;
    const key = JSON.stringify([w.tenant, w.series, w.window_start]);
    const s = sums.get(key) ?? [0, 0, 0, 0];
    sums.set(key, [(s[0] as number) + w.count, (s[1] as number) + w.error_count, (s[2] as number) + w.duration_sum_us, (s[3] as number) + w.late_count]);
  }
  return [...sums].map(([k, v]) => `${k} ${v.join(' ')}`).sort();
}

const sortedLines = (text: string): string[] => text.split('\n').filter(Boolean).sort();
/** A LogRecord line without the collector's wall clock. */
const withoutObservedAt = (line: string): string => JSON.stringify({ ...(JSON.parse(line) as object), observed_at: null });

test('Kafka pipeline and sluice parse --enrich --derived give the same records', async () => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-conformance-'));
  const raw = topicName(runId, 'logs.raw');
  // The input as Kafka messages: corpus heads (tenant header, a fixed timestamp), then the generator's own messages.
  const messages: Array<{ key: string | null; value: string; headers: Record<string, string>; timestamp: string }> = [];
  for (const [path, n] of CORPUS) {
    for (const line of readFileSync(join(corpus, path), 'utf8').split('\n').slice(0, n)) {
      messages.push({ key: null, value: line.replace(/\r$/, ''), headers: { tenant }, timestamp: String(MTIME) });
    }
  }
  const g = generate({ seed: 11, rps: 6, seconds: 20, lateRate: 0, outOfOrderRate: 0.05, outOfOrderMs: 2000, tenant });
  for (const m of g.messages) messages.push({ key: m.key, value: m.value, headers: m.headers, timestamp: m.timestamp });
  // The same messages as `kcat -C -J` prints them, for the CLI.
  const dump = join(dir, 'input.kcat.json');
  writeFileSync(dump, messages.map((m, offset) => JSON.stringify({ topic: raw, partition: 0, offset, tstype: 'create', ts: Number(m.timestamp), headers: Object.entries(m.headers).flat(), key: m.key, payload: m.value })).join('\n') + '\n');

  // --- Kafka: one partition per topic; the raw topic is filled before the services start. ---
  const admin = c.kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: raw, numPartitions: 1 }], waitForLeaders: true });
  await admin.disconnect();
  const producer = c.kafka.producer({ createPartitioner: kafkajs.Partitioners.DefaultPartitioner, idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  for (let i = 0; i < messages.length; i += 500) await producer.send({ topic: raw, acks: -1, messages: messages.slice(i, i + 500) });
  await producer.disconnect();
  const env = isolatedEnv(runId, { ...SETTINGS, SLUICE_TOPIC_PARTITIONS: '1' });
  procs = await startServices({ env, logDir: join(repoRoot(), '.stack', 'logs', 'test', runId), names: ['collector', 'normalizer', 'enricher'] });
  await waitReady(procs);

  // --- In memory: the built CLI over the same messages, with the same settings. ---
  const cliEnv = { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SLUICE_'))), ...SETTINGS };
  const out = join(dir, 'out');
  const r = spawnSync(process.execPath, [join(repoRoot(), 'dist', 'bin', 'sluice.js'), 'parse', '--kcat', '--topic', raw, '--enrich', '--derived', out, dump], { encoding: 'utf8', env: cliEnv, maxBuffer: 1 << 30 });
  expect([r.status, r.stderr]).toEqual([0, expect.stringContaining(`${messages.length} lines read`)]);
  const memory = {
    enriched: sortedLines(r.stdout).map(withoutObservedAt),
    metrics: sortedLines(readFileSync(join(out, 'metrics.ndjson'), 'utf8')),
    spans: sortedLines(readFileSync(join(out, 'spans.ndjson'), 'utf8')),
    traces: sortedLines(readFileSync(join(out, 'traces.ndjson'), 'utf8')),
  };
  // Enough of everything that equality means something.
  expect(memory.enriched.length).toBeGreaterThan(3000);
  expect(Math.min(onTime(memory.metrics).length, lateSums(memory.metrics).length, memory.spans.length, memory.traces.length)).toBeGreaterThan(50);

  // --- The Kafka pipeline's topics, decoded and rendered as the CLI renders them. ---
  const codecs = await codecsFor(runId);
  const read = async <T>(base: string, expected: number, render: (v: T) => string): Promise<string[]> =>
    (await readAll(c.kafka, topicName(runId, base), { expected, idleMs: 5000 })).map((b) => render(codecs.decode(b) as T)).sort();
  // Metric windows: everything is in once the records counted in them are (late deltas come per batch).
  const counted = (lines: readonly string[]): number => lines.reduce((n, l) => n + (JSON.parse(l) as MetricWindow).count, 0);
  const kafkaMetrics = await waitFor(
    'every metric window',
    async () => (await readAll(c.kafka, topicName(runId, 'metrics.derived'), { idleMs: 3000 })).map((b) => metricToNdjson(codecs.decode(b) as MetricWindow)).sort(),
    (lines) => counted(lines) >= counted(memory.metrics),
    240_000,
  );
  const kafka = {
    enriched: (await read<LogRecord>('logs.enriched', memory.enriched.length, (v) => toNdjson(v))).map(withoutObservedAt),
    metrics: onTime(kafkaMetrics),
    lateDeltas: lateSums(kafkaMetrics),
    spans: await read<Span>('traces.spans', memory.spans.length, spanToNdjson),
    traces: await read<TraceSummary>('traces.summaries', memory.traces.length, traceToNdjson),
  };
  const mem = { ...memory, metrics: onTime(memory.metrics), lateDeltas: lateSums(memory.metrics) };
  for (const k of ['enriched', 'metrics', 'lateDeltas', 'spans', 'traces'] as const) {
    const [onlyKafka, onlyMemory] = [without(kafka[k], mem[k]), without(mem[k], kafka[k])];
    expect({ [k]: { onlyKafka: onlyKafka.slice(0, 4), onlyMemory: onlyMemory.slice(0, 4) } }).toEqual({ [k]: { onlyKafka: [], onlyMemory: [] } });
    expect(kafka[k].length).toBe(mem[k].length);
  }

  // Dead letters by code: the CLI counts a blank line the collector refuses as an empty line.
  const letters = (await readAll(c.kafka, topicName(runId, 'logs.dlq'))).map((b) => codecs.decode(b) as DeadLetter);
  const byCode: Record<string, number> = {};
  for (const d of letters) if (!(d.error_code === 'SLUICE_ERR_INPUT_EMPTY' && d.original.toString('utf8').trim() === '')) byCode[d.error_code] = (byCode[d.error_code] ?? 0) + 1;
  const cliCodes = Object.fromEntries([...r.stderr.matchAll(/(SLUICE_ERR_[A-Z_]+) x(\d+)/g)].map((m) => [m[1], Number(m[2])]));
  expect(byCode).toEqual(cliCodes);
  console.log(`conformance: ${messages.length} messages; ${kafka.enriched.length} records, ${kafka.metrics.length} on-time metric windows, late deltas of ${kafka.lateDeltas.length} series windows, ${kafka.spans.length} spans, ${kafka.traces.length} traces equal on both runners; dead letters ${JSON.stringify(byCode)}`);
}, 600_000);
