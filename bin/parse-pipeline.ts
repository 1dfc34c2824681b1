/**
 * Kafka-free driver for `sluice parse`: runs the very same collect and normalize stages
 * over lines of a file or stdin and renders LogRecords as NDJSON.
 *
 * Contract:
 * - input lines (without `\n` / `\r\n`) are merged into multi-line events across lines
 *   by `MultilineMerger` (services/collector/multiline.ts: stack traces, Python
 *   tracebacks, Go dumps, CRI partial lines), keyed by input and envelope stream
 *   (`streamKeyOf`, as the collector keys them within a message). Each merged event is
 *   ONE raw Kafka message (its raw lines joined with `\n`) at topic `file:<name>`,
 *   partition 0, offset = the 1-based line number of its first line, Kafka timestamp =
 *   the caller's `timestampMs` (file mtime, or now for stdin); `observed_at` is the fixed
 *   `startedAtMs`. The collector then splits that message exactly as it would a
 *   multi-line Kafka message, so the merge rules are the collector's. Pending events
 *   are emitted at the end of each input, and, with `idleFlushMs` (streaming stdin),
 *   once their stream has been quiet that long. With `multiline: false` every line is
 *   its own message (the pre-merge behaviour);
 * - records come out in input order of their event's first line, also when streams
 *   interleave (Docker stdout/stderr): a completed event waits for the pending events
 *   of other streams that started before it. A pending event is closed once
 *   `MAX_HOLD_LINES` lines have been read after its first line, which bounds that wait
 *   (and the memory it takes) for files with several streams;
 * - lines that are empty or whitespace-only are counted and are not events: they are
 *   kept inside a multi-line event when a continuation follows (a Go panic's blank line),
 *   dropped otherwise, never dead-lettered. A non-blank line whose envelope holds an
 *   empty body (`{"log":"\n",...}`) goes to the collector alone when its stream has no
 *   pending event (and is dead-lettered as SLUICE_ERR_INPUT_EMPTY, as before);
 * - a stage error (PermanentError or anything unexpected) is counted by code as a dead
 *   letter and the run goes on: bad input never stops it;
 * - output keeps the Avro LogRecord field names and order; `timestamp` and `observed_at`
 *   are RFC 3339 UTC strings with exactly six fractional digits;
 * - with `enrich` (`--enrich`), each normalized record goes through the enricher's pure
 *   stage before it is written; with `enrich.derive` (`--derived`) the enriched records
 *   also feed a `Deriver` (metric windows, spans, trace summaries exactly as the
 *   enricher derives them from ONE partition: all inputs, in the order given, are one
 *   stream, so files should be given oldest first) whose lines go to `RunOptions.derived`
 *   as windows and spans close, and the rest at `finishDerived()`;
 * - memory is bounded per stream by one pending event (at most `maxLineBytes` per line,
 *   1000 lines, and `maxEventBytes` characters of continuation; longer traces are cut
 *   into several events), never by the file; lines longer than `maxLineBytes` are cut and
 *   counted.
 */
import type { Readable } from 'node:stream';
import { createCollectStage } from '../services/collector/collect.js';
import { unwrapLine } from '../services/collector/envelopes.js';
import { MultilineMerger, type MergedEvent } from '../services/collector/multiline.js';
import { streamKeyOf } from '../services/collector/split.js';
import { createNormalizeStage, type Explanation, type NormalizeOptions } from '../services/normalizer/normalize.js';
import { multilineStartFor, type CompiledFormat } from '../shared/formats/rules.js';
import { formatMicros } from '../shared/time/timestamps.js';
import { MetricAggregator, type EmittedWindow } from '../services/enricher/metrics.js';
import { SpanDeriver } from '../services/enricher/traces.js';
import { TraceAssembler } from '../services/enricher/trace-summary.js';
import type { LogRecord, MetricWindow, RawEvent, Span, TraceSummary } from '../shared/records.js';
import type { Stage, StageContext, StageInput } from '../shared/stage.js';
import { classify } from '../shared/errors.js';

