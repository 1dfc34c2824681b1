/**
 * Metrics derived from logs (docs/architecture.md, "Derived data"): a pure,
 * deterministic aggregator of LogRecords into event-time tumbling windows, one per input
 * partition. No wall clock, no I/O: the runner feeds records in offset order and sends
 * what comes back to metrics.derived.
 *
 * SERIES. Every window holds series keyed by (tenant, service, route, method,
 * status_class, level), the fields of MetricWindow.series:
 * - a LOG series per (tenant, service, level), route/method/status_class null: `count`
 *   = logs, `error_count` = logs at level ERROR or FATAL, no durations;
 * - an HTTP series per (tenant, service, route, method, status_class) with level NULL,
 *   for HTTP-like records (`http` present with a status in 100..599 or a duration ≥ 0):
 *   `count` = requests, `error_count` = requests with status ≥ 500 or level ERROR/FATAL,
 *   and over the requests that carry a duration: `duration_sum_us`, the fixed histogram
 *   (`bucket_counts[i]` = durations d with bounds[i−1] < d ≤ bounds[i], the last count
 *   those above the last bound; so Σ bucket_counts = the number of durations, which can
 *   be below `count`), and p50/p90/p99 from a DDSketch (sketch.ts: |p̂ − p| ≤ α·p + 0.5 µs
 *   for the lower quantile at index ⌊q·(n−1)⌋, α = 1 % by default).
 *   A level is never null on a log series and always null on an HTTP series, so the two
 *   kinds never share a key. `route` is taken as given (route templating upstream keeps
 *   it bounded); `status_class` is "1xx".."5xx", null without a valid status.
 * An HTTP-like record counts in both its log series and its HTTP series.
 *
 * WINDOWS. window_start = ⌊timestamp / window⌋·window, window_end = window_start +
 * window (exclusive), µs. The watermark is the largest event time seen (null before the
 * first event). A window CLOSES — its series are emitted, once — as soon as
 * watermark ≥ window_end + allowedLateness. So an event at most `allowedLateness` behind
 * the largest time seen always lands in an open window: out-of-order input within the
 * lateness changes no result.
 *
 * LATE EVENTS. An event whose window has closed is never dropped: it is counted in a
 * DELTA MetricWindow per series it counts in (same series, window_start and window_end;
 * counts, sums, histogram and quantiles of the late events; late_count = how many;
 * window_id = lateWindowId(window id, smallest event_id of the delta)). Late events go
 * to a LATE LANE with its own event-time watermark, the largest late event time seen
 * (`laneWatermark`): a lane window collects the late events of its start and is emitted,
 * one delta per series, once the lane watermark reaches its window_end + allowedLateness
 * (checked by `takeLate()`, which the enricher calls at the end of every input batch,
 * shared/stage.ts `endOfBatch`), once it has had no late event for `laneQuietInputs`
 * inputs of the partition (so a burst of late events followed by an on-time feed does
 * not hold the committed offset), when the partition goes idle (`flushLane`), or at
 * `drain`. So a backfill of old lines, or a catch-up after an outage, in event-time order
 * gives ONE delta per (series, window) however many batches it spans (issue #11). An
 * event late even for the lane (its lane window already emitted) reopens that lane window,
 * which the next `takeLate` emits: one delta per series window and batch at most, never
 * one per record. The value of a (series,
 * window) is the sum of its on-time record (late_count 0) and its delta records: queries
 * sum by (tenant, series, window_start); `mergeWindows` combines them exactly, quantiles
 * included. `stats.lateEvents` counts late events.
 *
 * IDS. windowId = 128 bits of SHA-256 over (tenant, the five series fields with null
 * kept distinct from "", window_start, window_end): identical on every instance, so a
 * re-emission overwrites. A delta's id also hashes its smallest event_id, so the same
 * late events give the same delta.
 *
 * EXEMPLAR. Of the events of a series window, the one that is greatest by, in order:
 * (1) has a trace_id, (2) is an error (as error_count counts it), (3) longer duration
 * (none = −1), (4) smaller event_id. A strict total order, so the choice is the same
 * whatever the order or split of the input, and merging picks by the same rule.
 *
 * MERGING. Partial windows of one (series, window) from several aggregators merge with
 * `mergeWindows`: counts, sums, late counts and histogram buckets add, sketches merge
 * (quantiles recomputed), exemplars by the rule above. Every HTTP window carries its
 * serialized sketch in MetricWindow.sketch (issue #10), so a reader of metrics.derived,
 * Elasticsearch or Parquet recomputes the quantiles of partial windows with
 * `mergeSketchQuantiles`; merging is exact (sketch.ts), so the result is what one
 * aggregator fed every record reports. The emitted `exemplar` carries the ranking facts
 * MetricWindow has no field for.
 *
 * EXACT RESTARTS (the replay contract). `checkpoint(next)` gives
 *   offset    = the smallest input offset any open window depends on (or `next`),
 *   watermark = the current watermark,
 *   until     = `next` (the first offset not yet processed).
 * The runner commits `offset` with (watermark, until) as metadata
 * (`encodeMetricsCheckpoint`). A new owner builds `new MetricAggregator(opts, resume)`
 * from it and replays from `offset`. While replaying (offset < until) the watermark
 * does not move (every replayed event is ≤ it) and an event whose window is closed
 * under it is IGNORED (`stats.replaySkipped`): it was already emitted, on time or as a
 * delta, UNLESS the checkpoint lists a lane window of its start pending from an offset at
 * or before it (`lanes`: start and first offset of every lane window still open at the
 * checkpoint; the committed offset is at or before each). Every event of such a start
 * from that offset on was late and is in that lane window (a window, once closed, stays
 * closed), so it is re-added to the lane; before that offset it was emitted. Events of
 * windows still open are re-added, in the same order as before, so those windows (and
 * the pending lane windows) are rebuilt exactly. The replay ends with the input at `until − 1` (or
 * `caughtUp(next)`); until then `advanceWatermark` is a no-op. From `until` on,
 * processing is as usual. Result:
 * the union of what both owners emit is what one uninterrupted run emits, with nothing
 * emitted twice. The watermark must ALWAYS be committed (even with nothing open): a new
 * owner without it would reopen closed windows under their on-time ids and overwrite
 * the complete records with partial ones.
 *
 * MEMORY BOUND. Open windows lie within [watermark − allowedLateness − window,
 * watermark], so at most ⌈allowedLateness / window⌉ + 1 are open. Each holds at most
 * `maxSeriesPerWindow` distinct series as they come; a new series beyond that is
 * folded: an HTTP series into (tenant, service, route "(other)", method null, its
 * status_class); a log series keeps its key. Beyond 2 × maxSeriesPerWindow the service
 * is folded too (service "(other)"). So a window holds at most
 * 2 × maxSeriesPerWindow + 13 series per tenant. The fold depends only on the order of
 * the window's own events, which a replay reproduces, so restarts stay exact; late
 * deltas are never folded (each is one record). `stats.foldedEvents` counts folds.
 *
 * CAVEAT: one event far in the future advances the watermark and closes every open
 * window; later events of those windows become late deltas (still exact in sum).
 */
