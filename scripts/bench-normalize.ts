/**
 * Throughput of the collector and normalizer.
 *
 * 1. Pure (always): the real collect and normalize stages, single-threaded, no Kafka, over
 *    a mixed corpus read in place from $SLUICE_CORPUS_DIR or ../shared/corpus (Loghub
 *    *_2k.log, the elastic-examples Apache log, the loki-drain files) plus
 *    samples/sample.log; samples/sample.log alone, with a note, when the corpus is absent.
 *    One warm-up round, then ROUNDS timed rounds; prints the median events/s of collect
 *    alone, normalize alone (over pre-collected RawEvents) and both, and per input file.
 * 2. Through Kafka (when `scripts/stack status` exits 0, or with --kafka; skipped with
 *    --no-kafka): produces N lines (--lines, default 200000) to an isolated topic prefix,
 *    starts ONE collector and ONE normalizer process from dist/, and times each from its
 *    first to its last record out (sluice_records_sent_total on /metrics, polled every
 *    100 ms), then stops them and deletes the run's topics and groups.
 *
 *   npm run bench:normalize [-- --kafka] [-- --lines 200000] [-- --rounds 5]
 *   ("bench:normalize": "npm run build --silent && node dist/scripts/bench-normalize.js")
 *
 * One "event" is one input line (each corpus line is one Kafka message; a continuation
 * line merged into the event before it still counts as the line it was).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cpus } from 'node:os';
import kafkajs from 'kafkajs';
import { createCollectStage } from '../services/collector/collect.js';
import { createNormalizeStage } from '../services/normalizer/normalize.js';
import { defaultCorpusDir } from '../services/normalizer/corpus-eval.js';
import type { LogRecord, RawEvent } from '../shared/records.js';
import type { StageInput } from '../shared/stage.js';
import { repoRoot } from '../shared/schemas.js';
import { createKafka, ensureTopics, type KafkaClient } from '../shared/kafka.js';
import { createLogger } from '../shared/logger.js';
import { metricTotal, scrape, startServices, stopServices, waitReady, type ServiceProcess } from './lib/services.js';
import { deleteKafkaRun } from './lib/probes.js';
import { stackIsUp } from './lib/stack.js';

const { Partitioners } = kafkajs;

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  const v = i >= 0 ? Number(process.argv[i + 1]) : NaN;
  return Number.isFinite(v) && v > 0 ? v : fallback;
}
const ROUNDS = arg('--rounds', 5);
const KAFKA_LINES = arg('--lines', 200_000);

interface Source {
  name: string;
  lines: Buffer[];
}

// ---------------------------------------------------------------------------------------
// Corpus

function fileLines(path: string): Buffer[] {
  const text = readFileSync(path);
  const out: Buffer[] = [];
  let start = 0;
  for (let nl = text.indexOf(0x0a); nl >= 0; nl = text.indexOf(0x0a, start)) {
    const line = text.subarray(start, nl > start && text[nl - 1] === 0x0d ? nl - 1 : nl);
    if (line.length > 0) out.push(line);
    start = nl + 1;
  }
  if (start < text.length) out.push(text.subarray(start));
  return out;
}

function loadCorpus(root: string): { sources: Source[]; note: string } {
  const sample: Source = { name: 'samples/sample.log', lines: fileLines(join(root, 'samples', 'sample.log')) };
  const dir = defaultCorpusDir(root);
  const files: Array<[string, string]> = [];
  const loghub = join(dir, 'loghub');
  if (existsSync(loghub)) {
    for (const sys of readdirSync(loghub).sort()) {
      const f = join(loghub, sys, `${sys}_2k.log`);
      if (existsSync(f)) files.push([`loghub/${sys}`, f]);
    }
  }
  const apache = join(dir, 'elastic-examples', 'apache_logs', 'apache_logs');
  if (existsSync(apache)) files.push(['elastic-examples/apache_logs', apache]);
  const loki = join(dir, 'loki-drain');
  if (existsSync(loki)) for (const f of readdirSync(loki).filter((n) => n.endsWith('.txt')).sort()) files.push([`loki-drain/${f}`, join(loki, f)]);
  if (files.length === 0) return { sources: [sample], note: `corpus absent (no loghub/, elastic-examples/ or loki-drain/ under ${dir}; set SLUICE_CORPUS_DIR): samples/sample.log only` };
  return { sources: [...files.map(([name, f]) => ({ name, lines: fileLines(f) })), sample], note: `corpus: ${dir}` };
}

// ---------------------------------------------------------------------------------------
// Pure stages

const KAFKA_TS = Date.UTC(2026, 10, 21, 12);
const ctx = { now: () => KAFKA_TS + 500 };
const collect = createCollectStage({ outputTopic: 'logs.collected', defaultTenant: 'default', maxEventBytes: 1_048_576 });
const normalize = createNormalizeStage({ outputTopic: 'logs.normalized', maxAttributes: 128, maxAttributeBytes: 4096, maxJsonDepth: 32 });

function rawInput(line: Buffer, i: number): StageInput<Buffer> {
  return { topic: 'logs.raw', partition: 0, offset: String(i), timestampMs: KAFKA_TS, key: null, headers: {}, value: line, raw: line };
}

/** Pre-built inputs, so the timed loops measure the stages and not envelope building. */
interface Prepared {
  raws: Array<StageInput<Buffer>>;
  events: Array<StageInput<RawEvent>>;
}

