/**
 * User-declared formats (the `formats:` list of sluice.yaml; docs/formats.md). A format:
 *
 *   - name: checkout
 *     match: { service: checkout, file: "/var/log/checkout/*.log", topic: logs.raw,
 *              format: checkout, prefix: '\d{4}-' }          # all given must hold
 *     pattern: '%{TIME:time} \[%{NOTSPACE:thread}\] %{LOGLEVEL:level} %{GREEDYDATA:message}'
 *     patterns: { ORDER: 'ORD-\d+' }                          # named sub-patterns
 *     time: { field: time, layout: 'dd.MM.yyyy HH:mm:ss.SSS', zone: Europe/Berlin }
 *     level: { field: level, map: { I: INFO, W: WARN } }
 *     multiline: { start: '^\d{2}\.\d{2}\.\d{4} ' }           # used by the collector
 *
 * Contract:
 * - `compileFormats` checks every rule and throws FormatRuleError naming the rule and what
 *   is wrong (unknown sub-pattern, a cycle, a pattern the linear regex engine refuses, a bad
 *   layout, an unknown zone or level, a glob or field that cannot be used); nothing is
 *   half-loaded.
 * - `%{TIME}` in a pattern stands for the rule's time layout; without a `time` section the
 *   record's time comes from the generic header reader over the line.
 * - A rule applies to an event when every `match` key holds; the first applicable rule
 *   whose pattern matches the start of the event's first line reads it (`readWithFormats`).
 *   Its captures become fields that the normalizer reads like JSON keys (message, service,
 *   host, trace_id, http.*, …); the time field is read with the rule's layouts and zone,
 *   the level field through `map` then the level table. The rest of the first line after
 *   the match, and the event's other lines, stay in the message.
 * - Pure: compiled once at start; a first line longer than MAX_RULE_LINE characters is left
 *   to the built-in readers (patterns never see a cut line).
 */
import type { Level, Micros } from '../records.js';
import { toLevel } from '../levels.js';
import { compileLayout, LayoutError, matchLayout, type CompiledLayout } from '../time/layout.js';
import { assertZone } from '../time/timestamps.js';
import { compilePattern, embeddable, PatternError, type CompiledPattern } from './grok.js';
import { compileUserRegex, UnsafePatternError } from './safe-regex.js';

/** What a user writes (validated first by the JSON Schema, schemas/sluice.schema.json). */
export interface FormatRule {
  name: string;
  match?: {
    topic?: string | string[];
    service?: string | string[];
    format?: string | string[];
    file?: string | string[];
    prefix?: string;
  };
  pattern: string;
  patterns?: Record<string, string>;
  time?: { field?: string; layout: string | string[]; zone?: string };
  level?: { field?: string; map?: Record<string, string> };
  multiline?: { start: string };
}

export class FormatRuleError extends Error {
  /** Position of the rule in the list (set by compileFormats). */
  index = -1;
  constructor(
    readonly rule: string,
    readonly path: string,
    readonly problem: string,
  ) {
    super(`format "${rule}": ${path}: ${problem}`);
    this.name = 'FormatRuleError';
  }
}

/** Longest first line a user pattern is run on; longer ones go to the built-in readers. */
export const MAX_RULE_LINE = 16_384;

const LEVELS: ReadonlySet<string> = new Set(['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL']);

export interface CompiledFormat {
  readonly name: string;
  readonly rule: FormatRule;
  readonly pattern: CompiledPattern;
  readonly topics?: ReadonlySet<string>;
  readonly services?: ReadonlySet<string>;
  readonly formats?: ReadonlySet<string>;
  readonly files?: readonly RegExp[];
  readonly prefix?: RegExp;
  readonly timeField: string;
  readonly layouts: readonly CompiledLayout[];
  readonly zone?: string;
  readonly levelField: string;
  readonly levelMap: ReadonlyMap<string, Level>;
  /** First line of an event, for the collector's multi-line merging. */
  readonly multilineStart?: RegExp;
  /** Literal text every match starts with (`ACME ` of `ACME %{TIME:time} …`): a cheap test before the regex. */
  readonly literalPrefix: string;
}

/** The literal text a compiled pattern (`^(?:…)`) must start with; '' when it starts with a class or group. */
export function literalPrefix(source: string): string {
  let i = source.startsWith('^(?:') ? 4 : source.startsWith('^') ? 1 : 0;
  let out = '';
  while (i < source.length) {
    const c = source[i] as string;
    if (c === '\\') {
      const n = source[i + 1] ?? '';
      if (!/[\\^$.*+?()[\]{}|/ -]/.test(n)) break; // \d, \s, \w …: a class
      out += n;
      i += 2;
      continue;
    }
    if ('^$.*+?()[]{}|'.includes(c)) {
      // A quantifier applies to the last literal character: it is optional or repeated.
      if ('*+?{'.includes(c)) out = out.slice(0, -1);
      break;
    }
    out += c;
    i++;
  }
  return out;
}

