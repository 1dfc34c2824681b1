/**
 * The enricher's stateful stages (shared/stage.ts, StatefulStage): per input partition,
 * the enrichment of each record plus what is derived from the stream.
 *
 * `createDeriveStage` (logs.normalized -> logs.enriched, metrics.derived, traces.spans):
 * - every record is enriched (`enrich`, pure) and passed on at once, keyed by service;
 * - metric windows (metrics.ts) are emitted when the event-time watermark closes them,
 *   late records as delta windows at once;
 * - spans (traces.ts) are emitted when their group goes quiet in event time, a direct
 *   span (ids + duration on one log) at once.
 *
 * `createSummarizeStage` (traces.spans -> traces.summaries): trace summaries
 * (trace-summary.ts) once a trace goes quiet in event time. traces.spans is keyed by
 * trace id, so all spans of a trace meet in one partition.
 *
 * Exact restarts. The committed offset is the first input any open window, span group
 * or trace depends on; the metadata holds the watermarks and `until`, the offset read up
 * to (`en1;<until - offset>;<metrics watermark>;<spans watermark>`, `ts1;...`). A new
 * owner replays [offset, until): the records are re-enriched but NOT re-emitted (they
 * were), and the aggregators rebuild only the windows and groups still open under the
 * restored watermarks (what they had emitted stays emitted). From `until` on,
 * everything is as before the restart.
 *
 * Idle partitions. The watermark moves with event time only; a partition that receives
 * nothing for `idleAfterMs` of wall-clock time has its watermarks advanced by the idle
 * wall-clock time at each flush, so its last windows and spans close. The advanced
 * watermarks are in the next checkpoint, so a restart stays exact.
 */
import type { Checkpoint, PartitionStage, StageContext, StageInput, StageOutput, StatefulStage } from '../../shared/stage.js';
import type { LogRecord, Span } from '../../shared/records.js';
import { MetricAggregator, type EmittedWindow, type MetricOptions } from './metrics.js';
import { SpanDeriver, type SpanDeriverOptions } from './traces.js';
import { TraceAssembler, type TraceAssemblerOptions } from './trace-summary.js';

export interface DeriveOptions {
  topics: { enriched: string; metrics: string; spans: string };
  enrich: (record: LogRecord) => LogRecord;
  metrics: Partial<MetricOptions>;
  spans: SpanDeriverOptions;
  /** Wall-clock quiet time after which a partition's watermarks advance on their own, ms. */
  idleAfterMs: number;
  /** How often the runner calls flush, ms. */
  flushIntervalMs: number;
}

interface Replay {
  until: number;
  metricsWm: number | null;
  spansWm: number | null;
}

const num = (s: string | undefined): number | null => (s === undefined || s === 'n' ? null : Number(s));
const enc = (n: number | null): string => (n === null || !Number.isFinite(n) ? 'n' : String(n));

export function decodeDeriveCheckpoint(c: Checkpoint | null): Replay | null {
  const m = c?.metadata ? /^en1;(\d+);(n|-?\d+);(n|-?\d+)$/.exec(c.metadata) : null;
  if (!c || !m) return null;
  return { until: Number(c.offset) + Number(m[1]), metricsWm: num(m[2]), spansWm: num(m[3]) };
}

/** Wall-clock idle tracking shared by both stages. */
class Idle {
  private lastInputAt: number | null = null;
  private advancedTo = 0;
  constructor(private readonly afterMs: number) {}
  touch(nowMs: number): void {
    this.lastInputAt = nowMs;
    this.advancedTo = 0;
  }
  /** Event-time µs to add to the watermark now (0: not idle, or already advanced that far). */
  advance(nowMs: number): number {
    if (this.lastInputAt === null) return 0;
    const idleMs = nowMs - this.lastInputAt;
    if (idleMs < this.afterMs) return 0;
    const add = idleMs * 1000 - this.advancedTo;
    this.advancedTo = idleMs * 1000;
    return add;
  }
}

function seriesKey(w: EmittedWindow): string {
  const s = w.window.series;
  return [w.window.tenant, s.service, s.route, s.method, s.status_class, s.level].map((v) => v ?? '').join('|');
}

class DerivePartition implements PartitionStage<LogRecord> {
  private readonly metrics: MetricAggregator;
  private readonly spans: SpanDeriver;
  private replay: Replay | null;
  private readonly idle: Idle;

  constructor(
    private readonly opts: DeriveOptions,
    committed: Checkpoint | null,
  ) {
    this.replay = decodeDeriveCheckpoint(committed);
    const r = this.replay;
    this.metrics = new MetricAggregator(opts.metrics, r && r.metricsWm !== null ? { watermark: r.metricsWm, until: r.until } : null);
    this.spans = new SpanDeriver(opts.spans, r && r.spansWm !== null ? { watermarkUs: r.spansWm, untilOffset: r.until } : null);
    this.idle = new Idle(opts.idleAfterMs);
  }

  get held(): number {
    return this.metrics.openSeries + this.spans.held;
  }

