/**
 * `sluice parse`: the services' own stages (services/<name>/stages.ts) on a MemoryRunner
 * (shared/runner/memory-runner.ts), plus file input and NDJSON output. Nothing of a stage
 * is re-wired here, so `sluice parse` cannot drift from what the services do.
 *
 * Contract:
 * - every input line (without `\n` / `\r\n`, at most `maxLineBytes`; longer lines are cut
 *   and counted) is ONE raw Kafka message, as a shipper like kcat sends it: topic
 *   `file:<name>` (or `topic` for every input), partition 0, offsets from 0 in line order,
 *   Kafka timestamp the caller's `timestampMs` (file mtime, now for stdin), headers
 *   `tenant` / `service` / `format` from the options. With `kcat`, a line is instead one
 *   message as `kcat -C -J` prints it (`payload`, `key`, `headers` as
 *   `[name, value, ...]`, `ts`): its key, headers (over the options') and timestamp are
 *   the message's; a line that is not such an object is counted and skipped;
 * - the stages and their settings are the services': the collector, normalizer (and with
 *   `enrich` the enricher) configuration is read from `env` (SLUICE_* variables) exactly
 *   as their main.ts reads it, so a configuration problem is a ConfigError;
 * - multi-line events merge across lines by the collector's rules (stack traces, CRI
 *   partial lines, sluice.yaml start rules); a file's last events are emitted at its end
 *   (with `topic`, after the collector's timeout, as on Kafka);
 *   with `live` input (stdin) the clock is the wall clock and a quiet stream's event is
 *   emitted after the collector's multi-line timeout, as on Kafka. Otherwise the clock
 *   stands at `startedAtMs` (every record's observed_at);
 * - lines reach the stages in batches of BATCH_LINES (line by line when live), as a Kafka
 *   consumer fetches them: late metric deltas merge per batch, as on Kafka;
 * - records are written in the order the stages emit them (a multi-line event when the
 *   next event of its stream starts); stdout gets logs.normalized, or logs.enriched with
 *   `enrich`; `derived` gets metrics.derived, traces.spans and traces.summaries as they
 *   close, the rest at `finish()`, which lets time pass until the enricher holds nothing;
 * - bad input never stops a run: dead letters are counted by code (with the first
 *   message of each); a blank line the collector refuses is counted as an empty line,
 *   not as a dead letter;
 * - output keeps the Avro field names and order; times are RFC 3339 UTC with six
 *   fractional digits.
 */
import { readFileSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { loadConfig } from '../shared/config.js';
import type { CompiledFormat } from '../shared/formats/rules.js';
import { formatMicros } from '../shared/time/timestamps.js';
import type { DeadLetter, LogRecord, MetricWindow, RawEvent, Span, TraceSummary } from '../shared/records.js';
import { MemoryRunner, topicsOf, type AnyStageBinding, type MemoryRecord } from '../shared/runner/index.js';
import { ErrorCodes } from '../shared/errors.js';
import { schema as collectorSchema, strictPrefixes as collectorPrefixes } from '../services/collector/config.js';
import { collectorStages } from '../services/collector/stages.js';
import { schema as normalizerSchema, strictPrefixes as normalizerPrefixes } from '../services/normalizer/config.js';
import { normalizerStages } from '../services/normalizer/stages.js';
import type { Explanation } from '../services/normalizer/normalize.js';
import { schema as enricherSchema, strictPrefixes as enricherPrefixes } from '../services/enricher/config.js';
import { enricherStages } from '../services/enricher/stages.js';
import { createEnrichContext } from '../services/enricher/enrich.js';

export type LineSink = (ndjsonLine: string) => void | Promise<void>;

/** Where derived NDJSON lines go (`--derived <dir>`: metrics.ndjson, spans.ndjson, traces.ndjson). */
export interface DerivedSinks {
  metrics: LineSink;
  spans: LineSink;
  traces: LineSink;
}

export interface ParseOptions {
  /** observed_at of every record of a file, ms since the epoch (the clock for non-live input). */
  startedAtMs: number;
  /** The services' configuration (SLUICE_* variables); default process.env. */
  env?: NodeJS.ProcessEnv | undefined;
  /** Kafka headers of every line: `tenant`, `service` (--source), `format`. */
  tenant?: string | undefined;
  source?: string | undefined;
  format?: string | undefined;
  /** Every input is read as this one topic (offsets continue across inputs); default `file:<name>` each. */
  topic?: string | undefined;
  /** Merge multi-line events across lines (default true); false: every line is its own record. */
  multiline?: boolean | undefined;
  /** `--rules FILE`: user-declared formats. */
  formats?: readonly CompiledFormat[] | undefined;
  /** `--generic-only`: every system-specific reader off. */
  readers?: 'all' | 'generic' | undefined;
  /** `--explain`: each record gets an `explain` object (reader, time, level). */
  explain?: boolean | undefined;
  /** `--enrich`: the enricher's stages too; stdout gets logs.enriched. */
  enrich?: boolean | undefined;
  /** `--derived`: where metric windows, spans and trace summaries go (with `enrich`). */
  derived?: DerivedSinks | undefined;
  /** Longest input line kept, bytes; the rest is discarded. Default 8 MiB. */
  maxLineBytes?: number | undefined;
  /** `--kcat`: input lines are Kafka messages as `kcat -C -J` prints them. */
  kcat?: boolean | undefined;
}

export interface ParseSummary {
  lines: number;
  emptyLines: number;
  oversizedLines: number;
  records: number;
  /** Non-blank lines that joined the event of an earlier line. */
  mergedLines: number;
  /** `kcat`: lines that were not a `kcat -J` message. */
  badLines: number;
  /** Dead letters by error code, with the first message seen for each. */
  deadLetters: Map<string, { count: number; example: string }>;
}

/** A LogRecord as one NDJSON line (without the newline). */
export function toNdjson(record: LogRecord, explain?: Explanation): string {
  const out = { ...record, timestamp: formatMicros(record.timestamp), observed_at: formatMicros(record.observed_at) };
  return JSON.stringify(explain ? { ...out, explain } : out);
}

/** A MetricWindow as one NDJSON line: Avro field names and order, window bounds as RFC 3339 (µs), the sketch as base64. */
export function metricToNdjson(w: MetricWindow): string {
  return JSON.stringify({ ...w, window_start: formatMicros(w.window_start), window_end: formatMicros(w.window_end), sketch: w.sketch ? w.sketch.toString('base64') : null });
}

/** A Span as one NDJSON line: Avro field names and order, start/end as RFC 3339 (µs). */
export function spanToNdjson(s: Span): string {
  return JSON.stringify({ ...s, start: formatMicros(s.start), end: formatMicros(s.end) });
}

/** A TraceSummary as one NDJSON line: Avro field names and order, start as RFC 3339 (µs). */
export function traceToNdjson(t: TraceSummary): string {
  return JSON.stringify({ ...t, start: formatMicros(t.start) });
}

/** Split a byte stream into lines (Buffers, so invalid UTF-8 reaches the collector intact). */
export async function* readLines(stream: Readable | AsyncIterable<Buffer | string>, maxLineBytes: number, onOversized: () => void = () => undefined): AsyncGenerator<Buffer> {
  let parts: Buffer[] = [];
  let size = 0;
  let overflow = false;
  const take = (chunk: Buffer): void => {
    if (overflow) return;
    const room = maxLineBytes - size;
    if (chunk.length > room) {
      chunk = chunk.subarray(0, room);
      overflow = true;
      onOversized();
    }
    parts.push(chunk);
    size += chunk.length;
  };
  const line = (): Buffer => {
    let b = parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts);
    if (!overflow && b.length > 0 && b[b.length - 1] === 0x0d) b = b.subarray(0, b.length - 1);
    parts = [];
    size = 0;
    overflow = false;
    return b;
  };
  for await (const c of stream as AsyncIterable<Buffer | string>) {
    let chunk = typeof c === 'string' ? Buffer.from(c, 'utf8') : c;
    for (let nl = chunk.indexOf(0x0a); nl >= 0; nl = chunk.indexOf(0x0a)) {
      take(chunk.subarray(0, nl));
      yield line();
      chunk = chunk.subarray(nl + 1);
    }
    if (chunk.length > 0) take(chunk);
  }
  if (size > 0 || overflow) yield line();
}

