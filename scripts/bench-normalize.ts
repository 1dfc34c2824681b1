/**
 * Throughput of the collector and normalizer.
 *
 * 1. Pure (always): the real collect and normalize stages, single-threaded, no Kafka, over
 *    a mixed corpus read in place from $SLUICE_CORPUS_DIR or ../shared/corpus (Loghub
 *    *_2k.log, the elastic-examples Apache log, the loki-drain files) plus
 *    samples/sample.log; samples/sample.log alone, with a note, when the corpus is absent.
 *    Each line is one Kafka message of one partition, keyed by its input file. The
 *    collector is the streaming stage the Kafka collector runs (one partition state,
 *    multi-line events merged across messages, flushed at the end past the timeout);
 *    the per-message stage (golden tests, `sluice parse --no-multiline`) is a second row. One warm-up
 *    round, then ROUNDS timed rounds; prints the median events/s of collect alone,
 *    normalize alone (over the streaming collector's RawEvents) and both, and per
 *    input file.
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
import { createCollectStage, createStreamingCollectStage } from '../services/collector/collect.js';
import { createNormalizeStage } from '../services/normalizer/normalize.js';
import { loadConfigFile } from '../shared/config-file.js';
import type { CompiledFormat } from '../shared/formats/rules.js';
import { defaultCorpusDir } from './lib/corpus-eval.js';
import type { LogRecord, RawEvent } from '../shared/records.js';
import type { StageInput, StageOutput } from '../shared/stage.js';
import { repoRoot } from '../shared/schemas.js';
import { ensureTopics } from '../shared/kafka.js';
import { metricTotal, scrape, startServices, stopServices, waitReady, type ServiceProcess } from './lib/services.js';
import { arg, benchKafka, deleteRun, fmt, isolatedEnv, median, produceAll, runMain, throughKafkaIfWanted } from './lib/bench-common.js';

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
const collectOpts = { outputTopic: 'logs.collected', defaultTenant: 'default', maxEventBytes: 1_048_576 };
/** The collector's defaults (services/collector/config.ts). */
const streamingOpts = { ...collectOpts, multilineTimeoutMs: 2000, maxEventLines: 1000, maxHeldStreams: 128 };
/** The clock of the final flush: past the multi-line timeout, so every held event comes out. */
const flushCtx = { now: () => KAFKA_TS + 500 + streamingOpts.multilineTimeoutMs };
/** What the Kafka collector runs: one partition state, events merged across messages. */
const streaming = createStreamingCollectStage(streamingOpts);
/** The per-message shape (the golden tests, `sluice parse --no-multiline`): events merge within a message only. */
const perMessage = createCollectStage(collectOpts);
// Every variant has the same option keys, so the comparison is not one of V8 hidden classes.
const normalizeOpts = { outputTopic: 'logs.normalized', maxAttributes: 128, maxAttributeBytes: 4096, maxJsonDepth: 32, readers: 'all' as const, formats: [] as CompiledFormat[] };
const normalize = createNormalizeStage(normalizeOpts);
/** Every system-specific reader off: the generic header reader, JSON and logfmt alone. */
const normalizeGeneric = createNormalizeStage({ ...normalizeOpts, readers: 'generic' });
/** With the 20 user formats of scripts/bench-formats.yaml (ten scoped by service or file, ten tried on every line). */
const normalizeWithFormats = createNormalizeStage({ ...normalizeOpts, formats: loadConfigFile(join(repoRoot(), 'scripts', 'bench-formats.yaml')).formats });

/** One Kafka message per line, in one partition; the Kafka key names the input file (one stream per file). */
function rawInputs(sources: readonly Source[]): Array<StageInput<Buffer>> {
  const out: Array<StageInput<Buffer>> = [];
  for (const s of sources) {
    const key = Buffer.from(s.name);
    for (const line of s.lines) {
      const offset = String(out.length);
      out.push({ topic: 'logs.raw', partition: 0, offset, timestampMs: KAFKA_TS, key, headers: {}, value: line, raw: line });
    }
  }
  return out;
}

/** Pre-built inputs, so the timed loops measure the stages and not envelope building. */
interface Prepared {
  raws: Array<StageInput<Buffer>>;
  /** What the streaming collector emits for `raws`: the normalizer's input in production. */
  events: Array<StageInput<RawEvent>>;
}

