/**
 * Patterns with named, reusable sub-patterns, in the spirit of Logstash grok:
 * `%{NAME}` inserts sub-pattern NAME, `%{NAME:field}` also captures it as `field` (dots
 * allowed: `http.method`), `%{NAME:field:int}` is accepted (the type is left to the
 * normalizer, which reads numbers itself). Plain regex named groups `(?<field>…)` work
 * too. The built-in library below is written for this project (no lookaround and no
 * counted repetition above 16, so every pattern can run on V8's linear engine:
 * safe-regex.ts); a rule's own `patterns` may add
 * names or replace built-in ones, and may refer to each other.
 */
import { compileUserRegex, UnsafePatternError, MAX_PATTERN_CHARS } from './safe-regex.js';

const LEVEL_WORDS = ['TRACE', 'DEBUG', 'INFO', 'INFORMATION', 'NOTICE', 'WARN', 'WARNING', 'ERROR', 'ERR', 'FATAL', 'CRITICAL', 'CRIT', 'SEVERE', 'ALERT', 'EMERG', 'EMERGENCY', 'PANIC', 'VERBOSE', 'FINE', 'FINER', 'FINEST', 'CONFIG'];
const caseVariants = (w: string): string[] => [w, w.toLowerCase(), w[0] + w.slice(1).toLowerCase()];

export const BUILTIN_PATTERNS: Readonly<Record<string, string>> = {
  WORD: '\\w+',
  NOTSPACE: '\\S+',
  SPACE: '\\s*',
  DATA: '.*?',
  GREEDYDATA: '.*',
  INT: '[+-]?\\d+',
  POSINT: '\\d+',
  NUMBER: '[+-]?(?:\\d+(?:\\.\\d*)?|\\.\\d+)',
  BASE16NUM: '(?:0[xX])?[0-9A-Fa-f]+',
  IPV4: '(?:\\d{1,3}\\.){3}\\d{1,3}',
  IPV6: '(?:[0-9A-Fa-f]*:){2,7}[0-9A-Fa-f.]*(?:%\\w+)?',
  IP: '(?:%{IPV6}|%{IPV4})',
  HOSTNAME: '[A-Za-z0-9][A-Za-z0-9_-]*(?:\\.[A-Za-z0-9_-]+)*\\.?',
  IPORHOST: '(?:%{IP}|%{HOSTNAME})',
  HOSTPORT: '%{IPORHOST}:%{POSINT}',
  USERNAME: '[A-Za-z0-9._-]+',
  USER: '%{USERNAME}',
  QUOTEDSTRING: '"(?:[^"\\\\]|\\\\.)*"|\'(?:[^\'\\\\]|\\\\.)*\'',
  QS: '%{QUOTEDSTRING}',
  UUID: '[0-9A-Fa-f]{8}-(?:[0-9A-Fa-f]{4}-){3}[0-9A-Fa-f]{12}',
  PATH: '(?:/[^\\s]*|[A-Za-z]:\\\\[^\\s]*)',
  URIPATH: '/[^\\s?#]*',
  URIPARAM: '\\?[^\\s#]*',
  URI: '[A-Za-z][A-Za-z0-9+.-]*://\\S+',
  JAVACLASS: '(?:[A-Za-z$_][A-Za-z$_0-9]*\\.)*[A-Za-z$_][A-Za-z$_0-9]*',
  JAVAFILE: '(?:[A-Za-z$_][A-Za-z$_0-9]*\\.java|Unknown Source|Native Method)',
  PROG: '[\\w._/%-]+',
  SYSLOGPROG: '%{PROG}(?:\\[%{POSINT}\\])?',
  LOGLEVEL: `(?:${LEVEL_WORDS.flatMap(caseVariants).join('|')}|[TDIWEFV])`,
  HTTPMETHOD: '(?:GET|HEAD|POST|PUT|DELETE|CONNECT|OPTIONS|TRACE|PATCH)',
  TIMESTAMP_ISO8601: '\\d{4}-\\d{2}-\\d{2}[T ]\\d{2}:\\d{2}(?::\\d{2}(?:[.,]\\d{1,9})?)?(?:Z|[+-]\\d{2}(?::?\\d{2})?)?',
  HTTPDATE: '\\d{1,2}/[A-Za-z]{3}/\\d{4}:\\d{2}:\\d{2}:\\d{2}(?:\\.\\d+)? [+-]\\d{4}',
  SYSLOGTIMESTAMP: '[A-Za-z]{3} +\\d{1,2} \\d{2}:\\d{2}:\\d{2}',
  EPOCH: '\\d{9}\\d*(?:\\.\\d+)?',
};