function isBlank(b: Buffer): boolean {
  for (const byte of b) if (byte !== 0x20 && byte !== 0x09 && byte !== 0x0d && byte !== 0x0b && byte !== 0x0c) return false;
  return true;
}

const USER_FORMAT = /^format "(.*)" \(sluice\.yaml\)$/;
/**
 * Lines of a file handed to the stages at once: the batch a Kafka consumer would fetch
 * (late metric deltas merge per batch) and the most lines held in memory. Live input
 * (stdin) is handed on line by line.
 */
const BATCH_LINES = 500;

export class ParsePipeline {
  readonly summary: ParseSummary = { lines: 0, emptyLines: 0, oversizedLines: 0, records: 0, mergedLines: 0, badLines: 0, deadLetters: new Map() };
  /** Records read by each user format (`--rules`), to say which matched nothing. */
  readonly formatCounts = new Map<string, number>();
  readonly derivedCounts = { windows: 0, lateRecords: 0, spans: 0, traces: 0 };
  private readonly explanations = new Map<string, Explanation>();
  /** NDJSON lines produced by the last step, waiting to be written: [sink, line]. */
  private pending: Array<[LineSink, string]> = [];
  private sink: LineSink = () => undefined;
  /** Set by the first live input (stdin): the stages' clock is the wall clock from then on. */
  private live = false;
  /** Raw events the collector emitted, and raw lines it dead-lettered (not blank): for `mergedLines`. */
  private collected = 0;
  private collectorRefused = 0;
  private readonly headers: Record<string, string> = {};
  private readonly topics: { raw: string; collected: string; output: string; metrics: string; spans: string; traces: string; dlq: string };
  private readonly runner: MemoryRunner;

  private constructor(
    private readonly opts: ParseOptions,
    runner: MemoryRunner,
    topics: ParsePipeline['topics'],
    private readonly multilineTimeoutMs: number,
  ) {
    this.runner = runner;
    this.topics = topics;
    if (opts.tenant) this.headers['tenant'] = opts.tenant;
    if (opts.source) this.headers['service'] = opts.source;
    if (opts.format) this.headers['format'] = opts.format;
    for (const f of opts.formats ?? []) this.formatCounts.set(f.name, 0);
  }

  /** Builds the services' stages from their configuration; throws ConfigError on a bad setting (a zone, a pattern, a catalog). */
  static async create(opts: ParseOptions): Promise<ParsePipeline> {
    const env = opts.env ?? process.env;
    const formats = opts.formats ?? [];
    const collector = loadConfig(collectorSchema, env, collectorPrefixes);
    const normalizer = loadConfig(normalizerSchema, env, normalizerPrefixes);
    let self: ParsePipeline | undefined;
    const observe = opts.explain || formats.length > 0;
    const bindings: AnyStageBinding[] = [
      ...collectorStages(collector, formats, opts.multiline !== false),
      ...normalizerStages(normalizer, formats, { readers: opts.readers, onExplain: observe ? (r, ex) => self?.explained(r, ex) : undefined }),
    ];
    let output = normalizer.topicNormalized;
    if (opts.enrich) {
      const enricher = loadConfig(enricherSchema, env, enricherPrefixes);
      bindings.push(...enricherStages(enricher, createEnrichContext(enricher, { readFile: (p) => readFileSync(p, 'utf8') })));
      output = enricher.topicEnriched;
    }
    const c = collector;
    const topics = { raw: c.topicRaw, collected: c.topicCollected, output, metrics: c.topicMetrics, spans: c.topicSpans, traces: c.topicTraces, dlq: c.topicDlq };
    const clock = { now: () => (self?.live ? Date.now() : opts.startedAtMs) };
    // Every input topic (`file:<name>`, `--topic`) is read by the collector as its raw topic.
    const sluiceTopics = new Set(topicsOf(bindings, c.topicDlq));
    const route = (t: string): string => (sluiceTopics.has(t) ? t : c.topicRaw);
    const runner = await MemoryRunner.create({ bindings, topics: c, clock: () => clock.now(), route, onRecord: (r) => self?.onRecord(r) });
    self = new ParsePipeline(opts, runner, topics, collector.multilineTimeoutMs);
    return self;
  }

