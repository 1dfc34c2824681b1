/**
 * The generic header reader: the event time, level, host, program and pid of a text line
 * whose format no specific reader claimed (and the time of user formats and `sluice
 * learn`). Contract:
 *
 * - Time: the catalogue (shared/time/catalogue.ts) is tried at every token start of the
 *   first `TIME_SCAN_LIMIT` characters of the first line (line start, after white space or
 *   one of `[ ( < { | , ; = " '`). The first position with a valid calendar time wins,
 *   the longest layout there. An epoch number (2000 .. ingest + 1 day) found too is used
 *   instead when it agrees with that calendar time within 14 hours after aligning a
 *   missing year (the epoch is the exact instant of a zone-less or year-less clock time);
 *   when they disagree the calendar time wins (a 10-digit id is not a time).
 * - Numeric dates whose day/month order is open (`03/04/2024`) follow the stream's order,
 *   learnt from the first value that can only be read one way (a day > 12); until then
 *   they are read month-first and flagged `date_order_assumed`.
 * - Level: a word of the level table (shared/levels.ts) among the tokens before the time
 *   and the header tokens after it (up to the first two plain words in a row: prose).
 *   Upper case (`INFO`), bracketed (`[info]`, `<warn>`, `[core:error]`), colon-ended
 *   (`error:`, `production.ERROR:`) words and logcat's `D/Tag` count anywhere there; a
 *   plain word (`Info`) among the first three tokens after the time or opening the line;
 *   a single letter (`I`, `W`, logcat's `D`) only among the first three tokens after the time with nothing but numbers before it; Redis's documented
 *   marks (`.` `-` debug, `*` notice, `#` warning) after a `pid:role` prefix; a syslog `<PRI>`
 *   opening the line gives the severity.
 * - Host, program, pid: `host prog[pid]:` or `prog[pid]:` right after the time; `host prog:`
 *   without a pid only after an RFC 3164 or RFC 3339 time (the syslog forms).
 * - `messageStart`: after the time, the header tokens up to the level, and `host prog:`;
 *   0 when the line has no time (a level word such as `panic:` stays in the message).
 * - A stream (StreamMemory) remembers the layout and position that read its last line and
 *   tries them first; the result is the same as without the memory, only faster.
 */
import type { Level, Micros } from '../records.js';
import { fromSyslogSeverity, toLevel } from '../levels.js';
import { candidatesAt, type CatalogueLayout } from '../time/catalogue.js';
import { matchLayout, type TimeContext, type TimeMatch } from '../time/layout.js';

/** How far into the first line a time may start. */
export const TIME_SCAN_LIMIT = 120;
/** How far into the first line a level may end. */
export const LEVEL_SCAN_LIMIT = 160;
const HEADER_TOKENS_AFTER_TIME = 10;
const AGREE_US = 14 * 3_600_000_000;
const YEAR_US = 365.25 * 86_400_000_000;

export interface StreamState {
  layout?: CatalogueLayout | undefined;
  pos?: number | undefined;
  /** The stream's numeric date order, once a value showed it. */
  dayFirst?: boolean | undefined;
}

/**
 * Per-stream memory, bounded: past `max` streams the oldest one seen is forgotten first
 * (it only costs that stream one full scan; no reordering per line keeps `get` cheap).
 */
export class StreamMemory {
  private readonly states = new Map<string, StreamState>();
  constructor(private readonly max = 10_000) {}
  get(key: string): StreamState {
    let s = this.states.get(key);
    if (s === undefined) {
      s = {};
      if (this.states.size >= this.max) this.states.delete(this.states.keys().next().value as string);
      this.states.set(key, s);
    }
    return s;
  }
  get size(): number {
    return this.states.size;
  }
}

export interface HeaderContext {
  ingest: Micros;
  zone?: string | undefined;
  /** Reference for time-of-day-only layouts (the shipper envelope's time); default ingest. */
  reference?: Micros | undefined;
}