import { createHash } from 'node:crypto';
import type { LogRecord, MetricWindow, Micros } from '../../shared/records.js';
import type { Checkpoint } from '../../shared/stage.js';
import { DDSketch, DEFAULT_ALPHA, DEFAULT_MAX_BUCKETS } from './sketch.js';

/**
 * Default histogram bounds, µs: 100 µs .. 60 s in a 1-2.5-5 progression (Prometheus'
 * default seconds buckets, extended to 100 µs and 60 s). 18 bounds, 19 counts.
 */
export const DEFAULT_BUCKET_BOUNDS_US: readonly number[] = Object.freeze([
  100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000, 2_500_000, 5_000_000, 10_000_000, 30_000_000, 60_000_000,
]);

/** Route (and at the second level service) of folded series. Not a path, so it cannot clash with a real route. */
export const OTHER = '(other)';

export interface MetricOptions {
  /** Tumbling window length, µs. Default 10 s. */
  windowUs: number;
  /** How long after window_end (in event time) a window stays open, µs. Default 5 s. */
  allowedLatenessUs: number;
  /** Histogram upper bounds, µs, strictly increasing positive integers. */
  bucketBoundsUs: readonly number[];
  /** Relative accuracy α of the quantile sketch. Default 0.01. */
  sketchAlpha: number;
  /** Most buckets per sketch. Default 2048. */
  sketchMaxBuckets: number;
  /** Distinct series per window before folding (see MEMORY BOUND). Default 10 000. */
  maxSeriesPerWindow: number;
  /**
   * A lane window that has had no late event for this many inputs of the partition is
   * emitted at the next batch end, even if the lane watermark has not passed it (see
   * LATE EVENTS). 0: never. Default 10 000.
   */
  laneQuietInputs: number;
}

export const DEFAULT_METRIC_OPTIONS: Readonly<MetricOptions> = Object.freeze({
  windowUs: 10_000_000,
  allowedLatenessUs: 5_000_000,
  bucketBoundsUs: DEFAULT_BUCKET_BOUNDS_US,
  sketchAlpha: DEFAULT_ALPHA,
  sketchMaxBuckets: DEFAULT_MAX_BUCKETS,
  maxSeriesPerWindow: 10_000,
  laneQuietInputs: 10_000,
});

/** A lane window still open at a checkpoint: its start and the first input offset in it. */
export interface PendingLane {
  start: Micros;
  minOffset: number;
}

/** What a new owner needs to resume a partition exactly (see EXACT RESTARTS). */
export interface ResumeState {
  watermark: Micros;
  /** Offsets below this were processed by the previous owner. */
  until: number;
  /** The late lane's watermark (null or absent: no late event yet). */
  laneWatermark?: Micros | null;
  /** Lane windows open at the checkpoint (absent: none). */
  lanes?: readonly PendingLane[];
}

export interface MetricCheckpoint {
  /** Offset to commit: the first input an open window (or lane window) depends on, else `next`. */
  offset: number;
  watermark: Micros | null;
  until: number;
  laneWatermark: Micros | null;
  lanes: PendingLane[];
}

/** The exemplar's ranking facts, which MetricWindow does not carry. */
export interface ExemplarKey {
  error: boolean;
  /** −1: the exemplar event had no duration. */
  duration_us: number;
}

