/**
 * A mergeable quantile sketch for non-negative values (request durations in µs): the
 * DDSketch of Masson, Rim and Lee (VLDB 2019) with a "collapsing lowest" dense store.
 *
 * Buckets: with relative accuracy α (0 < α < 1) and γ = (1 + α) / (1 − α), a value
 * v > 0 goes to bucket i = ⌈log_γ v⌉, which covers (γ^(i−1), γ^i]; values ≤ 0 (a 0 µs
 * duration) are counted in a separate zero bucket. A bucket is represented by
 * 2γ^i / (γ + 1), which lies within a factor α of every value in the bucket.
 *
 * Error guarantee. For n values and q in [0, 1], let x_q be the value at 0-based index
 * ⌊q·(n − 1)⌋ of the values sorted ascending (the "lower" quantile; `quantileIndex`).
 * `quantile(q)` returns x̂ with
 *
 *     |x̂ − x_q| ≤ α · x_q
 *
 * (up to floating-point rounding of the logarithm, ~1e−15 relative), PROVIDED the bucket
 * of x_q has not been collapsed (below). The minimum (index 0), the maximum (index
 * n − 1) and x_q = 0 are returned exactly, and every estimate is clamped to [min, max].
 * Callers that round to an integer (Avro `long` µs fields) add at most 0.5 to the bound.
 *
 * Memory bound: at most `maxBuckets` buckets are kept. When the spread of bucket indices
 * would exceed that, the LOWEST buckets are folded into the lowest kept one, i.e. every
 * index is clamped to (highest index − maxBuckets + 1). Only quantiles falling in that
 * lowest bucket lose the guarantee (they are then overestimated); with the defaults
 * (α = 1 %, 2048 buckets) the kept range spans a ratio of γ^2047 ≈ 6·10^17 between the
 * smallest and largest value, so a µs duration sketch never collapses in practice.
 *
 * Mergeable and order-independent: clamping to a floor that only rises composes to one
 * clamp to the final floor, so the state after adding or merging any multiset of values
 * (with the same α and maxBuckets) is the same whatever the order or partition of the
 * input; `merge` of two sketches equals the sketch of the union exactly.
 *
 * Counts are integers (one per value): the serialized form stores them as varints.
 */
// Kept over @datadog/sketches-js 2.1.1 by measurement (issue #10): its protobuf form is 5-33x larger (1-5 KB vs 32-980 B a window) and 5-40x slower to write, its collapsing store miscounts (5000 values -> 5009), and fromProto drops min/max.

export interface SketchOptions {
  /** Relative accuracy α, 0 < α < 1. Default 0.01 (1 %). */
  alpha?: number;
  /** Most buckets kept (≥ 16); lower buckets collapse beyond it. Default 2048. */
  maxBuckets?: number;
}

export const DEFAULT_ALPHA = 0.01;
export const DEFAULT_MAX_BUCKETS = 2048;

/** The 0-based index of the q-quantile among n sorted values (the definition the error guarantee uses). */
export function quantileIndex(q: number, n: number): number {
  return Math.floor(q * (n - 1));
}

const FORMAT_VERSION = 1;

export class DDSketch {
  readonly alpha: number;
  readonly maxBuckets: number;
  private readonly gamma: number;
  private readonly invLogGamma: number;
  /** counts[k] is the count of bucket index `offset + k`. */
  private counts: Float64Array;
  private offset = 0;
  /** Lowest and highest non-empty bucket index; meaningful when `binCount > 0`. */
  private minIdx = 0;
  private maxIdx = 0;
  private binCount = 0;
  private zero = 0;
  private lo = Infinity;
  private hi = -Infinity;

  constructor(opts: SketchOptions = {}) {
    const alpha = opts.alpha ?? DEFAULT_ALPHA;
    const maxBuckets = opts.maxBuckets ?? DEFAULT_MAX_BUCKETS;
    if (!(alpha > 0 && alpha < 1)) throw new RangeError(`sketch alpha must be in (0, 1), got ${alpha}`);
    if (!Number.isInteger(maxBuckets) || maxBuckets < 16) throw new RangeError(`sketch maxBuckets must be an integer >= 16, got ${maxBuckets}`);
    this.alpha = alpha;
    this.maxBuckets = maxBuckets;
    this.gamma = (1 + alpha) / (1 - alpha);
    this.invLogGamma = 1 / Math.log(this.gamma);
    this.counts = new Float64Array(0);
  }

  /** Number of values added. */
  get count(): number {
    return this.zero + this.binCount;
  }

  /** Exact smallest and largest value added; null when empty. */
  get min(): number | null {
    return this.count === 0 ? null : this.lo;
  }
  get max(): number | null {
    return this.count === 0 ? null : this.hi;
  }

  /** Buckets currently held (including empty ones between the lowest and highest). */
  get bucketSpan(): number {
    return this.binCount === 0 ? 0 : this.maxIdx - this.minIdx + 1;
  }

