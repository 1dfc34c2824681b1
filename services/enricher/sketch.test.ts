import { seededRandom } from '../../shared/testing/seeded.js';
import { DDSketch, quantileIndex } from './sketch.js';

const rng = seededRandom;

function lognormal(r: () => number, mu: number, sigma: number): number {
  const u = 1 - r();
  const v = r();
  return Math.exp(mu + sigma * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v));
}

const QS = [0, 0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1];

function exactQuantile(sorted: number[], q: number): number {
  return sorted[quantileIndex(q, sorted.length)] as number;
}

function expectWithinBound(sketch: DDSketch, values: number[]): void {
  const sorted = [...values].sort((a, b) => a - b);
  for (const q of QS) {
    const exact = exactQuantile(sorted, q);
    const est = sketch.quantile(q) as number;
    // The stated guarantee, plus floating-point slack on the logarithm.
    expect({ q, ok: Math.abs(est - exact) <= sketch.alpha * exact * (1 + 1e-12) }).toEqual({ q, ok: true });
  }
}

describe('DDSketch relative error', () => {
  test.each([
    ['uniform integers 0..1e6, alpha 1%', 0.01, (r: () => number) => Math.floor(r() * 1_000_000), 0],
    ['uniform reals 1..2, alpha 1%', 0.01, (r: () => number) => 1 + r(), 0],
    ['lognormal durations (median 50 ms, sigma 1.5), alpha 1%', 0.01, (r: () => number) => Math.round(lognormal(r, Math.log(50_000), 1.5)), 0],
    ['lognormal, alpha 5%', 0.05, (r: () => number) => lognormal(r, 3, 2), 0],
    // 0.1% over e^6..e^14 needs ~4000 buckets: more than the default 2048 would collapse.
    ['lognormal, alpha 0.1%, 8192 buckets', 0.001, (r: () => number) => lognormal(r, 10, 1), 8192],
  ])('%s', (_name, alpha, gen, maxBuckets) => {
    // maxBuckets 0: the default.
    const r = rng(42);
    const values = Array.from({ length: 20_000 }, () => gen(r));
    const s = new DDSketch(maxBuckets > 0 ? { alpha, maxBuckets } : { alpha });
    for (const v of values) s.add(v);
    expect(s.count).toBe(values.length);
    expect(s.min).toBe(Math.min(...values));
    expect(s.max).toBe(Math.max(...values));
    expectWithinBound(s, values);
  });

  test('zeros are exact, and a single value is returned exactly (clamped to min/max)', () => {
    const s = new DDSketch();
    s.add(0);
    s.add(0);
    s.add(1234);
    expect(s.quantile(0)).toBe(0);
    expect(s.quantile(0.5)).toBe(0);
    expect(s.quantile(1)).toBe(1234);
    const one = new DDSketch();
    one.add(777);
    expect([one.quantile(0), one.quantile(0.5), one.quantile(0.99)]).toEqual([777, 777, 777]);
  });

  test('an empty sketch has no quantiles; bad input is rejected', () => {
    const s = new DDSketch();
    expect(s.quantile(0.5)).toBeNull();
    expect(() => s.add(-1)).toThrow(RangeError);
    expect(() => s.add(Number.NaN)).toThrow(RangeError);
    expect(() => s.add(Infinity)).toThrow(RangeError);
    expect(() => s.add(1, 0.5)).toThrow(RangeError);
    expect(() => s.quantile(1.5)).toThrow(RangeError);
    expect(() => new DDSketch({ alpha: 0 })).toThrow(RangeError);
    expect(() => new DDSketch({ maxBuckets: 4 })).toThrow(RangeError);
  });
});

