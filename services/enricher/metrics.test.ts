import avro from 'avsc';
import { httpFields, logRecord } from '../../shared/testing/records.js';
import { loadSchema } from '../../shared/schemas.js';
import { seededRandom } from '../../shared/testing/seeded.js';
import type { Http, Level, LogRecord, MetricWindow } from '../../shared/records.js';
import {
  DEFAULT_BUCKET_BOUNDS_US,
  MetricAggregator,
  OTHER,
  baseWindowId,
  decodeMetricsCheckpoint,
  encodeMetricsCheckpoint,
  lateWindowId,
  mergeAll,
  mergeSketchQuantiles,
  mergeWindows,
  windowId,
  type EmittedWindow,
  type MetricOptions,
} from './metrics.js';
import { DDSketch, quantileIndex } from './sketch.js';

// ---------------------------------------------------------------------------------------
// Workload

const rng = seededRandom;

function pick<T>(r: () => number, xs: readonly T[]): T {
  return xs[Math.floor(r() * xs.length)] as T;
}

const T0 = 1_763_000_000_000_000; // µs, a multiple of 10 s
const LEVELS: Level[] = ['DEBUG', 'INFO', 'INFO', 'INFO', 'WARN', 'ERROR', 'FATAL', 'UNKNOWN'];

function record(over: Partial<LogRecord> & { event_id: string; timestamp: number }): LogRecord {
  return logRecord({ observed_at: over.timestamp, service: 'api', tenant: 't1', ...over });
}

function http(over: Partial<Http>): Http {
  return httpFields({ method: 'GET', route: '/x', status: 200, duration_us: 1000, ...over });
}

interface Workload {
  /** In arrival (offset) order. */
  logs: LogRecord[];
}

/**
 * `n` logs, 2 ms apart in base time; a fraction `jitter` arrive up to `maxJitterUs` late
 * (out of order), a fraction `lateFrac` arrive 6..25 s behind (beyond a 5 s lateness).
 */
function workload(seed: number, n: number, opts: { jitter: number; maxJitterUs: number; lateFrac: number }): Workload {
  const r = rng(seed);
  const logs: LogRecord[] = [];
  for (let i = 0; i < n; i++) {
    const base = T0 + i * 2_000 + Math.floor(r() * 2_000);
    let ts = base;
    const u = r();
    if (u < opts.lateFrac) ts = base - 6_000_000 - Math.floor(r() * 19_000_000);
    else if (u < opts.lateFrac + opts.jitter) ts = base - Math.floor(r() * opts.maxJitterUs);
    const kind = r();
    let h: Http | null = null;
    if (kind < 0.6) {
      const status = pick(r, [200, 200, 200, 201, 204, 301, 404, 429, 500, 503, null, 0]);
      const duration = r() < 0.9 ? Math.round(Math.exp(Math.log(30_000) + 1.3 * gauss(r))) : null;
      h = http({ method: pick(r, ['GET', 'POST', null]), route: pick(r, ['/a', '/b/:id', '/c', null, '']), status, duration_us: duration });
    } else if (kind < 0.65) {
      h = http({ status: null, duration_us: null }); // an http object without status or duration: not HTTP-like
    }
    logs.push(
      record({
        event_id: `E${String(i).padStart(7, '0')}${Math.floor(r() * 1e6).toString(36)}`,
        timestamp: ts,
        level: pick(r, LEVELS),
        tenant: pick(r, ['t1', 't1', 't2']),
        service: pick(r, ['api', 'web', 'db', null]),
        trace_id: r() < 0.7 ? Math.floor(r() * 2 ** 48).toString(16).padStart(32, '0') : null,
        http: h,
      }),
    );
  }
  return { logs };
}

function gauss(r: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
}

// ---------------------------------------------------------------------------------------
// The independent batch recomputation: plain loops over all logs, grouped by series and
// window, written from docs/architecture.md ("Derived data") and the contract in
// metrics.ts, not from its code.

interface BatchWindow {
  tenant: string;
  series: MetricWindow['series'];
  window_start: number;
  count: number;
  error_count: number;
  duration_sum_us: number;
  bucket_counts: number[];
  durations: number[];
  exemplar_event_id: string | null;
  exemplar_trace_id: string | null;
}