export interface HeaderRead {
  time?: Micros;
  /** The catalogue layout that read the time (docs/time-layouts.md). */
  timeLayout?: string;
  timeStart?: number;
  timeEnd?: number;
  level?: Level;
  /** The text the level was read from (`[warn]`, `<11>`), for --explain. */
  levelText?: string;
  host?: string;
  program?: string;
  pid?: string;
  messageStart: number;
  flags: string[];
}

function isBoundary(prev: number): boolean {
  // space, tab, > [ ( < { | , ; = " '
  return prev === 0x20 || prev === 0x09 || prev === 0x3e || prev === 0x5b || prev === 0x28 || prev === 0x3c || prev === 0x7b || prev === 0x7c || prev === 0x2c || prev === 0x3b || prev === 0x3d || prev === 0x22 || prev === 0x27;
}

function isAlnum(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
}

/** Only punctuation before `pos` (no word): where time-of-day-only layouts may stand. */
function leading(line: string, pos: number): boolean {
  for (let i = 0; i < pos; i++) if (isAlnum(line.charCodeAt(i))) return false;
  return true;
}

interface Found { match: TimeMatch; layout: CatalogueLayout }

/**
 * The longest calendar match and the longest epoch match at `pos` (the first candidate of
 * that length on a tie), in one pass over the candidates; a kind not wanted is not tried.
 */
function tryAt(line: string, pos: number, ctx: TimeContext, want: { calendar: boolean; epoch: boolean }): { calendar: Found | null; epoch: Found | null } {
  let calendar: Found | null = null;
  let epoch: Found | null = null;
  for (const l of candidatesAt(line, pos)) {
    const isEpoch = l.compiled.epoch !== undefined;
    if (isEpoch ? !want.epoch : !want.calendar) continue;
    if (l.entry.leadingOnly && !leading(line, pos)) continue;
    const m = matchLayout(l.compiled, line, pos, ctx);
    if (!m) continue;
    if (isEpoch) {
      if (!epoch || m.end > epoch.match.end) epoch = { match: m, layout: l };
    } else if (!calendar || m.end > calendar.match.end) calendar = { match: m, layout: l };
  }
  return { calendar, epoch };
}

function findTime(line: string, end: number, ctx: TimeContext, state: StreamState | undefined): Found | null {
  if (state?.layout && state.pos !== undefined && state.pos < end) {
    const m = matchLayout(state.layout.compiled, line, state.pos, ctx);
    if (m && (state.pos === 0 || isBoundary(line.charCodeAt(state.pos - 1)))) return { match: m, layout: state.layout };
  }
  let calendar: Found | null = null;
  let epoch: Found | null = null;
  for (let p = 0; p < end; p++) {
    if (p > 0 && !(isBoundary(line.charCodeAt(p - 1)) && isAlnum(line.charCodeAt(p)))) continue;
    const found = tryAt(line, p, ctx, { calendar: !calendar, epoch: !epoch });
    calendar ??= found.calendar;
    epoch ??= found.epoch;
    if (calendar && epoch) break;
  }
  if (!calendar || !epoch) return calendar ?? epoch;
  return agrees(calendar, epoch.match.micros) ? epoch : calendar;
}

/** The epoch is the same instant as the calendar time, give or take a zone and a missing year. */
function agrees(calendar: Found, epochUs: Micros): boolean {
  let diff = Math.abs(calendar.match.micros - epochUs);
  if (!calendar.layout.compiled.hasYear) diff = Math.abs(diff - Math.round(diff / YEAR_US) * YEAR_US);
  return diff <= AGREE_US;
}

interface Token { start: number; end: number; text: string }

function tokens(line: string, from: number, to: number, max: number): Token[] {
  const out: Token[] = [];
  let i = from;
  while (i < to && out.length < max) {
    while (i < to && (line.charCodeAt(i) === 0x20 || line.charCodeAt(i) === 0x09 || line.charCodeAt(i) === 0x7c)) i++;
    const s = i;
    // `|` separates fields (NLog `…|INFO|Logger|msg`); `][` ends a token too: `[info][main]` is two.
    while (i < to && line.charCodeAt(i) !== 0x20 && line.charCodeAt(i) !== 0x09 && line.charCodeAt(i) !== 0x7c && !(line.charCodeAt(i) === 0x5b && i > s && line.charCodeAt(i - 1) === 0x5d)) i++;
    if (i > s) out.push({ start: s, end: i, text: line.slice(s, i) });
  }
  return out;
}

