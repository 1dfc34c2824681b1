/**
 * Time layouts: one small language for every time the pipeline reads from text, used by
 * the catalogue of documented layouts (catalogue.ts), by user-declared formats and by
 * `sluice learn`. See docs/time-layouts.md.
 *
 * Syntax (the Java DateTimeFormatter / Joda letters that Logstash's date filter and
 * Elasticsearch's `format` use):
 *   yyyy yy          year (yy: 2000 + yy, or 1900 + yy when that would be over a year ahead)
 *   MMMM MMM MM M    month: English name, abbreviation, 2 digits, 1-2 digits
 *   dd d             day of month, 2 digits or 1-2 digits
 *   HH H hh h        hour, 24 h or 12 h (12 h needs `a`)
 *   mm ss            minute, second
 *   S…               fraction of a second, 1-9 digits whatever the count of S
 *   a                AM / PM
 *   EEEE EEE         weekday name (read, not checked against the date)
 *   XXX XX X Z ZZ    numeric offset (`Z`, ±HH:MM, ±HHMM, ±HH)
 *   z zzz            zone abbreviation from zones.ts, or a numeric offset
 *   L                a one-letter level glued to the time (glog/klog `I0301 …`)
 *   'text'           literal text; other punctuation is literal; a space matches 1+ spaces
 * Whole-value layouts: UNIX (s, optional fraction), UNIX_MS, UNIX_US, UNIX_NS, ISO8601.
 * strptime layouts (Fluent Bit, Vector) are accepted when they contain `%`: %Y %y %m %d %e
 * %H %I %M %S %f %L %N %z %Z %b %h %B %a %A %p %T %F %D? (no: %D is refused as ambiguous) %s.
 *
 * Compiled options: `autoFraction` lets a fraction follow `ss` (`.`, `,` or, with exactly
 * three digits, `:`) when the layout has none; `autoZone` lets an offset or a known zone
 * abbreviation follow the time. The catalogue uses both; user layouts say what they mean.
 *
 * A match is validated as a calendar date (Feb 30 and hour 25 are refused: civilMicros).
 */
import type { Micros } from '../records.js';
import { civilMicros, monthNumber, offsetMinutes, yearlessMicros } from './timestamps.js';
import { zoneAbbreviationMinutes, ZONE_ABBREVIATION_PATTERN } from './zones.js';

export type TokenKind =
  | 'year4' | 'year2' | 'monthName' | 'month' | 'day' | 'hour' | 'hour12' | 'minute' | 'second'
  | 'fraction' | 'ampm' | 'weekday' | 'offset' | 'zone' | 'levelLetter';

interface Token { kind: TokenKind | 'literal'; text: string; regex: string }

export type EpochUnit = 's' | 'ms' | 'us' | 'ns';

export interface CompiledLayout {
  /** The layout as written (or the strptime original). */
  readonly layout: string;
  /** Sticky regex: set lastIndex and exec to match at a position. */
  readonly re: RegExp;
  /** Capture group i+1 holds a value of kinds[i]. */
  readonly kinds: readonly TokenKind[];
  readonly epoch?: EpochUnit | undefined;
  readonly iso?: boolean | undefined;
  readonly hasYear: boolean;
  /** The year is `yy`: 2000 + yy, or 1900 + yy when that would be over a year ahead (`matchLayout`). */
  readonly twoDigitYear: boolean;
  readonly hasDate: boolean;
  /** Numeric day and month whose order the data must decide (`MM/dd` vs `dd/MM`). */
  readonly dayMonthAmbiguous: boolean;
}

export interface CompileOptions {
  autoFraction?: boolean;
  autoZone?: boolean;
  /** The layout's numeric day and month may be in either order (catalogue entries for `/`, `-` dates). */
  dayMonthAmbiguous?: boolean;
}

export class LayoutError extends Error {
  constructor(layout: string, problem: string) {
    super(`time layout '${layout}': ${problem}`);
    this.name = 'LayoutError';
  }
}