function batch(logs: LogRecord[], windowUs = 10_000_000, bounds: readonly number[] = DEFAULT_BUCKET_BOUNDS_US): Map<string, BatchWindow> {
  const groups = new Map<string, { w: BatchWindow; members: { log: LogRecord; error: boolean; duration: number }[] }>();
  const touch = (log: LogRecord, series: MetricWindow['series'], isHttp: boolean, error: boolean, duration: number): void => {
    const start = Math.floor(log.timestamp / windowUs) * windowUs;
    const key = JSON.stringify([log.tenant, series, start]);
    let g = groups.get(key);
    if (!g) {
      g = {
        w: { tenant: log.tenant, series, window_start: start, count: 0, error_count: 0, duration_sum_us: 0, bucket_counts: isHttp ? bounds.map(() => 0).concat([0]) : [], durations: [], exemplar_event_id: null, exemplar_trace_id: null },
        members: [],
      };
      groups.set(key, g);
    }
    g.w.count += 1;
    if (error) g.w.error_count += 1;
    if (isHttp && duration >= 0) {
      g.w.duration_sum_us += duration;
      g.w.durations.push(duration);
      let b = bounds.findIndex((x) => duration <= x);
      if (b < 0) b = bounds.length;
      g.w.bucket_counts[b] = (g.w.bucket_counts[b] as number) + 1;
    }
    g.members.push({ log, error, duration });
  };
  for (const log of logs) {
    const errLevel = log.level === 'ERROR' || log.level === 'FATAL';
    const h = log.http;
    const d = h && h.duration_us !== null && h.duration_us >= 0 ? h.duration_us : -1;
    const st = h && h.status !== null && h.status >= 100 && h.status <= 599 ? h.status : null;
    touch(log, { service: log.service, route: null, method: null, status_class: null, level: log.level }, false, errLevel, d);
    if (h && (st !== null || d >= 0)) {
      const sc = st === null ? null : `${String(st)[0]}xx`;
      touch(log, { service: log.service, route: h.route, method: h.method, status_class: sc, level: null }, true, errLevel || (st !== null && st >= 500), d);
    }
  }
  const out = new Map<string, BatchWindow>();
  for (const [key, g] of groups) {
    const best = [...g.members].sort(
      (a, b) =>
        Number(b.log.trace_id !== null) - Number(a.log.trace_id !== null) ||
        Number(b.error) - Number(a.error) ||
        b.duration - a.duration ||
        (a.log.event_id < b.log.event_id ? -1 : 1),
    )[0];
    g.w.exemplar_event_id = best?.log.event_id ?? null;
    g.w.exemplar_trace_id = best?.log.trace_id ?? null;
    g.w.durations.sort((a, b) => a - b);
    out.set(key, g.w);
  }
  return out;
}

function exactQuantile(sorted: number[], q: number): number | null {
  return sorted.length === 0 ? null : (sorted[quantileIndex(q, sorted.length)] as number);
}

/** Streamed results (already merged per series window) against the batch: exact but quantiles, which must be within α·x + 0.5. */
function expectMatchesBatch(streamed: EmittedWindow[], expected: Map<string, BatchWindow>, alpha = 0.01): void {
  const got = new Map<string, EmittedWindow>();
  for (const e of streamed) {
    const key = JSON.stringify([e.window.tenant, e.window.series, e.window.window_start]);
    expect(got.has(key)).toBe(false);
    got.set(key, e);
  }
  expect([...got.keys()].sort()).toEqual([...expected.keys()].sort());
  // Collected and compared once: thousands of expect() calls make the suite slow.
  const mismatches: unknown[] = [];
  let quantilesChecked = 0;
  for (const [key, b] of expected) {
    const w = (got.get(key) as EmittedWindow).window;
    const actual = { count: w.count, error_count: w.error_count, duration_sum_us: w.duration_sum_us, bucket_counts: w.bucket_counts, ex: [w.exemplar_event_id, w.exemplar_trace_id], width: w.window_end - w.window_start, bounds: w.bucket_bounds_us };
    const want = { count: b.count, error_count: b.error_count, duration_sum_us: b.duration_sum_us, bucket_counts: b.bucket_counts, ex: [b.exemplar_event_id, b.exemplar_trace_id], width: 10_000_000, bounds: b.series.level === null ? [...DEFAULT_BUCKET_BOUNDS_US] : [] };
    if (JSON.stringify(actual) !== JSON.stringify(want)) mismatches.push({ key, actual, want });
    for (const [q, p] of [[0.5, w.p50_us], [0.9, w.p90_us], [0.99, w.p99_us]] as const) {
      const x = exactQuantile(b.durations, q);
      if (x === null) {
        if (p !== null) mismatches.push({ key, q, p, exact: null });
      } else {
        if (p === null || !(Math.abs(p - x) <= alpha * x + 0.5)) mismatches.push({ key, q, p, exact: x });
        quantilesChecked++;
      }
    }
  }
  expect(mismatches).toEqual([]);
  expect(quantilesChecked).toBeGreaterThan(100);
}

/** The aggregator as the enricher drives it: late deltas taken at the end of every batch of `batch` records. */
function run(logs: LogRecord[], opts: Partial<MetricOptions> = {}, batch = 500): { out: EmittedWindow[]; agg: MetricAggregator } {
  const agg = new MetricAggregator(opts);
  const out: EmittedWindow[] = [];
  logs.forEach((log, i) => {
    out.push(...agg.add(log, i));
    if ((i + 1) % batch === 0) out.push(...agg.takeLate());
  });
  out.push(...agg.drain());
  return { out, agg };
}

function byId(ws: EmittedWindow[]): EmittedWindow[] {
  return [...ws].sort((a, b) => (a.window.window_id < b.window.window_id ? -1 : a.window.window_id > b.window.window_id ? 1 : 0));
}

function ids(ws: EmittedWindow[]): string[] {
  return ws.map((w) => w.window.window_id);
}

// ---------------------------------------------------------------------------------------