const WRAP_OPEN = /^[\][(<{|'":]+/;
const WRAP_CLOSE = /[\])>}|'",;]+$/;
/** Plain words a level word may be without brackets, colon or capitals (right next to the time). */
const PLAIN_LEVEL_WORDS = new Set(['fault', 'trace', 'debug', 'info', 'information', 'notice', 'warn', 'warning', 'error', 'err', 'fatal', 'critical', 'crit', 'severe', 'verbose', 'alert', 'emerg']);
const REDIS_ROLE = /^\d+:[XCSM] /;
const REDIS_LEVELS: Readonly<Record<string, Level>> = { ' . ': 'DEBUG', ' - ': 'DEBUG', ' * ': 'INFO', ' # ': 'WARN' };
const CISCO_MNEMONIC = /^%[A-Z][A-Z0-9_]*-([0-7])-[A-Z0-9_]+$/;
const LOGCAT_PRIORITY = /^[VDIWEFA]\/[\w.$-]+\(?/;
const LETTERS: Readonly<Record<string, Level>> = { V: 'TRACE', T: 'TRACE', D: 'DEBUG', I: 'INFO', W: 'WARN', E: 'ERROR', F: 'FATAL', A: 'FATAL' };

type Strength = 'strong' | 'plain' | 'letter';

/** The level a token names and how it names it, or null. */
function levelOf(tokenText: string): { level: Level; strength: Strength } | null {
  let t = tokenText;
  const open = WRAP_OPEN.exec(t);
  let wrapped = false;
  if (open) {
    t = t.slice(open[0].length);
    wrapped = true;
  }
  let colon = false;
  if (t.endsWith(':')) {
    colon = true;
    t = t.slice(0, -1);
  }
  const close = WRAP_CLOSE.exec(t);
  if (close) {
    if (/[\])>}|]/.test(close[0])) wrapped = true;
    t = t.slice(0, t.length - close[0].length);
  }
  if (t.endsWith(':')) {
    colon = true;
    t = t.slice(0, -1);
  }
  // logcat brief/time: `D/Tag(1234):`.
  if (t.length > 2 && t.charCodeAt(1) === 0x2f && LOGCAT_PRIORITY.test(t)) return { level: LETTERS[t[0] as string] as Level, strength: 'strong' };
  if (t.length === 0 || (t.length > 16 && !/^[A-Z]{3,8}[[:/.%]|^%/.test(t))) return null;
  // Cisco IOS/ASA/NX-OS `%FACILITY-SEVERITY-MNEMONIC:`: the digit is the syslog severity.
  if (t.charCodeAt(0) === 0x25) {
    const cisco = CISCO_MNEMONIC.exec(t);
    return cisco ? { level: fromSyslogSeverity(Number(cisco[1])), strength: 'strong' } : null;
  }
  const c0 = t.charCodeAt(0) | 0x20;
  if (c0 < 0x61 || c0 > 0x7a) return null; // every level word starts with a letter
  if (t.length === 1) {
    const l = LETTERS[t];
    return l ? { level: l, strength: wrapped ? 'strong' : 'letter' } : null;
  }
  const direct = toLevel(t);
  const upper = t === t.toUpperCase() && /[A-Z]/.test(t);
  if (direct !== 'UNKNOWN' && !/^\d+$/.test(t)) {
    if (upper || wrapped || colon) return { level: direct, strength: 'strong' };
    return PLAIN_LEVEL_WORDS.has(t.toLowerCase()) ? { level: direct, strength: 'plain' } : null;
  }
  // `INFO/MainProcess` (Celery), `INFO[0000]` (logrus), `WARNING:root:msg` (Python): a first segment in capitals.
  const firstSep = t.search(/[[:/.]/);
  if (firstSep >= 3) {
    const head = t.slice(0, firstSep);
    if (head === head.toUpperCase() && /^[A-Z]+$/.test(head)) {
      const l = toLevel(head);
      if (l !== 'UNKNOWN') return { level: l, strength: 'strong' };
    }
  }
  // `production.ERROR:` (Monolog), `[core:error]` (Apache 2.4): the last segment, when marked.
  if (wrapped || colon) {
    const sep = Math.max(t.lastIndexOf('.'), t.lastIndexOf(':'));
    if (sep > 0) {
      const last = t.slice(sep + 1);
      const l = last.length > 1 ? toLevel(last) : 'UNKNOWN';
      if (l !== 'UNKNOWN' && !/^\d+$/.test(last)) return { level: l, strength: 'strong' };
    }
  }
  return null;
}

/** A plain word of prose: where the header ends and the message begins. */
function isProse(text: string): boolean {
  return /^[A-Za-z][a-z]+[,.;!?]?$/.test(text) && text !== text.toUpperCase();
}

function isNumber(text: string): boolean {
  return /^\d+$/.test(text);
}

const PRI = /^<(\d{1,3})>/;
const SYSLOG_LAYOUTS = new Set(['MMM d HH:mm:ss', 'MMM d HH:mm:ss yyyy', 'MMM d yyyy HH:mm:ss', "yyyy-MM-dd'T'HH:mm:ss"]);
const SECOND_LINE_LEVEL = /^([A-Z]{4,7}): /;
const HOST_PROG = / *([A-Za-z0-9][\w.\-/]{0,253}) ([^\s[\]:]{1,128}(?:\([^)\s]{0,64}\))?)(?:\[(\d{1,10})\])?: /y;
const PROG_PID = / *([^\s[\]:]{1,128})\[(\d{1,10})\]: /y;
const SEPARATORS = /(?:\s+|\|+|[\])>},:;](?=[\s[]|$)|-(?=\s))*/y;

