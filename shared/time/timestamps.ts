/**
 * Timestamp parsing to integer UTC microseconds, without going through floating point
 * for the fraction (a JavaScript Date keeps only milliseconds).
 *
 * Accepted today: RFC 3339 / ISO 8601 with `T` or space, optional fraction of 1..9
 * digits (truncated to microseconds), `Z` or `±HH:MM` / `±HHMM` offset (zone-less is
 * read as UTC); epoch numbers or digit strings, whose unit is inferred from magnitude
 * (s < 1e11 <= ms < 1e14 <= µs < 1e17 <= ns).
 *
 * Zone-less times are civil times in `zone` (an IANA name, resolved with Intl and
 * DST-correct), UTC when no zone is given. Year-less times (RFC 3164 syslog, logcat)
 * take the year of the ingest time, minus one when that would put the event more than
 * `FUTURE_TOLERANCE_US` (7 days) after the ingest time (a December event read in January).
 */
import type { Micros } from '../records.js';

const ISO = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?\s*(Z|z|[+-]\d{2}:?\d{2})?$/;

/**
 * Latest event time the pipeline can carry: the largest microsecond count a JavaScript
 * number holds exactly (2255-06-05T23:47:34.740991Z). avsc encodes an Avro long only from a
 * safe integer, so a later time would fail to encode and dead-letter the whole record; it is
 * also inside the Elasticsearch `date_nanos` range (1970-01-01 .. 2262-04-11).
 */
export const MAX_EVENT_MICROS = Number.MAX_SAFE_INTEGER;

/** True for a time every sink can store: 1970-01-01T00:00:00Z ..= MAX_EVENT_MICROS. */
export function isStorableTime(us: Micros): boolean {
  return us >= 0 && us <= MAX_EVENT_MICROS;
}

/** Years outside this range are not plausible event times; such values are left to the caller's fallback. */
const MIN_YEAR = 1970;
const MAX_YEAR = 9999;

export function parseIso(s: string, zone?: string): Micros | undefined {
  const m = ISO.exec(s.trim());
  if (!m) return undefined;
  const [, y, mo, d, h, mi, sec, frac, offset] = m;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  if (year < MIN_YEAR || year > MAX_YEAR || month < 1 || month > 12 || day < 1 || day > 31) return undefined;
  if (Number(h) > 23 || Number(mi) > 59 || Number(sec ?? 0) > 60) return undefined;
  if (!offset) return civilMicros(year, month, day, Number(h), Number(mi), Number(sec ?? 0), fracMicros(frac), zone);
  const ms = Date.UTC(year, month - 1, day, Number(h), Number(mi), Number(sec ?? 0));
  if (Number.isNaN(ms)) return undefined;
  return (ms - offsetMinutes(offset) * 60_000) * 1000 + fracMicros(frac);
}

/** `Z`, `±HH:MM`, `±HHMM` or `±HH` to minutes east of UTC. */
export function offsetMinutes(zone: string): number {
  if (zone === 'Z' || zone === 'z') return 0;
  const sign = zone.startsWith('-') ? -1 : 1;
  const digits = zone.slice(1).replace(':', '');
  return sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4) || '0'));
}

/** A fraction of a second given as 0..9 digits to whole microseconds (truncated, no floats). */
export function fracMicros(frac: string | undefined): number {
  if (!frac) return 0;
  return Number(frac.length >= 6 ? frac.slice(0, 6) : (frac + '000000').slice(0, 6));
}

const MONTHS: Readonly<Record<string, number>> = { jan: 1, feb: 2, mar: 3, apr: 4, may: 5, jun: 6, jul: 7, aug: 8, sep: 9, oct: 10, nov: 11, dec: 12 };

/** English three-letter month abbreviation (any case) to 1..12; 0 when it is not one. */
export function monthNumber(abbr: string): number {
  return MONTHS[abbr.toLowerCase()] ?? 0;
}

function daysInMonth(y: number, m: number): number {
  return m === 2 ? (y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0) ? 29 : 28) : m === 4 || m === 6 || m === 9 || m === 11 ? 30 : 31;
}

const formatters = new Map<string, Intl.DateTimeFormat>();
/** Offsets per (zone, 15-minute UTC bucket): transitions fall on quarter hours, so a bucket has one offset. */
const offsetCache = new Map<string, number>();

function zoneFormatter(zone: string): Intl.DateTimeFormat {
  let f = formatters.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone: zone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' });
    formatters.set(zone, f);
  }
  return f;
}

/** Throws a RangeError when `zone` is not an IANA zone name Intl knows. */
export function assertZone(zone: string): void {
  zoneFormatter(zone);
}