const REFERENCE = /%\{([A-Za-z_][A-Za-z0-9_]*)(?::([A-Za-z_@][\w.@-]*))?(?::(int|float|string))?\}/g;
const NAMED_GROUP = /\(\?<([A-Za-z_][A-Za-z0-9_]*)>/g;
const MAX_DEPTH = 16;

export interface CompiledPattern {
  regex: RegExp;
  /** Named capture group -> field name (dotted names are kept as written). */
  fields: ReadonlyArray<readonly [group: string, field: string]>;
}

export class PatternError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PatternError';
  }
}

/**
 * Expand `%{…}` references and compile, anchored at the start of the line. `extra` names
 * (a rule's `patterns`, and `TIME` for its time layout) win over the built-in ones.
 * Throws PatternError with what is wrong (unknown name, a cycle, unsafe or invalid regex).
 */
export function compilePattern(pattern: string, extra: Readonly<Record<string, string>> = {}): CompiledPattern {
  const fields: Array<[string, string]> = [];
  const lookup = (name: string): string | undefined => extra[name] ?? BUILTIN_PATTERNS[name];
  const expand = (text: string, depth: number, stack: readonly string[]): string => {
    if (depth > MAX_DEPTH) throw new PatternError(`sub-patterns nest deeper than ${MAX_DEPTH} (${stack.join(' -> ')})`);
    return text.replace(REFERENCE, (_all, name: string, field: string | undefined) => {
      if (stack.includes(name)) throw new PatternError(`sub-pattern %{${name}} refers to itself (${[...stack, name].join(' -> ')})`);
      const body = lookup(name);
      if (body === undefined) throw new PatternError(`unknown sub-pattern %{${name}} (define it under patterns, or use one of ${Object.keys(BUILTIN_PATTERNS).join(', ')})`);
      const inner = expand(body, depth + 1, [...stack, name]);
      if (field === undefined) return `(?:${inner})`;
      const group = `f${fields.length}`;
      fields.push([group, field]);
      return `(?<${group}>${inner})`;
    });
  };
  let source = expand(pattern, 0, []);
  // Plain named groups the user wrote: keep their names as the field names.
  source = source.replace(NAMED_GROUP, (all, name: string) => {
    if (/^f\d+$/.test(name)) return all;
    const group = `f${fields.length}`;
    fields.push([group, name]);
    return `(?<${group}>`;
  });
  if (source.length > MAX_PATTERN_CHARS * 4) throw new PatternError(`expands to ${source.length} characters; at most ${MAX_PATTERN_CHARS * 4}`);
  try {
    return { regex: compileUserRegex(`^(?:${source})`), fields };
  } catch (err) {
    if (err instanceof UnsafePatternError) throw new PatternError(err.message);
    throw err;
  }
}

/**
 * A time layout's regex (layout.ts) made embeddable in a user pattern: capture groups
 * become non-capturing and its negative lookaheads (word-end guards, which the linear
 * engine cannot run and the rest of the pattern takes over) are dropped.
 */
export function embeddable(source: string): string {
  let out = '';
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    if (c === '\\') {
      out += source.slice(i, i + 2);
      i++;
    } else if (c === '(' && source.startsWith('(?!', i)) {
      let j = i + 3;
      while (j < source.length && source[j] !== ')') j += source[j] === '\\' ? 2 : 1;
      i = j;
    } else if (c === '(' && source[i + 1] !== '?') out += '(?:';
    else out += c;
  }
  return out;
}
