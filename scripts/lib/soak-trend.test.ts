import { CSV_HEADER, csvLine, failed, fitLine, formatTable, groupLag, parseCsv, serviceOfGroup, trendTable, type Sample } from './soak-trend.js';

/** 30 minutes of samples every 10 s for one service; `f(t)` gives the varying fields. */
function run(service: string, f: (t: number) => Partial<Sample>): Sample[] {
  const out: Sample[] = [];
  for (let t = 0; t <= 1800; t += 10) out.push({ t, service, rssMb: 150, heapUsedMb: 40, heapTotalMb: 60, externalMb: 8, loopP99Ms: 12, lag: 500, openFiles: 30, produced: t * 1000, ...f(t) });
  return out;
}
const opts = { warmupS: 360, rate: 1000 };
const verdict = (rows: ReturnType<typeof trendTable>, metric: string) => rows.find((r) => r.metric === metric)!.verdict;

describe('fitLine', () => {
  test('recovers slope and intercept of a line', () => {
    const f = fitLine([0, 1, 2, 3].map((x) => [x, 3 + 2 * x] as const));
    expect(f.slope).toBeCloseTo(2);
    expect(f.intercept).toBeCloseTo(3);
    expect(f.n).toBe(4);
  });
  test('least squares through noise, NaN points left out', () => {
    const f = fitLine([[0, 1], [1, 3], [2, 2], [3, NaN], [4, 5]]);
    expect(f.n).toBe(4);
    // x 0,1,2,4 (mean 1.75), y 1,3,2,5 (mean 2.75): sxy = 3.0625 - 0.1875 - 0.1875 + 5.0625 = 7.75, sxx = 8.75
    expect(f.slope).toBeCloseTo(7.75 / 8.75);
    expect(f.intercept).toBeCloseTo(2.75 - (7.75 / 8.75) * 1.75);
  });
  test('fewer than two points: no slope; one x only: flat', () => {
    expect(fitLine([[1, 1]]).slope).toBeNaN();
    expect(fitLine([[1, 1], [1, 5]]).slope).toBe(0);
  });
});

describe('trendTable', () => {
  test('flat series with a warm-up ramp pass', () => {
    // RSS climbs 100 MB during the first 5 minutes, then stays: the warm-up hides the ramp.
    const rows = trendTable(run('enricher', (t) => ({ rssMb: 100 + Math.min(t, 300) / 3 + (t % 20 === 0 ? 3 : -3) })), opts);
    expect(rows.map((r) => r.verdict)).toEqual(['ok', 'ok', 'info', 'info', 'info', 'ok', 'ok']);
    expect(failed(rows)).toBe(false);
    const rss = rows.find((r) => r.metric === 'rssMb')!;
    expect(rss.min).toBeCloseTo(197);
    expect(rss.max).toBeCloseTo(203);
    expect(Math.abs(rss.risePer30Min)).toBeLessThan(1);
  });
  test('RSS fails only above 10% of its mean and 20 MB per 30 minutes', () => {
    // +30 MB per 30 min on ~165 MB: above both.
    expect(verdict(trendTable(run('sink', (t) => ({ rssMb: 150 + t / 60 })), opts), 'rssMb')).toBe('RISING');
    // +15 MB per 30 min: above 10% of a 100 MB mean but under 20 MB.
    expect(verdict(trendTable(run('sink', (t) => ({ rssMb: 100 + t / 120 })), opts), 'rssMb')).toBe('ok');
    // +25 MB per 30 min on a ~1 GB process: above 20 MB but under 10%.
    expect(verdict(trendTable(run('sink', (t) => ({ rssMb: 1000 + t / 72 })), opts), 'rssMb')).toBe('ok');
  });
  test('heap fails above 10% and 20 MB per 30 minutes, through its GC sawtooth', () => {
    // A sawtooth of 20 to 80 MB (a GC every 40 s) rising 30 MB per 30 min.
    const saw = (t: number) => 20 + ((t % 40) / 40) * 60;
    const rows = trendTable(run('collector', (t) => ({ heapUsedMb: saw(t) + t / 60 })), opts);
    expect(verdict(rows, 'heapUsedMb')).toBe('RISING');
    expect(failed(rows)).toBe(true);
    // The same sawtooth rising 15 MB per 30 min, or not at all, passes.
    expect(verdict(trendTable(run('collector', (t) => ({ heapUsedMb: saw(t) + t / 120 })), opts), 'heapUsedMb')).toBe('ok');
    expect(verdict(trendTable(run('collector', (t) => ({ heapUsedMb: saw(t) })), opts), 'heapUsedMb')).toBe('ok');
  });
  test('lag fails when it keeps growing and ends beyond 30 s of input', () => {
    // Grows 20/s (2% of the rate) to 36,000 at the end: falling behind.
    expect(verdict(trendTable(run('sink', (t) => ({ lag: 20 * t })), opts), 'lag')).toBe('RISING');
    // Grows as fast but ends at 12,000 (12 s of input): not yet.
    expect(verdict(trendTable(run('sink', (t) => ({ lag: Math.max(0, 20 * (t - 1200)) })), opts), 'lag')).toBe('ok');
    // A large but steady backlog (a sawtooth of batches) passes.
    expect(verdict(trendTable(run('sink', (t) => ({ lag: 40_000 + (t % 30 === 0 ? 10_000 : 0) })), opts), 'lag')).toBe('ok');
  });
  test('open files fail when they rise by more than 10 per 30 minutes', () => {
    expect(verdict(trendTable(run('normalizer', (t) => ({ openFiles: 30 + Math.floor(t / 60) })), opts), 'openFiles')).toBe('RISING');
    expect(verdict(trendTable(run('normalizer', (t) => ({ openFiles: 30 + (t % 40 === 0 ? 2 : 0) })), opts), 'openFiles')).toBe('ok');
  });
  test('heap total and external memory are reported, never judged, even rising or missing', () => {
    const rows = trendTable(run('enricher', (t) => ({ heapTotalMb: 60 + t, externalMb: NaN })), opts);
    expect(verdict(rows, 'heapTotalMb')).toBe('info');
    expect(verdict(rows, 'externalMb')).toBe('no data');
    expect(failed(rows)).toBe(false);
  });
  test('a series with no samples after the warm-up fails the run', () => {
    const rows = trendTable(run('collector', () => ({ heapUsedMb: NaN })), opts);
    expect(verdict(rows, 'heapUsedMb')).toBe('no data');
    expect(failed(rows)).toBe(true);
  });
  test('one row per service and series, in sample order; Markdown table', () => {
    const rows = trendTable([...run('collector', () => ({})), ...run('sink', () => ({}))], opts);
    expect(rows.map((r) => `${r.service}/${r.metric}`).slice(0, 8)).toEqual(['collector/rssMb', 'collector/heapUsedMb', 'collector/heapTotalMb', 'collector/externalMb', 'collector/loopP99Ms', 'collector/lag', 'collector/openFiles', 'sink/rssMb']);
    const md = formatTable(rows).split('\n');
    expect(md).toHaveLength(2 + 14);
    expect(md[2]).toMatch(/^\| collector \| RSS MB \| 150 \| 150 \| 150 \| 0\.0 \| ok \|/);
  });
});