export interface ParseOptions {
  /** Format hint, as the Kafka header `format`. */
  format?: string | undefined;
  /** IANA zone for zone-less timestamps, passed to the normalizer. */
  zone?: string | undefined;
  /** Service hint, as the Kafka header `service`. */
  source?: string | undefined;
  /** Tenant, as the Kafka header `tenant`; default "default". */
  tenant?: string | undefined;
  /** observed_at of every record, ms since the epoch. */
  startedAtMs: number;
  /** Collector bound per event, bytes. Default 1 MiB (the collector's default). */
  maxEventBytes?: number;
  /** Longest input line kept, bytes; the rest is discarded. Default 8 MiB. */
  maxLineBytes?: number;
  /** Merge multi-line events across input lines. Default true. */
  multiline?: boolean;
  /** `--enrich`: the enricher's stage after normalize, and optionally its derivations. */
  enrich?: EnrichMode | undefined;
  /** `--rules FILE`: user-declared formats (shared/formats/rules.ts). */
  formats?: readonly CompiledFormat[] | undefined;
  /** `--generic-only`: every system-specific reader off (NormalizeOptions.readers). */
  readers?: 'all' | 'generic' | undefined;
  /** `--explain`: each NDJSON record gets an `explain` object (reader, time, level). */
  explain?: boolean | undefined;
}

/** What `sluice parse --enrich` adds after the normalizer (see `Deriver`). */
export interface EnrichMode {
  /** The enricher's pure stage, bound to its context (`(r) => enrich(r, context)`). */
  enrich: (record: LogRecord) => LogRecord;
  /** Also derive metric windows, spans and trace summaries (`--derived`); absent: enrich only. */
  derive?: DeriveSettings | undefined;
}

/** The enricher's derivation settings, in µs (its config in ms × 1000). */
export interface DeriveSettings {
  windowUs: number;
  allowedLatenessUs: number;
  spanInactivityUs: number;
  traceInactivityUs: number;
}

/** Where derived NDJSON lines go (`--derived <dir>`: metrics.ndjson, spans.ndjson, traces.ndjson). */
export interface DerivedSinks {
  metrics: LineSink;
  spans: LineSink;
  traces: LineSink;
}

export interface RunOptions {
  /**
   * Emit a pending multi-line event once its stream has been quiet this long (ms); for
   * streaming input (stdin). 0 or absent: only at the end of the input.
   */
  idleFlushMs?: number;
  /** Required when the pipeline derives (`enrich.derive`): where derived lines are written as they close. */
  derived?: DerivedSinks;
}

export interface ParseSummary {
  lines: number;
  emptyLines: number;
  oversizedLines: number;
  records: number;
  /** Lines that joined the event of an earlier line (continuations, kept blank lines). */
  mergedLines: number;
  /** Dead letters by error code, with the first message seen for each. */
  deadLetters: Map<string, { count: number; example: string }>;
}

export type LineSink = (ndjsonLine: string) => void | Promise<void>;

/** A LogRecord as one NDJSON line (without the newline). */
export function toNdjson(record: LogRecord, explain?: Explanation): string {
  const out = { ...record, timestamp: formatMicros(record.timestamp), observed_at: formatMicros(record.observed_at) };
  return JSON.stringify(explain ? { ...out, explain } : out);
}

/** A MetricWindow as one NDJSON line: Avro field names and order, window bounds as RFC 3339 (µs). */
export function metricToNdjson(w: MetricWindow): string {
  const s = w.series;
  return JSON.stringify({
    window_id: w.window_id,
    series: { service: s.service, route: s.route, method: s.method, status_class: s.status_class, level: s.level },
    window_start: formatMicros(w.window_start),
    window_end: formatMicros(w.window_end),
    count: w.count,
    error_count: w.error_count,
    duration_sum_us: w.duration_sum_us,
    bucket_bounds_us: w.bucket_bounds_us,
    bucket_counts: w.bucket_counts,
    p50_us: w.p50_us,
    p90_us: w.p90_us,
    p99_us: w.p99_us,
    exemplar_trace_id: w.exemplar_trace_id,
    exemplar_event_id: w.exemplar_event_id,
    late_count: w.late_count,
    tenant: w.tenant,
    // The serialized DDSketch (Avro bytes) as base64, as Elasticsearch holds it; null without durations.
    sketch: w.sketch ? w.sketch.toString('base64') : null,
  });
}