  /**
   * Run one input to its end; `name` makes topic `file:<name>` (unless `topic`). `live`
   * (stdin): the wall clock runs and quiet streams are flushed as on Kafka.
   */
  async run(name: string, timestampMs: number, input: Readable | AsyncIterable<Buffer | string>, sink: LineSink, opts: { live?: boolean } = {}): Promise<void> {
    const topic = this.opts.topic ?? `file:${name}`;
    this.sink = sink;
    const live = opts.live === true;
    if (live) this.live = true;
    // Writes are chained so the flush timer and the read loop never interleave.
    let chain: Promise<void> = Promise.resolve();
    const writeOut = (): Promise<void> => {
      const lines = this.pending;
      this.pending = [];
      if (lines.length > 0) chain = chain.then(async () => {
        for (const [s, l] of lines) await s(l);
      });
      return chain;
    };
    const timer = live ? setInterval(() => {
      this.runner.tick();
      void writeOut().catch(() => undefined);
    }, Math.max(10, Math.floor(this.multilineTimeoutMs / 2))) : undefined;
    let unpumped = 0;
    try {
      for await (const line of readLines(input, this.opts.maxLineBytes ?? 8 * 1_048_576, () => this.summary.oversizedLines++)) {
        this.summary.lines++;
        const message = this.opts.kcat ? this.kcatMessage(line, timestampMs) : { key: null, value: line, headers: this.headers, timestampMs };
        if (message === null) continue;
        if (isBlank(message.value)) this.summary.emptyLines++;
        this.runner.produce(topic, message);
        if (live || ++unpumped >= BATCH_LINES) {
          unpumped = 0;
          this.runner.pump();
          await writeOut();
        }
      }
      this.runner.pump();
      if (!this.opts.topic) this.runner.endOfInput(topic);
      await writeOut();
    } finally {
      // The clock stays the wall clock after live input: what the stages hold is timed by it.
      if (timer) clearInterval(timer);
    }
  }

  /**
   * End of all inputs: time passes until no stage holds anything (the enricher's last
   * windows, spans and traces; with `topic`, also the collector's last multi-line events,
   * after its timeout, exactly as on Kafka: a topic has no end).
   */
  async finish(): Promise<void> {
    this.runner.drain();
    const lines = this.pending;
    this.pending = [];
    for (const [s, l] of lines) await s(l);
    this.summary.mergedLines = this.summary.lines - this.summary.badLines - this.summary.emptyLines - this.collected - this.collectorRefused;
  }

  /** A `kcat -C -J` line as the message it prints; null (counted) when it is not one. */
  private kcatMessage(line: Buffer, timestampMs: number): { key: string | null; value: Buffer; headers: Record<string, string>; timestampMs: number } | null {
    let m: { payload?: unknown; key?: unknown; headers?: unknown; ts?: unknown };
    try {
      m = JSON.parse(line.toString('utf8')) as typeof m;
    } catch {
      m = {};
    }
    const headers = { ...this.headers };
    const list = Array.isArray(m.headers) ? (m.headers as unknown[]) : [];
    for (let i = 0; i + 1 < list.length; i += 2) headers[String(list[i])] = String(list[i + 1]);
    if (typeof m !== 'object' || m === null || !('payload' in m) || (m.payload !== null && typeof m.payload !== 'string')) {
      this.summary.badLines++;
      return null;
    }
    return {
      key: typeof m.key === 'string' ? m.key : null,
      value: Buffer.from((m.payload as string | null) ?? '', 'utf8'),
      headers,
      timestampMs: typeof m.ts === 'number' && Number.isFinite(m.ts) ? m.ts : timestampMs,
    };
  }