/**
 * Feed every message, in order, to a fresh partition state, then flush it past the
 * multi-line timeout; `each` sees every event emitted. Dead letters (a message with no
 * non-blank line) are counted through `each(undefined)`.
 */
function streamAll(raws: ReadonlyArray<StageInput<Buffer>>, each: (o: StageOutput | undefined) => void): void {
  const state = streaming.open('logs.raw', 0, null);
  for (const r of raws) {
    let outs: StageOutput[];
    try {
      outs = state.process(r, ctx);
    } catch {
      each(undefined);
      continue;
    }
    for (const o of outs) each(o);
  }
  for (const o of state.flush(flushCtx)) each(o);
}

function asEvent(o: StageOutput): StageInput<RawEvent> {
  const value = o.value as RawEvent;
  const raw = o.origin?.raw ?? Buffer.alloc(0);
  return { topic: 'logs.collected', partition: 0, offset: String(value.origin.offset), timestampMs: KAFKA_TS, key: null, headers: {}, value, raw };
}

/** A copy with the collector's field order, so the normalizer sees the same object shapes. */
function copyEvent(e: RawEvent): RawEvent {
  return {
    event_id: e.event_id,
    tenant: e.tenant,
    observed_at: e.observed_at,
    kafka_timestamp: e.kafka_timestamp,
    origin: { topic: e.origin.topic, partition: e.origin.partition, offset: e.origin.offset, index: e.origin.index },
    format: e.format,
    shipper: e.shipper,
    service: e.service,
    host: e.host,
    file: e.file,
    envelope_time: e.envelope_time,
    body: e.body,
    flags: [...e.flags],
  };
}

/**
 * The normalizer's inputs are copies (as the normalizer decodes its own from Avro): if
 * the collector's own objects were kept here, V8 would see its allocation sites' objects
 * survive and pretenure them (allocate them in the old generation), which slows every
 * later collect round by ~15-20% with nothing kept in production.
 */
function prepare(sources: readonly Source[]): Prepared {
  const raws = rawInputs(sources);
  const events: Array<StageInput<RawEvent>> = [];
  streamAll(raws, (o) => {
    if (!o) return;
    const value = copyEvent(o.value as RawEvent);
    events.push({ topic: 'logs.collected', partition: 0, offset: String(value.origin.offset), timestampMs: KAFKA_TS, key: null, headers: {}, value, raw: Buffer.from(o.origin?.raw ?? []) });
  });
  return { raws, events };
}

let sink = 0; // keeps results observable so the JIT cannot drop the work

function runCollect(p: Prepared): number {
  streamAll(p.raws, (o) => {
    sink += o ? 1 : 2;
  });
  return p.raws.length;
}

function runCollectPerMessage(p: Prepared): number {
  for (const r of p.raws) {
    try {
      sink += perMessage.process(r, ctx).length;
    } catch {
      sink++;
    }
  }
  return p.raws.length;
}

function runNormalize(p: Prepared): number {
  for (const e of p.events) sink += normalize.process(e, ctx).length;
  return p.raws.length;
}

function runNormalizeGeneric(p: Prepared): number {
  for (const e of p.events) sink += normalizeGeneric.process(e, ctx).length;
  return p.raws.length;
}

function runNormalizeWithFormats(p: Prepared): number {
  for (const e of p.events) sink += normalizeWithFormats.process(e, ctx).length;
  return p.raws.length;
}

function runBoth(p: Prepared): number {
  streamAll(p.raws, (o) => {
    if (o) sink += normalize.process(asEvent(o), ctx).length;
  });
  return p.raws.length;
}

/** Events/s of one round of `f`, repeated for at least ~200 ms. */
function timedRound(f: (p: Prepared) => number, p: Prepared): number {
  let n = 0;
  const t0 = process.hrtime.bigint();
  let elapsed = 0;
  do {
    n += f(p);
    elapsed = Number(process.hrtime.bigint() - t0) / 1e9;
  } while (elapsed < 0.2);
  return n / elapsed;
}

/** Median events/s over ROUNDS rounds after one warm-up. */
function measure(f: (p: Prepared) => number, p: Prepared): number {
  const round = (): number => timedRound(f, p);
  round();
  return median(Array.from({ length: ROUNDS }, round));
}