/** One emitted record for metrics.derived (its `sketch` always set: null without durations), with what a merge needs beside it. */
export interface EmittedWindow {
  window: MetricWindow;
  exemplar: ExemplarKey | null;
  /** A late delta (window_id = lateWindowId(...), late_count 1). */
  late: boolean;
}

export interface MetricStats {
  events: number;
  httpEvents: number;
  /** Events whose window had closed, emitted as deltas. */
  lateEvents: number;
  /** Replayed events of windows already emitted before the restart, ignored. */
  replaySkipped: number;
  /** Events counted in a folded series. */
  foldedEvents: number;
  /** Events without a finite timestamp (cannot be placed; not expected from Avro). */
  invalid: number;
  windowsEmitted: number;
}

type SeriesFields = MetricWindow['series'];

interface Acc {
  tenant: string;
  service: string | null;
  route: string | null;
  method: string | null;
  statusClass: string | null;
  level: string | null;
  http: boolean;
  count: number;
  errors: number;
  durationSum: number;
  buckets: number[] | null;
  sketch: DDSketch | null;
  exTrace: string | null;
  exEvent: string | null;
  exError: boolean;
  exDuration: number;
  /** In a late delta: the smallest event_id it holds (names the delta); null otherwise. */
  lateId: string | null;
}

/**
 * Series of a window by (tenant, service, route, method, status_class, level), one Map
 * level per field: looking up the record's own strings (their hashes cached by V8) is
 * about twice as fast as building and hashing one concatenated key per record.
 */
type Trie = Map<string | null, unknown>;

interface OpenWindow {
  start: number;
  end: number;
  root: Trie;
  /** Every series of the window, in order of creation. */
  series: Acc[];
  minOffset: number;
  /** Offset of the last input added (lane windows: the last late event). */
  lastOffset: number;
}

const EMPTY: readonly EmittedWindow[] = Object.freeze([]);

/** hex(SHA-256(text))[0..32): 128 bits. */
function sha128(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 32);
}

/** The deterministic id of a series window (see IDS). */
export function windowId(tenant: string, series: SeriesFields, windowStart: Micros, windowEnd: Micros): string {
  return sha128(JSON.stringify(['mw1', tenant, series.service, series.route, series.method, series.status_class, series.level, windowStart, windowEnd]));
}

/** The id of the late delta of event `eventId` in window `baseId`. */
export function lateWindowId(baseId: string, eventId: string): string {
  return sha128(JSON.stringify(['mw1-late', baseId, eventId]));
}

/** The on-time id of the (series, window) a record belongs to, whether it is on time or a delta. */
export function baseWindowId(w: MetricWindow): string {
  return windowId(w.tenant, w.series, w.window_start, w.window_end);
}

function statusClassOf(status: number | null): string | null {
  if (status === null || !Number.isInteger(status) || status < 100 || status > 599) return null;
  return `${Math.floor(status / 100)}xx`;
}

function validDuration(d: number | null): d is number {
  return d !== null && Number.isSafeInteger(d) && d >= 0;
}

/**
 * What a record counts as, in one place for on-time and late records: HTTP-like when
 * `http` has a status in 100..599 or a duration; an error when its level is ERROR or
 * FATAL, or, for HTTP, its status is 5xx; duration -1 when it has none.
 */
function classifyRecord(record: LogRecord) {
  const level = record.level;
  const isErrorLevel = level === 'ERROR' || level === 'FATAL';
  const http = record.http;
  const duration = http !== null && validDuration(http.duration_us) ? http.duration_us : -1;
  const statusClass = http !== null ? statusClassOf(http.status) : null;
  const isHttp = http !== null && (statusClass !== null || duration >= 0);
  const isError = isErrorLevel || (isHttp && http !== null && statusClass !== null && (http.status as number) >= 500);
  return { level, isErrorLevel, http, duration, statusClass, isHttp, isError };
}

/** Whether exemplar candidate a ranks above b (see EXEMPLAR). */
function ranksAbove(aTrace: string | null, aError: boolean, aDur: number, aEvent: string, bTrace: string | null, bError: boolean, bDur: number, bEvent: string): boolean {
  if ((aTrace !== null) !== (bTrace !== null)) return aTrace !== null;
  if (aError !== bError) return aError;
  if (aDur !== bDur) return aDur > bDur;
  return aEvent < bEvent;
}

function validateOptions(o: MetricOptions): void {
  if (!Number.isSafeInteger(o.windowUs) || o.windowUs <= 0) throw new RangeError(`windowUs must be a positive integer, got ${o.windowUs}`);
  if (!Number.isSafeInteger(o.allowedLatenessUs) || o.allowedLatenessUs < 0) throw new RangeError(`allowedLatenessUs must be an integer >= 0, got ${o.allowedLatenessUs}`);
  if (!Number.isSafeInteger(o.laneQuietInputs) || o.laneQuietInputs < 0) throw new RangeError(`laneQuietInputs must be an integer >= 0, got ${o.laneQuietInputs}`);
  if (!Number.isSafeInteger(o.maxSeriesPerWindow) || o.maxSeriesPerWindow < 1) throw new RangeError(`maxSeriesPerWindow must be an integer >= 1, got ${o.maxSeriesPerWindow}`);
  const b = o.bucketBoundsUs;
  for (let i = 0; i < b.length; i++) {
    const x = b[i] as number;
    if (!Number.isSafeInteger(x) || x <= 0 || (i > 0 && x <= (b[i - 1] as number))) throw new RangeError(`bucketBoundsUs must be strictly increasing positive integers (at ${i}: ${x})`);
  }
  new DDSketch({ alpha: o.sketchAlpha, maxBuckets: o.sketchMaxBuckets }); // validates
}