  /** Add `value` (finite, ≥ 0) `weight` times (a positive integer). */
  add(value: number, weight = 1): void {
    if (!(value >= 0) || value === Infinity) throw new RangeError(`sketch values must be finite and >= 0, got ${value}`);
    if (!Number.isInteger(weight) || weight <= 0) throw new RangeError(`sketch weights must be positive integers, got ${weight}`);
    if (value < this.lo) this.lo = value;
    if (value > this.hi) this.hi = value;
    if (value === 0) {
      this.zero += weight;
      return;
    }
    this.addIndex(Math.ceil(Math.log(value) * this.invLogGamma), weight);
  }

  /** Add every value of `other` (same alpha and maxBuckets) to this sketch. */
  merge(other: DDSketch): void {
    if (other.alpha !== this.alpha || other.maxBuckets !== this.maxBuckets) {
      throw new RangeError(`cannot merge sketches with different parameters (alpha ${this.alpha}/${other.alpha}, maxBuckets ${this.maxBuckets}/${other.maxBuckets})`);
    }
    if (other.count === 0) return;
    if (other.lo < this.lo) this.lo = other.lo;
    if (other.hi > this.hi) this.hi = other.hi;
    this.zero += other.zero;
    if (other.binCount === 0) return;
    // Highest first: the floor rises once, and lower indices are clamped to it on the way.
    for (let i = other.maxIdx; i >= other.minIdx; i--) {
      const c = other.counts[i - other.offset] as number;
      if (c > 0) this.addIndex(i, c);
    }
  }

  /** The q-quantile estimate (see the guarantee above); null when empty. */
  quantile(q: number): number | null {
    if (!(q >= 0 && q <= 1)) throw new RangeError(`quantile must be in [0, 1], got ${q}`);
    const n = this.count;
    if (n === 0) return null;
    const rank = quantileIndex(q, n);
    if (rank === 0) return this.lo;
    if (rank === n - 1) return this.hi;
    if (rank < this.zero) return 0;
    let seen = this.zero;
    for (let i = this.minIdx; i <= this.maxIdx; i++) {
      seen += this.counts[i - this.offset] as number;
      if (seen > rank) {
        const estimate = (2 * Math.pow(this.gamma, i)) / (this.gamma + 1);
        return Math.min(this.hi, Math.max(this.lo, estimate));
      }
    }
    return this.hi; // unreachable: the counts sum to n
  }

  clone(): DDSketch {
    const c = new DDSketch({ alpha: this.alpha, maxBuckets: this.maxBuckets });
    c.merge(this);
    return c;
  }

  /**
   * Compact binary form: version byte, α (float64), maxBuckets, zero count, and when
   * non-empty min and max (float64) and the non-empty buckets as (index delta, count)
   * varint pairs. A sketch of k distinct buckets takes about 30 + 3k bytes.
   */
  serialize(): Uint8Array {
    const w = new Writer();
    w.byte(FORMAT_VERSION);
    w.f64(this.alpha);
    w.uvar(this.maxBuckets);
    w.uvar(this.zero);
    if (this.count === 0) return w.done();
    w.f64(this.lo);
    w.f64(this.hi);
    let n = 0;
    if (this.binCount > 0) for (let i = this.minIdx; i <= this.maxIdx; i++) if ((this.counts[i - this.offset] as number) > 0) n++;
    w.uvar(n);
    if (n === 0) return w.done();
    let prev = 0;
    let first = true;
    for (let i = this.minIdx; i <= this.maxIdx; i++) {
      const c = this.counts[i - this.offset] as number;
      if (c === 0) continue;
      if (first) w.svar(i);
      else w.uvar(i - prev);
      first = false;
      prev = i;
      w.uvar(c);
    }
    return w.done();
  }

  static deserialize(bytes: Uint8Array): DDSketch {
    const r = new Reader(bytes);
    const version = r.byte();
    if (version !== FORMAT_VERSION) throw new RangeError(`unknown sketch format version ${version}`);
    const s = new DDSketch({ alpha: r.f64(), maxBuckets: r.uvar() });
    s.zero = r.uvar();
    if (r.atEnd()) {
      if (s.zero > 0) throw new RangeError('truncated sketch');
      return s;
    }
    s.lo = r.f64();
    s.hi = r.f64();
    if (s.zero > 0 && s.lo !== 0) throw new RangeError('corrupt sketch: zero count without min 0');
    const n = r.uvar();
    let idx = 0;
    for (let k = 0; k < n; k++) {
      idx = k === 0 ? r.svar() : idx + r.uvar();
      const c = r.uvar();
      if (c <= 0) throw new RangeError('corrupt sketch: empty bucket');
      s.addIndex(idx, c);
    }
    if (!r.atEnd()) throw new RangeError('corrupt sketch: trailing bytes');
    return s;
  }

