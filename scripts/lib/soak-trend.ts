/**
 * The pure parts of `npm run soak` (scripts/soak.ts): one sample row per service every
 * 10 s, its CSV form, consumer lag from offsets, and the trend rule that passes or fails
 * a run.
 *
 * The trend rule. The first `warmupS` seconds are left out (heaps grow, JIT and buffers
 * settle); over the rest each series gets a least-squares line, and its slope, projected
 * over 30 minutes, is the series' rise:
 * - RSS fails when it rises by more than 10% of its mean AND more than 20 MB per 30 min;
 * - heap used fails when it rises by more than 10% of its mean AND more than 20 MB per 30 min
 *   (its GC sawtooth, tens of MB, leaves a 30-minute fit an error of several MB);
 * - consumer lag fails when it grows by more than 1% of the input rate (the service
 *   keeps less than 99% of the pace) AND the final lag (mean of the last 3 samples) is
 *   more than 30 s of input;
 * - open files fail when they rise by more than 10 per 30 min AND the last count is
 *   above the first one after the warm-up;
 * - event-loop delay (p99 of each 10 s) is reported, never judged.
 */

/** One service at one moment. */
export interface Sample {
  /** Seconds since the steady load started. */
  t: number;
  service: string;
  rssMb: number;
  heapUsedMb: number;
  /** V8 heap reserved (nodejs_heap_size_total_bytes), MB: reported, not judged. */
  heapTotalMb: number;
  /** Memory of Buffers and other objects outside the V8 heap (nodejs_external_memory_bytes), MB: reported, not judged. */
  externalMb: number;
  /** Event-loop delay, p99 over the last scrape interval, ms. */
  loopP99Ms: number;
  /** Records behind: high watermark minus committed offset, over the service's groups. */
  lag: number;
  openFiles: number;
  /** Lines produced to the run's logs.raw so far (the same for every service of a sample). */
  produced: number;
}

export type Metric = 'rssMb' | 'heapUsedMb' | 'heapTotalMb' | 'externalMb' | 'loopP99Ms' | 'lag' | 'openFiles';

const COLUMNS: ReadonlyArray<[string, keyof Sample]> = [
  ['t_s', 't'], ['service', 'service'], ['rss_mb', 'rssMb'], ['heap_used_mb', 'heapUsedMb'], ['loop_p99_ms', 'loopP99Ms'], ['lag', 'lag'], ['open_files', 'openFiles'], ['produced', 'produced'],
  ['heap_total_mb', 'heapTotalMb'], ['external_mb', 'externalMb'],
];

export const CSV_HEADER = COLUMNS.map(([c]) => c).join(',');
/** The header of runs before heap_total_mb and external_mb were sampled (still judged; those two read as NaN). */
const CSV_HEADER_V1 = COLUMNS.slice(0, 8).map(([c]) => c).join(',');

/** One CSV line of a sample (no newline); numbers rounded for reading, NaN as empty. */
export function csvLine(s: Sample): string {
  return COLUMNS.map(([, k]) => {
    const v = s[k];
    if (typeof v === 'string') return v;
    return Number.isFinite(v) ? String(Math.round(v * 100) / 100) : '';
  }).join(',');
}

/** Samples back from CSV text with CSV_HEADER as its first line. */
export function parseCsv(text: string): Sample[] {
  const [head, ...lines] = text.trim().split('\n');
  if (head?.trim() !== CSV_HEADER && head?.trim() !== CSV_HEADER_V1) throw new Error(`not a soak CSV (header ${JSON.stringify(head)})`);
  return lines.filter((l) => l.trim() !== '').map((l) => {
    const cells = l.split(',');
    const s: Record<string, number | string> = {};
    COLUMNS.forEach(([, k], i) => {
      const c = cells[i] ?? '';
      s[k] = k === 'service' ? c : c === '' ? NaN : Number(c);
    });
    return s as unknown as Sample;
  });
}

/** The service a consumer group of run `runId` belongs to (`<run>-sink-es-metrics` -> sink), or undefined. */
export function serviceOfGroup(runId: string, groupId: string, services: readonly string[]): string | undefined {
  if (!groupId.startsWith(`${runId}-`)) return undefined;
  const rest = groupId.slice(runId.length + 1);
  // The longest name first: collector-normalizer before collector.
  return [...services].sort((a, b) => b.length - a.length).find((s) => rest === s || rest.startsWith(`${s}-`));
}

/**
 * Records a group has yet to commit on one topic: per partition the high watermark minus
 * the committed offset; a partition with no commit yet counts from its low watermark.
 */
export function groupLag(committed: ReadonlyArray<{ partition: number; offset: string }>, watermarks: ReadonlyArray<{ partition: number; high: string; low: string }>): number {
  const at = new Map(committed.map((c) => [c.partition, Number(c.offset)]));
  let lag = 0;
  for (const w of watermarks) {
    const c = at.get(w.partition);
    const from = c !== undefined && c >= 0 ? c : Number(w.low);
    lag += Math.max(0, Number(w.high) - from);
  }
  return lag;
}

