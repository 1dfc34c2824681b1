/**
 * The enricher's stateful stages (shared/stage.ts, StatefulStage): per input partition,
 * the enrichment of each record plus what is derived from the stream.
 *
 * `createDeriveStage` (logs.normalized -> logs.enriched, metrics.derived, traces.spans):
 * - every record is enriched (`enrich`, pure) and passed on at once, keyed by service;
 * - metric windows (metrics.ts) are emitted when the event-time watermark closes them,
 *   late records as delta windows at the end of their batch (`endOfBatch`), one per
 *   series window;
 * - spans (traces.ts) are emitted when their group goes quiet in event time, a direct
 *   span (ids + duration on one log) at once.
 *
 * `createSummarizeStage` (traces.spans -> traces.summaries): trace summaries
 * (trace-summary.ts) once a trace goes quiet in event time. traces.spans is keyed by
 * trace id, so all spans of a trace meet in one partition.
 *
 * Exact restarts. The committed offset is the first input any open window, span group
 * or trace depends on; the metadata holds `until`, the offset read up to, and the
 * watermarks (per service for the derive stage; see decodeDeriveCheckpoint). A new
 * owner replays [offset, until): the records are re-enriched but NOT re-emitted (they
 * were), and the aggregators rebuild only the windows and groups still open under the
 * restored watermarks (what they had emitted stays emitted). From `until` on,
 * everything is as before the restart.
 *
 * Idle partitions. The watermark moves with event time only; a partition that is caught
 * up (nothing waiting in Kafka at its last fetch) and receives nothing for `idleAfterMs`
 * of wall-clock time has its watermarks advanced by the idle wall-clock time at each
 * flush, so its last windows and spans close. A partition that is merely behind (its
 * consumer lags) never advances this way. The advanced watermarks are in the next
 * checkpoint, so a restart stays exact.
 */
import { createHash } from 'node:crypto';
import type { Checkpoint, PartitionStage, StageContext, StageInput, StageOutput, StatefulStage } from '../../shared/stage.js';
import type { LogRecord, Span } from '../../shared/records.js';
import { MetricAggregator, type EmittedWindow, type MetricOptions, type PendingLane } from './metrics.js';
import { SpanDeriver, type SpanDeriverOptions } from './traces.js';
import { TraceAssembler, type TraceAssemblerOptions } from './trace-summary.js';

export interface DeriveOptions {
  topics: { enriched: string; metrics: string; spans: string };
  enrich: (record: LogRecord) => LogRecord;
  /**
   * What of an enriched record is stored (sluice.yaml routes): the record to write to
   * logs.enriched (possibly with a route label), or null to drop it. Metrics, spans and
   * traces are derived from every record either way. Not called while replaying (the
   * record was written, or dropped, before). Absent: every record is written.
   */
  store?: (record: LogRecord) => LogRecord | null;
  metrics: Partial<MetricOptions>;
  spans: SpanDeriverOptions;
  /** Wall-clock quiet time after which a partition's watermarks advance on their own, ms. */
  idleAfterMs: number;
  /** How often the runner calls flush, ms. */
  flushIntervalMs: number;
}

/** Where a service's aggregators resume (its watermarks at the checkpoint, and its pending late-lane windows). */
interface ServiceResume {
  metricsWm: number | null;
  spansWm: number | null;
  laneWm: number | null;
  /** Lane windows open at the checkpoint: start and first offset (absolute). */
  lanes: PendingLane[];
}

interface Replay {
  until: number;
  services: Map<string, ServiceResume>;
}

const num = (s: string | undefined): number | null => (s === undefined || s === 'n' ? null : parseInt(s, 36));
const enc = (n: number | null): string => (n === null || !Number.isFinite(n) ? 'n' : Math.trunc(n).toString(36));

/** 48 bits of SHA-256 of a service name: names it compactly in a checkpoint. */
export function serviceHash(service: string): string {
  return createHash('sha256').update(service).digest('hex').slice(0, 12);
}

/**
 * `en3;<until - offset>;<service hash>:<metrics watermark>:<spans watermark>:<lane
 * watermark>:<lanes>,...` (numbers in base 36, `n` for none; lanes `start@first offset −
 * offset` joined by `.`, the metrics late lane's windows still open; en2 entries end after
 * the spans watermark). At most MAX_SERVICES entries, and the lanes flushed at a batch
 * end when they would not fit (LANE_METADATA_BUDGET), keep it under Kafka's default 4 KB
 * offset metadata.
 */