  private addIndex(index: number, weight: number): void {
    let i = index;
    if (this.binCount === 0) {
      this.ensure(i, i);
      this.minIdx = this.maxIdx = i;
    } else if (i > this.maxIdx) {
      const floor = i - this.maxBuckets + 1;
      if (floor > this.minIdx) this.collapseBelow(floor);
      this.ensure(this.minIdx, i);
      this.maxIdx = i;
    } else if (i < this.minIdx) {
      const floor = this.maxIdx - this.maxBuckets + 1;
      if (i < floor) i = floor;
      if (i < this.minIdx) {
        this.ensure(i, this.maxIdx);
        this.minIdx = i;
      }
    }
    this.counts[i - this.offset] = (this.counts[i - this.offset] as number) + weight;
    this.binCount += weight;
  }

  /** Fold every bucket below `floor` into bucket `floor` (floor ≤ maxIdx). */
  private collapseBelow(floor: number): void {
    let moved = 0;
    const top = Math.min(this.maxIdx, floor - 1);
    for (let i = this.minIdx; i <= top; i++) {
      moved += this.counts[i - this.offset] as number;
      this.counts[i - this.offset] = 0;
    }
    if (floor > this.maxIdx) {
      // Everything collapses into the new floor, which becomes the only bucket.
      const held = this.binCount;
      this.binCount = 0;
      this.counts = new Float64Array(0);
      this.ensure(floor, floor);
      this.binCount = held;
      this.minIdx = this.maxIdx = floor;
      this.counts[floor - this.offset] = moved;
      return;
    }
    this.counts[floor - this.offset] = (this.counts[floor - this.offset] as number) + moved;
    this.minIdx = floor;
  }

  /** Make indices lo..hi addressable, keeping the current counts (re-centres with slack). */
  private ensure(lo: number, hi: number): void {
    const cap = this.counts.length;
    if (cap > 0 && lo >= this.offset && hi < this.offset + cap) return;
    const keepLo = this.binCount > 0 ? Math.min(lo, this.minIdx) : lo;
    const keepHi = this.binCount > 0 ? Math.max(hi, this.maxIdx) : hi;
    const span = keepHi - keepLo + 1;
    const newCap = Math.min(this.maxBuckets + 64, Math.max(32, span * 2));
    const size = Math.max(newCap, span);
    const newOffset = keepLo - Math.floor((size - span) / 2);
    const next = new Float64Array(size);
    if (this.binCount > 0) {
      for (let i = this.minIdx; i <= this.maxIdx; i++) next[i - newOffset] = this.counts[i - this.offset] as number;
    }
    this.counts = next;
    this.offset = newOffset;
  }
}

/** Little-endian float64 and LEB128 varints (safe up to 2^53). */
class Writer {
  private buf = new Uint8Array(64);
  private n = 0;
  private room(k: number): void {
    if (this.n + k <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.n + k));
    next.set(this.buf.subarray(0, this.n));
    this.buf = next;
  }
  byte(b: number): void {
    this.room(1);
    this.buf[this.n++] = b;
  }
  f64(x: number): void {
    this.room(8);
    new DataView(this.buf.buffer, this.buf.byteOffset).setFloat64(this.n, x, true);
    this.n += 8;
  }
  uvar(x: number): void {
    if (!Number.isSafeInteger(x) || x < 0) throw new RangeError(`varint out of range: ${x}`);
    this.room(8);
    let v = x;
    while (v >= 128) {
      this.buf[this.n++] = (v % 128) | 128;
      v = Math.floor(v / 128);
    }
    this.buf[this.n++] = v;
  }
  svar(x: number): void {
    this.uvar(x >= 0 ? x * 2 : -x * 2 - 1);
  }
  done(): Uint8Array {
    return this.buf.slice(0, this.n);
  }
}

class Reader {
  private n = 0;
  constructor(private readonly buf: Uint8Array) {}
  atEnd(): boolean {
    return this.n >= this.buf.length;
  }
  byte(): number {
    if (this.n >= this.buf.length) throw new RangeError('truncated sketch');
    return this.buf[this.n++] as number;
  }
  f64(): number {
    if (this.n + 8 > this.buf.length) throw new RangeError('truncated sketch');
    const x = new DataView(this.buf.buffer, this.buf.byteOffset).getFloat64(this.n, true);
    this.n += 8;
    return x;
  }
  uvar(): number {
    let x = 0;
    let scale = 1;
    for (;;) {
      const b = this.byte();
      x += (b & 127) * scale;
      if (b < 128) break;
      scale *= 128;
      if (scale > 2 ** 56) throw new RangeError('corrupt sketch: varint too long');
    }
    return x;
  }
  svar(): number {
    const z = this.uvar();
    return z % 2 === 0 ? z / 2 : -(z + 1) / 2;
  }
}