describe('metric windows against a batch recomputation', () => {
  const inLateness = workload(1, 30_000, { jitter: 0.3, maxJitterUs: 4_900_000, lateFrac: 0 });
  const withLate = workload(2, 30_000, { jitter: 0.3, maxJitterUs: 4_900_000, lateFrac: 0.02 });

  test('out-of-order within the lateness: exact counts, sums, buckets, exemplars; quantiles within 1% + 0.5 µs', () => {
    const { out, agg } = run(inLateness.logs);
    expect(agg.stats.lateEvents).toBe(0);
    expect(out.every((e) => !e.late && e.window.late_count === 0)).toBe(true);
    expect(new Set(ids(out)).size).toBe(out.length);
    expectMatchesBatch(out, batch(inLateness.logs));
  });

  test('out-of-order within the lateness changes no result: same records, byte for byte, as the sorted input', () => {
    const sorted = [...inLateness.logs].sort((a, b) => a.timestamp - b.timestamp || (a.event_id < b.event_id ? -1 : 1));
    expect(sorted.map((l) => l.event_id)).not.toEqual(inLateness.logs.map((l) => l.event_id));
    expect(byId(run(inLateness.logs).out)).toEqual(byId(run(sorted).out));
  });

  test('beyond the lateness: late events become deltas, and on-time + deltas equal the batch result', () => {
    const { out, agg } = run(withLate.logs);
    const deltas = out.filter((e) => e.late);
    expect(agg.stats.lateEvents).toBeGreaterThan(100);
    // Every late event counts once in its log series' deltas (and in its HTTP series' if HTTP-like).
    const lateLogs = deltas.filter((d) => d.window.series.level !== null);
    expect(lateLogs.reduce((n, d) => n + d.window.late_count, 0)).toBe(agg.stats.lateEvents);
    for (const d of deltas) expect(d.window.late_count).toBe(d.window.count);
    expect(new Set(deltas.map((d) => d.window.window_id)).size).toBe(deltas.length);
    expect(new Set(ids(out)).size).toBe(out.length);
    expect(out.filter((e) => !e.late).every((e) => e.window.late_count === 0)).toBe(true);
    const merged = mergeAll(out);
    expectMatchesBatch(merged, batch(withLate.logs));
    // The query-side rule without sketches: summing count / sums / buckets by (series, window_start).
    const sums = new Map<string, number[]>();
    for (const e of out) {
      const k = baseWindowId(e.window);
      const s = sums.get(k) ?? [0, 0, 0, 0];
      sums.set(k, [(s[0] as number) + e.window.count, (s[1] as number) + e.window.error_count, (s[2] as number) + e.window.duration_sum_us, (s[3] as number) + e.window.late_count]);
    }
    for (const m of merged) expect(sums.get(m.window.window_id)).toEqual([m.window.count, m.window.error_count, m.window.duration_sum_us, m.window.late_count]);
    expect(merged.reduce((n, m) => n + m.window.late_count, 0)).toBe(deltas.reduce((n, d) => n + d.window.late_count, 0));
  });

  test('two aggregators over an arbitrary split, merged by window id, equal one aggregator', () => {
    for (const w of [inLateness, withLate]) {
      const r = rng(99);
      const parts: LogRecord[][] = [[], []];
      for (const log of w.logs) (parts[r() < 0.5 ? 0 : 1] as LogRecord[]).push(log);
      const a = run(parts[0] as LogRecord[]).out;
      const b = run(parts[1] as LogRecord[]).out;
      const single = mergeAll(run(w.logs).out);
      const split = mergeAll([...a, ...b]);
      // Late/on-time may split differently between the two (each has its own watermark), so compare values, not `late`.
      const strip = (ws: EmittedWindow[]): string[] => ws.map((e) => JSON.stringify({ ...e, late: null, window: { ...e.window, sketch: Buffer.from(e.window.sketch ?? []).toString('base64') } }));
      expect(strip(split)).toEqual(strip(single));
      expectMatchesBatch(split, batch(w.logs));
    }
    // Without late events the on-time ids alone line up: each id is in A, B or both.
    const r = rng(5);
    const a: LogRecord[] = [];
    const b: LogRecord[] = [];
    for (const log of inLateness.logs) (r() < 0.3 ? a : b).push(log);
    const single = run(inLateness.logs).out;
    const both = [...run(a).out, ...run(b).out];
    expect(both.every((e) => !e.late)).toBe(true);
    expect([...new Set(ids(both))].sort()).toEqual(ids(single).sort());
  });
});