/** A Span as one NDJSON line: Avro field names and order, start/end as RFC 3339 (µs). */
export function spanToNdjson(s: Span): string {
  return JSON.stringify({
    trace_id: s.trace_id,
    span_id: s.span_id,
    parent_span_id: s.parent_span_id,
    service: s.service,
    operation: s.operation,
    start: formatMicros(s.start),
    end: formatMicros(s.end),
    duration_us: s.duration_us,
    status: s.status,
    event_count: s.event_count,
    derivation: s.derivation,
    tenant: s.tenant,
  });
}

/** A TraceSummary as one NDJSON line: Avro field names and order, start as RFC 3339 (µs). */
export function traceToNdjson(t: TraceSummary): string {
  return JSON.stringify({
    trace_id: t.trace_id,
    root_service: t.root_service,
    root_operation: t.root_operation,
    start: formatMicros(t.start),
    duration_us: t.duration_us,
    span_count: t.span_count,
    services: t.services,
    error: t.error,
    tenant: t.tenant,
  });
}

export interface DerivedLines {
  metrics: string[];
  spans: string[];
  traces: string[];
}

export interface DeriveCounts {
  windows: number;
  spans: number;
  traces: number;
  /** Records past their window's lateness: counted in delta windows (late_count 1), not dropped. */
  lateMetricRecords: number;
  /** Records of a span already emitted: counted, dropped (the span is not emitted twice). */
  lateSpanRecords: number;
  /** Spans of a trace already summarised: counted, dropped. */
  lateSpans: number;
}

/**
 * The enricher's derivations over one finite stream, as ONE input partition of
 * logs.normalized would see it: records in input order (offset = their index), metric
 * windows (MetricAggregator) and spans (SpanDeriver) closing on the event-time
 * watermark, every span also fed to the TraceAssembler (as traces.spans would). Derived
 * lines wait in `take()` until written; `drain()` at the end of the input emits what is
 * still open. Memory is what the aggregators bound (open windows × series cap, open span
 * groups, open traces), never the input.
 */
export class Deriver {
  private readonly metrics: MetricAggregator;
  private readonly spans: SpanDeriver;
  private readonly traces: TraceAssembler;
  private offset = 0;
  private spanOffset = 0;
  private pending: DerivedLines = { metrics: [], spans: [], traces: [] };
  private readonly emitted = { windows: 0, spans: 0, traces: 0 };

  constructor(settings: DeriveSettings) {
    this.metrics = new MetricAggregator({ windowUs: settings.windowUs, allowedLatenessUs: settings.allowedLatenessUs });
    this.spans = new SpanDeriver({ inactivityTimeoutUs: settings.spanInactivityUs });
    this.traces = new TraceAssembler({ inactivityTimeoutUs: settings.traceInactivityUs });
  }

  push(record: LogRecord): void {
    const offset = this.offset++;
    this.addWindows(this.metrics.add(record, offset));
    this.addSpans(this.spans.push(record, offset));
  }

  /** End of input: emit every open window, span and trace (in that order, so the last spans reach their traces). */
  drain(): void {
    this.addWindows(this.metrics.drain());
    this.addSpans(this.spans.drain());
    this.addTraces(this.traces.drain());
  }

  /** The derived lines produced since the last call. */
  take(): DerivedLines | null {
    const p = this.pending;
    if (p.metrics.length === 0 && p.spans.length === 0 && p.traces.length === 0) return null;
    this.pending = { metrics: [], spans: [], traces: [] };
    return p;
  }

  get counts(): DeriveCounts {
    return {
      ...this.emitted,
      lateMetricRecords: this.metrics.stats.lateEvents,
      lateSpanRecords: this.spans.stats.late,
      lateSpans: this.traces.stats.late,
    };
  }

  private addWindows(ws: readonly EmittedWindow[]): void {
    for (const w of ws) this.pending.metrics.push(metricToNdjson(w.window));
    this.emitted.windows += ws.length;
  }

  private addSpans(spans: readonly Span[]): void {
    for (const s of spans) {
      this.pending.spans.push(spanToNdjson(s));
      this.addTraces(this.traces.push(s, this.spanOffset++));
    }
    this.emitted.spans += spans.length;
  }

  private addTraces(ts: readonly TraceSummary[]): void {
    for (const t of ts) this.pending.traces.push(traceToNdjson(t));
    this.emitted.traces += ts.length;
  }
}