const FRACTION = '(?:[.,](\\d{1,9})|:(\\d{3})(?!\\d))';
const OFFSET = '(Z|z|[+-]\\d{2}(?::?\\d{2})?(?!\\d))';
const ZONE = `((?:GMT|UTC)[+-]\\d{2}:?\\d{2}(?!\\d)|Z|[+-]\\d{2}(?::?\\d{2})?(?!\\d)|${ZONE_ABBREVIATION_PATTERN})`;

const LETTER_RUNS: ReadonlyArray<readonly [string, TokenKind, string]> = [
  ['yyyy', 'year4', '(\\d{4})'], ['yy', 'year2', '(\\d{2})'],
  ['MMMM', 'monthName', '([A-Za-z]{3,9})'], ['MMM', 'monthName', '([A-Za-z]{3}\\.?)'], ['MM', 'month', '(\\d{2})'], ['M', 'month', '(\\d{1,2})'],
  ['dd', 'day', '(\\d{2})'], ['d', 'day', '(\\d{1,2})'],
  ['HH', 'hour', '(\\d{2})'], ['H', 'hour', '(\\d{1,2})'], ['hh', 'hour12', '(\\d{2})'], ['h', 'hour12', '(\\d{1,2})'],
  ['mm', 'minute', '(\\d{2})'], ['ss', 'second', '(\\d{2})'],
  ['a', 'ampm', '([AaPp][Mm])'],
  ['EEEE', 'weekday', '([A-Za-z]{3,9})'], ['EEE', 'weekday', '([A-Za-z]{3})'],
  ['XXX', 'offset', OFFSET], ['XX', 'offset', OFFSET], ['X', 'offset', OFFSET], ['ZZ', 'offset', OFFSET], ['Z', 'offset', OFFSET],
  ['zzz', 'zone', ZONE], ['z', 'zone', ZONE],
  ['L', 'levelLetter', '([TDIWEFV])'],
];

const STRPTIME: Readonly<Record<string, string>> = {
  Y: 'yyyy', y: 'yy', m: 'MM', d: 'dd', e: 'd', H: 'HH', k: 'H', I: 'hh', l: 'h', M: 'mm', S: 'ss',
  f: 'SSS', L: 'SSS', N: 'SSS', z: 'Z', Z: 'z', b: 'MMM', h: 'MMM', B: 'MMMM', a: 'EEE', A: 'EEEE', p: 'a',
  T: 'HH:mm:ss', F: 'yyyy-MM-dd', R: 'HH:mm', '%': "'%'",
};

/** A strptime layout (`%Y-%m-%dT%H:%M:%S%z`) in the letter syntax; `%s` becomes UNIX. */
export function fromStrptime(layout: string): string {
  if (layout === '%s') return 'UNIX';
  let out = '';
  for (let i = 0; i < layout.length; i++) {
    const c = layout[i] as string;
    if (c !== '%') {
      out += /[A-Za-z]/.test(c) ? `'${c}'` : c === "'" ? "''" : c;
      continue;
    }
    const d = layout[++i];
    const mapped = d === undefined ? undefined : STRPTIME[d];
    if (mapped === undefined) throw new LayoutError(layout, `unsupported strptime directive %${d ?? ''}`);
    out += mapped;
  }
  return out;
}

function escapeRegex(s: string): string {
  return s.replace(/[\\^$.*+?()[\]{}|/]/g, '\\$&');
}

function tokenize(layout: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < layout.length) {
    const c = layout[i] as string;
    if (c === "'") {
      const end = layout.indexOf("'", i + 1);
      if (end < 0) throw new LayoutError(layout, 'unclosed quote');
      const text = end === i + 1 ? "'" : layout.slice(i + 1, end);
      tokens.push({ kind: 'literal', text, regex: escapeRegex(text) });
      i = end + 1;
      continue;
    }
    if (c === 'S') {
      let j = i;
      while (layout[j] === 'S') j++;
      tokens.push({ kind: 'fraction', text: layout.slice(i, j), regex: '(\\d{1,9})' });
      i = j;
      continue;
    }
    if (/[A-Za-z]/.test(c)) {
      let j = i;
      while (layout[j] === c) j++;
      const run = layout.slice(i, j);
      const hit = LETTER_RUNS.find(([letters]) => letters === run);
      if (!hit) throw new LayoutError(layout, `unknown pattern letters '${run}' (quote literal text: 'T')`);
      tokens.push({ kind: hit[1], text: run, regex: hit[2] });
      i = j;
      continue;
    }
    tokens.push({ kind: 'literal', text: c, regex: c === ' ' ? ' +' : escapeRegex(c) });
    i++;
  }
  return tokens;
}

