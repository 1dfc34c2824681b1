/**
 * Throughput of the enricher: enrichment plus derivation (issue #5, `npm run bench:enrich`).
 *
 * 1. Pure (always): LogRecords made ONCE from the seeded generator (scripts/lib/generator.ts,
 *    seed 1; --rps and --seconds of simulated traffic) through the real streaming collector
 *    and normalizer stages (one partition, messages in emission order, as the pipeline
 *    would deliver them), then timed over those records in offset order, fixed clock:
 *    (a) enrich only: `enrich(record, context)` with the enricher's defaults;
 *    (b) derive only: the stateful derive stage (services/enricher/derive.ts,
 *        `createDeriveStage(...).open(...)`, one partition) with an identity `enrich`:
 *        metric windows and spans;
 *    (c) enrich + derive: the derive stage as the enricher runs it;
 *    (d) (c) plus the summarize stage over the spans it emits: all the enricher's stages.
 *    Each run starts from fresh stage state; one warm-up run, then the median of --runs
 *    (default 3). Rates are events / CPU second of this process (process.cpuUsage), so
 *    they are per core whatever else the machine does.
 * 2. Through Kafka (with --kafka, or when `scripts/stack status` exits 0; --no-kafka
 *    skips): the same records Avro-encoded with the registry's codecs and produced to an
 *    isolated `<run>.logs.normalized` (3 partitions, keyed by service), then ONE enricher
 *    process from dist/ with an isolated environment. Events/s is N over the time from
 *    its first to its last logs.enriched record (their Kafka timestamps, read back
 *    afterwards); CPU is the enricher process's user + system time from /proc while it
 *    worked (up to when it had received every record and stopped producing). Then it is
 *    stopped and the run's topics and groups are deleted.
 *
 *   npm run bench:enrich [-- --kafka] [-- --rps 250] [-- --seconds 60] [-- --runs 3]
 *   ("bench:enrich": "npm run build --silent && node dist/scripts/bench-enrich.js")
 *
 * One "event" is one LogRecord into the enricher.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { createStreamingCollectStage } from '../services/collector/collect.js';
import { createNormalizeStage } from '../services/normalizer/normalize.js';
import { createEnrichContext, defaultEnrichConfig, enrich } from '../services/enricher/enrich.js';
import { createDeriveStage, createSummarizeStage } from '../services/enricher/derive.js';
import { enricherSchema } from '../services/enricher/config.js';
import type { LogRecord, RawEvent, Span } from '../shared/records.js';
import type { StageContext, StageInput, StageOutput } from '../shared/stage.js';
import { repoRoot } from '../shared/schemas.js';
import { TopicCodecs } from '../shared/codec.js';
import { createRegistry } from '../shared/registry.js';
import { ensureTopics, type KafkaClient } from '../shared/kafka.js';
import { generate } from './lib/generator.js';
import { metricTotal, scrape, startServices, stopServices, type ServiceProcess } from './lib/services.js';
import { arg, benchKafka, cpuSeconds, deleteRun, fmt, isolatedEnv, median, produceAll, runMain, throughKafkaIfWanted } from './lib/bench-common.js';

const RPS = arg('--rps', 250);
const SECONDS = arg('--seconds', 90);
const RUNS = arg('--runs', 3);

// ---------------------------------------------------------------------------------------
// Records: generator -> streaming collect -> normalize, once

interface Corpus {
  records: LogRecord[];
  messages: number;
  note: string;
}

function makeRecords(): Corpus {
  const g = generate({ seed: 1, rps: RPS, seconds: SECONDS });
  const collect = createStreamingCollectStage({ outputTopic: 'logs.collected', defaultTenant: 'default', maxEventBytes: 1_048_576, multilineTimeoutMs: 2000, maxEventLines: 1000, maxHeldStreams: 128 });
  const normalize = createNormalizeStage({ outputTopic: 'logs.normalized', maxAttributes: 128, maxAttributeBytes: 4096, maxJsonDepth: 32 });
  const state = collect.open('logs.raw', 0, null);
  const records: LogRecord[] = [];
  let lastMs = 0;
  const normalizeAll = (outs: StageOutput[], ctx: StageContext): void => {
    for (const o of outs) {
      const value = o.value as RawEvent;
      const input: StageInput<RawEvent> = { topic: 'logs.collected', partition: 0, offset: String(value.origin.offset), timestampMs: Number(value.kafka_timestamp / 1000), key: null, headers: {}, value, raw: o.origin?.raw ?? Buffer.alloc(0) };
      try {
        for (const n of normalize.process(input, ctx)) records.push(n.value as LogRecord);
      } catch {
        // a dead letter: not an enricher input
      }
    }
  };
  g.messages.forEach((m, i) => {
    const ts = Number(m.timestamp);
    lastMs = ts;
    const value = Buffer.from(m.value);
    const ctx = { now: () => ts };
    const input: StageInput<Buffer> = { topic: 'logs.raw', partition: 0, offset: String(i), timestampMs: ts, key: Buffer.from(m.key), headers: { service: m.headers.service, tenant: m.headers.tenant }, value, raw: value };
    try {
      normalizeAll(state.process(input, ctx), ctx);
    } catch {
      // a dead letter
    }
  });
  const end = { now: () => lastMs + 10_000 };
  normalizeAll(state.flush(end, { caughtUp: true }), end);
  // The enricher decodes its own copies from Avro; structuredClone gives the timed loops
  // objects no earlier stage holds (see the pretenuring note in bench-normalize.ts).
  return { records: records.map((r) => structuredClone(r)), messages: g.messages.length, note: `generator seed 1, ${RPS} requests/s over ${SECONDS} s of simulated time: ${g.messages.length.toLocaleString('en-US')} messages, ${g.traces.length.toLocaleString('en-US')} traces` };
}

// ---------------------------------------------------------------------------------------
// Pure stages

const FIXED_MS = Date.UTC(2026, 10, 21, 12);
const fixedCtx: StageContext = { now: () => FIXED_MS };
/** The enricher's defaults (services/enricher/config.ts), as main.ts passes them. */
const defaults = {
  windowUs: enricherSchema.windowMs.default * 1000,
  allowedLatenessUs: enricherSchema.allowedLatenessMs.default * 1000,
  spanInactivityUs: enricherSchema.spanInactivityMs.default * 1000,
  traceInactivityUs: enricherSchema.traceInactivityMs.default * 1000,
  idleAfterMs: enricherSchema.idleAfterMs.default,
};
const topics = { enriched: 'logs.enriched', metrics: 'metrics.derived', spans: 'traces.spans' };

