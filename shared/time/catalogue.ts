/**
 * The catalogue of documented time layouts the generic header reader tries near the start
 * of any line (docs/time-layouts.md lists it with sources; a test keeps the two equal).
 * Every entry comes from a published format: RFC 3339 / ISO 8601, RFC 3164 / 5424, RFC 2822,
 * POSIX ctime and date(1), Logstash grok's date patterns (TIMESTAMP_ISO8601, HTTPDATE,
 * SYSLOGTIMESTAMP, DATESTAMP_RFC822/RFC2822/OTHER/EVENTLOG, CATALINA_DATESTAMP,
 * TOMCAT_DATESTAMP, CISCOTIMESTAMP), Elasticsearch find_structure's candidates, Fluent Bit's
 * parsers.conf, and the default layouts of loggers and servers (log4j/logback, Python
 * logging, Go's log, .NET, glog/klog, Spark, Hadoop, MySQL, Tomcat, Android logcat, DB2).
 *
 * All entries allow a fraction after the seconds (`.`/`,`, 1-9 digits; `:` with 3) and an
 * optional offset or zone abbreviation after the time. `MM/dd`-style numeric dates are
 * written month-first and marked ambiguous: the stream's data decides (header.ts).
 *
 * `index` groups the layouts by the shape of their first characters (the length of the
 * leading digit run and the character after it, or a word), so a position is tried only
 * against the few layouts that can start there.
 */
import type { Micros } from '../records.js';
import { compileLayout, matchLayout, type CompiledLayout, type TimeContext } from './layout.js';

export interface CatalogueEntry {
  layout: string;
  /** Where the layout is documented. */
  source: string;
  /** Numeric day and month in either order; the stream decides. */
  ambiguous?: boolean;
  /** Accepted only in the first two tokens of a line (time-of-day-only layouts). */
  leadingOnly?: boolean;
}

