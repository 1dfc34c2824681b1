/**
 * Issue #5 end to end, through the real stack and all four services, driven by the
 * seeded generator (scripts/lib/generator.ts): simulated services calling each other,
 * W3C trace context, access lines with durations, errors, slow requests, out-of-order
 * shipping within the allowed lateness. TWO enricher instances share the consumer group.
 *
 * Asserted:
 * - sluice-metrics-* counts, error counts and duration sums (a window's on-time record plus its
 *   late deltas) equal an independent recomputation over the logs read back from
 *   Parquet with DuckDB, exactly; p50/p90/p99 within the sketch's stated error (1%);
 * - every generated trace is in sluice-spans-* with the right span count, parents, and root
 *   duration (within 1 ms: some services log millisecond times), and in sluice-traces-* once.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import kafkajs from 'kafkajs';
import { repoRoot } from '../shared/schemas.js';
import { generate } from '../scripts/lib/generator.js';
import { startServices, stopServices, waitReady, type ServiceProcess } from '../scripts/lib/services.js';
import { esCount } from '../scripts/lib/probes.js';
import { cleanup, clients, downloadPrefix, isolatedEnv, newRunId, runGroupOffsets, topicName, waitFor } from './helpers.js';

const { Partitioners } = kafkajs;
const runId = newRunId('enr');
const tenant = runId;
const c = clients('enr');
let procs: ServiceProcess[] = [];

afterAll(async () => {
  await stopServices(procs);
  if (process.env['SLUICE_TEST_KEEP']) return console.warn(`kept run ${runId} for inspection`);
  for (const p of ['metrics', 'spans', 'traces']) await c.es.indices.delete({ index: `${p}-${tenant}-*`, allow_no_indices: true, ignore_unavailable: true }).catch(() => undefined);
  await cleanup(c, runId, tenant).catch((err: unknown) => console.warn(`cleanup failed: ${String(err)}`));
}, 120_000);

type Key = string;
interface Sums {
  count: number;
  errors: number;
  durationSum: number;
}

/** All documents of an index pattern (small here: a few thousand). */
async function allDocs(index: string): Promise<Array<Record<string, unknown>>> {
  await c.es.indices.refresh({ index, allow_no_indices: true, ignore_unavailable: true });
  const r = await c.es.search({ index, size: 10_000, query: { match_all: {} } });
  return r.hits.hits.map((h) => h._source as Record<string, unknown>);
}

/** `2026-11-21T09:00:10.000000Z` -> µs since the epoch. */
const micros = (s: string) => Date.parse(`${s.slice(0, 23)}Z`) * 1000 + Number(s.slice(23, 26));

