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
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { hostname, cpus } from 'node:os';
import kafkajs from 'kafkajs';
import type { Client } from '@elastic/elasticsearch';
import { createEsClient } from '../services/sink/es-writer.js';
import { createS3Client } from '../services/sink/object-store.js';
import { repoRoot } from '../shared/schemas.js';
import type { KafkaClient } from '../shared/kafka.js';
import { arg, argString, benchKafka, fmt, isolatedEnv, runMain } from './lib/bench-common.js';
import { generate } from './lib/generator.js';
import { checkEnv, cleanupRun, countRun, emptyCounts, produceAll, produceLive, sample, settle, sumsExact, toKafka, workload, type RunCounts, type S3 } from './lib/pipeline-check.js';
import { startServices, stopServices, waitReady, type ServiceProcess } from './lib/services.js';

type Scenario = 'backfill' | 'enricher-kill';
const SCENARIO_ARG = argString('--scenario') ?? 'both';
const EVENTS = Math.round(arg('--events', 100_000));
const SEED = arg('--seed', 2026);
const AGE_MINUTES = arg('--age-minutes', 90);
const SPAN_SECONDS = arg('--span-seconds', 60);
const LIVE_SECONDS = arg('--live-seconds', 60);
const TIMEOUT_MS = arg('--timeout-seconds', 900) * 1000;
const KEEP = process.argv.includes('--keep');
const PRIME = !process.argv.includes('--no-prime');
const KILL_DOWN_MS = 5_000;
const S3 = {
  endpoint: process.env['SLUICE_S3_ENDPOINT'] || 'http://127.0.0.1:9000',
  bucket: process.env['SLUICE_S3_BUCKET'] || 'sluice',
  accessKey: process.env['SLUICE_S3_ACCESS_KEY'] || 'sluice',
  secretKey: process.env['SLUICE_S3_SECRET_KEY'] || 'sluice-local-secret',
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const t0Process = Date.now();
const say = (s: string) => process.stdout.write(`[late-windows +${((Date.now() - t0Process) / 1000).toFixed(0)}s] ${s}\n`);

interface RunResult extends RunCounts {
  scenario: Scenario;
  runId: string;
  linesIn: number;
  /** Lines of the live prime (backfill) included in linesIn. */
  primeLines: number;
  produceSeconds: number;
  settleSeconds: number;
  totalSeconds: number;
}

/** The checks a run must pass, as failure messages (empty: passed). */
function failures(r: RunResult): string[] {
  const f: string[] = [];
  if (r.logsRows !== r.linesIn || r.logsDistinct !== r.linesIn) f.push(`logs in Parquet ${r.logsRows} rows / ${r.logsDistinct} distinct ids, not ${r.linesIn}`);
  if (r.docsParquet !== r.docsDistinctIds) f.push(`${r.docsParquet - r.docsDistinctIds} metric window documents in Parquet share a window id with another`);
  if (r.docsEs !== r.docsDistinctIds) f.push(`Elasticsearch holds ${r.docsEs} metric window documents, Parquet ${r.docsDistinctIds} distinct window ids`);
  if (!(r.docsParquet <= 2 * r.pairs)) f.push(`${r.docsParquet} metric window documents for ${r.pairs} (series, window) pairs: ${(r.docsParquet / r.pairs).toFixed(2)} > 2`);
  if (!sumsExact(r)) f.push(`(series, window) sums: ${r.missingPairs} missing, ${r.extraPairs} extra, ${r.differingPairs} different from the recomputation`);
  return f;
}

async function runScenario(scenario: Scenario, kafka: KafkaClient, es: Client, s3: S3): Promise<RunResult> {
  const started = Date.now();
  const runId = `lw${scenario === 'backfill' ? 'b' : 'k'}${Date.now().toString(36)}`;
  const tenant = runId;
  const r: RunResult = { ...emptyCounts(), scenario, runId, linesIn: 0, primeLines: 0, produceSeconds: NaN, settleSeconds: NaN, totalSeconds: NaN };
  const env: NodeJS.ProcessEnv = {
    ...isolatedEnv(runId, ['COLLECTOR', 'NORMALIZER', 'ENRICHER', 'ENRICHER_TRACES', 'SINK_ES', 'SINK_PARQUET']),
    ...checkEnv(),
    SLUICE_S3_PREFIX: runId,
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
        say(`${scenario}: producing ${fmt(lines.length)} lines live over about ${LIVE_SECONDS} s; the enricher is SIGKILLed after half and restarted ${KILL_DOWN_MS / 1000} s later`);
        const behindMs = Date.now() - startMs;
        if (behindMs > 0) r.notes.push(`generating the lines ended ${behindMs} ms after their start: the first ones were sent that late`);
        let killTask: Promise<void> | undefined;
        const t = Date.now();
        await produceLive(producer, topic, lines, tenant, (sent) => {
          if (killTask || sent < lines.length / 2) return;
          killTask = (async () => {
            const k = procs.findIndex((p) => p.name === 'enricher');
            const enricher = procs[k]!;
            const killedAt = Date.now();
            enricher.child.kill('SIGKILL');
            await enricher.exited;
            say(`${scenario}: enricher (pid ${enricher.child.pid}) SIGKILLed after ${fmt(sent)} lines sent, ${((killedAt - t) / 1000).toFixed(1)} s into the feed`);
            await sleep(KILL_DOWN_MS);
            const [again] = await startServices({ env, logDir, names: ['enricher'] });
            procs[k] = again!;
            await waitReady([again!]);
            say(`${scenario}: enricher restarted (pid ${again!.child.pid}), ready ${((Date.now() - killedAt) / 1000).toFixed(1)} s after the kill`);
            r.notes.push(`enricher SIGKILLed ${((killedAt - t) / 1000).toFixed(1)} s into the feed after ${fmt(sent)} lines, started again ${KILL_DOWN_MS / 1000} s later, ready ${((Date.now() - killedAt) / 1000).toFixed(1)} s after the kill`);
          })();
        });
        r.produceSeconds = (Date.now() - t) / 1000;
        await killTask;
        r.linesIn = lines.length;
      }
    } finally {
      await producer.disconnect();
    }
    say(`${scenario}: ${fmt(r.linesIn)} lines produced in ${r.produceSeconds.toFixed(1)} s; waiting for Parquet and the last windows`);
    r.settleSeconds = (await settle({ procs: () => procs, es, tenant, lines: r.linesIn, timeoutMs: TIMEOUT_MS, say })).seconds;
    say(`${scenario}: settled ${r.settleSeconds.toFixed(1)} s after the last send; stopping the services`);
    await stopServices(procs);
    await countRun(r, { runId, tenant, bucket: S3.bucket, s3, es, scratch: join(logDir, 'parquet') });
    rmSync(join(logDir, 'parquet'), { recursive: true, force: true });
    r.totalSeconds = (Date.now() - started) / 1000;
    return r;
  } finally {
    process.removeListener('SIGINT', stopOnSignal);
    await stopServices(procs);
    if (KEEP) say(`${scenario}: kept run ${runId} (topics ${runId}.*, indices *-${tenant}-*, objects ${S3.bucket}/${runId}/)`);
    else await cleanupRun({ runId, tenant, bucket: S3.bucket, kafka, es, s3, say });
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