export class MetricAggregator {
  readonly options: Readonly<MetricOptions>;
  private readonly bounds: readonly number[];
  private readonly open = new Map<number, OpenWindow>();
  /** The late lane: windows of late events not emitted yet, by window start (see LATE EVENTS). */
  private readonly lateOpen = new Map<number, OpenWindow>();
  /** The largest late event time seen (the lane's watermark). */
  private laneWm: number | null;
  /** While replaying: lane windows pending at the checkpoint, start -> first offset (see EXACT RESTARTS). */
  private readonly replayLanes: ReadonlyMap<number, number>;
  private wm: number | null;
  /** While replaying after a restart: the first offset the previous owner did not process. */
  private until: number | null;
  /** Smallest window_end + allowedLateness over the open windows. */
  private nextCloseAt = Infinity;
  private readonly counters: MetricStats = { events: 0, httpEvents: 0, lateEvents: 0, replaySkipped: 0, foldedEvents: 0, invalid: 0, windowsEmitted: 0 };

  constructor(options: Partial<MetricOptions> = {}, resume: ResumeState | null = null) {
    this.options = Object.freeze({ ...DEFAULT_METRIC_OPTIONS, ...options, bucketBoundsUs: Object.freeze([...(options.bucketBoundsUs ?? DEFAULT_BUCKET_BOUNDS_US)]) });
    validateOptions(this.options);
    this.bounds = this.options.bucketBoundsUs;
    this.wm = resume ? resume.watermark : null;
    this.until = resume ? resume.until : null;
    this.laneWm = resume?.laneWatermark ?? null;
    this.replayLanes = new Map((resume?.lanes ?? []).map((l) => [l.start, l.minOffset]));
  }

  /** The late lane's watermark: the largest late event time seen (null before any). */
  get laneWatermark(): Micros | null {
    return this.laneWm;
  }

  /** The largest event time seen (or resumed with); null before any. */
  get watermark(): Micros | null {
    return this.wm;
  }

  get stats(): Readonly<MetricStats> {
    return this.counters;
  }

  /** Series held in open windows (a gauge). */
  get openSeries(): number {
    let n = 0;
    for (const w of this.open.values()) n += w.series.length;
    return n;
  }

  /** The smallest input offset an open window or lane window depends on; null when none is open. */
  minOpenOffset(): number | null {
    let min: number | null = null;
    for (const w of this.open.values()) if (min === null || w.minOffset < min) min = w.minOffset;
    for (const w of this.lateOpen.values()) if (min === null || w.minOffset < min) min = w.minOffset;
    return min;
  }

  /** Where a new owner resumes once every input before `next` has been processed (see EXACT RESTARTS). */
  checkpoint(next: number): MetricCheckpoint {
    const min = this.minOpenOffset();
    return {
      offset: min !== null && min < next ? min : next,
      watermark: this.wm,
      until: this.until !== null && this.until > next ? this.until : next,
      laneWatermark: this.laneWm,
      lanes: [...this.lateOpen.values()].sort((a, b) => a.start - b.start).map((w) => ({ start: w.start, minOffset: w.minOffset })),
    };
  }

  /**
   * Count one record read at input `offset` (offsets non-decreasing). Returns the windows
   * this closed and, for a late record, its deltas; usually nothing.
   */
  add(record: LogRecord, offset: number): readonly EmittedWindow[] {
    if (this.until !== null && offset >= this.until) this.until = null;
    const out = this.addRecord(record, offset);
    // The last input the previous owner had read: the replay is complete.
    if (this.until !== null && offset + 1 >= this.until) this.until = null;
    return out;
  }

  /**
   * Tell the aggregator every input before `next` has been processed (e.g. the end of a
   * replay whose last offsets were transaction markers, not records). Ends the replay
   * when `next` ≥ until, which lets `advanceWatermark` act again.
   */
  caughtUp(next: number): void {
    if (this.until !== null && next >= this.until) this.until = null;
  }

  /** Whether a replay after a restart is still under way (inputs below `until` to come). */
  get replaying(): boolean {
    return this.until !== null;
  }