describe('CSV', () => {
  test('round trip, NaN as an empty cell', () => {
    const s: Sample[] = [
      { t: 10.123, service: 'sink', rssMb: 201.456, heapUsedMb: 55.5, heapTotalMb: 70, externalMb: 9.25, loopP99Ms: 13.1, lag: 1200, openFiles: 41, produced: 10_000 },
      { t: 20, service: 'enricher', rssMb: NaN, heapUsedMb: 60, heapTotalMb: 80, externalMb: NaN, loopP99Ms: NaN, lag: 0, openFiles: 33, produced: 20_000 },
    ];
    const text = `${CSV_HEADER}\n${s.map(csvLine).join('\n')}\n`;
    expect(text.split('\n')[1]).toBe('10.12,sink,201.46,55.5,13.1,1200,41,10000,70,9.25');
    expect(text.split('\n')[2]).toBe('20,enricher,,60,,0,33,20000,80,');
    const back = parseCsv(text);
    expect(back[0]).toEqual({ ...s[0], t: 10.12, rssMb: 201.46 });
    expect(back[1]!.rssMb).toBeNaN();
    expect(back[1]!.service).toBe('enricher');
  });
  test('a run from before heap total and external were sampled still reads (those two NaN)', () => {
    const [old] = parseCsv('t_s,service,rss_mb,heap_used_mb,loop_p99_ms,lag,open_files,produced\n10,sink,200,50,12,3,40,1000\n');
    expect(old).toMatchObject({ t: 10, service: 'sink', rssMb: 200, heapUsedMb: 50, lag: 3, produced: 1000 });
    expect(old!.heapTotalMb).toBeNaN();
    expect(old!.externalMb).toBeNaN();
  });
  test('a file of another shape is refused', () => {
    expect(() => parseCsv('a,b\n1,2\n')).toThrow(/not a soak CSV/);
  });
});

describe('consumer lag', () => {
  test('high watermark minus committed offset; uncommitted partitions from the low watermark', () => {
    const w = [{ partition: 0, high: '100', low: '0' }, { partition: 1, high: '50', low: '10' }, { partition: 2, high: '7', low: '0' }];
    expect(groupLag([{ partition: 0, offset: '90' }, { partition: 1, offset: '-1' }, { partition: 2, offset: '9' }], w)).toBe(10 + 40 + 0);
  });
  test('groups map to their service; other runs and unknown names do not', () => {
    const services = ['collector', 'normalizer', 'enricher', 'sink', 'collector-normalizer'];
    expect(serviceOfGroup('soak1', 'soak1-sink-es-metrics', services)).toBe('sink');
    expect(serviceOfGroup('soak1', 'soak1-enricher-traces', services)).toBe('enricher');
    expect(serviceOfGroup('soak1', 'soak1-collector-normalizer', services)).toBe('collector-normalizer');
    expect(serviceOfGroup('soak1', 'soak1-collector', services)).toBe('collector');
    expect(serviceOfGroup('soak1', 'soak12-collector', services)).toBeUndefined();
    expect(serviceOfGroup('soak1', 'soak1-rsyslog', services)).toBeUndefined();
  });
});