export function decodeDeriveCheckpoint(c: Checkpoint | null): Replay | null {
  const m = c?.metadata ? /^en[23];(\d+);(.*)$/.exec(c.metadata) : null;
  if (!c || !m) return null;
  const base = Number(c.offset);
  const services = new Map<string, ServiceResume>();
  for (const e of (m[2] as string).split(',').filter(Boolean)) {
    const [h, mw, sw, lw, lanes] = e.split(':') as [string, string, string, string | undefined, string | undefined];
    services.set(h, {
      metricsWm: num(mw),
      spansWm: num(sw),
      laneWm: num(lw),
      lanes: (lanes ?? '').split('.').filter(Boolean).map((l) => {
        const [start, rel] = l.split('@') as [string, string];
        return { start: parseInt(start, 36), minOffset: base + parseInt(rel, 36) };
      }),
    });
  }
  return { until: base + Number(m[1]), services };
}

/** Longest derive checkpoint metadata a batch end leaves pending lanes for; beyond it they are emitted (Kafka's default limit is 4,096 bytes). */
export const LANE_METADATA_BUDGET = 3500;

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

/** Most services with state of their own per partition; the rest share OTHER_SERVICE's. */
export const MAX_SERVICES = 96;
const OTHER_SERVICE = '\u0000other';

/** One service's aggregators: its own watermarks (its records form an ordered stream). */
interface ServiceState {
  metrics: MetricAggregator;
  spans: SpanDeriver;
}

/**
 * Watermarks per SERVICE, not per partition: logs.normalized is keyed by service, so a
 * service's records come in its own order, but the services sharing a partition are
 * interleaved by how fast upstream stages happen to drain them (a backlog can put one
 * service minutes ahead of another). A partition-wide watermark would make the slower
 * services' records late.
 */
class DerivePartition implements PartitionStage<LogRecord> {
  private readonly services = new Map<string, ServiceState>();
  private replay: Replay | null;
  /** The previous owner's watermarks, kept after the replay for services not seen yet. */
  private readonly resumed: Replay | null;
  private readonly idle: Idle;

  constructor(
    private readonly opts: DeriveOptions,
    committed: Checkpoint | null,
  ) {
    this.replay = decodeDeriveCheckpoint(committed);
    this.resumed = this.replay;
    this.idle = new Idle(opts.idleAfterMs);
  }

  get held(): number {
    let n = 0;
    for (const s of this.services.values()) n += s.metrics.openSeries + s.metrics.pendingLate + s.spans.held;
    return n;
  }

  private stateFor(service: string | null): ServiceState {
    let key = service ?? '';
    if (!this.services.has(key) && this.services.size >= MAX_SERVICES) key = OTHER_SERVICE;
    let st = this.services.get(key);
    if (!st) {
      const r = this.resumed?.services.get(serviceHash(key));
      const until = this.resumed?.until ?? 0;
      st = {
        metrics: new MetricAggregator(this.opts.metrics, r && r.metricsWm !== null ? { watermark: r.metricsWm, until, laneWatermark: r.laneWm, lanes: r.lanes } : null),
        spans: new SpanDeriver(this.opts.spans, r && r.spansWm !== null ? { watermarkUs: r.spansWm, untilOffset: until } : null),
      };
      this.services.set(key, st);
    }
    return st;
  }

  /** Offset of the last input processed (the late lane's quiet rule counts inputs from it). */
  private lastInput: number | undefined;

  /** Every input the previous owner had read was replayed: each service's aggregators go live. */
  private endReplay(): void {
    const until = (this.replay as Replay).until;
    this.replay = null;
    for (const st of this.services.values()) st.metrics.caughtUp(until);
  }

  process(input: StageInput<LogRecord>, ctx: StageContext): StageOutput[] {
    const offset = Number(input.offset);
    this.lastInput = offset;
    if (this.replay && offset >= this.replay.until) this.endReplay();
    this.idle.touch(ctx.now());
    const record = this.opts.enrich(input.value);
    const out: StageOutput[] = [];
    if (!this.replay) {
      const stored = this.opts.store ? this.opts.store(record) : record;
      if (stored) out.push({ topic: this.opts.topics.enriched, key: stored.service, value: stored });
    }
    const st = this.stateFor(record.service);
    this.windows(out, st.metrics.add(record, offset));
    this.spanOutputs(out, st.spans.push(record, offset));
    // The last input the previous owner had read: the replay is complete (no later input
    // need arrive for the idle flush to work again).
    if (this.replay && offset + 1 >= this.replay.until) this.endReplay();
    return out;
  }