  private addRecord(record: LogRecord, offset: number): readonly EmittedWindow[] {
    const ts = record.timestamp;
    if (!Number.isFinite(ts)) {
      this.counters.invalid++;
      return EMPTY;
    }
    const size = this.options.windowUs;
    const start = Math.floor(ts / size) * size;
    const end = start + size;
    if (this.wm !== null && end + this.options.allowedLatenessUs <= this.wm) {
      if (this.until !== null) {
        // Replaying: re-add only what a lane window pending at the checkpoint holds.
        const from = this.replayLanes.get(start);
        if (from === undefined || offset < from) {
          this.counters.replaySkipped++;
          return EMPTY;
        }
      }
      return this.late(record, start, end, offset);
    }
    this.counters.events++;
    let win = this.open.get(start);
    if (win === undefined) {
      win = { start, end, root: new Map(), series: [], minOffset: offset, lastOffset: offset };
      this.open.set(start, win);
      const closeAt = end + this.options.allowedLatenessUs;
      if (closeAt < this.nextCloseAt) this.nextCloseAt = closeAt;
    } else if (offset < win.minOffset) win.minOffset = offset;

    const { level, isErrorLevel, http, duration, statusClass, isHttp, isError } = classifyRecord(record);

    this.count(this.series(win, record.tenant, record.service, null, null, null, level, false), record, isErrorLevel, duration, false);
    if (isHttp && http !== null) {
      this.counters.httpEvents++;
      this.count(this.series(win, record.tenant, record.service, http.route, http.method, statusClass, null, true), record, isError, duration, true);
    }

    if (this.wm === null || ts > this.wm) {
      this.wm = ts;
      if (ts >= this.nextCloseAt) return this.closeReady();
    }
    return EMPTY;
  }

  /**
   * Move the watermark forward to `t` if it is behind (e.g. a runner's idle-partition
   * policy). Deterministic only if the runner's calls are; sums stay exact either way,
   * since what arrives after a close becomes a delta. A no-op while replaying after a
   * restart (until the input at `until − 1` or `caughtUp`): closing a window then would
   * make its remaining replayed events look already emitted, and they would be lost.
   */
  advanceWatermark(t: Micros): readonly EmittedWindow[] {
    if (this.until !== null) return EMPTY;
    if (this.wm !== null && t <= this.wm) return EMPTY;
    this.wm = t;
    return t >= this.nextCloseAt ? this.closeReady() : EMPTY;
  }

  /** Emit every open window and pending delta now (end of a finite input). The watermark is not moved. */
  drain(): readonly EmittedWindow[] {
    return [...this.closeWhere(() => true), ...this.emitLanes(() => true)];
  }

  /**
   * The lane windows the lane watermark has passed (window_end + allowedLateness ≤ it), and
   * those without a late event for `laneQuietInputs` inputs up to `offset` (the partition's
   * last input), as one delta per series window (see LATE EVENTS); called at the end of
   * every batch. The second rule ends a burst of late events followed by a steady on-time
   * feed: nothing moves the lane watermark then, and an open lane window would hold the
   * committed offset at its first input for as long as the feed lasts. It depends on
   * offsets only, so a replay decides the same. A no-op while replaying: a lane window
   * pending at the checkpoint is still being rebuilt.
   */
  takeLate(offset?: number): readonly EmittedWindow[] {
    if (this.lateOpen.size === 0 || this.until !== null) return EMPTY;
    const lw = this.laneWm as number;
    const lateness = this.options.allowedLatenessUs;
    const quiet = this.options.laneQuietInputs;
    return this.emitLanes((w) => w.end + lateness <= lw || (quiet > 0 && offset !== undefined && offset - w.lastOffset >= quiet));
  }

  /**
   * Every lane window now (the partition is idle: no more late events of them are
   * coming soon). The lane watermark moves past them, so a checkpoint after this lists
   * none of them as pending. A no-op while replaying.
   */
  flushLane(): readonly EmittedWindow[] {
    if (this.lateOpen.size === 0 || this.until !== null) return EMPTY;
    return this.emitLanes(() => true);
  }

  /** Lane windows pending (a gauge, and what a checkpoint must list). */
  get pendingLanes(): number {
    return this.lateOpen.size;
  }

  private emitLanes(pred: (w: OpenWindow) => boolean): readonly EmittedWindow[] {
    const due = [...this.lateOpen.values()].filter(pred).sort((a, b) => a.start - b.start);
    if (due.length === 0) return EMPTY;
    const out: EmittedWindow[] = [];
    const lateness = this.options.allowedLatenessUs;
    for (const w of due) {
      const batch = w.series.map((acc) => this.emit(acc, w.start, w.end, true, acc.lateId));
      batch.sort((a, b) => (a.window.window_id < b.window.window_id ? -1 : a.window.window_id > b.window.window_id ? 1 : 0));
      out.push(...batch);
      this.lateOpen.delete(w.start);
      // Emitted lane windows count as closed for the lane from now on.
      if (this.laneWm === null || w.end + lateness > this.laneWm) this.laneWm = w.end + lateness;
    }
    this.counters.windowsEmitted += out.length;
    return out;
  }

  /** Series in the late lane not emitted yet (a gauge; the runner flushes a partition only while something is held). */
  get pendingLate(): number {
    let n = 0;
    for (const w of this.lateOpen.values()) n += w.series.length;
    return n;
  }

  private closeReady(): readonly EmittedWindow[] {
    const wm = this.wm as number;
    const lateness = this.options.allowedLatenessUs;
    return this.closeWhere((w) => w.end + lateness <= wm);
  }

