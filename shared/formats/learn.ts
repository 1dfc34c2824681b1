/**
 * `sluice learn`: infer a format rule from a sample of an unknown log, in the manner of
 * Elasticsearch's find_structure, and say how sure it is and what it could not explain.
 *
 * Method (every step uses the same readers the pipeline runs):
 * 1. Each line goes through the generic header reader (header.ts). Lines where it finds a
 *    time near the start are event starts; the dominant catalogue layout and the text
 *    before it (e.g. `[`) give the time layout, made exact from the sample (fraction digits
 *    and separator, offset or zone abbreviation) and the multi-line start regex when some
 *    lines have no time (continuations: stack traces, wrapped text).
 * 2. The header after the time is split into tokens; each token position is typed
 *    (level word, integer, bracketed, dotted class name, host-like, word) across the start
 *    lines, and the longest run of positions whose type holds on ≥ 95% of them becomes
 *    the pattern, ending with `%{GREEDYDATA:message}`.
 * 3. The rule is compiled (rules.ts) and run over the sample like the normalizer would;
 *    the report gives how many events it reads, with time and with level, and examples of
 *    the events it does not read.
 * Pure: lines in, a report out.
 */
import type { Micros } from '../records.js';
import { toLevel } from '../levels.js';
import { readHeader, StreamMemory, type HeaderRead } from './header.js';
import { compileFormats, readWithFormats, type FormatRule } from './rules.js';
import { embeddable } from './grok.js';
import { compileLayout } from '../time/layout.js';
import { CATALOGUE } from '../time/catalogue.js';

export interface LearnReport {
  lines: number;
  /** Lines that start an event (a time near their start). */
  events: number;
  timeLayout: string | null;
  /** Share of event starts that the chosen layout reads. */
  timeShare: number;
  /** True when the times carry an offset or zone; false: the rule needs `zone`. */
  zoned: boolean;
  levelShare: number;
  multilineStart: string | null;
  rule: FormatRule | null;
  /** Of the events, how many the rule reads, and with a time and a level. */
  fits: { events: number; read: number; withTime: number; withLevel: number };
  /** 0..1: share of events the rule reads with a time. */
  confidence: number;
  /** What the rule does not explain: examples of events it does not read. */
  unexplained: string[];
  notes: string[];
}

const SHARE = 0.95;
const MAX_HEADER_TOKENS = 6;

type TokenType = 'LEVEL' | 'INT' | 'BRACKET' | 'CLASS' | 'HOST' | 'WORD' | 'DASH' | 'NOTSPACE';

const TYPE_PATTERN: Readonly<Record<TokenType, (name: string) => string>> = {
  LEVEL: (n) => `%{LOGLEVEL:${n}}`,
  INT: (n) => `%{INT:${n}}`,
  BRACKET: (n) => `\\[%{DATA:${n}}\\]`,
  CLASS: (n) => `%{JAVACLASS:${n}}`,
  HOST: (n) => `%{HOSTNAME:${n}}`,
  WORD: (n) => `%{WORD:${n}}`,
  DASH: () => '-',
  NOTSPACE: (n) => `%{NOTSPACE:${n}}`,
};

function typeOf(tok: string): TokenType {
  if (tok === '-' || tok === '|' || tok === ':') return 'DASH';
  if (toLevel(tok.replace(/^\[|\]$|:$/g, '')) !== 'UNKNOWN' && !/^\d+$/.test(tok)) return 'LEVEL';
  if (/^[+-]?\d+$/.test(tok)) return 'INT';
  if (/^\[[^\]]*\]$/.test(tok)) return 'BRACKET';
  if (/^(?:[A-Za-z$_][\w$]*\.){2,}[A-Za-z$_][\w$]*$/.test(tok)) return 'CLASS';
  if (/^[a-z0-9][a-z0-9-]*(?:\.[a-z0-9-]+)+$/i.test(tok) && /\d|\./.test(tok)) return 'HOST';
  if (/^\w+$/.test(tok)) return 'WORD';
  return 'NOTSPACE';
}