function prepare(lines: readonly Buffer[]): Prepared {
  const raws = lines.map(rawInput);
  const events: Array<StageInput<RawEvent>> = [];
  for (const r of raws) {
    try {
      for (const o of collect.process(r, ctx)) events.push({ ...r, value: o.value as RawEvent });
    } catch {
      // A dead letter (e.g. an empty line): nothing to normalize.
    }
  }
  return { raws, events };
}

let sink = 0; // keeps results observable so the JIT cannot drop the work

function runCollect(p: Prepared): number {
  for (const r of p.raws) {
    try {
      sink += collect.process(r, ctx).length;
    } catch {
      sink++;
    }
  }
  return p.raws.length;
}

function runNormalize(p: Prepared): number {
  for (const e of p.events) sink += normalize.process(e, ctx).length;
  return p.events.length;
}

function runBoth(p: Prepared): number {
  for (const r of p.raws) {
    let outs;
    try {
      outs = collect.process(r, ctx);
    } catch {
      continue;
    }
    for (const o of outs) sink += normalize.process({ ...r, value: o.value as RawEvent }, ctx).length;
  }
  return p.raws.length;
}

/** Median events/s over ROUNDS rounds after one warm-up; each round runs for at least ~200 ms. */
function measure(f: (p: Prepared) => number, p: Prepared): number {
  const round = (): number => {
    let n = 0;
    const t0 = process.hrtime.bigint();
    let elapsed = 0;
    do {
      n += f(p);
      elapsed = Number(process.hrtime.bigint() - t0) / 1e9;
    } while (elapsed < 0.2);
    return n / elapsed;
  };
  round();
  const rates = Array.from({ length: ROUNDS }, round).sort((a, b) => a - b);
  return rates[Math.floor(rates.length / 2)] as number;
}

function fmt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

function pure(sources: readonly Source[]): void {
  const all = prepare(sources.flatMap((s) => s.lines));
  console.log(`\n### Pure stages (single thread, no Kafka; median of ${ROUNDS} rounds after a warm-up)\n`);
  console.log(`${all.raws.length.toLocaleString('en-US')} lines -> ${all.events.length.toLocaleString('en-US')} events. Node ${process.version}, ${cpus()[0]?.model ?? 'unknown CPU'}.\n`);
  console.log('| stage | events/s per core |');
  console.log('|---|---:|');
  console.log(`| collect | ${fmt(measure(runCollect, all))} |`);
  console.log(`| normalize | ${fmt(measure(runNormalize, all))} |`);
  console.log(`| collect + normalize | ${fmt(measure(runBoth, all))} |`);

  console.log('\n| input | lines | formats seen (normalizer) | collect + normalize events/s |');
  console.log('|---|---:|---|---:|');
  for (const s of sources) {
    const p = prepare(s.lines);
    const formats = new Map<string, number>();
    for (const e of p.events) for (const o of normalize.process(e, ctx)) {
      const f = (o.value as LogRecord).source.format;
      formats.set(f, (formats.get(f) ?? 0) + 1);
    }
    const seen = [...formats].sort((a, b) => b[1] - a[1]).map(([f, n]) => `${f} ${((100 * n) / p.events.length).toFixed(0)}%`).join(', ');
    console.log(`| ${s.name} | ${s.lines.length.toLocaleString('en-US')} | ${seen} | ${fmt(measure(runBoth, p))} |`);
  }
}

// ---------------------------------------------------------------------------------------
// Through Kafka

/** As test/helpers.ts isolatedEnv (not imported: test/ is not compiled to dist/). */
function isolatedEnv(runId: string): NodeJS.ProcessEnv {
  const topics = { RAW: 'logs.raw', COLLECTED: 'logs.collected', NORMALIZED: 'logs.normalized', ENRICHED: 'logs.enriched', METRICS: 'metrics.derived', SPANS: 'traces.spans', TRACES: 'traces.summaries', DLQ: 'logs.dlq' };
  const env: NodeJS.ProcessEnv = { ...process.env, SLUICE_LOG_LEVEL: 'warn' };
  for (const [k, v] of Object.entries(topics)) env[`SLUICE_TOPIC_${k}`] = `${runId}.${v}`;
  for (const s of ['COLLECTOR', 'NORMALIZER']) env[`SLUICE_${s}_GROUP`] = `${runId}-${s.toLowerCase()}`;
  return env;
}