  private closeWhere(pred: (w: OpenWindow) => boolean): readonly EmittedWindow[] {
    const closing: OpenWindow[] = [];
    for (const w of this.open.values()) if (pred(w)) closing.push(w);
    if (closing.length === 0) return EMPTY;
    closing.sort((a, b) => a.start - b.start);
    const out: EmittedWindow[] = [];
    for (const w of closing) {
      this.open.delete(w.start);
      const batch: EmittedWindow[] = [];
      for (const acc of w.series) batch.push(this.emit(acc, w.start, w.end, false, null));
      batch.sort((a, b) => (a.window.window_id < b.window.window_id ? -1 : a.window.window_id > b.window.window_id ? 1 : 0));
      for (const e of batch) out.push(e);
    }
    this.nextCloseAt = Infinity;
    const lateness = this.options.allowedLatenessUs;
    for (const w of this.open.values()) if (w.end + lateness < this.nextCloseAt) this.nextCloseAt = w.end + lateness;
    this.counters.windowsEmitted += out.length;
    return out;
  }

  /** The accumulator of a series in `win`, folding new series beyond the cap (see MEMORY BOUND). */
  private series(win: OpenWindow, tenant: string, service: string | null, route: string | null, method: string | null, statusClass: string | null, level: string | null, http: boolean): Acc {
    let acc = find(win.root, tenant, service, route, method, statusClass, level);
    if (acc !== undefined) return acc;
    const cap = this.options.maxSeriesPerWindow;
    if (win.series.length >= cap) {
      let folded = false;
      if (http && (route !== OTHER || method !== null)) {
        route = OTHER;
        method = null;
        folded = true;
      }
      if (win.series.length >= 2 * cap && service !== OTHER) {
        service = OTHER;
        folded = true;
      }
      if (folded) {
        this.counters.foldedEvents++;
        acc = find(win.root, tenant, service, route, method, statusClass, level);
        if (acc !== undefined) return acc;
      }
    }
    acc = newAcc(tenant, service, route, method, statusClass, level, http, this.bounds.length);
    insert(win.root, acc);
    win.series.push(acc);
    return acc;
  }

  private count(acc: Acc, record: LogRecord, isError: boolean, duration: number, http: boolean): void {
    acc.count++;
    if (isError) acc.errors++;
    if (http && duration >= 0) {
      acc.durationSum += duration;
      const buckets = acc.buckets as number[];
      const b = this.bounds;
      let i = 0;
      while (i < b.length && duration > (b[i] as number)) i++;
      buckets[i] = (buckets[i] as number) + 1;
      if (acc.sketch === null) acc.sketch = new DDSketch({ alpha: this.options.sketchAlpha, maxBuckets: this.options.sketchMaxBuckets });
      acc.sketch.add(duration);
    }
    const trace = record.trace_id;
    if (acc.exEvent === null || ranksAbove(trace, isError, duration, record.event_id, acc.exTrace, acc.exError, acc.exDuration, acc.exEvent)) {
      acc.exTrace = trace;
      acc.exEvent = record.event_id;
      acc.exError = isError;
      acc.exDuration = duration;
    }
  }

  /** Count a late record in the pending deltas of its series (see LATE EVENTS); they are emitted by `takeLate`. */
  private late(record: LogRecord, start: number, end: number, offset: number): readonly EmittedWindow[] {
    this.counters.lateEvents++;
    let win = this.lateOpen.get(start);
    if (win === undefined) this.lateOpen.set(start, (win = { start, end, root: new Map(), series: [], minOffset: offset, lastOffset: offset }));
    win.lastOffset = offset;
    if (this.laneWm === null || record.timestamp > this.laneWm) this.laneWm = record.timestamp;
    const { level, isErrorLevel, http, duration, statusClass, isHttp, isError } = classifyRecord(record);
    this.countLate(win, newAcc(record.tenant, record.service, null, null, null, level, false, this.bounds.length), record, isErrorLevel, duration, false);
    if (isHttp && http !== null) this.countLate(win, newAcc(record.tenant, record.service, http.route, http.method, statusClass, null, true, this.bounds.length), record, isError, duration, true);
    return EMPTY;
  }

  /** `fresh` is the series' accumulator if the delta has none yet. Deltas are never folded: a batch bounds them. */
  private countLate(win: OpenWindow, fresh: Acc, record: LogRecord, isError: boolean, duration: number, http: boolean): void {
    let acc = find(win.root, fresh.tenant, fresh.service, fresh.route, fresh.method, fresh.statusClass, fresh.level);
    if (acc === undefined) {
      acc = fresh;
      insert(win.root, acc);
      win.series.push(acc);
    }
    this.count(acc, record, isError, duration, http);
    if (acc.lateId === null || record.event_id < acc.lateId) acc.lateId = record.event_id;
  }