async function writeDerived(lines: DerivedLines, sinks: DerivedSinks): Promise<void> {
  for (const l of lines.metrics) await sinks.metrics(l);
  for (const l of lines.spans) await sinks.spans(l);
  for (const l of lines.traces) await sinks.traces(l);
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

interface PendingLine {
  lineNo: number;
  timestampMs: number;
  raw: Buffer;
}

const NEWLINE = Buffer.from('\n');
/** A pending multi-line event is closed this many input lines after its first line. */
export const MAX_HOLD_LINES = 1000;
const utf8 = new TextDecoder('utf-8', { fatal: false });

function isBlank(b: Buffer | string): boolean {
  if (typeof b === 'string') return b.trim().length === 0;
  for (const byte of b) if (byte !== 0x20 && byte !== 0x09 && byte !== 0x0d && byte !== 0x0b && byte !== 0x0c) return false;
  return true;
}

export class ParsePipeline {
  readonly summary: ParseSummary = { lines: 0, emptyLines: 0, oversizedLines: 0, records: 0, mergedLines: 0, deadLetters: new Map() };
  private readonly merger: MultilineMerger<PendingLine> | null;
  /** Streams whose last line was a CRI partial (`P`): their next line continues it. */
  private readonly openPartials = new Set<string>();
  /** Completed events not yet written, ordered by first line (waiting for earlier pending ones). */
  private ready: MergedEvent<PendingLine>[] = [];
  /** Wall-clock time of the last line per stream, for `idleFlushMs`. */
  private readonly lastSeen = new Map<string, number>();
  private readonly collect: Stage<Buffer>;
  private readonly normalize: Stage<RawEvent>;
  private readonly ctx: StageContext;
  private readonly headers: Record<string, string>;
  private readonly maxLineBytes: number;
  private readonly enrichRecord: ((record: LogRecord) => LogRecord) | null;
  /** Non-null with `enrich.derive`. */
  readonly deriver: Deriver | null;
  /** `--explain`: each normalized record's explanation, until it is written. */
  private readonly explanations = new WeakMap<LogRecord, Explanation>();
  /** User formats with a multi-line start rule, or undefined when none has one. */
  private readonly formats: readonly CompiledFormat[] | undefined;
  /** Records read by each user format (`--rules`), to say which matched nothing. */
  readonly formatCounts = new Map<string, number>();

  /** Throws (RangeError) on an unknown `zone`, before any input is read. */
  constructor(opts: ParseOptions) {
    this.collect = createCollectStage({ outputTopic: 'logs.collected', defaultTenant: 'default', maxEventBytes: opts.maxEventBytes ?? 1_048_576, formats: opts.formats });
    this.formats = opts.formats?.some((f) => f.multilineStart !== undefined) ? opts.formats : undefined;
    const normalizeOptions: NormalizeOptions = {
      outputTopic: 'logs.normalized',
      maxAttributes: 128,
      maxAttributeBytes: 4096,
      maxJsonDepth: 32,
      // Spread, so this compiles whether or not NormalizeOptions declares `zone`.
      ...(opts.zone === undefined ? {} : { zone: opts.zone }),
      formats: opts.formats,
      readers: opts.readers,
    };
    if (opts.explain || (opts.formats && opts.formats.length > 0)) {
      for (const f of opts.formats ?? []) this.formatCounts.set(f.name, 0);
      normalizeOptions.onExplain = (record, ex) => {
        if (opts.explain) this.explanations.set(record, ex);
        const name = /^format "(.*)" \(sluice\.yaml\)$/.exec(ex.reader)?.[1];
        if (name !== undefined) this.formatCounts.set(name, (this.formatCounts.get(name) ?? 0) + 1);
      };
    }
    this.normalize = createNormalizeStage(normalizeOptions);
    const startedAt = opts.startedAtMs;
    this.ctx = { now: () => startedAt };
    this.headers = {};
    if (opts.tenant) this.headers['tenant'] = opts.tenant;
    if (opts.source) this.headers['service'] = opts.source;
    if (opts.format) this.headers['format'] = opts.format;
    this.maxLineBytes = opts.maxLineBytes ?? 8 * 1_048_576;
    this.merger = opts.multiline === false ? null : new MultilineMerger<PendingLine>({ maxLines: 1000, maxChars: opts.maxEventBytes ?? 1_048_576 });
    this.enrichRecord = opts.enrich?.enrich ?? null;
    this.deriver = opts.enrich?.derive ? new Deriver(opts.enrich.derive) : null;
  }

  /** Run one input to the end; `name` becomes topic `file:<name>`. */
  async run(name: string, timestampMs: number, input: Readable | AsyncIterable<Buffer | string>, sink: LineSink, opts: RunOptions = {}): Promise<void> {
    const derivedSinks = opts.derived;
    if (this.deriver && !derivedSinks) throw new Error('ParsePipeline.run: a deriving pipeline needs opts.derived');
    // Sink calls are chained so the idle-flush timer and the read loop never interleave.
    let chain: Promise<void> = Promise.resolve();
    const emit = (lines: string[]): Promise<void> => {
      // Taken now, with the records that produced them, so nothing waits past this write.
      const derived = this.deriver?.take() ?? null;
      if (lines.length > 0 || derived) {
        chain = chain.then(async () => {
          for (const l of lines) await sink(l);
          if (derived && derivedSinks) await writeDerived(derived, derivedSinks);
        });
      }
      return chain;
    };
    const idle = opts.idleFlushMs ?? 0;
    const timer = idle > 0 && this.merger ? setInterval(() => void emit(this.flushIdle(Date.now(), idle)).catch(() => undefined), Math.max(10, Math.floor(idle / 2))) : undefined;
    try {
      let lineNo = 0;
      for await (const line of readLines(input, this.maxLineBytes, () => this.summary.oversizedLines++)) {
        lineNo++;
        await emit(this.processLine(name, timestampMs, lineNo, line));
      }
      await emit(this.finishInput());
    } finally {
      if (timer) clearInterval(timer);
    }
  }

  /**
   * Feed one input line; returns the NDJSON lines of the events it completed (with
   * `multiline: false`, of the line itself).
   */
  processLine(name: string, timestampMs: number, lineNo: number, line: Buffer): string[] {
    this.summary.lines++;
    const blank = isBlank(line);
    if (blank) this.summary.emptyLines++;
    if (!this.merger) return blank ? [] : this.processMessage(name, timestampMs, lineNo, line);

    const item: PendingLine = { lineNo, timestampMs, raw: line };
    const env = blank ? null : unwrapLine(utf8.decode(line));
    const key = `${name}\u0000${env ? streamKeyOf(env) : ''}`;
    if (env && isBlank(env.body) && !env.partial && !this.openPartials.has(key) && !this.merger.hasPending(key)) {
      // An envelope around nothing, with no event to belong to: alone to the collector (a dead letter).
      this.queue([{ streamKey: key, body: '', lineCount: 1, firstAtMs: lineNo, truncated: false, payloads: [item] }]);
      return this.release(false);
    }
    const continues = this.openPartials.has(key);
    if (env?.partial) this.openPartials.add(key);
    else if (env) this.openPartials.delete(key);
    this.lastSeen.set(key, Date.now());
    // The merger's clock is the line number: an event's firstAtMs is its first line.
    const start = env && this.formats ? multilineStartFor(this.formats, { topic: `file:${name}`, service: this.headers['service'] || env.service, format: this.headers['format'] || env.format, file: env.file }) : undefined;
    this.queue(this.merger.push(env ? env.body : '', key, lineNo, { payload: item, continues, start }));
    for (let old = this.merger.oldestPending(); old && lineNo - old.firstAtMs >= MAX_HOLD_LINES; old = this.merger.oldestPending()) {
      this.queue(this.closeStream(old.streamKey));
    }
    return this.release(false);
  }

  /**
   * End of ALL inputs with `enrich.derive`: emit the windows, spans and traces still open
   * (the enricher would emit them later, when its watermark passes them). No-op otherwise.
   */
  async finishDerived(sinks: DerivedSinks): Promise<void> {
    if (!this.deriver) return;
    this.deriver.drain();
    const lines = this.deriver.take();
    if (lines) await writeDerived(lines, sinks);
  }

  /** End of one input: emit every pending event. */
  finishInput(): string[] {
    if (!this.merger) return [];
    this.openPartials.clear();
    this.lastSeen.clear();
    this.queue(this.merger.flush(0, 0));
    return this.release(true);
  }

  /** Close the pending events of streams quiet for `idleMs` of wall-clock time (streaming input). */
  flushIdle(nowMs: number, idleMs: number): string[] {
    if (!this.merger) return [];
    for (const [key, at] of this.lastSeen) if (nowMs - at >= idleMs) this.queue(this.closeStream(key));
    return this.release(false);
  }

  private closeStream(key: string): MergedEvent<PendingLine>[] {
    this.openPartials.delete(key);
    this.lastSeen.delete(key);
    return this.merger?.flushStream(key) ?? [];
  }

  private queue(events: MergedEvent<PendingLine>[]): void {
    if (events.length === 0) return;
    this.ready.push(...events);
    this.ready.sort((a, b) => a.firstAtMs - b.firstAtMs);
  }

  /** Write completed events that no pending event precedes (all of them when `all`). */
  private release(all: boolean): string[] {
    const limit = all ? Infinity : (this.merger?.oldestPending()?.firstAtMs ?? Infinity);
    let n = 0;
    while (n < this.ready.length && (this.ready[n] as MergedEvent<PendingLine>).firstAtMs < limit) n++;
    if (n === 0) return [];
    const events = this.ready.slice(0, n);
    this.ready = this.ready.slice(n);
    const out: string[] = [];
    for (const e of events) {
      const items = e.payloads ?? [];
      const head = items[0];
      if (!head) continue;
      this.summary.mergedLines += items.length - 1;
      const raw = items.length === 1 ? head.raw : Buffer.concat(items.flatMap((i, k) => (k === 0 ? [i.raw] : [NEWLINE, i.raw])));
      out.push(...this.processMessage(this.nameOf(e), head.timestampMs, head.lineNo, raw));
    }
    return out;
  }

  private nameOf(e: MergedEvent<PendingLine>): string {
    return e.streamKey.slice(0, e.streamKey.indexOf('\u0000'));
  }

  /** One synthetic Kafka message through collect + normalize; returns its NDJSON lines. */
  private processMessage(name: string, timestampMs: number, lineNo: number, line: Buffer): string[] {
    const envelope = { topic: `file:${name}`, partition: 0, offset: String(lineNo), timestampMs, key: null, headers: this.headers };
    const out: string[] = [];
    let collected;
    try {
      collected = this.collect.process({ ...envelope, value: line, raw: line }, this.ctx);
    } catch (err) {
      this.deadLetter(err);
      return out;
    }
    for (const c of collected) {
      try {
        const input: StageInput<RawEvent> = { ...envelope, key: c.key === null ? null : Buffer.from(c.key), value: c.value as RawEvent, raw: line };
        for (const n of this.normalize.process(input, this.ctx)) {
          const normalized = n.value as LogRecord;
          const record = this.enrichRecord ? this.enrichRecord(normalized) : normalized;
          const ex = this.explanations.get(normalized);
          out.push(ex ? toNdjson(record, ex) : toNdjson(record));
          this.deriver?.push(record);
        }
      } catch (err) {
        this.deadLetter(err);
      }
    }
    this.summary.records += out.length;
    return out;
  }

  /** The one-line summary for stderr. */
  summaryLine(): string {
    const s = this.summary;
    const dead = [...s.deadLetters.values()].reduce((n, d) => n + d.count, 0);
    const reasons = [...s.deadLetters].map(([code, d]) => `${code} x${d.count} (e.g. ${JSON.stringify(d.example)})`).join(', ');
    const base = `sluice parse: ${s.lines} lines read, ${s.emptyLines} empty skipped, ${s.oversizedLines} oversized cut, ${s.mergedLines} merged into multi-line events, ${s.records} records written${this.enrichRecord ? ' (enriched)' : ''}, ${dead} dead letters${reasons ? `: ${reasons}` : ''}`;
    const formats = [...this.formatCounts].map(([name, n]) => `${name} ${n}${n === 0 ? ' (matched nothing)' : ''}`).join(', ');
    const withFormats = formats ? `${base}; formats: ${formats}` : base;
    if (!this.deriver) return withFormats;
    const c = this.deriver.counts;
    return `${withFormats}; derived ${c.windows} metric windows, ${c.spans} spans, ${c.traces} traces; late: ${c.lateMetricRecords} records in delta windows, ${c.lateSpanRecords} records after their span closed, ${c.lateSpans} spans after their trace closed`;
  }

  private deadLetter(err: unknown): void {
    const e = classify(err);
    const d = this.summary.deadLetters.get(e.code);
    if (d) d.count++;
    else this.summary.deadLetters.set(e.code, { count: 1, example: e.message });
  }
}