describe('semantics on small cases', () => {
  const W = 10_000_000;
  const opts = { windowUs: W, allowedLatenessUs: 5_000_000 };

  test('a window closes once the watermark reaches window_end + lateness; an event for it afterwards is a late delta', () => {
    const agg = new MetricAggregator(opts);
    expect(agg.watermark).toBeNull();
    expect(agg.add(record({ event_id: 'A', timestamp: T0 + 1_000_000 }), 0)).toEqual([]);
    expect(agg.add(record({ event_id: 'B', timestamp: T0 + 14_999_999 }), 1)).toEqual([]);
    expect(agg.minOpenOffset()).toBe(0);
    // Out of order but within the lateness: still on time.
    expect(agg.add(record({ event_id: 'C', timestamp: T0 + 9_999_999, level: 'ERROR' }), 2)).toEqual([]);
    const closed = agg.add(record({ event_id: 'D', timestamp: T0 + 15_000_000 }), 3);
    expect(closed.map((e) => [e.window.window_start, e.window.series.level, e.window.count, e.window.error_count])).toEqual(
      [[T0, 'INFO', 1, 0], [T0, 'ERROR', 1, 1]].sort((x, y) => (windowId('t1', { service: 'api', route: null, method: null, status_class: null, level: x[1] as string }, T0, T0 + W) < windowId('t1', { service: 'api', route: null, method: null, status_class: null, level: y[1] as string }, T0, T0 + W) ? -1 : 1)),
    );
    expect(agg.minOpenOffset()).toBe(1);
    expect(agg.checkpoint(4)).toEqual({ offset: 1, watermark: T0 + 15_000_000, until: 4, laneWatermark: null, lanes: [] });
    expect(agg.add(record({ event_id: 'E', timestamp: T0 + 2, http: http({ status: 503, duration_us: 42 }) }), 4)).toEqual([]);
    expect(agg.pendingLate).toBe(2);
    // In the late lane until its watermark passes the window (or the partition is idle).
    expect(agg.takeLate()).toEqual([]);
    expect(agg.checkpoint(5)).toMatchObject({ offset: 1, laneWatermark: T0 + 2, lanes: [{ start: T0, minOffset: 4 }] });
    const late = agg.flushLane();
    expect(late.map((e) => e.late)).toEqual([true, true]);
    expect(agg.flushLane()).toEqual([]);
    const [logDelta, httpDelta] = late as [EmittedWindow, EmittedWindow];
    expect(logDelta.window).toMatchObject({ count: 1, error_count: 0, late_count: 1, window_start: T0, bucket_counts: [], p50_us: null });
    expect(httpDelta.window).toMatchObject({ count: 1, error_count: 1, late_count: 1, duration_sum_us: 42, p50_us: 42, p99_us: 42, exemplar_event_id: 'E' });
    expect(httpDelta.window.series).toEqual({ service: 'api', route: '/x', method: 'GET', status_class: '5xx', level: null });
    expect(httpDelta.window.window_id).toBe(lateWindowId(windowId('t1', httpDelta.window.series, T0, T0 + W), 'E'));
    expect(agg.stats.lateEvents).toBe(1);
    // advanceWatermark closes what is due; drain closes the rest without moving the watermark.
    expect(agg.advanceWatermark(T0 + 24_999_999)).toEqual([]);
    expect(agg.advanceWatermark(T0 + 25_000_000).map((e) => e.window.count)).toEqual([2]);
    expect(agg.drain()).toEqual([]);
    expect(agg.watermark).toBe(T0 + 25_000_000);
  });

  test('HTTP series: request, error and duration rules, histogram edges (upper bound inclusive)', () => {
    const agg = new MetricAggregator({ ...opts, bucketBoundsUs: [10, 100] });
    const logs = [
      record({ event_id: '1', timestamp: T0, http: http({ status: 200, duration_us: 10 }) }),
      record({ event_id: '2', timestamp: T0, http: http({ status: 200, duration_us: 11 }) }),
      record({ event_id: '3', timestamp: T0, http: http({ status: 200, duration_us: 1000 }), level: 'ERROR' }),
      record({ event_id: '4', timestamp: T0, http: http({ status: 200, duration_us: null }) }),
      record({ event_id: '5', timestamp: T0, http: http({ status: 999, duration_us: 0 }) }),
      record({ event_id: '6', timestamp: T0, http: http({ status: null, duration_us: null }) }),
    ];
    logs.forEach((l, i) => agg.add(l, i));
    const out = agg.drain().map((e) => e.window);
    const s2xx = out.find((w) => w.series.status_class === '2xx') as MetricWindow;
    expect(s2xx).toMatchObject({ count: 4, error_count: 1, duration_sum_us: 1021, bucket_bounds_us: [10, 100], bucket_counts: [1, 1, 1], exemplar_event_id: '3' });
    const noStatus = out.find((w) => w.series.level === null && w.series.status_class === null) as MetricWindow;
    expect(noStatus).toMatchObject({ count: 1, error_count: 0, duration_sum_us: 0, bucket_counts: [1, 0, 0], p50_us: 0 });
    const logSeries = out.find((w) => w.series.level === 'INFO') as MetricWindow;
    expect(logSeries).toMatchObject({ count: 5, error_count: 0, bucket_bounds_us: [], bucket_counts: [], p50_us: null });
    expect(out.filter((w) => w.series.level === 'ERROR').map((w) => w.error_count)).toEqual([1]);
  });

  test('exemplar: trace-carrying before not, error before not, slower before faster, then smaller event_id', () => {
    const ex = (logs: LogRecord[]): string | null => {
      const agg = new MetricAggregator(opts);
      logs.forEach((l, i) => agg.add(l, i));
      return (agg.drain().find((e) => e.window.series.level === null) as EmittedWindow).window.exemplar_event_id;
    };
    const tr = '0'.repeat(31) + '1';
    const a = record({ event_id: 'a', timestamp: T0, http: http({ duration_us: 900_000 }) });
    const b = record({ event_id: 'b', timestamp: T0, trace_id: tr, http: http({ duration_us: 10 }) });
    const c = record({ event_id: 'c', timestamp: T0, trace_id: tr, level: 'ERROR', http: http({ duration_us: 5 }) });
    const d = record({ event_id: 'd', timestamp: T0, trace_id: tr, level: 'ERROR', http: http({ duration_us: 6 }) });
    const e = record({ event_id: 'e', timestamp: T0, trace_id: tr, level: 'ERROR', http: http({ duration_us: 6 }) });
    expect(ex([a, b])).toBe('b');
    expect(ex([b, c])).toBe('c');
    expect(ex([c, d])).toBe('d');
    expect(ex([e, d, c])).toBe('d');
    expect(ex([d, e, c, b, a])).toBe('d');
  });

  test('series beyond the cap fold into route (other), then service (other); totals are kept', () => {
    const agg = new MetricAggregator({ ...opts, maxSeriesPerWindow: 3 });
    const logs: LogRecord[] = [];
    for (let i = 0; i < 8; i++) logs.push(record({ event_id: `r${i}`, timestamp: T0, level: 'INFO', http: http({ route: `/r${i}` }) }));
    for (let i = 0; i < 4; i++) logs.push(record({ event_id: `s${i}`, timestamp: T0, service: `svc${i}`, level: 'INFO' }));
    logs.forEach((l, i) => agg.add(l, i));
    const out = agg.drain().map((e) => e.window);
    // Admitted: api/INFO, /r0, /r1; then /r2.. fold into (other) (a 4th and 5th series); svc0 joins (6th), then service folds.
    expect(out.length).toBeLessThanOrEqual(2 * 3 + 13);
    const routes = out.filter((w) => w.series.level === null).map((w) => w.series.route).sort();
    expect(routes).toEqual(['/r0', '/r1', OTHER].sort());
    expect(out.find((w) => w.series.route === OTHER)).toMatchObject({ count: 6, series: { method: null, status_class: '2xx', service: 'api' } });
    expect(out.reduce((n, w) => n + (w.series.level !== null ? w.count : 0), 0)).toBe(12);
    expect(out.some((w) => w.series.service === OTHER && w.series.level === 'INFO')).toBe(true);
    expect(agg.stats.foldedEvents).toBeGreaterThan(0);
  });

  test('window ids: deterministic, and distinct for null vs "", other windows, sizes and tenants', () => {
    const s = { service: 'api', route: '/a', method: 'GET', status_class: '2xx', level: null };
    const id = windowId('t1', s, T0, T0 + W);
    expect(id).toMatch(/^[0-9a-f]{32}$/);
    // Pinned (= SHA-256 of the JSON text, checked independently): a change of the id scheme
    // would orphan every stored window.
    expect(id).toBe(windowId('t1', { ...s }, T0, T0 + W));
    expect(id).toBe('2eaa4fa5ee9e0dea4301891b1e71b739');
    const others = [
      windowId('t2', s, T0, T0 + W),
      windowId('t1', { ...s, level: '' }, T0, T0 + W),
      windowId('t1', { ...s, route: null }, T0, T0 + W),
      windowId('t1', s, T0 + W, T0 + 2 * W),
      windowId('t1', s, T0, T0 + 2 * W),
    ];
    expect(new Set([id, ...others]).size).toBe(6);
    expect(lateWindowId(id, 'E1')).not.toBe(lateWindowId(id, 'E2'));
    expect(lateWindowId(id, 'E1')).toBe(lateWindowId(id, 'E1'));
    // Two instances compute the same ids.
    const logs = workload(4, 2_000, { jitter: 0, maxJitterUs: 0, lateFrac: 0 }).logs;
    expect(ids(byId(run(logs).out))).toEqual(ids(byId(run(logs).out)));
  });

  test('mergeWindows refuses records of different series or windows, and bounds that differ', () => {
    const logs = [record({ event_id: 'x', timestamp: T0, http: http({}) }), record({ event_id: 'y', timestamp: T0 + W, http: http({}) })];
    const out = run(logs).out;
    expect(() => mergeWindows(out[0] as EmittedWindow, out[1] as EmittedWindow)).toThrow(RangeError);
    const other = run([logs[0] as LogRecord], { bucketBoundsUs: [5] }).out.find((e) => e.window.series.level === null) as EmittedWindow;
    const mine = out.find((e) => e.window.series.level === null && e.window.window_start === T0) as EmittedWindow;
    expect(() => mergeWindows(mine, other)).toThrow(RangeError);
    expect(() => mergeWindows(mine, { ...mine, window: { ...mine.window, sketch: null } })).toThrow(RangeError);
  });
});