async function produce(kafka: KafkaClient, topic: string, lines: readonly Buffer[], n: number): Promise<void> {
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  try {
    const batch = 2000;
    for (let i = 0; i < n; i += batch) {
      const messages = [];
      for (let j = i; j < Math.min(n, i + batch); j++) messages.push({ key: String(j % 64), value: lines[j % lines.length] as Buffer });
      await producer.send({ topic, acks: -1, messages });
    }
  } finally {
    await producer.disconnect();
  }
}

interface Span {
  first: number;
  last: number;
  count: number;
}

/** Poll sent totals until both services stop moving for `idleMs` (or `n` reached downstream). */
async function watch(procs: readonly ServiceProcess[], n: number, idleMs: number, timeoutMs: number): Promise<Map<string, Span>> {
  const spans = new Map<string, Span>(procs.map((p) => [p.name, { first: 0, last: 0, count: 0 }]));
  const deadline = Date.now() + timeoutMs;
  let lastMove = Date.now();
  for (;;) {
    const now = performance.now();
    for (const p of procs) {
      const count = metricTotal(await scrape(p), 'sluice_records_sent_total');
      const s = spans.get(p.name) as Span;
      if (count > s.count) {
        if (s.count === 0) s.first = now;
        s.last = now;
        s.count = count;
        lastMove = Date.now();
      }
    }
    const done = [...spans.values()].every((s) => s.count >= n);
    if (done || Date.now() - lastMove > idleMs || Date.now() > deadline) return spans;
    await new Promise((r) => setTimeout(r, 100));
  }
}


async function throughKafka(root: string, sources: readonly Source[]): Promise<void> {
  const lines = sources.flatMap((s) => s.lines);
  const runId = `bench${Date.now().toString(36)}`;
  const env = isolatedEnv(runId);
  const log = createLogger('bench', 'warn');
  const brokers = (process.env['SLUICE_KAFKA_BROKERS'] || '127.0.0.1:9092').split(',');
  const kafka = createKafka({ brokers, clientId: 'sluice-bench', saslMechanism: '', saslUsername: undefined, saslPassword: undefined, ssl: false, topicPartitions: 3, topicReplication: 1, createTopics: true }, 'bench', log);
  let procs: ServiceProcess[] = [];
  try {
    // Backlog first, so each service runs flat out from its first fetch.
    await ensureTopics(kafka, [`${runId}.logs.raw`], 3, 1, log);
    const t0 = performance.now();
    await produce(kafka, `${runId}.logs.raw`, lines, KAFKA_LINES);
    const produceS = (performance.now() - t0) / 1000;
    procs = await startServices({ env, logDir: join(root, '.stack', 'logs', 'bench', runId), names: ['collector', 'normalizer'] });
    await waitReady(procs);
    const spans = await watch(procs, KAFKA_LINES, 15_000, 600_000);
    console.log(`\n### Through Kafka (one collector, one normalizer; ${KAFKA_LINES.toLocaleString('en-US')} lines produced in ${produceS.toFixed(1)} s; topics ${runId}.*)\n`);
    console.log('| service | records out | first -> last record (s) | events/s per instance |');
    console.log('|---|---:|---:|---:|');
    for (const [name, s] of spans) {
      const secs = (s.last - s.first) / 1000;
      console.log(`| ${name} | ${s.count.toLocaleString('en-US')} | ${secs.toFixed(2)} | ${secs > 0 ? fmt(s.count / secs) : 'n/a'} |`);
    }
    const missing = [...spans].filter(([, s]) => s.count < KAFKA_LINES).map(([n, s]) => `${n} ${s.count}`);
    if (missing.length > 0) console.log(`\nnote: not every line came out (${missing.join(', ')} of ${KAFKA_LINES}); continuation lines merge, empty lines are dead letters, or the run timed out.`);
  } finally {
    await stopServices(procs);
    await deleteKafkaRun(kafka, runId).catch((err: unknown) => console.error(`cleanup of ${runId}.* failed: ${String(err)}`));
  }
}

// ---------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const root = repoRoot();
  const { sources, note } = loadCorpus(root);
  console.log(`## bench-normalize\n\n${note}`);
  pure(sources);
  const wantKafka = process.argv.includes('--kafka') || (!process.argv.includes('--no-kafka') && stackIsUp());
  if (wantKafka) await throughKafka(root, sources);
  else console.log('\n(through-Kafka part skipped: `scripts/stack status` is not up; pass --kafka to force it)');
  if (sink < 0) console.log(sink);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