const EPOCH_LAYOUTS: Readonly<Record<string, [EpochUnit, string]>> = {
  UNIX: ['s', '(\\d{9,10})(?:\\.(\\d{1,9}))?(?![\\d.])'],
  UNIX_MS: ['ms', '(\\d{12,13})(?:\\.(\\d{1,6}))?(?![\\d.])'],
  UNIX_US: ['us', '(\\d{15,16})(?![\\d.])'],
  UNIX_NS: ['ns', '(\\d{18,19})(?![\\d.])'],
};

/** Compile a layout (letter syntax, strptime, or a whole-value name); throws LayoutError. */
export function compileLayout(layout: string, options: CompileOptions = {}): CompiledLayout {
  if (layout.length === 0 || layout.length > 64) throw new LayoutError(layout, 'must be 1 to 64 characters');
  const epoch = EPOCH_LAYOUTS[layout];
  if (epoch) {
    return { layout, re: new RegExp(epoch[1], 'y'), kinds: [], epoch: epoch[0], hasYear: true, twoDigitYear: false, hasDate: true, dayMonthAmbiguous: false };
  }
  if (layout === 'ISO8601') {
    const inner = compileLayout("yyyy-MM-dd'T'HH:mm:ss", { autoFraction: true, autoZone: true });
    const re = new RegExp(inner.re.source.replace('T', '[Tt ]'), 'y');
    return { ...inner, layout, re, iso: true };
  }
  const letters = layout.includes('%') ? fromStrptime(layout) : layout;
  const tokens = tokenize(letters);
  const kinds: TokenKind[] = [];
  let source = '';
  let hasSecond = false;
  let hasFraction = false;
  let hasZone = false;
  for (const t of tokens) {
    source += t.regex;
    if (t.kind === 'literal') continue;
    kinds.push(t.kind);
    if (t.kind === 'offset' || t.kind === 'zone') hasZone = true;
    if (t.kind === 'fraction') hasFraction = true;
    if (t.kind === 'second') {
      hasSecond = true;
      if (options.autoFraction && !hasFraction && !tokens.some((x) => x.kind === 'fraction')) {
        source += FRACTION + '?';
        kinds.push('fraction', 'fraction');
        hasFraction = true;
      }
    }
  }
  const has = (k: TokenKind): boolean => kinds.includes(k);
  if (!has('hour') && !has('hour12')) throw new LayoutError(layout, 'has no hour (HH or hh)');
  if (!has('minute')) throw new LayoutError(layout, 'has no minute (mm)');
  if (has('hour12') && !has('ampm')) throw new LayoutError(layout, '12-hour clock (hh) without AM/PM (a)');
  const hasMonth = has('month') || has('monthName');
  if (has('day') !== hasMonth) throw new LayoutError(layout, 'has a day without a month or a month without a day');
  if ((has('year4') || has('year2')) && !hasMonth) throw new LayoutError(layout, 'has a year without a month and day');
  if (options.autoZone && !hasZone && hasSecond) {
    source += `(?: ?${ZONE})?`;
    kinds.push('zone');
  }
  // The match must not stop inside a number or a word: `12:00:001` is not a time.
  source += '(?![0-9A-Za-z])';
  return {
    layout,
    re: new RegExp(source, 'y'),
    kinds,
    hasYear: has('year4') || has('year2'),
    twoDigitYear: has('year2'),
    hasDate: hasMonth,
    dayMonthAmbiguous: options.dayMonthAmbiguous === true && has('month') && has('day'),
  };
}