describe('MetricWindow.sketch and mergeSketchQuantiles (issue #10)', () => {
  const w = workload(6, 20_000, { jitter: 0.3, maxJitterUs: 4_900_000, lateFrac: 0.01 });
  const type = avro.Type.forSchema(loadSchema('MetricWindow') as unknown as avro.Schema);
  /** Through the Avro schema, as the metrics.derived codec writes and reads it. */
  const viaAvro = (m: MetricWindow): MetricWindow => type.fromBuffer(type.toBuffer(m)) as MetricWindow;
  const key = (m: MetricWindow): string => baseWindowId(m);

  test('every window with durations carries the serialized sketch of exactly those durations; the others null', () => {
    const { out } = run(w.logs);
    let withSketch = 0;
    for (const { window: m } of out) {
      const durations = m.bucket_counts.reduce((a, b) => a + b, 0);
      if (durations === 0) {
        expect(m.sketch).toBeNull();
        continue;
      }
      expect(Buffer.isBuffer(m.sketch)).toBe(true);
      const s = DDSketch.deserialize(m.sketch as Buffer);
      expect([s.count, Math.round(s.quantile(0.5) as number), Math.round(s.quantile(0.99) as number)]).toEqual([durations, m.p50_us, m.p99_us]);
      withSketch++;
    }
    expect(withSketch).toBeGreaterThan(100);
  });

  test('partial windows of two aggregators, read back through Avro, merge to the quantiles of one aggregator, within α of the exact', () => {
    const r = rng(23);
    const parts: LogRecord[][] = [[], []];
    for (const log of w.logs) (parts[r() < 0.5 ? 0 : 1] as LogRecord[]).push(log);
    const partial = [...run(parts[0] as LogRecord[]).out, ...run(parts[1] as LogRecord[]).out].map((e) => viaAvro(e.window));
    const groups = new Map<string, MetricWindow[]>();
    for (const m of partial) groups.set(key(m), [...(groups.get(key(m)) ?? []), m]);
    const single = new Map(mergeAll(run(w.logs).out).map((e) => [e.window.window_id, e.window]));
    const exact = new Map([...batch(w.logs).values()].map((b) => [windowId(b.tenant, b.series, b.window_start, b.window_start + 10_000_000), b.durations]));
    const mismatches: unknown[] = [];
    let split = 0;
    for (const [id, ms] of groups) {
      const one = single.get(id) as MetricWindow;
      const got = mergeSketchQuantiles(ms);
      const want = { durations: one.bucket_counts.reduce((a, b) => a + b, 0), p50_us: one.p50_us, p90_us: one.p90_us, p99_us: one.p99_us };
      if (JSON.stringify(got) !== JSON.stringify(want)) mismatches.push({ id, got, want });
      const sorted = exact.get(id) as number[];
      for (const [q, p] of [[0.5, got.p50_us], [0.9, got.p90_us], [0.99, got.p99_us]] as const) {
        const x = exactQuantile(sorted, q);
        if (x === null ? p !== null : p === null || !(Math.abs(p - x) <= 0.01 * x + 0.5)) mismatches.push({ id, q, p, exact: x });
      }
      if (ms.length > 1 && got.durations > 0) split++; // both instances (or a late delta) had durations of this series window
    }
    expect(mismatches).toEqual([]);
    expect(split).toBeGreaterThan(100);
  });

  test('log windows contribute nothing; a window with durations but no sketch (an older writer) cannot be merged', () => {
    const { out } = run(w.logs.slice(0, 2_000));
    const httpWindow = out.find((e) => e.window.sketch !== null)!.window;
    const logWindow = out.find((e) => e.window.series.level !== null)!.window;
    expect(mergeSketchQuantiles([logWindow])).toEqual({ durations: 0, p50_us: null, p90_us: null, p99_us: null });
    expect(mergeSketchQuantiles([httpWindow, logWindow])).toEqual(mergeSketchQuantiles([httpWindow]));
    expect(mergeSketchQuantiles([])).toEqual({ durations: 0, p50_us: null, p90_us: null, p99_us: null });
    const { sketch: _s, ...older } = httpWindow;
    expect(() => mergeSketchQuantiles([httpWindow, older])).toThrow(/has durations but no sketch/);
    // Different sketch parameters do not merge.
    const other = new DDSketch({ alpha: 0.02 });
    other.add(5);
    expect(() => mergeSketchQuantiles([httpWindow, { bucket_counts: [1], sketch: other.serialize() }])).toThrow(RangeError);
  });
});