  flush(ctx: StageContext, partition: { caughtUp: boolean } = { caughtUp: true }): StageOutput[] {
    if (this.replay || !partition.caughtUp) return []; // still reading: not idle
    const add = this.idle.advance(ctx.now());
    if (add <= 0) return [];
    const out: StageOutput[] = [];
    for (const st of this.services.values()) {
      const mw = st.metrics.watermark;
      if (mw !== null) this.windows(out, st.metrics.advanceWatermark(mw + add));
      this.windows(out, st.metrics.flushLane());
      if (Number.isFinite(st.spans.watermark)) this.spanOutputs(out, st.spans.advanceWatermark(st.spans.watermark + add));
    }
    return out;
  }

  /**
   * The late-lane windows the lane watermarks have passed (metrics.ts, LATE EVENTS); and
   * every lane window when the checkpoint listing them would not fit Kafka's offset
   * metadata (then this batch's late events are one delta per series window and batch).
   */
  endOfBatch(): StageOutput[] {
    const out: StageOutput[] = [];
    for (const st of this.services.values()) this.windows(out, st.metrics.takeLate(this.lastInput));
    if ((this.checkpoint('0').metadata ?? '').length > LANE_METADATA_BUDGET) {
      for (const st of this.services.values()) this.windows(out, st.metrics.flushLane());
    }
    return out;
  }

  checkpoint(next: string): Checkpoint {
    const n = Number(next);
    const until = this.replay && this.replay.until > n ? this.replay.until : n;
    let offset = n;
    const states: Array<{ h: string; mw: number | null; sw: number | null; lw: number | null; lanes: readonly PendingLane[] }> = [];
    const seen = new Set<string>();
    for (const [service, st] of this.services) {
      const m = st.metrics.minOpenOffset();
      const s = st.spans.minOpenOffset;
      if (m !== null && m < offset) offset = m;
      if (s !== null && s < offset) offset = s;
      const h = serviceHash(service);
      seen.add(h);
      states.push({ h, mw: st.metrics.watermark, sw: Number.isFinite(st.spans.watermark) ? st.spans.watermark : null, lw: st.metrics.laneWatermark, lanes: st.metrics.checkpoint(n).lanes });
    }
    // Services of the previous owner not seen again yet keep their watermarks and pending
    // lanes (their first offsets are at or after `next`: nothing of theirs was read yet).
    if (this.resumed) for (const [h, r] of this.resumed.services) if (!seen.has(h) && states.length < MAX_SERVICES) states.push({ h, mw: r.metricsWm, sw: r.spansWm, lw: r.laneWm, lanes: r.lanes });
    const entries = states.map((x) => `${x.h}:${enc(x.mw)}:${enc(x.sw)}:${enc(x.lw)}:${x.lanes.map((l) => `${l.start.toString(36)}@${(l.minOffset - offset).toString(36)}`).join('.')}`);
    return { offset: String(offset), metadata: `en3;${until - offset};${entries.join(',')}` };
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
  const m = c?.metadata ? /^ts2;(\d+);(n|-?[0-9a-z]+)$/.exec(c.metadata) : null;
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

  flush(ctx: StageContext, partition: { caughtUp: boolean } = { caughtUp: true }): StageOutput[] {
    if (this.replayUntil !== null || !partition.caughtUp) return [];
    const add = this.idle.advance(ctx.now());
    if (add <= 0 || !Number.isFinite(this.traces.watermark)) return [];
    return this.traces.advanceWatermark(this.traces.watermark + add).map((t) => ({ topic: this.opts.topic, key: t.trace_id, value: t }));
  }

  checkpoint(next: string): Checkpoint {
    const n = Number(next);
    const until = this.replayUntil !== null && this.replayUntil > n ? this.replayUntil : n;
    const min = this.traces.minOpenOffset;
    const offset = min !== null && min < n ? min : n;
    return { offset: String(offset), metadata: `ts2;${until - offset};${enc(Number.isFinite(this.traces.watermark) ? this.traces.watermark : null)}` };
  }
}

export function createSummarizeStage(opts: SummarizeOptions): StatefulStage<Span> {
  return { name: 'summarize', flushIntervalMs: opts.flushIntervalMs, open: (_t, _p, committed) => new SummarizePartition(opts, committed) };
}