export const CATALOGUE: readonly CatalogueEntry[] = [
  { layout: "yyyy-MM-dd'T'HH:mm:ss", source: 'RFC 3339, ISO 8601 extended; grok TIMESTAMP_ISO8601' },
  { layout: 'yyyy-MM-dd HH:mm:ss', source: 'ISO 8601 with a space (RFC 3339 §5.6 note); log4j ISO8601, Python logging asctime, SQL' },
  { layout: 'yyyy-MM-dd HH:mm', source: 'ISO 8601 without seconds' },
  { layout: 'yyyy-MM-dd-HH.mm.ss', source: 'IBM DB2 / z/OS TIMESTAMP string form' },
  { layout: 'yyyy-MM-dd-HH:mm:ss', source: 'grok DATESTAMP variants' },
  { layout: 'yyyy/MM/dd HH:mm:ss', source: "Go log (Ldate|Ltime), nginx error_log" },
  { layout: 'yyyy.MM.dd HH:mm:ss', source: 'dotted ISO date (find_structure yyyy.MM.dd)' },
  { layout: "yyyyMMdd'T'HHmmss", source: 'ISO 8601 basic format' },
  { layout: 'yyyyMMddHHmmss', source: 'grok DATESTAMP_EVENTLOG' },
  { layout: 'yyyyMMdd HH:mm:ss', source: 'compact date with a clock time' },
  { layout: 'yyyyMMdd-HH:mm:ss', source: 'compact date with a clock time' },
  { layout: 'yyMMdd HHmmss', source: 'Hadoop HDFS (%y%m%d %H%M%S)' },
  { layout: 'yyMMdd HH:mm:ss', source: 'MySQL 5.x error log' },
  { layout: 'yy/MM/dd HH:mm:ss', source: 'Spark log4j default (yy/MM/dd HH:mm:ss)' },
  { layout: 'd/MMM/yyyy:HH:mm:ss', source: 'grok HTTPDATE (Apache/nginx access), HAProxy' },
  { layout: 'd/MMM/yyyy HH:mm:ss', source: 'HTTPDATE with a space' },
  { layout: 'd-MMM-yyyy HH:mm:ss', source: 'Tomcat 8+ (dd-MMM-yyyy HH:mm:ss.SSS), BIND, PHP error_log' },
  { layout: 'd MMM yyyy HH:mm:ss', source: 'log4j DATE (dd MMM yyyy HH:mm:ss,SSS), Redis' },
  { layout: 'yyyy MMM d HH:mm:ss', source: 'Cisco ASA with year' },
  { layout: 'd.M.yyyy H:mm:ss', source: 'European dotted date (de, ru, …)' },
  { layout: 'd.M.yy H:mm:ss', source: 'European dotted date, two-digit year' },
  { layout: 'M/d/yyyy H:mm:ss', source: 'grok DATESTAMP (US or European order)', ambiguous: true },
  { layout: 'M/d/yyyy h:mm:ss a', source: '.NET / Windows en-US general date', ambiguous: true },
  { layout: 'M/d/yy H:mm:ss', source: 'grok DATESTAMP, two-digit year; IBM WebSphere (M/d/yy H:mm:ss:SSS z)', ambiguous: true },
  { layout: 'M-d-yyyy H:mm:ss', source: 'grok DATESTAMP with dashes', ambiguous: true },
  { layout: 'MM-dd HH:mm:ss', source: 'Android logcat threadtime (MM-dd HH:mm:ss.SSS)', ambiguous: true },
  { layout: 'MM/dd HH:mm:ss', source: 'year-less numeric date', ambiguous: true },
  { layout: 'MM.dd HH:mm:ss', source: 'year-less dotted date (Proxifier and other desktop tools)', ambiguous: true },
  { layout: 'LMMdd HH:mm:ss', source: 'glog / klog (Lmmdd hh:mm:ss.uuuuuu)' },
  { layout: 'MMM d HH:mm:ss', source: 'RFC 3164 / grok SYSLOGTIMESTAMP' },
  { layout: 'MMM d yyyy HH:mm:ss', source: 'grok CISCOTIMESTAMP' },
  { layout: 'MMM d HH:mm:ss yyyy', source: 'BSD / macOS syslog with year' },
  { layout: 'MMM d, yyyy h:mm:ss a', source: 'grok CATALINA_DATESTAMP, java.util.logging SimpleFormatter' },
  { layout: 'MMM d, yyyy HH:mm:ss', source: 'find_structure MMM dd, yyyy' },
  { layout: "MMM d, yyyy '@' HH:mm:ss", source: 'Kibana CSV export' },
  { layout: 'EEE MMM d HH:mm:ss yyyy', source: 'POSIX asctime/ctime; Apache error_log' },
  { layout: 'EEE MMM d HH:mm:ss zzz yyyy', source: 'date(1), java.util.Date.toString; grok DATESTAMP_OTHER' },
  { layout: 'EEE MMM d yyyy HH:mm:ss', source: 'JavaScript Date.prototype.toString' },
  { layout: 'EEE MMM d yy HH:mm:ss', source: 'grok DATESTAMP_RFC822' },
  { layout: 'EEE, d MMM yyyy HH:mm:ss', source: 'RFC 2822 / RFC 7231 IMF-fixdate; grok DATESTAMP_RFC2822' },
  { layout: 'EEE d MMM yyyy HH:mm:ss', source: 'RFC 2822 without the comma' },
  { layout: 'EEEE, MMMM d, yyyy h:mm:ss a', source: '.NET long date and time (en-US)' },
  { layout: 'MMMM d, yyyy h:mm:ss a', source: '.NET / Java FormatStyle.LONG (en-US)' },
  { layout: 'HH:mm:ss', source: 'time of day only (logback console, many CLIs): placed on the envelope or Kafka date', leadingOnly: true },
  { layout: 'UNIX', source: 'epoch seconds (find_structure UNIX), Squid, HPC and BG/L logs' },
  { layout: 'UNIX_MS', source: 'epoch milliseconds (find_structure UNIX_MS)' },
  { layout: 'UNIX_US', source: 'epoch microseconds' },
  { layout: 'UNIX_NS', source: 'epoch nanoseconds' },
];

export interface CatalogueLayout {
  entry: CatalogueEntry;
  compiled: CompiledLayout;
  /** Position in CATALOGUE: the stable name `--explain` prints. */
  id: number;
}

const NUMERIC_WIDTH: Readonly<Record<string, readonly number[]>> = {
  yyyy: [4], yy: [2], MM: [2], M: [1, 2], dd: [2], d: [1, 2], HH: [2], H: [1, 2], hh: [2], h: [1, 2], mm: [2], ss: [2],
};

/**
 * The shape keys a layout can start with: `<digits><next char>` for digit-led layouts (one
 * key per possible run length), `*` as next char for epochs, `A` for word-led layouts and
 * `G` for a level letter glued to digits.
 */