/** What a reader knows when it turns a match into an instant. */
export interface TimeContext {
  /** Kafka timestamp: the year of year-less times, the date of time-of-day-only ones. */
  ingest: Micros;
  /** IANA zone for zone-less times (UTC when unset). */
  zone?: string | undefined;
  /** Day-first for ambiguous numeric dates, as the stream decided; unset: month-first, flagged. */
  dayFirst?: boolean | undefined;
  /** Reference instant for time-of-day-only layouts (envelope time); default `ingest`. */
  reference?: Micros | undefined;
}

export interface TimeMatch {
  start: number;
  end: number;
  micros: Micros;
  layout: CompiledLayout;
  /** The date's numeric day/month order could not be told from this value. */
  orderAssumed?: boolean;
  /** For ambiguous layouts: 'dmy' when the first field can only be a day, 'mdy' when the second can only be. */
  orderEvidence?: 'dmy' | 'mdy';
  /** Set for a time that carried its own offset or zone (no `zone` assumption was needed). */
  zoned: boolean;
  /** The `L` token, when the layout has one. */
  levelLetter?: string;
}

const YEAR_MIN_EPOCH_S = 946_684_800; // 2000-01-01: older epoch-looking numbers are ids, not times.

function epochMicros(unit: EpochUnit, int: string, frac: string | undefined): Micros {
  const f = frac ?? '';
  switch (unit) {
    case 's': return Number(int) * 1_000_000 + Number((f + '000000').slice(0, 6));
    case 'ms': return Number(int) * 1000 + Number((f + '000').slice(0, 3));
    case 'us': return Number(int);
    case 'ns': return Number(BigInt(int) / 1000n);
  }
}

const DAY_US = 86_400_000_000;
const QUARTER_HOUR_US = 900_000_000;

/** The instant nearest `referenceUs` whose time of day is `todUs` in a zone offset that is a multiple of 15 minutes. */
export function instantFromTimeOfDay(todUs: number, referenceUs: number): number {
  const refTod = ((referenceUs % DAY_US) + DAY_US) % DAY_US;
  const x = (((refTod - todUs) % DAY_US) + DAY_US) % DAY_US;
  const lag = (((x % QUARTER_HOUR_US) + QUARTER_HOUR_US / 2) % QUARTER_HOUR_US) - QUARTER_HOUR_US / 2;
  return referenceUs - lag;
}

/**
 * Match `layout` at `pos` of `text`; null when it does not match there or the value is not
 * a valid time (Feb 30, hour 25, an epoch before 2000 or more than a day after `ingest`).
 */