function escapeLiteral(s: string): string {
  return s.replace(/[\\^$.*+?()[\]{}|]/g, '\\$&').replace(/%\{/g, '%\\{');
}

/** The catalogue layout made exact for `text` (the matched time): fraction and zone as the sample writes them. */
export function exactLayout(layout: string, text: string): string {
  if (/^UNIX/.test(layout)) return layout;
  const plain = compileLayout(layout);
  plain.re.lastIndex = 0;
  const m = plain.re.exec(text);
  // Without the trailing guard the base layout may stop before the fraction: match its prefix.
  let rest = m ? text.slice(m[0].length) : '';
  if (!m) {
    const loose = new RegExp(plain.re.source.replace(/\(\?!\[0-9A-Za-z\]\)$/, ''), 'y');
    const lm = loose.exec(text);
    rest = lm ? text.slice(lm[0].length) : '';
  }
  let out = layout;
  const frac = /^([.,:])(\d{1,9})/.exec(rest);
  if (frac) {
    out += `${frac[1] === ':' ? "':'" : frac[1]}${'S'.repeat((frac[2] as string).length)}`;
    rest = rest.slice(frac[0].length);
  }
  const zone = /^( ?)(Z|[+-]\d{2}:\d{2}|[+-]\d{4}|[+-]\d{2}|[A-Z]{2,5})$/.exec(rest);
  if (zone) {
    const z = zone[2] as string;
    out += zone[1] + (/^[+-]\d{2}:\d{2}$/.test(z) ? 'XXX' : /^[+-]\d{4}$/.test(z) ? 'XX' : /^[+-]\d{2}$|^Z$/.test(z) ? 'X' : 'z');
  }
  return out;
}

function mostCommon<T>(values: readonly T[]): [T, number] | null {
  const counts = new Map<T, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  let best: [T, number] | null = null;
  for (const e of counts) if (!best || e[1] > best[1]) best = e;
  return best;
}

/** Infer a rule from `lines` (a sample, in file order). `ingest` dates year-less times. */
export function learn(lines: readonly string[], ingest: Micros, name = 'learned'): LearnReport {
  const notes: string[] = [];
  const memory = new StreamMemory();
  const state = memory.get('sample');
  const heads: Array<{ line: string; h: HeaderRead }> = [];
  const reads = lines.map((line) => {
    const h = readHeader(line, { ingest }, state);
    return h;
  });
  reads.forEach((h, i) => {
    if (h.time !== undefined && (h.timeStart ?? 0) <= 40) heads.push({ line: lines[i] as string, h });
  });
  const report: LearnReport = {
    lines: lines.length, events: heads.length, timeLayout: null, timeShare: 0, zoned: false, levelShare: 0,
    multilineStart: null, rule: null, fits: { events: 0, read: 0, withTime: 0, withLevel: 0 }, confidence: 0, unexplained: [], notes,
  };
  if (heads.length === 0) {
    notes.push('no line has a time the catalogue knows near its start (docs/time-layouts.md): write the rule by hand, or the lines keep the Kafka time');
    return report;
  }
  const layoutWin = mostCommon(heads.map((x) => x.h.timeLayout as string)) as [string, number];
  const layout = layoutWin[0];
  const withLayout = heads.filter((x) => x.h.timeLayout === layout);
  report.timeShare = withLayout.length / heads.length;
  if (report.timeShare < 1) notes.push(`${heads.length - withLayout.length} of ${heads.length} event starts use another time layout than ${layout}`);
  const prefixWin = mostCommon(withLayout.map((x) => x.line.slice(0, x.h.timeStart)));
  const prefix = prefixWin?.[0] ?? '';
  const starts = withLayout.filter((x) => x.line.slice(0, x.h.timeStart) === prefix);
  if (!/^[^0-9A-Za-z]*$/.test(prefix)) notes.push(`the time follows ${JSON.stringify(prefix)}, which differs between lines; the rule matches it as text`);
  const exact = mostCommon(starts.map((x) => exactLayout(layout, x.line.slice(x.h.timeStart, x.h.timeEnd)))) as [string, number];
  let timeLayout = exact[0];
  const entry = CATALOGUE.find((e) => e.layout === layout);
  if (entry?.ambiguous) {
    if (state.dayFirst === true) timeLayout = timeLayout.replace(/^(M{1,2})([/.-])(d{1,2})/, '$3$2$1');
    else if (state.dayFirst === undefined) notes.push(`no date in the sample shows whether ${layout} is month-first or day-first (no value above 12); month-first assumed`);
  }
  report.timeLayout = timeLayout;
  report.zoned = /X|z$/.test(timeLayout) || /^UNIX/.test(timeLayout);
  if (!report.zoned) notes.push('the times carry no offset or zone: set time.zone to the zone the application logs in (UTC assumed otherwise)');
  report.levelShare = starts.filter((x) => x.h.level !== undefined).length / starts.length;

  // Header tokens after the time, typed per position.
  const tokenRows = starts.map((x) => x.line.slice(x.h.timeEnd).split(/(\s+)/).filter((t) => t.length > 0));
  const fieldParts: string[] = [];
  const used = new Map<string, number>();
  const nameFor = (t: TokenType, index: number): string => {
    const base = t === 'LEVEL' ? 'level' : t === 'INT' ? (index === 0 ? 'pid' : 'number') : t === 'BRACKET' ? 'thread' : t === 'CLASS' ? 'logger' : t === 'HOST' ? 'host' : 'field';
    const n = used.get(base) ?? 0;
    used.set(base, n + 1);
    return n === 0 && base !== 'field' ? base : `${base}${n + 1}`;
  };
  let pos = 0; // index into the split rows (tokens and the white space between them)
  let fieldIndex = 0;
  let sawLevel = false;
  for (let k = 0; k < MAX_HEADER_TOKENS * 2; k++) {
    const cells = tokenRows.map((r) => r[pos]);
    const present = cells.filter((c): c is string => c !== undefined);
    if (present.length < starts.length * SHARE) break;
    if (/^\s+$/.test(present[0] as string)) {
      if (!present.every((c) => /^\s+$/.test(c))) break;
      const widths = new Set(present.map((c) => c.length));
      fieldParts.push(widths.size === 1 && (present[0] as string) === ' ' ? ' ' : present[0]!.includes('\t') ? '\\s+' : ' +');
      pos++;
      continue;
    }
    const typed = mostCommon(present.map(typeOf)) as [TokenType, number];
    if (typed[1] < starts.length * SHARE) break;
    // After the level (or the first word after it), the message begins.
    if (sawLevel && (typed[0] === 'WORD' || typed[0] === 'NOTSPACE')) break;
    fieldParts.push(TYPE_PATTERN[typed[0]](nameFor(typed[0], fieldIndex)));
    if (typed[0] === 'LEVEL') sawLevel = true;
    fieldIndex++;
    pos++;
    if (typed[0] === 'CLASS' && sawLevel) break;
  }
  // The pattern ends with the message; a trailing separator before it is part of the header.
  while (fieldParts.length > 0 && /^( |\\s\+| \+)$/.test(fieldParts[fieldParts.length - 1] as string)) fieldParts.pop();
  const sep = fieldParts.length > 0 ? '(?: +- +| +|:\\s*)?' : ' *';
  const pattern = `${escapeLiteral(prefix)}%{TIME:time}${fieldParts.length > 0 && !/^( |\\s\+| \+)/.test(fieldParts[0] as string) ? '' : ''}${fieldParts.join('')}${sep}%{GREEDYDATA:message}`;
  const continuation = lines.length - heads.length;
  const rule: FormatRule = { name, pattern, time: { layout: timeLayout } };
  if (used.has('level')) rule.level = { field: 'level' };
  if (continuation > 0) {
    const start = `^${escapeLiteral(prefix)}${timeStartRegex(timeLayout)}`;
    rule.multiline = { start };
    report.multilineStart = start;
    notes.push(`${continuation} of ${lines.length} lines have no time at their start: they continue the event before them (multiline.start)`);
  }
  try {
    const compiled = compileFormats([rule]);
    report.rule = rule;
    const subject = { topic: 'sample', service: null, format: null, file: null };
    // Events as the collector would merge them with the rule's start.
    const startRe = compiled[0]?.multilineStart;
    const events: string[] = [];
    for (const line of lines) {
      if (events.length === 0 || !startRe || startRe.test(line)) events.push(line);
      else events[events.length - 1] += `\n${line}`;
    }
    report.fits.events = events.length;
    for (const ev of events) {
      const r = readWithFormats(compiled, subject, ev, { ingest });
      if (!r) {
        if (report.unexplained.length < 5) report.unexplained.push(ev.split('\n', 1)[0]!.slice(0, 200));
        continue;
      }
      report.fits.read++;
      if (r.time !== undefined) report.fits.withTime++;
      if (r.level !== undefined) report.fits.withLevel++;
    }
    report.confidence = events.length === 0 ? 0 : report.fits.withTime / events.length;
  } catch (err) {
    notes.push(`the inferred rule does not compile (${(err as Error).message}); this is a bug in sluice learn`);
  }
  return report;
}

/** A regex for the start of a time written in `layout`, for multiline.start. */
function timeStartRegex(layout: string): string {
  // `(?:\d{2})` reads better as `\d{2}`.
  return embeddable(compileLayout(layout).re.source).replace(/\(\?:(\\d\{[\d,]+\}|\[[^\]()]*\]\{[\d,]+\})\)/g, '$1');
}