  process(input: StageInput<LogRecord>, ctx: StageContext): StageOutput[] {
    const offset = Number(input.offset);
    if (this.replay && offset >= this.replay.until) this.replay = null;
    this.idle.touch(ctx.now());
    const record = this.opts.enrich(input.value);
    const out: StageOutput[] = [];
    if (!this.replay) out.push({ topic: this.opts.topics.enriched, key: record.service, value: record });
    this.windows(out, this.metrics.add(record, offset));
    this.spanOutputs(out, this.spans.push(record, offset));
    // The last input the previous owner had read: the replay is complete (no later input
    // need arrive for the idle flush to work again).
    if (this.replay && offset + 1 >= this.replay.until) this.replay = null;
    return out;
  }

  flush(ctx: StageContext): StageOutput[] {
    if (this.replay) return []; // the rest of the replay has not been read yet
    const add = this.idle.advance(ctx.now());
    if (add <= 0) return [];
    const out: StageOutput[] = [];
    const mw = this.metrics.watermark;
    if (mw !== null) this.windows(out, this.metrics.advanceWatermark(mw + add));
    if (Number.isFinite(this.spans.watermark)) this.spanOutputs(out, this.spans.advanceWatermark(this.spans.watermark + add));
    return out;
  }

  checkpoint(next: string): Checkpoint {
    const n = Number(next);
    const until = this.replay && this.replay.until > n ? this.replay.until : n;
    const m = this.metrics.minOpenOffset();
    const s = this.spans.minOpenOffset;
    let offset = n;
    if (m !== null && m < offset) offset = m;
    if (s !== null && s < offset) offset = s;
    const metadata = `en1;${until - offset};${enc(this.metrics.watermark)};${enc(this.spans.watermark)}`;
    return { offset: String(offset), metadata };
  }

  private windows(out: StageOutput[], ws: readonly EmittedWindow[]): void {
    for (const w of ws) out.push({ topic: this.opts.topics.metrics, key: seriesKey(w), value: w.window });
  }

  private spanOutputs(out: StageOutput[], spans: readonly Span[]): void {
    for (const s of spans) out.push({ topic: this.opts.topics.spans, key: s.trace_id, value: s });
  }
}

export function createDeriveStage(opts: DeriveOptions): StatefulStage<LogRecord> {
  return { name: 'enrich', flushIntervalMs: opts.flushIntervalMs, open: (_t, _p, committed) => new DerivePartition(opts, committed) };
}

export interface SummarizeOptions {
  topic: string;
  traces: TraceAssemblerOptions;
  idleAfterMs: number;
  flushIntervalMs: number;
}

export function decodeSummarizeCheckpoint(c: Checkpoint | null): { until: number; wm: number | null } | null {
  const m = c?.metadata ? /^ts1;(\d+);(n|-?\d+)$/.exec(c.metadata) : null;
  if (!c || !m) return null;
  return { until: Number(c.offset) + Number(m[1]), wm: num(m[2]) };
}

class SummarizePartition implements PartitionStage<Span> {
  private readonly traces: TraceAssembler;
  private replayUntil: number | null;
  private readonly idle: Idle;

  constructor(
    private readonly opts: SummarizeOptions,
    committed: Checkpoint | null,
  ) {
    const r = decodeSummarizeCheckpoint(committed);
    this.replayUntil = r ? r.until : null;
    this.traces = new TraceAssembler(opts.traces, r && r.wm !== null ? { watermarkUs: r.wm, untilOffset: r.until } : null);
    this.idle = new Idle(opts.idleAfterMs);
  }

  get held(): number {
    return this.traces.held;
  }

  process(input: StageInput<Span>, ctx: StageContext): StageOutput[] {
    const offset = Number(input.offset);
    if (this.replayUntil !== null && offset >= this.replayUntil) this.replayUntil = null;
    this.idle.touch(ctx.now());
    const out = this.traces.push(input.value, offset).map((t) => ({ topic: this.opts.topic, key: t.trace_id, value: t }));
    if (this.replayUntil !== null && offset + 1 >= this.replayUntil) this.replayUntil = null;
    return out;
  }

  flush(ctx: StageContext): StageOutput[] {
    if (this.replayUntil !== null) return [];
    const add = this.idle.advance(ctx.now());
    if (add <= 0 || !Number.isFinite(this.traces.watermark)) return [];
    return this.traces.advanceWatermark(this.traces.watermark + add).map((t) => ({ topic: this.opts.topic, key: t.trace_id, value: t }));
  }

  checkpoint(next: string): Checkpoint {
    const n = Number(next);
    const until = this.replayUntil !== null && this.replayUntil > n ? this.replayUntil : n;
    const min = this.traces.minOpenOffset;
    const offset = min !== null && min < n ? min : n;
    return { offset: String(offset), metadata: `ts1;${until - offset};${enc(this.traces.watermark)}` };
  }
}

export function createSummarizeStage(opts: SummarizeOptions): StatefulStage<Span> {
  return { name: 'summarize', flushIntervalMs: opts.flushIntervalMs, open: (_t, _p, committed) => new SummarizePartition(opts, committed) };
}