test('metrics equal a recomputation from Parquet; every trace is rebuilt; two enricher instances', async () => {
  const g = generate({ seed: 2026, rps: 8, seconds: 30, lateRate: 0, outOfOrderRate: 0.05, outOfOrderMs: 2000, tenant });
  const raw = topicName(runId, 'logs.raw');
  const admin = c.kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: raw, numPartitions: 3 }], waitForLeaders: true });
  await admin.disconnect();

  const env = isolatedEnv(runId, {
    SLUICE_ENRICHER_SPAN_INACTIVITY_MS: '10000',
    SLUICE_ENRICHER_TRACE_INACTIVITY_MS: '15000',
    SLUICE_ENRICHER_IDLE_AFTER_MS: '2000',
    SLUICE_SINK_ES_MAX_AGE_MS: '300',
    SLUICE_SINK_PARQUET_MAX_AGE_MS: '2000',
  });
  const logDir = join(repoRoot(), '.stack', 'logs', 'test', runId);
  procs = await startServices({ env, logDir, names: ['collector', 'normalizer', 'enricher', 'enricher', 'sink'] });
  await waitReady(procs);

  // Shipped as the services would ship them: live, in emission order, paced by the
  // generator's clock (a backlog dumped at once would let the trace summaries see one
  // service's spans long before another's; see README "Derived data: limits").
  const producer = c.kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  const t0 = Number(g.messages[0]!.timestamp);
  const started = Date.now();
  for (let i = 0; i < g.messages.length; ) {
    const due = Date.now() - started + t0;
    let j = i;
    while (j < g.messages.length && Number(g.messages[j]!.timestamp) <= due) j++;
    if (j > i) await producer.send({ topic: raw, acks: -1, messages: g.messages.slice(i, j).map((m) => ({ key: m.key, value: m.value, headers: m.headers, timestamp: m.timestamp })) });
    i = j;
    await new Promise((r) => setTimeout(r, 100));
  }
  await producer.disconnect();
  const lines = g.messages.length;

  // Everything has arrived: logs in Elasticsearch, and every trace summarised.
  const explain = () => runGroupOffsets(c.kafka, runId);
  await waitFor('logs in Elasticsearch', () => esCount(c.es, `sluice-logs-${tenant}-*`), (n) => n >= lines, 180_000, explain);
  await waitFor('trace summaries', () => esCount(c.es, `sluice-traces-${tenant}-*`), (n) => n >= g.traces.length, 180_000, explain);

  // --- Independent recomputation from the logs read back from Parquet (DuckDB). ---
  const { dir } = await downloadPrefix(c.s3, `${runId}/logs/`);
  const db = await (await DuckDBInstance.create(':memory:')).connect();
  const logs = `read_parquet('${dir}/*.parquet')`;
  expect(Number((await db.runAndReadAll(`select count(*) from ${logs}`)).getRows()[0]![0])).toBe(lines);
  const expected = new Map<Key, Sums>();
  const win = `(epoch_us("timestamp") // 10000000) * 10000000`;
  const byLevel = await db.runAndReadAll(`select service, level, ${win} as w, count(*)::BIGINT, count(*) filter (where level in ('ERROR','FATAL'))::BIGINT from ${logs} group by all`);
  for (const [service, level, w, n, e] of byLevel.getRows()) expected.set(`log|${service}|${level}|${w}`, { count: Number(n), errors: Number(e), durationSum: 0 });
  const httpLike = `(http_status between 100 and 599) or http_duration_us >= 0`;
  const statusClass = `case when http_status between 100 and 599 then (http_status // 100)::VARCHAR || 'xx' end`;
  const byRoute = await db.runAndReadAll(
    `select service, http_route, http_method, ${statusClass} as sc, ${win} as w, count(*)::BIGINT, count(*) filter (where http_status >= 500 or level in ('ERROR','FATAL'))::BIGINT, coalesce(sum(http_duration_us), 0)::BIGINT from ${logs} where ${httpLike} group by all`,
  );
  for (const [service, route, method, sc, w, n, e, d] of byRoute.getRows()) expected.set(`http|${service}|${route}|${method}|${sc}|${w}`, { count: Number(n), errors: Number(e), durationSum: Number(d) });

  // --- sluice-metrics-*: a window's value is its on-time record plus its late deltas. ---
  const metricDocs = await allDocs(`sluice-metrics-${tenant}-*`);
  const actual = new Map<Key, Sums>();
  const onTime = new Map<Key, Record<string, unknown>>();
  const withLate = new Set<Key>();
  for (const d of metricDocs) {
    const w = micros(d['@timestamp'] as string);
    const key = d['log.level'] !== undefined ? `log|${d['service.name']}|${d['log.level']}|${w}` : `http|${d['service.name']}|${d['http.route'] ?? null}|${d['http.request.method'] ?? null}|${d['sluice.series.status_class'] ?? null}|${w}`;
    const s = actual.get(key) ?? { count: 0, errors: 0, durationSum: 0 };
    s.count += d['sluice.window.count'] as number;
    s.errors += d['sluice.window.error_count'] as number;
    s.durationSum += d['sluice.window.duration.sum_us'] as number;
    actual.set(key, s);
    if ((d['sluice.window.late_count'] as number) > 0) withLate.add(key);
    else onTime.set(key, d);
  }
  expect(actual.size).toBe(expected.size);
  expect(new Map([...actual].sort())).toEqual(new Map([...expected].sort()));
  console.log(`metrics: ${expected.size} series-windows equal the recomputation; ${withLate.size} with late deltas`);

  // Quantiles: the exact value at index floor(q·(n−1)) per HTTP series-window, within 1% (+0.5 µs).
  const durations = await db.runAndReadAll(
    `select service, http_route, http_method, ${statusClass} as sc, ${win} as w, list(http_duration_us order by http_duration_us) from ${logs} where http_duration_us >= 0 group by all`,
  );
  let checked = 0;
  for (const [service, route, method, sc, w, list] of durations.getRows()) {
    const key = `http|${service}|${route}|${method}|${sc}|${w}`;
    if (withLate.has(key)) continue; // partial records; their merge is exact only with the sketches
    const doc = onTime.get(key)!;
    const values = (list as { items: unknown[] }).items.map(Number);
    for (const [q, field] of [[0.5, 'p50_us'], [0.9, 'p90_us'], [0.99, 'p99_us']] as const) {
      const exact = values[Math.floor(q * (values.length - 1))]!;
      const got = doc[`sluice.window.duration.${field}`] as number;
      expect(Math.abs(got - exact)).toBeLessThanOrEqual(0.01 * exact + 1);
      checked++;
    }
  }
  expect(checked).toBeGreaterThan(30);

  // --- Spans and traces: every generated trace, with its span count, parents and root duration. ---
  const spans = await allDocs(`sluice-spans-${tenant}-*`);
  const byTrace = new Map<string, Array<Record<string, unknown>>>();
  for (const s of spans) byTrace.set(s['trace.id'] as string, [...(byTrace.get(s['trace.id'] as string) ?? []), s]);
  const truthSpans = new Map<string, typeof g.spans>();
  for (const s of g.spans) truthSpans.set(s.trace_id, [...(truthSpans.get(s.trace_id) ?? []), s]);
  const problems: string[] = [];
  for (const t of g.traces) {
    const got = byTrace.get(t.trace_id) ?? [];
    const want = truthSpans.get(t.trace_id) ?? [];
    if (got.length !== t.span_count) problems.push(`${t.trace_id}: ${got.length} spans, want ${t.span_count}`);
    const parents = new Map(got.map((s) => [s['span.id'], s['parent.id'] ?? null]));
    for (const s of want) if (parents.get(s.span_id) !== s.parent_span_id) problems.push(`${t.trace_id}/${s.span_id}: parent ${String(parents.get(s.span_id))}, want ${s.parent_span_id}`);
    const root = got.find((s) => s['parent.id'] === undefined);
    const rootUs = root ? (root['event.duration'] as number) / 1000 : NaN;
    if (!(Math.abs(rootUs - t.duration_us) <= 1000)) problems.push(`${t.trace_id}: root duration ${rootUs} µs, want ${t.duration_us}`);
  }
  expect(problems.slice(0, 10)).toEqual([]);
  expect(spans.length).toBe(g.spans.length);
  expect(await esCount(c.es, `sluice-traces-${tenant}-*`)).toBe(g.traces.length);
  console.log(`traces: ${g.traces.length} traces and ${g.spans.length} spans rebuilt from ${lines} log lines`);
  rmSync(dir, { recursive: true, force: true });
}, 420_000);