  private explained(record: LogRecord, ex: Explanation): void {
    if (this.opts.explain) this.explanations.set(record.event_id, ex);
    const name = USER_FORMAT.exec(ex.reader)?.[1];
    if (name !== undefined) this.formatCounts.set(name, (this.formatCounts.get(name) ?? 0) + 1);
  }

  private onRecord(r: MemoryRecord): void {
    const t = this.topics;
    const derived = this.opts.derived;
    if (r.topic === t.collected) {
      this.collected++;
    } else if (r.topic === t.output) {
      const record = this.runner.decode<LogRecord>(r);
      const ex = this.explanations.get(record.event_id);
      if (ex) this.explanations.delete(record.event_id);
      this.pending.push([this.sink, toNdjson(record, ex)]);
      this.summary.records++;
    } else if (r.topic === t.metrics) {
      const w = this.runner.decode<MetricWindow>(r);
      this.derivedCounts.windows++;
      this.derivedCounts.lateRecords += w.late_count;
      if (derived) this.pending.push([derived.metrics, metricToNdjson(w)]);
    } else if (r.topic === t.spans) {
      this.derivedCounts.spans++;
      if (derived) this.pending.push([derived.spans, spanToNdjson(this.runner.decode<Span>(r))]);
    } else if (r.topic === t.traces) {
      this.derivedCounts.traces++;
      if (derived) this.pending.push([derived.traces, traceToNdjson(this.runner.decode<TraceSummary>(r))]);
    } else if (r.topic === t.dlq) {
      this.deadLetter(this.runner.decode<DeadLetter>(r));
    }
  }

  private deadLetter(d: DeadLetter): void {
    if (d.stage === 'collector') {
      // A blank line with no event to join: counted among the empty lines, not as a dead letter.
      if (d.error_code === ErrorCodes.inputEmpty && isBlank(d.original)) return;
      this.collectorRefused++;
    }
    const entry = this.summary.deadLetters.get(d.error_code);
    if (entry) entry.count++;
    else this.summary.deadLetters.set(d.error_code, { count: 1, example: d.message });
  }

  /** The one-line summary for stderr. */
  summaryLine(): string {
    const s = this.summary;
    const dead = [...s.deadLetters.values()].reduce((n, d) => n + d.count, 0);
    const reasons = [...s.deadLetters].map(([code, d]) => `${code} x${d.count} (e.g. ${JSON.stringify(d.example)})`).join(', ');
    const base = `sluice parse: ${s.lines} lines read, ${s.badLines > 0 ? `${s.badLines} not kcat -J messages skipped, ` : ''}${s.emptyLines} empty skipped, ${s.oversizedLines} oversized cut, ${s.mergedLines} merged into multi-line events, ${s.records} records written${this.opts.enrich ? ' (enriched)' : ''}, ${dead} dead letters${reasons ? `: ${reasons}` : ''}`;
    const formats = [...this.formatCounts].map(([name, n]) => `${name} ${n}${n === 0 ? ' (matched nothing)' : ''}`).join(', ');
    const withFormats = formats ? `${base}; formats: ${formats}` : base;
    if (!this.opts.derived) return withFormats;
    const c = this.derivedCounts;
    return `${withFormats}; derived ${c.windows} metric windows (${c.lateRecords} late records in delta windows), ${c.spans} spans, ${c.traces} traces`;
  }
}