/**
 * The throughput of `g` relative to `f` on the same input: rounds alternate f, g, f, g, …
 * and the median of the per-pair ratios is returned, so drift of the machine between two
 * separate measurements (±20% here) does not masquerade as a cost.
 */
function relative(f: (p: Prepared) => number, g: (p: Prepared) => number, p: Prepared): { f: number; g: number; ratio: number } {
  const round = (h: (p: Prepared) => number): number => timedRound(h, p);
  round(f);
  round(g);
  const pairs = Array.from({ length: Math.max(ROUNDS, 9) }, () => [round(f), round(g)] as const);
  return { f: median(pairs.map(([a]) => a)), g: median(pairs.map(([, b]) => b)), ratio: median(pairs.map(([a, b]) => b / a)) };
}

function pure(sources: readonly Source[]): void {
  const all = prepare(sources);
  console.log(`\n### Pure stages (single thread, no Kafka; median of ${ROUNDS} rounds after a warm-up)\n`);
  console.log(`${all.raws.length.toLocaleString('en-US')} lines (one Kafka message each, one partition, one stream per input file) -> ${all.events.length.toLocaleString('en-US')} events. One event/s is one input line per second. Node ${process.version}, ${cpus()[0]?.model ?? 'unknown CPU'}.\n`);
  console.log('| stage | events/s per core |');
  console.log('|---|---:|');
  console.log(`| collect (streaming, as the Kafka collector runs it) | ${fmt(measure(runCollect, all))} |`);
  console.log(`| collect (per message, as the golden tests and \`sluice parse --no-multiline\` run it) | ${fmt(measure(runCollectPerMessage, all))} |`);
  console.log(`| normalize (over the streaming collector's events) | ${fmt(measure(runNormalize, all))} |`);
  // Relative figures: rounds alternate with plain normalize (see `relative`).
  const generic = relative(runNormalize, runNormalizeGeneric, all);
  console.log(`| normalize, generic only (every system-specific reader off) | ${fmt(generic.g)} (${(100 * generic.ratio).toFixed(0)}% of normalize in alternating rounds) |`);
  const withFormats = relative(runNormalize, runNormalizeWithFormats, all);
  console.log(`| normalize with 20 user formats (scripts/bench-formats.yaml) | ${fmt(withFormats.g)} (${(100 * withFormats.ratio).toFixed(0)}% of normalize in alternating rounds) |`);
  console.log(`| collect (streaming) + normalize | ${fmt(measure(runBoth, all))} |`);

  console.log('\n| input | lines | events | formats seen (normalizer) | collect + normalize events/s |');
  console.log('|---|---:|---:|---|---:|');
  for (const s of sources) {
    const p = prepare([s]);
    const formats = new Map<string, number>();
    for (const e of p.events) for (const o of normalize.process(e, ctx)) {
      const f = (o.value as LogRecord).source.format;
      formats.set(f, (formats.get(f) ?? 0) + 1);
    }
    const seen = [...formats].sort((a, b) => b[1] - a[1]).map(([f, n]) => `${f} ${((100 * n) / p.events.length).toFixed(0)}%`).join(', ');
    console.log(`| ${s.name} | ${s.lines.length.toLocaleString('en-US')} | ${p.events.length.toLocaleString('en-US')} | ${seen} | ${fmt(measure(runBoth, p))} |`);
  }
}

// ---------------------------------------------------------------------------------------
// Through Kafka

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
  const env = isolatedEnv(runId, ['COLLECTOR', 'NORMALIZER']);
  const { kafka, log } = benchKafka();
  let procs: ServiceProcess[] = [];
  try {
    // Backlog first, so each service runs flat out from its first fetch.
    await ensureTopics(kafka, [`${runId}.logs.raw`], 3, 1, log);
    const t0 = performance.now();
    await produceAll(kafka, `${runId}.logs.raw`, KAFKA_LINES, (j) => ({ key: String(j % 64), value: lines[j % lines.length] as Buffer }));
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
    await deleteRun(kafka, runId);
  }
}

// ---------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const root = repoRoot();
  const { sources, note } = loadCorpus(root);
  console.log(`## bench-normalize\n\n${note}`);
  pure(sources);
  await throughKafkaIfWanted(() => throughKafka(root, sources));
  if (sink < 0) console.log(sink);
}

runMain(main);