describe('exact restarts', () => {
  const w = workload(3, 12_000, { jitter: 0.3, maxJitterUs: 4_900_000, lateFrac: 0.02 });

  test.each([
    ['default cap', {}],
    ['a cap of 5 series per window (folding)', { maxSeriesPerWindow: 5 }],
  ])('restarting at arbitrary points (%s), even mid-replay, emits exactly what one run emits, nothing twice', (_name, opts: Partial<MetricOptions>) => {
    const straight = run(w.logs, opts);
    const r = rng(17);
    for (let trial = 0; trial < 6; trial++) {
      const emitted: EmittedWindow[] = [];
      let agg = new MetricAggregator(opts);
      let pos = 0;
      let skipped = 0;
      let restarts = 0;
      let frontier = 0;
      while (pos < w.logs.length) {
        // Process up to a random point past the previous crash (sometimes still inside the
        // replay), then "crash": commit the checkpoint and start a new owner.
        frontier += r() < 0.3 ? 1 + Math.floor(r() * 500) : 1 + Math.floor(r() * 4_000);
        const stop = Math.min(w.logs.length, Math.max(pos + 1, frontier));
        for (; pos < stop; pos++) emitted.push(...agg.add(w.logs[pos] as LogRecord, pos));
        // The runner's end of batch: late deltas are taken before every checkpoint.
        emitted.push(...agg.takeLate());
        if (pos >= w.logs.length) break;
        const committed = encodeMetricsCheckpoint(agg.checkpoint(pos));
        expect(Number(committed.offset)).toBeLessThanOrEqual(pos);
        expect(committed.metadata).toMatch(/^mw1;\d+;\d+$|^mw2;\d+;\d+;\d+;(\d+@\d+(\+\d+@\d+)*)?$/);
        skipped += agg.stats.replaySkipped;
        agg = new MetricAggregator(opts, decodeMetricsCheckpoint(committed));
        pos = Number(committed.offset);
        restarts++;
      }
      emitted.push(...agg.drain());
      skipped += agg.stats.replaySkipped;
      expect(restarts).toBeGreaterThan(1);
      expect(new Set(ids(emitted)).size).toBe(emitted.length);
      // On-time windows are the same records; late events group into deltas by batch, so
      // those are compared by value: merged per window, they equal one run's.
      expect(byId(emitted.filter((e) => !e.late))).toEqual(byId(straight.out.filter((e) => !e.late)));
      expect(mergeAll(emitted)).toEqual(mergeAll(straight.out));
      if (trial === 0) expect(skipped).toBeGreaterThan(0);
    }
  });

  test('a checkpoint with nothing open still carries the watermark; none before the first event', () => {
    const agg = new MetricAggregator();
    expect(encodeMetricsCheckpoint(agg.checkpoint(7))).toEqual({ offset: '7', metadata: null });
    agg.add(record({ event_id: 'a', timestamp: T0 }), 7);
    agg.advanceWatermark(T0 + 60_000_000);
    expect(agg.minOpenOffset()).toBeNull();
    const c = encodeMetricsCheckpoint(agg.checkpoint(8));
    expect(c).toEqual({ offset: '8', metadata: `mw1;${T0 + 60_000_000};0` });
    expect(decodeMetricsCheckpoint(c)).toEqual({ watermark: T0 + 60_000_000, until: 8 });
    // A new owner counts a late event after `until` as late (not skipped).
    const next = new MetricAggregator({}, decodeMetricsCheckpoint(c));
    expect(next.add(record({ event_id: 'b', timestamp: T0 + 1 }), 8)).toEqual([]);
    expect(next.flushLane().map((e) => e.late)).toEqual([true]);
    expect(decodeMetricsCheckpoint({ offset: '1', metadata: 'ml1;2;' })).toBeNull();
  });

  test('advanceWatermark waits while replaying: a window still being rebuilt is not closed early', () => {
    const logs = [record({ event_id: 'a', timestamp: T0 }), record({ event_id: 'b', timestamp: T0 + 1 }), record({ event_id: 'c', timestamp: T0 + 2 })];
    const first = new MetricAggregator();
    first.add(logs[0] as LogRecord, 0);
    first.add(logs[1] as LogRecord, 1);
    first.add(logs[2] as LogRecord, 2);
    const next = new MetricAggregator({}, decodeMetricsCheckpoint(encodeMetricsCheckpoint(first.checkpoint(3))));
    next.add(logs[0] as LogRecord, 0);
    expect(next.advanceWatermark(T0 + 60_000_000)).toEqual([]); // an idle timer firing mid-replay
    expect(next.replaying).toBe(true);
    next.add(logs[1] as LogRecord, 1);
    next.add(logs[2] as LogRecord, 2); // the last input the previous owner read: replay over
    expect(next.replaying).toBe(false);
    expect(next.advanceWatermark(T0 + 60_000_000).map((e) => e.window.count)).toEqual([3]);
    // A replay ending on offsets without records (transaction markers): the runner says so.
    const third = new MetricAggregator({}, { watermark: T0 + 2, until: 10 });
    third.add(logs[0] as LogRecord, 0);
    expect(third.advanceWatermark(T0 + 60_000_000)).toEqual([]);
    third.caughtUp(10);
    expect(third.advanceWatermark(T0 + 60_000_000).map((e) => e.window.count)).toEqual([1]);
    expect(decodeMetricsCheckpoint(null)).toBeNull();
  });
});