/** Least-squares line through (x, y) points (non-finite y left out); slope NaN with fewer than 2 points. */
export function fitLine(points: ReadonlyArray<readonly [number, number]>): { slope: number; intercept: number; n: number } {
  const ps = points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  const n = ps.length;
  if (n < 2) return { slope: NaN, intercept: NaN, n };
  const mx = ps.reduce((a, [x]) => a + x, 0) / n;
  const my = ps.reduce((a, [, y]) => a + y, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (const [x, y] of ps) {
    sxy += (x - mx) * (y - my);
    sxx += (x - mx) ** 2;
  }
  const slope = sxx === 0 ? 0 : sxy / sxx;
  return { slope, intercept: my - slope * mx, n };
}

export interface TrendRow {
  service: string;
  metric: Metric;
  min: number;
  mean: number;
  max: number;
  /** The fitted slope times 30 minutes, in the metric's unit. */
  risePer30Min: number;
  verdict: 'ok' | 'RISING' | 'info' | 'no data';
  /** Why, in words (the thresholds that applied). */
  why: string;
}

export interface TrendOptions {
  /** Seconds at the start left out of the fit. */
  warmupS: number;
  /** The steady input rate, lines/s (lag thresholds are fractions of it). */
  rate: number;
}

const HALF_HOUR = 1800;
export const METRICS: readonly Metric[] = ['rssMb', 'heapUsedMb', 'heapTotalMb', 'externalMb', 'loopP99Ms', 'lag', 'openFiles'];
/** Reported to tell where memory goes, never judged. */
const INFO: ReadonlySet<Metric> = new Set(['heapTotalMb', 'externalMb', 'loopP99Ms']);

/** Judge one series (the samples of one service after the warm-up). */
function judge(metric: Metric, points: Array<[number, number]>, opts: TrendOptions): Pick<TrendRow, 'risePer30Min' | 'verdict' | 'why'> & { mean: number } {
  const ys = points.map(([, y]) => y);
  const mean = ys.reduce((a, b) => a + b, 0) / ys.length;
  const rise = fitLine(points).slope * HALF_HOUR;
  const r = (verdict: TrendRow['verdict'], why: string) => ({ mean, risePer30Min: rise, verdict, why });
  if (!Number.isFinite(rise)) return r('no data', 'fewer than 2 samples after the warm-up');
  switch (metric) {
    case 'rssMb':
    case 'heapUsedMb': {
      const floor = 20;
      const rising = rise > 0.1 * mean && rise > floor;
      return r(rising ? 'RISING' : 'ok', `limit: +10% of mean (${(0.1 * mean).toFixed(1)} MB) and +${floor} MB per 30 min`);
    }
    case 'lag': {
      const last = ys.slice(-3);
      const final = last.reduce((a, b) => a + b, 0) / last.length;
      const slopeLimit = 0.01 * opts.rate;
      const finalLimit = 30 * opts.rate;
      const rising = rise / HALF_HOUR > slopeLimit && final > finalLimit;
      return r(rising ? 'RISING' : 'ok', `limit: grows > ${slopeLimit.toFixed(1)}/s (1% of the rate) and final ${Math.round(final)} > ${Math.round(finalLimit)} (30 s of input)`);
    }
    case 'openFiles': {
      const rising = rise > 10 && ys[ys.length - 1]! > ys[0]!;
      return r(rising ? 'RISING' : 'ok', `limit: +10 per 30 min and last (${ys[ys.length - 1]}) above first (${ys[0]})`);
    }
    case 'heapTotalMb':
    case 'externalMb':
    case 'loopP99Ms':
      return r('info', 'reported, not judged');
  }
}

/** Per service and metric: min/mean/max after the warm-up, rise per 30 minutes and verdict. */
export function trendTable(samples: readonly Sample[], opts: TrendOptions): TrendRow[] {
  const services = [...new Set(samples.map((s) => s.service))];
  const rows: TrendRow[] = [];
  for (const service of services) {
    const mine = samples.filter((s) => s.service === service && s.t >= opts.warmupS);
    for (const metric of METRICS) {
      const points = mine.map((s) => [s.t, s[metric]] as [number, number]).filter(([, y]) => Number.isFinite(y));
      if (points.length === 0) {
        rows.push({ service, metric, min: NaN, mean: NaN, max: NaN, risePer30Min: NaN, verdict: 'no data', why: 'no samples after the warm-up' });
        continue;
      }
      const ys = points.map(([, y]) => y);
      rows.push({ service, metric, min: Math.min(...ys), max: Math.max(...ys), ...judge(metric, points, opts) });
    }
  }
  return rows;
}

/** True when any judged series rises (or a judged one has no data). */
export function failed(rows: readonly TrendRow[]): boolean {
  return rows.some((r) => r.verdict === 'RISING' || (r.verdict === 'no data' && !INFO.has(r.metric)));
}

const UNITS: Record<Metric, string> = { rssMb: 'RSS MB', heapUsedMb: 'heap used MB', heapTotalMb: 'heap total MB', externalMb: 'external MB', loopP99Ms: 'loop delay p99 ms', lag: 'lag (records)', openFiles: 'open files' };

/** The table as Markdown. */
export function formatTable(rows: readonly TrendRow[]): string {
  const n = (x: number) => (Number.isFinite(x) ? (Math.abs(x) >= 100 ? Math.round(x).toLocaleString('en-US') : x.toFixed(1)) : 'n/a');
  const signed = (x: number) => (Number.isFinite(x) && x > 0 ? `+${n(x)}` : n(x));
  return [
    '| service | series | min | mean | max | rise per 30 min | verdict | rule |',
    '|---|---|---:|---:|---:|---:|---|---|',
    ...rows.map((r) => `| ${r.service} | ${UNITS[r.metric]} | ${n(r.min)} | ${n(r.mean)} | ${n(r.max)} | ${signed(r.risePer30Min)} | ${r.verdict} | ${r.why} |`),
  ].join('\n');
}
