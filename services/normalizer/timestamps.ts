/**
 * Timestamp parsing to integer UTC microseconds, without going through floating point
 * for the fraction (a JavaScript Date keeps only milliseconds).
 *
 * Accepted today: RFC 3339 / ISO 8601 with `T` or space, optional fraction of 1..9
 * digits (truncated to microseconds), `Z` or `±HH:MM` / `±HHMM` offset (zone-less is
 * read as UTC); epoch numbers or digit strings, whose unit is inferred from magnitude
 * (s < 1e11 <= ms < 1e14 <= µs < 1e17 <= ns). Issue #3 extends this table.
 */
import type { Micros } from '../../shared/records.js';

const ISO = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?\s*(Z|z|[+-]\d{2}:?\d{2})?$/;

/** Years outside this range are not plausible event times; such values are left to the caller's fallback. */
const MIN_YEAR = 1970;
const MAX_YEAR = 9999;

export function parseIso(s: string): Micros | undefined {
  const m = ISO.exec(s.trim());
  if (!m) return undefined;
  const [, y, mo, d, h, mi, sec, frac, zone] = m;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  if (year < MIN_YEAR || year > MAX_YEAR || month < 1 || month > 12 || day < 1 || day > 31) return undefined;
  if (Number(h) > 23 || Number(mi) > 59 || Number(sec ?? 0) > 60) return undefined;
  const ms = Date.UTC(year, month - 1, day, Number(h), Number(mi), Number(sec ?? 0));
  if (Number.isNaN(ms)) return undefined;
  const micros = frac ? Number((frac + '000000').slice(0, 6)) : 0;
  let offsetMin = 0;
  if (zone && zone !== 'Z' && zone !== 'z') {
    const sign = zone.startsWith('-') ? -1 : 1;
    const digits = zone.slice(1).replace(':', '');
    offsetMin = sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4)));
  }
  return (ms - offsetMin * 60_000) * 1000 + micros;
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

export function parseTimestamp(v: unknown): Micros | undefined {
  if (typeof v === 'number') return parseEpoch(v);
  if (typeof v !== 'string' || v.length === 0 || v.length > 64) return undefined;
  return /^\d+(\.\d+)?$/.test(v.trim()) ? parseEpoch(v) : parseIso(v);
}

/** RFC 3339 UTC with exactly six fractional digits, e.g. 2024-05-01T12:00:00.123456Z. */
export function formatMicros(us: Micros): string {
  const ms = Math.floor(us / 1000);
  const iso = new Date(ms).toISOString(); // ...T12:00:00.123Z
  const micros = String(((us % 1_000_000) + 1_000_000) % 1_000_000).padStart(6, '0');
  return `${iso.slice(0, 19)}.${micros}Z`;
}