export function matchLayout(layout: CompiledLayout, text: string, pos: number, ctx: TimeContext): TimeMatch | null {
  const re = layout.re;
  re.lastIndex = pos;
  const m = re.exec(text);
  if (!m) return null;
  const end = pos + m[0].length;
  if (layout.epoch) {
    const us = epochMicros(layout.epoch, m[1] as string, m[2]);
    if (us < YEAR_MIN_EPOCH_S * 1_000_000 || us > ctx.ingest + DAY_US) return null;
    return { start: pos, end, micros: us, layout, zoned: true };
  }
  let year = -1, month = 0, day = 0, hour = 0, minute = 0, second = 0, frac: string | undefined, pm: boolean | undefined, hour12 = false;
  let offset: string | undefined;
  let letter: string | undefined;
  const kinds = layout.kinds;
  for (let i = 0; i < kinds.length; i++) {
    const v = m[i + 1];
    if (v === undefined) continue;
    switch (kinds[i]) {
      case 'year4': year = Number(v); break;
      case 'year2': year = 2000 + Number(v); break;
      case 'monthName': month = monthNumber(v.replace('.', '').slice(0, 3)); if (month === 0 || !fullMonthOk(v)) return null; break;
      case 'month': month = Number(v); break;
      case 'day': day = Number(v); break;
      case 'hour': hour = Number(v); break;
      case 'hour12': hour = Number(v); hour12 = true; break;
      case 'minute': minute = Number(v); break;
      case 'second': second = Number(v); break;
      case 'fraction': frac = v; break;
      case 'ampm': pm = v.toLowerCase() === 'pm'; break;
      case 'weekday': if (!WEEKDAYS.has(v.slice(0, 3).toLowerCase())) return null; break;
      case 'offset': case 'zone': offset = v; break;
      case 'levelLetter': letter = v; break;
    }
  }
  if (hour12) {
    if (hour < 1 || hour > 12) return null;
    hour = (hour % 12) + (pm ? 12 : 0);
  }
  let orderAssumed = false;
  let orderEvidence: 'dmy' | 'mdy' | undefined;
  if (layout.dayMonthAmbiguous) {
    // The layout is written month-first; the data decides.
    const first = month, second_ = day;
    if (first > 12 && second_ <= 12) orderEvidence = 'dmy';
    else if (second_ > 12 && first <= 12) orderEvidence = 'mdy';
    const dayFirst = orderEvidence ? orderEvidence === 'dmy' : ctx.dayFirst;
    if (dayFirst === undefined && first !== second_) orderAssumed = true;
    if (dayFirst) { month = second_; day = first; }
  }
  if (year >= 2000 && layout.twoDigitYear) {
    const ingestYear = new Date(Math.floor(ctx.ingest / 1000)).getUTCFullYear();
    if (year > ingestYear + 1) year -= 100;
  }
  const us = fracMicros6(frac);
  const zoneMinutes = offset === undefined ? undefined : offsetOrAbbreviation(offset);
  if (offset !== undefined && zoneMinutes === undefined) return null;
  const civilZone = zoneMinutes === undefined ? ctx.zone : undefined;
  let micros: Micros | undefined;
  if (!layout.hasDate) {
    if (hour > 23 || minute > 59 || second > 60) return null;
    const tod = ((hour * 60 + minute) * 60 + second) * 1_000_000 + us;
    const ref = ctx.reference ?? ctx.ingest;
    if (zoneMinutes !== undefined) micros = instantFromTimeOfDay(tod - zoneMinutes * 60_000_000, ref);
    else if (ctx.zone) {
      const date = new Date(Math.floor(ref / 1000));
      micros = civilMicros(date.getUTCFullYear(), date.getUTCMonth() + 1, date.getUTCDate(), hour, minute, second, us, ctx.zone);
    } else micros = instantFromTimeOfDay(tod, ref);
  } else if (year < 0) {
    micros = yearlessMicros(month, day, hour, minute, second, us, ctx.ingest, civilZone);
    if (micros === undefined) return null;
  } else {
    micros = civilMicros(year, month, day, hour, minute, second, us, civilZone);
  }
  if (micros === undefined) return null;
  if (zoneMinutes !== undefined && layout.hasDate) micros -= zoneMinutes * 60_000_000;
  const out: TimeMatch = { start: pos, end, micros, layout, zoned: zoneMinutes !== undefined };
  if (orderAssumed) out.orderAssumed = true;
  if (orderEvidence) out.orderEvidence = orderEvidence;
  if (letter) out.levelLetter = letter;
  return out;
}

const WEEKDAYS = new Set(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun']);
const FULL_MONTHS = ['january', 'february', 'march', 'april', 'may', 'june', 'july', 'august', 'september', 'october', 'november', 'december'];

/** A month name longer than its abbreviation must be the full English name (or `Sept`). */
function fullMonthOk(v: string): boolean {
  const w = v.replace('.', '').toLowerCase();
  if (w.length <= 3) return true;
  return w === 'sept' || FULL_MONTHS.includes(w);
}

function fracMicros6(frac: string | undefined): number {
  if (!frac) return 0;
  return Number(frac.length >= 6 ? frac.slice(0, 6) : (frac + '000000').slice(0, 6));
}

function offsetOrAbbreviation(v: string): number | undefined {
  if (v === 'Z' || v === 'z') return 0;
  if (v.startsWith('GMT') || v.startsWith('UTC')) v = v.length > 3 ? v.slice(3) : 'Z';
  if (v === 'Z') return 0;
  if (v.startsWith('+') || v.startsWith('-')) {
    const minutes = offsetMinutes(v);
    return Math.abs(minutes) <= 18 * 60 ? minutes : undefined;
  }
  return zoneAbbreviationMinutes(v);
}