describe('late events merge per series window and batch (issue #11: a backfill is not one document per line)', () => {
  test('a backfill of 5,000 lines 90 minutes old after live traffic: a handful of deltas, exact in sum', () => {
    const W = 10_000_000;
    const agg = new MetricAggregator({ windowUs: W, allowedLatenessUs: 5_000_000 });
    const live = T0 + 90 * 60_000_000;
    const out: EmittedWindow[] = [...agg.add(record({ event_id: 'live', timestamp: live }), 0)];
    const backfill = Array.from({ length: 5000 }, (_, i) => record({ event_id: `b${String(i).padStart(5, '0')}`, timestamp: T0 + i * 12_000, level: i % 10 === 0 ? 'ERROR' : 'INFO' }));
    backfill.forEach((r, i) => {
      out.push(...agg.add(r, i + 1));
      if ((i + 1) % 1000 === 0) out.push(...agg.takeLate()); // batches of 1,000
    });
    out.push(...agg.drain());
    const deltas = out.filter((e) => e.late);
    expect(agg.stats.lateEvents).toBe(5000);
    // 5,000 lines over 60 s of event time = 6 windows x 2 levels; the late lane closes each
    // window once, whatever the batches: exactly one delta per (series, window).
    const pairs = new Set(deltas.map((d) => baseWindowId(d.window)));
    expect(pairs.size).toBe(12);
    expect(deltas.length).toBe(12);
    expect(deltas.reduce((n, d) => n + d.window.count, 0)).toBe(5000);
    expect(deltas.reduce((n, d) => n + d.window.late_count, 0)).toBe(5000);
    expect(deltas.filter((d) => d.window.series.level === 'ERROR').reduce((n, d) => n + d.window.error_count, 0)).toBe(500);
    expect(new Set(deltas.map((d) => d.window.window_id)).size).toBe(deltas.length);
  });
});