function leadKeys(layout: string): string[] {
  if (layout === 'UNIX') return ['9*', '10*'];
  if (layout === 'UNIX_MS') return ['12*', '13*'];
  if (layout === 'UNIX_US') return ['15*', '16*'];
  if (layout === 'UNIX_NS') return ['18*', '19*'];
  if (layout.startsWith('L')) return ['G'];
  if (/^[ME]{3}/.test(layout)) return ['A'];
  let widths = [0];
  let i = 0;
  for (;;) {
    const m = /^(yyyy|yy|MM|M|dd|d|HH|H|hh|h|mm|ss)/.exec(layout.slice(i));
    if (!m || (m[1] === 'MM' && layout.slice(i, i + 3) === 'MMM')) break;
    const w = NUMERIC_WIDTH[m[1] as string] as readonly number[];
    widths = widths.flatMap((a) => w.map((b) => a + b));
    i += (m[1] as string).length;
  }
  let next = layout[i] ?? '*';
  if (next === "'") next = layout[i + 1] ?? '*';
  return [...new Set(widths)].map((n) => `${n}${next}`);
}

function build(): { layouts: CatalogueLayout[]; index: Map<string, CatalogueLayout[]> } {
  const layouts = CATALOGUE.map((entry, id) => ({
    entry,
    id,
    compiled: compileLayout(entry.layout, { autoFraction: true, autoZone: true, dayMonthAmbiguous: entry.ambiguous === true }),
  }));
  const index = new Map<string, CatalogueLayout[]>();
  for (const l of layouts) {
    for (const key of leadKeys(l.entry.layout)) {
      const list = index.get(key) ?? [];
      list.push(l);
      index.set(key, list);
    }
  }
  return { layouts, index };
}

const built = build();

/** Every catalogue layout, compiled once. */
export const CATALOGUE_LAYOUTS: readonly CatalogueLayout[] = built.layouts;

/** Layouts that can start at `text[pos]`, by the shape there (empty when none can). */
export function candidatesAt(text: string, pos: number): readonly CatalogueLayout[] {
  const c = text.charCodeAt(pos);
  if (c >= 0x30 && c <= 0x39) {
    let j = pos;
    while (j < text.length && j - pos < 20) {
      const d = text.charCodeAt(j);
      if (d < 0x30 || d > 0x39) break;
      j++;
    }
    const len = j - pos;
    const next = text[j] ?? '';
    const exact = built.index.get(`${len}${next}`);
    const epoch = /[0-9A-Za-z]/.test(next) ? undefined : built.index.get(`${len}*`);
    if (exact && epoch) return [...exact, ...epoch];
    return exact ?? epoch ?? EMPTY;
  }
  const upper = (c >= 0x41 && c <= 0x5a);
  if (upper || (c >= 0x61 && c <= 0x7a)) {
    const n = text.charCodeAt(pos + 1);
    if (upper && n >= 0x30 && n <= 0x39) return built.index.get('G') ?? EMPTY;
    // Month and weekday names are 3+ letters.
    const n2 = text.charCodeAt(pos + 2);
    const isLetter = (x: number): boolean => (x >= 0x41 && x <= 0x5a) || (x >= 0x61 && x <= 0x7a);
    if (isLetter(n) && isLetter(n2)) return built.index.get('A') ?? EMPTY;
  }
  return EMPTY;
}

const EMPTY: readonly CatalogueLayout[] = [];

/**
 * A whole value (a JSON field, a rule's time field) read by the catalogue's calendar
 * layouts: the longest layout that matches all of `text`; undefined when none does.
 */
export function parseCatalogueTime(text: string, ctx: TimeContext): Micros | undefined {
  const s = text.trim();
  if (s.length === 0 || s.length > 64) return undefined;
  let best: Micros | undefined;
  for (const l of candidatesAt(s, 0)) {
    if (l.compiled.epoch !== undefined || l.entry.leadingOnly) continue;
    const m = matchLayout(l.compiled, s, 0, ctx);
    if (m && m.end === s.length) best = m.micros;
  }
  return best;
}

/**
 * A catalogue layout by its text, compiled as the catalogue compiles it (fraction and zone
 * allowed after the seconds). The system-specific readers read their times through these,
 * so every time in the pipeline goes through one parser (layout.ts). Throws on a layout
 * that is not in the catalogue (a programming error).
 */
export function catalogueLayout(layout: string): CompiledLayout {
  const l = built.layouts.find((x) => x.entry.layout === layout);
  if (!l) throw new Error(`no catalogue layout ${JSON.stringify(layout)}`);
  return l.compiled;
}