let sink = 0; // keeps results observable so the JIT cannot drop the work

function inputsOf(records: readonly LogRecord[]): Array<StageInput<LogRecord>> {
  return records.map((value, i) => ({ topic: 'logs.normalized', partition: 0, offset: String(i), timestampMs: FIXED_MS, key: null, headers: {}, value, raw: Buffer.alloc(0) }));
}

function deriveStage(enrichFn: (r: LogRecord) => LogRecord) {
  return createDeriveStage({
    topics,
    enrich: enrichFn,
    metrics: { windowUs: defaults.windowUs, allowedLatenessUs: defaults.allowedLatenessUs },
    spans: { inactivityTimeoutUs: defaults.spanInactivityUs },
    idleAfterMs: defaults.idleAfterMs,
    flushIntervalMs: 1000,
  });
}

interface Counts {
  enriched: number;
  windows: number;
  spans: number;
  traces: number;
}

type Run = (inputs: ReadonlyArray<StageInput<LogRecord>>) => Counts;

const context = createEnrichContext(defaultEnrichConfig);
const enrichWithContext = (r: LogRecord): LogRecord => enrich(r, context);

const enrichOnly: Run = (inputs) => {
  for (const i of inputs) sink += enrich(i.value, context).labels === undefined ? 1 : 0;
  return { enriched: inputs.length, windows: 0, spans: 0, traces: 0 };
};

function deriveRun(enrichFn: (r: LogRecord) => LogRecord, summarize: boolean): Run {
  return (inputs) => {
    const c: Counts = { enriched: 0, windows: 0, spans: 0, traces: 0 };
    const part = deriveStage(enrichFn).open('logs.normalized', 0, null);
    const summ = summarize
      ? createSummarizeStage({ topic: 'traces.summaries', traces: { inactivityTimeoutUs: defaults.traceInactivityUs }, idleAfterMs: defaults.idleAfterMs, flushIntervalMs: 1000 }).open('traces.spans', 0, null)
      : null;
    let spanOffset = 0;
    for (const input of inputs) {
      for (const o of part.process(input, fixedCtx)) {
        if (o.topic === topics.enriched) c.enriched++;
        else if (o.topic === topics.metrics) c.windows++;
        else {
          c.spans++;
          if (summ) {
            const s: StageInput<Span> = { topic: topics.spans, partition: 0, offset: String(spanOffset++), timestampMs: FIXED_MS, key: null, headers: {}, value: o.value as Span, raw: Buffer.alloc(0) };
            c.traces += summ.process(s, fixedCtx).length;
          }
        }
      }
    }
    sink += c.enriched;
    return c;
  };
}