/** A glob over file paths: `*` and `?` stay within a path segment, `**` crosses them. */
export function globRegex(glob: string): RegExp {
  let src = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i] as string;
    if (c === '*' && glob[i + 1] === '*') {
      src += '.*';
      i++;
      if (glob[i + 1] === '/') i++;
    } else if (c === '*') src += '[^/]*';
    else if (c === '?') src += '[^/]';
    else src += c.replace(/[\\^$.+()[\]{}|]/g, '\\$&');
  }
  return new RegExp(`^${src}$`);
}

const list = (v: string | string[] | undefined): string[] | undefined => (v === undefined ? undefined : Array.isArray(v) ? v : [v]);

function compileOne(rule: FormatRule): CompiledFormat {
  const fail = (path: string, problem: string): never => {
    throw new FormatRuleError(rule.name, path, problem);
  };
  const layouts: CompiledLayout[] = [];
  for (const [i, layout] of (list(rule.time?.layout) ?? []).entries()) {
    try {
      layouts.push(compileLayout(layout, { autoFraction: false, autoZone: false }));
    } catch (err) {
      if (err instanceof LayoutError) fail(`time.layout${Array.isArray(rule.time?.layout) ? `[${i}]` : ''}`, err.message);
      throw err;
    }
  }
  if (rule.time?.zone !== undefined) {
    try {
      assertZone(rule.time.zone);
    } catch {
      fail('time.zone', `"${rule.time.zone}" is not an IANA time zone (e.g. Europe/Berlin, UTC)`);
    }
  }
  const extra: Record<string, string> = { ...(rule.patterns ?? {}) };
  if (layouts.length > 0) extra['TIME'] ??= layouts.map((l) => `(?:${embeddable(l.re.source)})`).join('|');
  let pattern: CompiledPattern;
  try {
    pattern = compilePattern(rule.pattern, extra);
  } catch (err) {
    if (err instanceof PatternError) return fail('pattern', err.message);
    throw err;
  }
  const timeField = rule.time?.field ?? 'time';
  const levelField = rule.level?.field ?? 'level';
  const captured = new Set(pattern.fields.map(([, f]) => f));
  if (rule.time && !captured.has(timeField)) fail('time.field', `the pattern captures no field "${timeField}" (captures: ${[...captured].join(', ') || 'none'})`);
  if (rule.level?.field !== undefined && !captured.has(levelField)) fail('level.field', `the pattern captures no field "${levelField}"`);
  const levelMap = new Map<string, Level>();
  for (const [from, to] of Object.entries(rule.level?.map ?? {})) {
    const up = to.toUpperCase();
    if (!LEVELS.has(up)) fail(`level.map.${from}`, `"${to}" is not a level (TRACE, DEBUG, INFO, WARN, ERROR, FATAL)`);
    levelMap.set(from, up as Level);
  }
  const regex = (path: string, src: string): RegExp => {
    try {
      return compileUserRegex(src);
    } catch (err) {
      if (err instanceof UnsafePatternError) return fail(path, err.message);
      throw err;
    }
  };
  const set = (v: string | string[] | undefined): ReadonlySet<string> | undefined => {
    const l = list(v);
    return l ? new Set(l) : undefined;
  };
  const out: CompiledFormat = {
    name: rule.name,
    rule,
    pattern,
    literalPrefix: literalPrefix(pattern.regex.source),
    timeField,
    layouts,
    levelField,
    levelMap,
    ...(rule.time?.zone !== undefined ? { zone: rule.time.zone } : {}),
    ...(rule.match?.topic !== undefined ? { topics: set(rule.match.topic) } : {}),
    ...(rule.match?.service !== undefined ? { services: set(rule.match.service) } : {}),
    ...(rule.match?.format !== undefined ? { formats: set(rule.match.format) } : {}),
    ...(rule.match?.file !== undefined ? { files: (list(rule.match.file) as string[]).map(globRegex) } : {}),
    ...(rule.match?.prefix !== undefined ? { prefix: regex('match.prefix', `^(?:${rule.match.prefix})`) } : {}),
    ...(rule.multiline !== undefined ? { multilineStart: regex('multiline.start', rule.multiline.start) } : {}),
  };
  return out;
}

/** Compile every rule; the first bad one throws FormatRuleError. Names must be unique. */
export function compileFormats(rules: readonly FormatRule[]): CompiledFormat[] {
  const seen = new Set<string>();
  return rules.map((r, i) => {
    try {
      if (seen.has(r.name)) throw new FormatRuleError(r.name, 'name', 'another format has the same name');
      seen.add(r.name);
      return compileOne(r);
    } catch (err) {
      if (err instanceof FormatRuleError) err.index = i;
      throw err;
    }
  });
}

/** What decides whether a format applies: the event's coordinates. */
export interface FormatSubject {
  topic: string;
  service: string | null;
  format: string | null;
  file: string | null;
}