/**
 * Read the header of `line` (a whole event; only its first line is looked at).
 * `state` is the stream's memory; it is updated.
 */
export function readHeader(line: string, ctx: HeaderContext, state?: StreamState): HeaderRead {
  const nl = line.indexOf('\n');
  const firstEnd = nl < 0 ? line.length : nl;
  const out: HeaderRead = { messageStart: 0, flags: [] };
  const tctx: TimeContext = { ingest: ctx.ingest, zone: ctx.zone, reference: ctx.reference, dayFirst: state?.dayFirst };
  const found = findTime(line, Math.min(firstEnd, TIME_SCAN_LIMIT), tctx, state);
  let afterHeader = 0;
  if (found) {
    const m = found.match;
    out.time = m.micros;
    out.timeLayout = found.layout.entry.layout;
    out.timeStart = m.start;
    out.timeEnd = m.end;
    afterHeader = m.end;
    if (m.orderAssumed) out.flags.push('date_order_assumed');
    if (state) {
      state.layout = found.layout;
      state.pos = m.start;
      if (m.orderEvidence) state.dayFirst = m.orderEvidence === 'dmy';
    }
    if (m.levelLetter) {
      out.level = LETTERS[m.levelLetter];
      out.levelText = m.levelLetter;
    }
  }
  const pri = PRI.exec(line);
  if (pri && Number(pri[1]) <= 191) {
    out.level = fromSyslogSeverity(Number(pri[1]) % 8);
    out.levelText = pri[0];
    if (!found) afterHeader = pri[0].length;
  }
  if (found) {
    const at = found.match.end;
    const hp = matchSticky(HOST_PROG, line, at) ?? matchSticky(PROG_PID, line, at);
    // `host prog:` without a pid only after a syslog time: elsewhere two words and a colon
    // are as often prose (`Server started: port 80`).
    const syslogTime = SYSLOG_LAYOUTS.has(found.layout.entry.layout);
    if (hp && (hp[hp.length - 1] !== undefined || syslogTime)) {
      if (hp.length === 4) {
        const host = hp[1] as string;
        if (levelOf(host) === null) {
          out.host = host;
          out.program = hp[2] as string;
          if (hp[3]) out.pid = hp[3];
          afterHeader = at + (hp[0] as string).length;
        }
      } else {
        out.program = hp[1] as string;
        out.pid = hp[2] as string;
        afterHeader = at + (hp[0] as string).length;
      }
    }
  }
  const levelEnd = Math.min(firstEnd, LEVEL_SCAN_LIMIT);
  if (out.level === undefined && found) {
    // Redis (`pid:role dd Mon yyyy HH:mm:ss.mmm <mark> msg`): its documented one-symbol levels.
    const mark = REDIS_ROLE.test(line) ? REDIS_LEVELS[line.slice(found.match.end, found.match.end + 3)] : undefined;
    if (mark) {
      out.level = mark;
      out.levelText = line.slice(found.match.end + 1, found.match.end + 2);
      afterHeader = found.match.end + 3;
    }
  }
  if (out.level === undefined) {
    const lv = findLevel(line, found?.match, levelEnd);
    if (lv) {
      out.level = lv.level;
      out.levelText = lv.token.text;
      // After `host prog[pid]:` a level word (`error: …`) belongs to the message.
      if (lv.token.start >= afterHeader && out.program === undefined) afterHeader = lv.token.end;
    } else if (found && nl >= 0) {
      // java.util.logging's SimpleFormatter puts the level at the start of the second line.
      const second = SECOND_LINE_LEVEL.exec(line.slice(nl + 1, nl + 40));
      const l = second ? toLevel(second[1]) : 'UNKNOWN';
      if (second && l !== 'UNKNOWN') {
        out.level = l;
        out.levelText = second[0];
      }
    }
  }
  // Without a time there is no header to strip: the level word stays in the message.
  if (!found && !pri) afterHeader = 0;
  SEPARATORS.lastIndex = afterHeader;
  SEPARATORS.exec(line);
  out.messageStart = Math.min(SEPARATORS.lastIndex, line.length);
  return out;
}