/** Offset of `zone` from UTC at the instant `utcMs`, in minutes east of UTC. */
export function zoneOffsetMinutes(zone: string, utcMs: number): number {
  const bucket = Math.floor(utcMs / 900_000);
  const key = `${zone}|${bucket}`;
  const hit = offsetCache.get(key);
  if (hit !== undefined) return hit;
  const at = bucket * 900_000;
  let y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
  for (const p of zoneFormatter(zone).formatToParts(new Date(at))) {
    if (p.type === 'year') y = Number(p.value);
    else if (p.type === 'month') mo = Number(p.value);
    else if (p.type === 'day') d = Number(p.value);
    else if (p.type === 'hour') h = Number(p.value) % 24;
    else if (p.type === 'minute') mi = Number(p.value);
    else if (p.type === 'second') s = Number(p.value);
  }
  const off = Math.round((Date.UTC(y, mo - 1, d, h, mi, s) - at) / 60_000);
  if (offsetCache.size > 10_000) offsetCache.clear();
  offsetCache.set(key, off);
  return off;
}

/**
 * A civil (wall-clock) time to UTC microseconds. Without `zone` (or with "UTC") the
 * time is UTC. In a zone, a time inside a DST gap is read with the offset before the
 * gap; a repeated (ambiguous) time resolves to its first occurrence.
 */
export function civilMicros(y: number, mo: number, d: number, h: number, mi: number, s: number, us: number, zone?: string): Micros | undefined {
  if (y < MIN_YEAR || y > MAX_YEAR || mo < 1 || mo > 12 || d < 1 || d > daysInMonth(y, mo)) return undefined;
  if (h > 23 || mi > 59 || s > 60) return undefined;
  const local = Date.UTC(y, mo - 1, d, h, mi, s);
  if (!zone || zone === 'UTC' || zone === 'Etc/UTC') return local * 1000 + us;
  // Candidate offsets: the ones in force a day before and a day after (at most one transition between).
  const before = zoneOffsetMinutes(zone, local - 86_400_000);
  const after = zoneOffsetMinutes(zone, local + 86_400_000);
  let utc = local - before * 60_000;
  if (before !== after) {
    const validBefore = zoneOffsetMinutes(zone, utc) === before;
    const utcAfter = local - after * 60_000;
    const validAfter = zoneOffsetMinutes(zone, utcAfter) === after;
    // Both valid: repeated hour, keep the earlier instant. Neither: a gap, keep the offset before it.
    if (validAfter && (!validBefore || utcAfter < utc)) utc = utcAfter;
  }
  return utc * 1000 + us;
}

/** Events may be this far after the ingest time before a year-less date is put in the previous year. */
export const FUTURE_TOLERANCE_US = 7 * 86_400_000_000;

/** A year-less civil time: the ingest year, or the one before when that is over a week in the future. */
export function yearlessMicros(mo: number, d: number, h: number, mi: number, s: number, us: number, ingest: Micros, zone?: string): Micros | undefined {
  const y = new Date(Math.floor(ingest / 1000)).getUTCFullYear();
  const t = civilMicros(y, mo, d, h, mi, s, us, zone);
  if (t !== undefined && t <= ingest + FUTURE_TOLERANCE_US) return t;
  const prev = civilMicros(y - 1, mo, d, h, mi, s, us, zone);
  // Also reached for Feb 29 outside a leap ingest year: the year before if it is valid there, else undefined (ingest time).
  return prev ?? t;
}

/** Epoch seconds/ms/µs/ns (number or digit string, optional fraction) to microseconds. */
export function parseEpoch(v: number | string): Micros | undefined {
  const s = typeof v === 'number' ? (Number.isFinite(v) ? v.toString() : '') : v.trim();
  const m = /^(\d+)(?:\.(\d+))?$/.exec(s);
  if (!m) return undefined;
  const int = m[1] as string;
  const frac = m[2] ?? '';
  const n = BigInt(int);
  let micros: bigint;
  if (n < 100_000_000_000n) micros = n * 1_000_000n + BigInt((frac + '000000').slice(0, 6));
  else if (n < 100_000_000_000_000n) micros = n * 1000n + BigInt((frac + '000').slice(0, 3));
  else if (n < 100_000_000_000_000_000n) micros = n;
  else micros = n / 1000n;
  if (micros <= 0n || micros > 253_402_300_799_999_999n) return undefined;
  return Number(micros);
}

export function parseTimestamp(v: unknown, zone?: string): Micros | undefined {
  if (typeof v === 'number') return parseEpoch(v);
  if (typeof v !== 'string' || v.length === 0 || v.length > 64) return undefined;
  return /^\d+(\.\d+)?$/.test(v.trim()) ? parseEpoch(v) : parseIso(v, zone);
}

/** RFC 3339 UTC with exactly six fractional digits, e.g. 2024-05-01T12:00:00.123456Z. */
export function formatMicros(us: Micros): string {
  const ms = Math.floor(us / 1000);
  const iso = new Date(ms).toISOString(); // ...T12:00:00.123Z
  const micros = String(((us % 1_000_000) + 1_000_000) % 1_000_000).padStart(6, '0');
  return `${iso.slice(0, 19)}.${micros}Z`;
}