  private emit(acc: Acc, start: number, end: number, late: boolean, lateEventId: string | null): EmittedWindow {
    const series: SeriesFields = { service: acc.service, route: acc.route, method: acc.method, status_class: acc.statusClass, level: acc.level };
    const id = windowId(acc.tenant, series, start, end);
    const sketch = acc.sketch;
    return {
      window: {
        window_id: late ? lateWindowId(id, lateEventId as string) : id,
        series,
        window_start: start,
        window_end: end,
        count: acc.count,
        error_count: acc.errors,
        duration_sum_us: acc.durationSum,
        bucket_bounds_us: acc.http ? [...this.bounds] : [],
        bucket_counts: acc.buckets ?? [],
        p50_us: roundedQuantile(sketch, 0.5),
        p90_us: roundedQuantile(sketch, 0.9),
        p99_us: roundedQuantile(sketch, 0.99),
        exemplar_trace_id: acc.exTrace,
        exemplar_event_id: acc.exEvent,
        late_count: late ? acc.count : 0,
        tenant: acc.tenant,
        sketch: sketchBytes(sketch),
      },
      exemplar: acc.exEvent !== null ? { error: acc.exError, duration_us: acc.exDuration } : null,
      late,
    };
  }
}

function find(root: Trie, tenant: string, service: string | null, route: string | null, method: string | null, statusClass: string | null, level: string | null): Acc | undefined {
  const a = root.get(tenant) as Trie | undefined;
  const b = a?.get(service) as Trie | undefined;
  const c = b?.get(route) as Trie | undefined;
  const d = c?.get(method) as Trie | undefined;
  const e = d?.get(statusClass) as Trie | undefined;
  return e?.get(level) as Acc | undefined;
}

function insert(root: Trie, acc: Acc): void {
  let m = root;
  for (const k of [acc.tenant, acc.service, acc.route, acc.method, acc.statusClass]) {
    let next = m.get(k) as Trie | undefined;
    if (next === undefined) {
      next = new Map();
      m.set(k, next);
    }
    m = next;
  }
  m.set(acc.level, acc);
}

function newAcc(tenant: string, service: string | null, route: string | null, method: string | null, statusClass: string | null, level: string | null, http: boolean, nBounds: number): Acc {
  return {
    tenant,
    service,
    route,
    method,
    statusClass,
    level,
    http,
    count: 0,
    errors: 0,
    durationSum: 0,
    buckets: http ? new Array<number>(nBounds + 1).fill(0) : null,
    sketch: null,
    exTrace: null,
    exEvent: null,
    exError: false,
    exDuration: -1,
    lateId: null,
  };
}

function roundedQuantile(sketch: DDSketch | null, q: number): number | null {
  const v = sketch ? sketch.quantile(q) : null;
  return v === null ? null : Math.round(v);
}