describe('the late lane across restarts (issue #11)', () => {
  test('a backfill crashed at every batch end still gives one delta per (series, window), exact in sum', () => {
    const W = 10_000_000;
    const opts = { windowUs: W, allowedLatenessUs: 5_000_000 };
    const live = T0 + 90 * 60_000_000;
    const inputs = [record({ event_id: 'live', timestamp: live }), ...Array.from({ length: 5000 }, (_, i) => record({ event_id: `b${String(i).padStart(5, '0')}`, timestamp: T0 + i * 12_000, level: i % 10 === 0 ? 'ERROR' : 'INFO' }))];
    const out: EmittedWindow[] = [];
    let agg = new MetricAggregator(opts);
    let pos = 0;
    let restarts = 0;
    while (pos < inputs.length) {
      const stop = Math.min(inputs.length, pos + 2000);
      for (; pos < stop; pos++) {
        out.push(...agg.add(inputs[pos] as LogRecord, pos));
        // The live window closes (the partition was idle after it), so it does not hold the checkpoint.
        if (pos === 0) out.push(...agg.advanceWatermark(live + 20_000_000));
      }
      out.push(...agg.takeLate());
      if (pos >= inputs.length) break;
      // Crash after every batch: a new owner resumes from the committed checkpoint, replaying.
      const committed = encodeMetricsCheckpoint(agg.checkpoint(pos));
      agg = new MetricAggregator(opts, decodeMetricsCheckpoint(committed));
      pos = Number(committed.offset);
      restarts++;
    }
    out.push(...agg.drain());
    expect(restarts).toBeGreaterThanOrEqual(3);
    const deltas = out.filter((e) => e.late);
    expect(new Set(out.map((e) => e.window.window_id)).size).toBe(out.length);
    expect(new Set(deltas.map((d) => baseWindowId(d.window))).size).toBe(12);
    expect(deltas.length).toBe(12);
    expect(deltas.reduce((n, d) => n + d.window.count, 0)).toBe(5000);
    expect(deltas.filter((d) => d.window.series.level === 'ERROR').reduce((n, d) => n + d.window.error_count, 0)).toBe(500);
  });
});

describe('a burst of late events followed by an on-time feed (found by the soak)', () => {
  const W = 10_000_000;
  const live = T0 + 90 * 60_000_000;
  const run = (laneQuietInputs: number) => {
    const agg = new MetricAggregator({ windowUs: W, allowedLatenessUs: 5_000_000, laneQuietInputs });
    const out: EmittedWindow[] = [];
    let offset = 0;
    const batch = (records: LogRecord[]) => {
      for (const r of records) out.push(...agg.add(r, offset++));
      out.push(...agg.takeLate(offset - 1));
    };
    batch([record({ event_id: 'live0', timestamp: live })]);
    batch(Array.from({ length: 50 }, (_, i) => record({ event_id: `late${i}`, timestamp: T0 + i * 1000 }))); // 90 minutes old, one window
    // Then on-time lines, 100 per batch, time moving on: nothing moves the lane watermark.
    const committed: number[] = [];
    for (let b = 0; b < 30; b++) {
      batch(Array.from({ length: 100 }, (_, i) => record({ event_id: `on${b}-${i}`, timestamp: live + (b * 100 + i) * 10_000 })));
      committed.push(Number(agg.checkpoint(offset).offset));
    }
    return { out, committed };
  };

  test('the lane window is emitted once it has been quiet for laneQuietInputs inputs, and the committed offset moves on', () => {
    const { out, committed } = run(1000);
    const deltas = out.filter((e) => e.late);
    expect(deltas.map((d) => d.window.count)).toEqual([50]); // one delta, all 50
    // The live window holds offset 0 for its 15 s; then only open on-time windows hold the offset.
    expect(committed.slice(15).every((c) => c > 1000)).toBe(true);
    expect(committed.at(-1)!).toBeGreaterThan(2000);
  });

  test('with the rule off (0) the lane window holds the committed offset for as long as the feed lasts', () => {
    const { out, committed } = run(0);
    expect(out.filter((e) => e.late)).toEqual([]);
    expect(committed.slice(15).every((c) => c === 1)).toBe(true); // the first late input, for good
  });
});