/** True when every `match` key of `f` holds for `s` (the prefix is checked against the line). */
export function applies(f: CompiledFormat, s: FormatSubject, line?: string): boolean {
  if (f.topics && !f.topics.has(s.topic)) return false;
  if (f.services && (s.service === null || !f.services.has(s.service))) return false;
  if (f.formats && (s.format === null || !f.formats.has(s.format))) return false;
  if (f.files && (s.file === null || !f.files.some((g) => g.test(s.file as string)))) return false;
  if (f.prefix && line !== undefined && !f.prefix.test(line)) return false;
  return true;
}

/** The multi-line start rule of the first applicable format that has one. */
export function multilineStartFor(formats: readonly CompiledFormat[], s: FormatSubject): RegExp | undefined {
  for (const f of formats) if (f.multilineStart && applies(f, s)) return f.multilineStart;
  return undefined;
}

export interface RuleRead {
  format: string;
  /** Captured fields other than time and level, by their names as written. */
  fields: Map<string, string>;
  time?: Micros;
  level?: Level;
  /** The unmatched rest of the first line plus the event's other lines, when no `message` was captured. */
  rest: string;
}

/**
 * The formats grouped so that an event is tried only against those that can apply to it:
 * the ones that need a service, format or file, and the unscoped ones by the first
 * character of their literal prefix. Built once per formats list.
 */
interface FormatIndex {
  needsSubject: Array<[number, CompiledFormat]>;
  anyStart: Array<[number, CompiledFormat]>;
  byFirstChar: Map<number, Array<[number, CompiledFormat]>>;
}

const indexes = new WeakMap<readonly CompiledFormat[], FormatIndex>();

function indexOf(formats: readonly CompiledFormat[]): FormatIndex {
  let idx = indexes.get(formats);
  if (idx) return idx;
  idx = { needsSubject: [], anyStart: [], byFirstChar: new Map() };
  formats.forEach((f, i) => {
    const entry: [number, CompiledFormat] = [i, f];
    if (f.services || f.formats || f.files) idx!.needsSubject.push(entry);
    else if (f.literalPrefix.length === 0) idx!.anyStart.push(entry);
    else {
      const c = f.literalPrefix.charCodeAt(0);
      const list = idx!.byFirstChar.get(c) ?? [];
      list.push(entry);
      idx!.byFirstChar.set(c, list);
    }
  });
  indexes.set(formats, idx);
  return idx;
}

/** The formats that may read `body` of subject `s`, in the order written. */
function candidates(formats: readonly CompiledFormat[], s: FormatSubject, body: string): CompiledFormat[] {
  const idx = indexOf(formats);
  const byChar = idx.byFirstChar.get(body.charCodeAt(0));
  const subject = s.service !== null || s.format !== null || s.file !== null;
  if (!byChar && idx.anyStart.length === 0 && (!subject || idx.needsSubject.length === 0)) return NONE;
  const out: Array<[number, CompiledFormat]> = [...(byChar ?? []), ...idx.anyStart, ...(subject ? idx.needsSubject : [])];
  if (out.length > 1) out.sort((a, b) => a[0] - b[0]);
  return out.map((e) => e[1]);
}

const NONE: CompiledFormat[] = [];

/** Read `body` with the first applicable, matching format; null when none reads it. */
export function readWithFormats(formats: readonly CompiledFormat[], s: FormatSubject, body: string, ctx: { ingest: Micros; zone?: string | undefined }): RuleRead | null {
  if (formats.length === 0) return null;
  let first: string | undefined;
  let line = '';
  let nl = -1;
  for (const f of candidates(formats, s, body)) {
    if (!applies(f, s)) continue;
    if (f.literalPrefix.length > 0 && !body.startsWith(f.literalPrefix)) continue;
    if (first === undefined) {
      nl = body.indexOf('\n');
      first = nl < 0 ? body : body.slice(0, nl);
      // A longer first line is not given to user patterns (a cut line could match `$` falsely).
      if (first.length > MAX_RULE_LINE) return null;
      line = first;
    }
    if (f.prefix && !f.prefix.test(line)) continue;
    const m = f.pattern.regex.exec(line);
    if (!m) continue;
    const fields = new Map<string, string>();
    for (const [group, field] of f.pattern.fields) {
      const v = m.groups?.[group];
      if (v !== undefined && v !== '') fields.set(field, v);
    }
    const out: RuleRead = { format: f.name, fields, rest: (first as string).slice(m[0].length) + (nl < 0 ? '' : body.slice(nl)) };
    const t = fields.get(f.timeField);
    if (t !== undefined && f.layouts.length > 0) {
      for (const l of f.layouts) {
        const tm = matchLayout(l, t, 0, { ingest: ctx.ingest, zone: f.zone ?? ctx.zone });
        if (tm && tm.end === t.length) {
          out.time = tm.micros;
          fields.delete(f.timeField);
          break;
        }
      }
    }
    const lv = fields.get(f.levelField);
    if (lv !== undefined) {
      const mapped = f.levelMap.get(lv) ?? toLevel(lv);
      if (mapped !== 'UNKNOWN') {
        out.level = mapped;
        fields.delete(f.levelField);
      }
    }
    return out;
  }
  return null;
}