function matchSticky(re: RegExp, s: string, at: number): RegExpExecArray | null {
  re.lastIndex = at;
  return re.exec(s);
}

/** The level token by the rules of the module contract, or null. */
function findLevel(line: string, time: TimeMatch | undefined, end: number): { level: Level; token: Token } | null {
  const timeStart = time?.start ?? 0;
  const timeEnd = time?.end ?? 0;
  // Tokens before the time (a prefix such as `[INFO] 2024-…` or `web-1 | INFO …`).
  if (time) {
    const before = tokens(line, 0, timeStart, 4);
    for (let i = 0; i < before.length; i++) {
      const tok = before[i] as Token;
      const l = levelOf(tok.text);
      // `Information 3/1/2024 12:00:00 PM …` (Windows event exports): a plain word opening the line.
      if (l && (l.strength === 'strong' || (l.strength === 'plain' && i === 0))) return { level: l.level, token: tok };
    }
  }
  const after = tokens(line, timeEnd, end, HEADER_TOKENS_AFTER_TIME);
  let onlyNumbers = true;
  for (let i = 0; i < after.length; i++) {
    const tok = after[i] as Token;
    const l = levelOf(tok.text);
    if (l) {
      if (l.strength === 'strong') return { level: l.level, token: tok };
      // A bare `,` or `-` between the time and the word does not make it less adjacent.
      // Plain words: among the first three tokens after the time, no prose before (`] PHP Fatal error:`).
      if (l.strength === 'plain' && i < 3 && time !== undefined) return { level: l.level, token: tok };
      if (l.strength === 'letter' && i < 3 && onlyNumbers && time !== undefined) return { level: l.level, token: tok };
    }
    // Two plain words in a row are prose: the header is over (`- name - INFO -` is not).
    if (isProse(tok.text) && i + 1 < after.length && isProse((after[i + 1] as Token).text)) return null;
    if (!isNumber(tok.text) && /[0-9A-Za-z]/.test(tok.text)) onlyNumbers = false;
  }
  return null;
}