/** The Avro `bytes` value of a sketch: a Buffer over the serialized bytes (no copy); null for none. */
function sketchBytes(sketch: DDSketch | null): Buffer | null {
  if (sketch === null) return null;
  const b = sketch.serialize();
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

/** What a window needs for its sketch to be merged: a Buffer from Avro, a Uint8Array from Parquet, decoded base64 from Elasticsearch. */
export interface SketchCarrier {
  window_id?: string;
  bucket_counts: readonly number[];
  sketch?: Uint8Array | null;
}

/** The sketch of every duration of `windows`; null when none has any. */
function mergedSketch(windows: Iterable<SketchCarrier>): DDSketch | null {
  let sketch: DDSketch | null = null;
  for (const w of windows) {
    if (w.sketch !== null && w.sketch !== undefined) {
      const s = DDSketch.deserialize(w.sketch);
      if (sketch === null) sketch = s;
      else sketch.merge(s);
    } else if (w.bucket_counts.some((c) => c > 0)) {
      throw new RangeError(`window ${w.window_id ?? '(no id)'} has durations but no sketch: quantiles cannot be merged`);
    }
  }
  return sketch;
}

/** Quantiles of merged windows, rounded to µs as MetricWindow carries them. */
export interface MergedQuantiles {
  /** Durations in the merged sketch (the sum of the windows' bucket_counts). */
  durations: number;
  p50_us: number | null;
  p90_us: number | null;
  p99_us: number | null;
}

/**
 * p50/p90/p99 of the union of the durations of `windows`, from their serialized sketches
 * (MetricWindow.sketch). Pure. For the partial windows of one (series, window) written by
 * several enricher instances, or an on-time window and its late deltas, the result equals
 * what one aggregator fed every record reports (merging is exact), so each quantile is
 * within α·x + 0.5 µs of the exact x (sketch.ts, α = 1 % by default). Any windows whose
 * sketches share α and maxBuckets may be merged (a series over a longer span, several
 * series); different parameters throw a RangeError, as does a window with durations but
 * no sketch (written before the field existed: its quantiles cannot be combined).
 * Windows without durations (log series) contribute nothing.
 */
export function mergeSketchQuantiles(windows: Iterable<SketchCarrier>): MergedQuantiles {
  const sketch = mergedSketch(windows);
  return { durations: sketch ? sketch.count : 0, p50_us: roundedQuantile(sketch, 0.5), p90_us: roundedQuantile(sketch, 0.9), p99_us: roundedQuantile(sketch, 0.99) };
}

/**
 * Combine partial records of the same (tenant, series, window): on-time partials from
 * several aggregators, or an on-time record and its late deltas. The result has the
 * on-time id (`baseWindowId`) and is `late` only if every input was. Throws a RangeError
 * for records of different series or windows, different histogram bounds, or durations
 * without a sketch (their quantiles could not be recomputed; see `mergeSketchQuantiles`).
 */
export function mergeWindows(a: EmittedWindow, b: EmittedWindow): EmittedWindow {
  return mergeGroup(baseWindowId(a.window), [a, b]);
}

/** Merge any number of partial records by (tenant, series, window); result sorted by (window_start, id). */
export function mergeAll(parts: Iterable<EmittedWindow>): EmittedWindow[] {
  const groups = new Map<string, EmittedWindow[]>();
  for (const p of parts) {
    const id = baseWindowId(p.window);
    const g = groups.get(id);
    if (g === undefined) groups.set(id, [p]);
    else g.push(p);
  }
  const out: EmittedWindow[] = [];
  for (const [id, g] of groups) out.push(mergeGroup(id, g));
  return out.sort((x, y) => x.window.window_start - y.window.window_start || (x.window.window_id < y.window.window_id ? -1 : x.window.window_id > y.window.window_id ? 1 : 0));
}

function mergeGroup(id: string, parts: readonly EmittedWindow[]): EmittedWindow {
  const first = parts[0] as EmittedWindow;
  const x = first.window;
  const bounds = x.bucket_bounds_us;
  const buckets = x.bucket_counts.map(() => 0);
  let count = 0;
  let errors = 0;
  let sum = 0;
  let late = 0;
  let allLate = true;
  let ex: EmittedWindow | null = null;
  for (const p of parts) {
    const y = p.window;
    if (p !== first && baseWindowId(y) !== id) throw new RangeError(`cannot merge windows of different series or windows (${x.window_id}, ${y.window_id})`);
    if (y.bucket_bounds_us.length !== bounds.length || y.bucket_bounds_us.some((v, i) => v !== bounds[i]) || y.bucket_counts.length !== buckets.length) {
      throw new RangeError('cannot merge windows with different histogram bounds');
    }
    count += y.count;
    errors += y.error_count;
    sum += y.duration_sum_us;
    late += y.late_count;
    allLate = allLate && p.late;
    for (let i = 0; i < buckets.length; i++) buckets[i] = (buckets[i] as number) + (y.bucket_counts[i] as number);
    if (p.exemplar !== null && y.exemplar_event_id !== null) {
      const e = ex?.window;
      if (
        ex === null ||
        ex.exemplar === null ||
        e === undefined ||
        e.exemplar_event_id === null ||
        ranksAbove(y.exemplar_trace_id, p.exemplar.error, p.exemplar.duration_us, y.exemplar_event_id, e.exemplar_trace_id, ex.exemplar.error, ex.exemplar.duration_us, e.exemplar_event_id)
      ) {
        ex = p;
      }
    }
  }
  const sketch = mergedSketch(parts.map((p) => p.window));
  return {
    window: {
      window_id: id,
      series: { ...x.series },
      window_start: x.window_start,
      window_end: x.window_end,
      count,
      error_count: errors,
      duration_sum_us: sum,
      bucket_bounds_us: [...bounds],
      bucket_counts: buckets,
      p50_us: roundedQuantile(sketch, 0.5),
      p90_us: roundedQuantile(sketch, 0.9),
      p99_us: roundedQuantile(sketch, 0.99),
      exemplar_trace_id: ex ? ex.window.exemplar_trace_id : null,
      exemplar_event_id: ex ? ex.window.exemplar_event_id : null,
      late_count: late,
      tenant: x.tenant,
      sketch: sketchBytes(sketch),
    },
    exemplar: ex ? ex.exemplar : null,
    late: allLate,
  };
}

const CHECKPOINT_VERSION = 'mw1';

/**
 * Kafka commit of a partition: offset = `cp.offset`, metadata
 * `mw1;<watermark µs>;<until − offset>` (a few dozen bytes). Always carries the
 * watermark once there is one (see EXACT RESTARTS).
 */
export function encodeMetricsCheckpoint(cp: MetricCheckpoint): Checkpoint {
  if (cp.watermark === null) return { offset: String(cp.offset), metadata: null };
  const base = `${cp.watermark};${cp.until - cp.offset}`;
  if (cp.laneWatermark === null) return { offset: String(cp.offset), metadata: `${CHECKPOINT_VERSION};${base}` };
  return { offset: String(cp.offset), metadata: `mw2;${base};${cp.laneWatermark};${cp.lanes.map((l) => `${l.start}@${l.minOffset}`).join('+')}` };
}

/** The resume state in a committed checkpoint; null when there is none (start fresh). */
export function decodeMetricsCheckpoint(c: Checkpoint | null): ResumeState | null {
  if (!c?.metadata) return null;
  const m = /^mw1;(-?\d+);(\d+)$/.exec(c.metadata);
  if (m) return { watermark: Number(m[1]), until: Number(c.offset) + Number(m[2]) };
  const m2 = /^mw2;(-?\d+);(\d+);(-?\d+);((?:-?\d+@\d+)(?:\+-?\d+@\d+)*)?$/.exec(c.metadata);
  if (!m2) return null;
  const lanes = (m2[4] ?? '').split('+').filter(Boolean).map((x) => {
    const [start, off] = x.split('@') as [string, string];
    return { start: Number(start), minOffset: Number(off) };
  });
  return { watermark: Number(m2[1]), until: Number(c.offset) + Number(m2[2]), laneWatermark: Number(m2[3]), lanes };
}