/** Median events per CPU second over RUNS runs after one warm-up; plus what the last run emitted. */
function measure(run: Run, inputs: ReadonlyArray<StageInput<LogRecord>>): { rate: number; counts: Counts } {
  run(inputs);
  const rates: number[] = [];
  let counts: Counts = { enriched: 0, windows: 0, spans: 0, traces: 0 };
  for (let i = 0; i < RUNS; i++) {
    const t0 = cpuSeconds();
    counts = run(inputs);
    rates.push(inputs.length / (cpuSeconds() - t0));
  }
  return { rate: median(rates), counts };
}

const GOAL = 100_000;

function pure(corpus: Corpus): void {
  const inputs = inputsOf(corpus.records);
  const http = corpus.records.filter((r) => r.http !== null).length;
  const traced = corpus.records.filter((r) => r.trace_id !== null).length;
  console.log(`\n### Pure stages (single thread, no Kafka; median of ${RUNS} runs after a warm-up; CPU time of this process)\n`);
  console.log(
    `${corpus.records.length.toLocaleString('en-US')} LogRecords (${corpus.note}; ${((100 * http) / corpus.records.length).toFixed(0)}% HTTP, ${((100 * traced) / corpus.records.length).toFixed(0)}% with a trace id), ` +
      `in offset order, one partition, the enricher's defaults (window ${defaults.windowUs / 1e6} s, lateness ${defaults.allowedLatenessUs / 1e6} s, span inactivity ${defaults.spanInactivityUs / 1e6} s, trace inactivity ${defaults.traceInactivityUs / 1e6} s). ` +
      `Node ${process.version}, ${cpus()[0]?.model ?? 'unknown CPU'}.\n`,
  );
  console.log('| stage | events/s per core | of the 100k goal | emitted per run |');
  console.log('|---|---:|---:|---|');
  const row = (name: string, run: Run): void => {
    const { rate, counts } = measure(run, inputs);
    const emitted = counts.windows + counts.spans > 0 ? `${fmt(counts.windows)} windows, ${fmt(counts.spans)} spans${counts.traces > 0 ? `, ${fmt(counts.traces)} traces` : ''} (before the end-of-input flush)` : '';
    console.log(`| ${name} | ${fmt(rate)} | ${((100 * rate) / GOAL).toFixed(0)}% | ${emitted} |`);
  };
  row('(a) enrich only', enrichOnly);
  row('(b) derive only (metric windows + spans)', deriveRun((r) => r, false));
  row('(c) enrich + derive (the enricher\'s main stage)', deriveRun(enrichWithContext, false));
  row('(d) enrich + derive + trace summaries (all of the enricher)', deriveRun(enrichWithContext, true));
}

// ---------------------------------------------------------------------------------------
// Through Kafka

/** As test/helpers.ts codecsFor: every topic's schema registered under the run's topic names. */
function codecsFor(runId: string): Promise<TopicCodecs> {
  const registry = createRegistry({ url: process.env['SLUICE_REGISTRY_URL'] || 'http://127.0.0.1:8081/apis/ccompat/v7' });
  const t = (b: string): string => `${runId}.${b}`;
  return TopicCodecs.register(registry, {
    topicCollected: t('logs.collected'), topicNormalized: t('logs.normalized'), topicEnriched: t('logs.enriched'), topicMetrics: t('metrics.derived'),
    topicSpans: t('traces.spans'), topicTraces: t('traces.summaries'), topicDlq: t('logs.dlq'),
  });
}

const CLK_TCK = ((): number => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** User + system CPU seconds of a process (Linux /proc); NaN when unreadable. */
function processCpu(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK; // utime, stime (fields 14 and 15)
  } catch {
    return NaN;
  }
}

interface Watched {
  received: number;
  sent: number;
  /** CPU seconds at the last poll before any output, and when the work was done. */
  cpuBefore: number;
  cpuDone: number;
  timedOut: boolean;
}

/**
 * Poll the enricher every 100 ms until it has received all `n` records and its sent
 * total has not moved for 1 s (well before its idle flush, 5 s of quiet by default).
 */