describe('DDSketch merge', () => {
  test('merging sketches of an arbitrary split equals the sketch of all values, byte for byte', () => {
    const r = rng(7);
    const values = Array.from({ length: 10_000 }, () => Math.round(lognormal(r, Math.log(20_000), 2)));
    const whole = new DDSketch();
    const parts = [new DDSketch(), new DDSketch(), new DDSketch()];
    for (const v of values) {
      whole.add(v);
      (parts[Math.floor(r() * 3)] as DDSketch).add(v);
    }
    const merged = new DDSketch();
    for (const p of parts) merged.merge(p);
    expect(Buffer.from(merged.serialize())).toEqual(Buffer.from(whole.serialize()));
    for (const q of QS) expect(merged.quantile(q)).toBe(whole.quantile(q));
    expectWithinBound(merged, values);
  });

  test('with collapsing, the state is independent of order and split, and high quantiles keep the bound', () => {
    const r = rng(11);
    // Values spanning 1e-3 .. 1e9 need ~1400 buckets at 1%: force collapsing with 64.
    const values = Array.from({ length: 5_000 }, () => Math.exp(-7 + r() * 28));
    const forward = new DDSketch({ maxBuckets: 64 });
    for (const v of values) forward.add(v);
    const backward = new DDSketch({ maxBuckets: 64 });
    for (let i = values.length - 1; i >= 0; i--) backward.add(values[i] as number);
    const a = new DDSketch({ maxBuckets: 64 });
    const b = new DDSketch({ maxBuckets: 64 });
    values.forEach((v, i) => (i % 2 === 0 ? a : b).add(v));
    b.merge(a);
    expect(forward.bucketSpan).toBeLessThanOrEqual(64);
    expect(Buffer.from(backward.serialize())).toEqual(Buffer.from(forward.serialize()));
    expect(Buffer.from(b.serialize())).toEqual(Buffer.from(forward.serialize()));
    // The top 63 buckets are intact: q = 0.99 falls there (values are log-uniform).
    const sorted = [...values].sort((x, y) => x - y);
    const exact = exactQuantile(sorted, 0.99);
    expect(Math.abs((forward.quantile(0.99) as number) - exact)).toBeLessThanOrEqual(0.01 * exact * (1 + 1e-12));
    // The lowest quantiles fell into the collapsed bucket: overestimated, as documented.
    expect(forward.quantile(0.01) as number).toBeGreaterThan(exactQuantile(sorted, 0.01) * 1.01);
    expect(forward.count).toBe(values.length);
  });

  test('sketches with different parameters do not merge', () => {
    expect(() => new DDSketch({ alpha: 0.01 }).merge(new DDSketch({ alpha: 0.02 }))).toThrow(RangeError);
    expect(() => new DDSketch({ maxBuckets: 100 }).merge(new DDSketch({ maxBuckets: 200 }))).toThrow(RangeError);
  });
});

describe('DDSketch serialization', () => {
  test('round trip keeps every quantile, count, min and max, and re-serializes to the same bytes', () => {
    const r = rng(3);
    const s = new DDSketch({ alpha: 0.02, maxBuckets: 500 });
    for (let i = 0; i < 5_000; i++) s.add(i % 17 === 0 ? 0 : Math.round(lognormal(r, 9, 1.2)));
    const bytes = s.serialize();
    const back = DDSketch.deserialize(bytes);
    expect(back.alpha).toBe(0.02);
    expect(back.maxBuckets).toBe(500);
    expect([back.count, back.min, back.max]).toEqual([s.count, s.min, s.max]);
    for (const q of QS) expect(back.quantile(q)).toBe(s.quantile(q));
    expect(Buffer.from(back.serialize())).toEqual(Buffer.from(bytes));
    // Compact: header ~38 bytes, then ~3 bytes per non-empty bucket.
    expect(bytes.length).toBeLessThan(40 + 4 * s.bucketSpan);
  });

  test('empty and single-value sketches round-trip; corrupt input is rejected', () => {
    const empty = DDSketch.deserialize(new DDSketch().serialize());
    expect(empty.count).toBe(0);
    const zeros = new DDSketch();
    zeros.add(0, 3);
    const z = DDSketch.deserialize(zeros.serialize());
    expect([z.count, z.min, z.max, z.quantile(0.5)]).toEqual([3, 0, 0, 0]);
    const one = new DDSketch();
    one.add(42);
    const bytes = one.serialize();
    expect(DDSketch.deserialize(bytes).quantile(0.5)).toBe(42);
    expect(() => DDSketch.deserialize(bytes.subarray(0, bytes.length - 1))).toThrow(RangeError);
    expect(() => DDSketch.deserialize(Uint8Array.from([9]))).toThrow(RangeError);
    expect(() => DDSketch.deserialize(Uint8Array.from([...bytes, 0]))).toThrow(RangeError);
  });
});