async function watch(p: ServiceProcess, n: number, timeoutMs: number): Promise<Watched> {
  const deadline = Date.now() + timeoutMs;
  const w: Watched = { received: 0, sent: 0, cpuBefore: NaN, cpuDone: NaN, timedOut: false };
  let lastMove = Date.now();
  for (;;) {
    const cpu = processCpu(p.child.pid);
    const m = await scrape(p);
    const received = metricTotal(new Map([...m].filter(([k]) => k.includes('stage="enricher"'))), 'sluice_records_received_total');
    const sent = metricTotal(m, 'sluice_records_sent_total');
    if (sent === 0) w.cpuBefore = cpu;
    if (sent > w.sent || received > w.received) {
      lastMove = Date.now();
      w.cpuDone = processCpu(p.child.pid);
    }
    w.sent = Math.max(w.sent, sent);
    w.received = Math.max(w.received, received);
    if (w.received >= n && Date.now() - lastMove > 1000) return w;
    if (p.child.exitCode !== null) throw new Error(`enricher exited with ${p.child.exitCode}; see ${p.logFile}`);
    if (Date.now() > deadline) return { ...w, timedOut: true };
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** First and last Kafka timestamps (ms) of a topic's records, read with a throwaway group. */
async function timeRange(kafka: KafkaClient, topic: string, groupId: string, expect: number): Promise<{ first: number; last: number; count: number }> {
  const consumer = kafka.consumer({ groupId, allowAutoTopicCreation: false, maxBytes: 50 * 1_048_576 });
  const r = { first: Infinity, last: -Infinity, count: 0 };
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    let lastMove = Date.now();
    await consumer.run({
      eachBatch: async ({ batch }) => {
        for (const m of batch.messages) {
          const t = Number(m.timestamp);
          if (t < r.first) r.first = t;
          if (t > r.last) r.last = t;
          r.count++;
        }
        lastMove = Date.now();
      },
    });
    while (r.count < expect && Date.now() - lastMove < 10_000) await new Promise((res) => setTimeout(res, 100));
  } finally {
    await consumer.disconnect();
  }
  return r;
}

async function throughKafka(root: string, corpus: Corpus): Promise<void> {
  const runId = `benchenr${Date.now().toString(36)}`;
  const env = isolatedEnv(runId, ['ENRICHER', 'ENRICHER_TRACES']);
  const { kafka, log } = benchKafka();
  const input = `${runId}.logs.normalized`;
  const n = corpus.records.length;
  let procs: ServiceProcess[] = [];
  try {
    const codecs = await codecsFor(runId);
    // Backlog first, so the enricher runs flat out from its first fetch.
    await ensureTopics(kafka, [input], 3, 1, log);
    const t0 = performance.now();
    await produceAll(kafka, input, n, (i) => ({ key: corpus.records[i]!.service ?? '', value: codecs.encode(input, corpus.records[i]) }));
    const produceS = (performance.now() - t0) / 1000;
    procs = await startServices({ env, logDir: join(root, '.stack', 'logs', 'bench', runId), names: ['enricher'] });
    const enricher = procs[0] as ServiceProcess;
    const w = await watch(enricher, n, 600_000);
    await stopServices(procs);
    procs = [];
    const out = await timeRange(kafka, `${runId}.logs.enriched`, `${runId}-bench-read`, n);
    const secs = (out.last - out.first) / 1000;
    const cpu = w.cpuDone - w.cpuBefore;
    console.log(`\n### Through Kafka (one enricher process; ${n.toLocaleString('en-US')} Avro LogRecords on 3 partitions, produced in ${produceS.toFixed(1)} s; topics ${runId}.*)\n`);
    console.log('| measure | value |');
    console.log('|---|---:|');
    console.log(`| logs.enriched records out | ${out.count.toLocaleString('en-US')} |`);
    console.log(`| first -> last logs.enriched record | ${secs.toFixed(2)} s |`);
    console.log(`| events/s per instance (wall clock) | ${secs > 0 ? fmt(out.count / secs) : 'n/a'} |`);
    console.log(`| enricher CPU while working (user + system) | ${Number.isFinite(cpu) ? `${cpu.toFixed(2)} s` : 'n/a'} |`);
    console.log(`| events/s per core (CPU) | ${Number.isFinite(cpu) && cpu > 0 ? fmt(n / cpu) : 'n/a'} |`);
    console.log(`| records sent in all (enriched + windows + spans + summaries) | ${w.sent.toLocaleString('en-US')} |`);
    if (w.timedOut || out.count < n) console.log(`\nnote: incomplete run (received ${w.received} of ${n}, ${out.count} enriched read back${w.timedOut ? ', timed out' : ''}).`);
  } finally {
    await stopServices(procs);
    await deleteRun(kafka, runId);
  }
}

// ---------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const root = repoRoot();
  const corpus = makeRecords();
  console.log(`## bench-enrich\n\n${corpus.note}`);
  pure(corpus);
  await throughKafkaIfWanted(() => throughKafka(root, corpus));
  if (sink < 0) console.log(sink);
}

runMain(main);
