/**
 * Application text logs whose header is a timestamp followed by level / thread / logger:
 * log4j, logback, Python logging, oslo.log (OpenStack, optionally prefixed by the file
 * name), ZooKeeper, Kafka (`[ts] LEVEL msg (logger)`), Spring Boot, Calico, klog, and the
 * Loghub families HDFS (`yyMMdd HHmmss pid LEVEL component: msg`), Spark (`yy/MM/dd
 * HH:mm:ss LEVEL component: msg`) and Android logcat (`MM-dd HH:mm:ss.SSS pid tid L tag: msg`).
 *
 * The emitting logger / class / tag goes to attribute `component`; thread, pid, tid and
 * caller file:line go to attributes of those names. Every regex here is anchored and
 * compiled once; a line that matches none of them is not this family (null).
 */
import type { Level } from '../../shared/records.js';
import { fromLetter, toLevel } from '../../shared/levels.js';
import { parseLogfmt } from './logfmt.js';
import type { ParseContext, ParsedText } from './parsed.js';
import { fracMicros } from '../../shared/time/timestamps.js';
import { catalogueLayout } from '../../shared/time/catalogue.js';
import { matchLayout, type CompiledLayout, type TimeMatch } from '../../shared/time/layout.js';

// Times are read by the catalogue's layouts (shared/time), the parser every reader shares;
// the regexes below read what follows the time.
const ISO_T = catalogueLayout("yyyy-MM-dd'T'HH:mm:ss");
const ISO_SPACE = catalogueLayout('yyyy-MM-dd HH:mm:ss');
const HDFS_TIME = catalogueLayout('yyMMdd HHmmss');
const SPARK_TIME = catalogueLayout('yy/MM/dd HH:mm:ss');
const LOGCAT_TIME = catalogueLayout('MM-dd HH:mm:ss');
const KLOG_TIME = catalogueLayout('LMMdd HH:mm:ss');
// Variants after the timestamp (R = rest of the line).
const LOG4J = /^([A-Za-z]+) +\[([^\]]*)\] +(\S+) +- ?([\s\S]*)$/; //            LEVEL [thread] logger - msg
const LOGBACK = /^\[([^\]]*)\] +([A-Za-z]+) +(\S+) +- ?([\s\S]*)$/; //         [thread] LEVEL logger - msg
const PY_DASH = /^- (\S+) - ([A-Za-z]+) - ([\s\S]*)$/; //                         - name - LEVEL - msg
const ZK = /^- ([A-Za-z]+) +\[(.*?)\] - ([\s\S]*)$/; //                          - LEVEL [thread:Class@line] - msg
const OSLO = /^(\d+) ([A-Za-z]+) (\S+) (?:\[([^\]]*)\] )?([\s\S]*)$/; //          pid LEVEL module [req ...] msg
const SPRING = /^([A-Za-z]+) +(\d+) --- \[ *([^\]]*)\] +(\S+) +: ([\s\S]*)$/; //   LEVEL pid --- [thread] logger : msg
const CALICO = /^\[([A-Za-z]+)\]\[(\d+)\] (\S+) (\d+): ([\s\S]*)$/; //             [LEVEL][pid] file line: msg
const LEVEL_LOGGER = /^\[?([A-Za-z]+)\]?:? +([\w.$/-]+): ([\s\S]*)$/; //            LEVEL logger: msg
const LEVEL_ONLY = /^\[?([A-Za-z]+)\]?:? +([\s\S]*)$/; //                           LEVEL msg
const FILE_PREFIX = /^(\S+) (?=\d{4}-\d{2}-\d{2}[T ]\d{2}:)/;

// What follows the time (R = rest of the line).
const HDFS = /^ (\d+) ([A-Za-z]+) ([^\s:]+): ?([\s\S]*)$/; //        pid LEVEL component: msg
const SPARK = /^ ([A-Za-z]+) ([^\s:]+): ?([\s\S]*)$/; //                LEVEL component: msg
const LOGCAT = /^ +(\d+) +(\d+) ([VDIWEFA]) ([\s\S]*)$/; //           pid tid L tag: msg
const KLOG = /^ +(\d+) ([^\s:\]]+):(\d+)\] ([\s\S]*)$/; //             tid file:line] msg
const PY_BASIC = /^(DEBUG|INFO|WARNING|ERROR|CRITICAL):([^:\s]*):([\s\S]*)$/;
const OSLO_HTTP = /^(\S+) "([A-Z]+) (\S+) [^"]*" status: (\d{3}) len: (\d+) time: (\d+)\.(\d+)/;

function level(word: string): Level | undefined {
  const l = toLevel(word);
  return l === 'UNKNOWN' ? undefined : l;
}

/** ZooKeeper / log4j `%t:%C@%L`: thread, then class after the last ':' and line after '@'. */
function threadClassLine(s: string, attrs: Record<string, string>): void {
  const at = s.lastIndexOf('@');
  const head = at > 0 && /^\d+$/.test(s.slice(at + 1)) ? s.slice(0, at) : s;
  if (head !== s) attrs['line'] = s.slice(at + 1);
  const colon = head.lastIndexOf(':');
  if (colon > 0) {
    attrs['thread'] = head.slice(0, colon);
    attrs['component'] = head.slice(colon + 1);
  } else attrs['component'] = head;
}

/** `[req-<uuid> user project domain ...]` of oslo.log: the request id goes to ids. */
function osloContext(ctx: string | undefined, out: ParsedText): void {
  if (!ctx) return;
  const sp = ctx.indexOf(' ');
  const first = sp < 0 ? ctx : ctx.slice(0, sp);
  if (first.startsWith('req-')) out.ids = { request_id: first };
  out.attributes['context'] = ctx;
}

function osloHttp(out: ParsedText): void {
  const h = OSLO_HTTP.exec(out.message);
  if (!h) return;
  out.http = {
    method: h[2] as string, route: null, path: h[3] as string, status: Number(h[4]),
    duration_us: Number(h[6]) * 1_000_000 + fracMicros(h[7]), bytes: Number(h[5]), client_ip: h[1] as string, user_agent: null,
  };
}

/** In `header`'s group names: the group holding the level word. */
const LEVEL = null;

/**
 * `re` (anchored) on `r`: `groups` names its groups in order (an attribute name, or LEVEL
 * for the level word; groups past them are no attributes), and its last group is the
 * message. Sets `out.level` when `re` matches (undefined when the word is no level); with
 * a level, also the named attributes, the message and `format`, and returns the match.
 * Else null, `out` otherwise untouched.
 */
function header(re: RegExp, r: string, groups: ReadonlyArray<string | null>, format: string, out: ParsedText): RegExpExecArray | null {
  const m = re.exec(r);
  if (!m || !(out.level = level(m[groups.indexOf(LEVEL) + 1] as string))) return null;
  for (let g = 0; g < groups.length; g++) if (groups[g] !== LEVEL) out.attributes[groups[g] as string] = m[g + 1] as string;
  out.message = m[m.length - 1] as string;
  out.format = format;
  return m;
}

/** After the timestamp: try the known header layouts. */
function afterTime(r: string, bracketed: boolean, out: ParsedText): boolean {
  const c = r.charCodeAt(0);
  let m: RegExpExecArray | null;
  if (c === 0x2d /* - */) {
    if ((m = header(ZK, r, [LEVEL], 'log4j', out))) {
      threadClassLine(m[2] as string, out.attributes);
      return true;
    }
    return header(PY_DASH, r, ['component', LEVEL], 'python', out) !== null;
  }
  if (c >= 0x30 && c <= 0x39) {
    if ((m = header(OSLO, r, ['pid', LEVEL, 'component'], 'oslo', out))) {
      osloContext(m[4], out);
      osloHttp(out);
      return true;
    }
    return false;
  }
  if (c === 0x5b /* [ */) {
    if ((m = header(CALICO, r, [LEVEL, 'pid'], 'calico', out))) {
      out.attributes['caller'] = `${m[3]}:${m[4]}`;
      return true;
    }
    if (header(LOGBACK, r, ['thread', LEVEL, 'component'], 'logback', out)) return true;
  }
  if (header(LOG4J, r, [LEVEL, 'thread', 'component'], 'log4j', out)) return true;
  if (header(SPRING, r, [LEVEL, 'pid', 'thread', 'component'], 'logback', out)) return true;
  if (bracketed && header(LEVEL_ONLY, r, [LEVEL], 'log4j', out)) {
    // Kafka: `[ts] LEVEL msg (logger)`.
    const msg = out.message;
    const nl = msg.indexOf('\n');
    const first = nl < 0 ? msg : msg.slice(0, nl);
    const open = first.lastIndexOf(' (');
    if (first.endsWith(')') && open >= 0 && /^[\w.$]+$/.test(first.slice(open + 2, -1))) {
      out.attributes['component'] = first.slice(open + 2, -1);
      out.message = first.slice(0, open) + (nl < 0 ? '' : msg.slice(nl));
    }
    return true;
  }
  return header(LEVEL_LOGGER, r, [LEVEL, 'component'], 'log4j', out) !== null || header(LEVEL_ONLY, r, [LEVEL], 'log4j', out) !== null;
}

/** The time of `layout` at `pos`, and the rest of the line after it; null when it is not there or not a real time. */
function timeAt(layout: CompiledLayout, line: string, pos: number, ctx: ParseContext): TimeMatch | null {
  return matchLayout(layout, line, pos, { ingest: ctx.ingest, zone: ctx.zone });
}

/** Leading `[yyyy-MM-dd HH:mm:ss[.,]frac[zone]]`, with or without brackets, then at least one space. */
function isoHeaded(line: string, ctx: ParseContext): ParsedText | null {
  const bracketed = line.charCodeAt(0) === 0x5b;
  const at = bracketed ? 1 : 0;
  const t = timeAt(line.charCodeAt(at + 10) === 0x54 /* T */ ? ISO_T : ISO_SPACE, line, at, ctx);
  if (!t) return null;
  let i = t.end;
  if (line.charCodeAt(i) === 0x5d /* ] */) i++;
  const spaces = i;
  while (line.charCodeAt(i) === 0x20) i++;
  if (i === spaces) return null;
  const out: ParsedText = { format: 'log4j', time: t.micros, message: '', attributes: {} };
  return afterTime(line.slice(i), bracketed, out) ? out : null;
}

/** The time of `layout` at the start of the line, then a header that `header` reads from the rest. */
function timedHeader(layout: CompiledLayout, re: RegExp, groups: ReadonlyArray<string | null>, format: string, line: string, ctx: ParseContext): ParsedText | null {
  const t = timeAt(layout, line, 0, ctx);
  if (!t) return null;
  const out: ParsedText = { format, time: t.micros, level: undefined, message: '', attributes: {} };
  return header(re, line.slice(t.end), groups, format, out) ? out : null;
}

function hdfs(line: string, ctx: ParseContext): ParsedText | null {
  return timedHeader(HDFS_TIME, HDFS, ['pid', LEVEL, 'component'], 'hdfs', line, ctx);
}

function spark(line: string, ctx: ParseContext): ParsedText | null {
  return timedHeader(SPARK_TIME, SPARK, [LEVEL, 'component'], 'spark', line, ctx);
}

function logcat(line: string, ctx: ParseContext): ParsedText | null {
  // Logcat's dates are month-first by definition (threadtime: MM-dd HH:mm:ss.SSS).
  const t = timeAt(LOGCAT_TIME, line, 0, ctx);
  const m = t && LOGCAT.exec(line.slice(t.end));
  if (!t || !m) return null;
  const rest = m[4] as string;
  // The tag runs to the first ": " (tags are space-padded, may contain spaces, never ": ").
  let sep = rest.indexOf(': ');
  if (sep < 0 && rest.endsWith(':')) sep = rest.length - 1;
  return {
    format: 'logcat',
    time: t.micros,
    level: fromLetter(m[3] as string),
    message: sep < 0 ? rest : rest.slice(sep + 2),
    attributes: sep < 0 ? { pid: m[1] as string, tid: m[2] as string } : { pid: m[1] as string, tid: m[2] as string, component: rest.slice(0, sep).trim() },
  };
}

function klog(line: string, ctx: ParseContext): ParsedText | null {
  const t = timeAt(KLOG_TIME, line, 0, ctx);
  const m = t && KLOG.exec(line.slice(t.end));
  if (!t || !m || t.levelLetter === undefined || t.levelLetter === 'D' || t.levelLetter === 'T' || t.levelLetter === 'V') return null;
  const out: ParsedText = {
    format: 'klog',
    time: t.micros,
    level: fromLetter(t.levelLetter),
    message: m[4] as string,
    attributes: { tid: m[1] as string, caller: `${m[2]}:${m[3]}` },
  };
  // Structured klog (InfoS): `"msg" k=v k2="v 2"`.
  const msg = out.message;
  if (msg.charCodeAt(0) === 0x22) {
    const kv = parseLogfmt(`msg=${msg}`);
    if (kv) {
      out.message = kv.get('msg') ?? msg;
      kv.delete('msg');
      for (const [k, v] of kv) out.attributes[k] = v;
    }
  }
  return out;
}

function pyBasic(line: string): ParsedText | null {
  const m = PY_BASIC.exec(line);
  if (!m) return null;
  return { format: 'python', level: level(m[1] as string), message: m[3] as string, attributes: { component: m[2] as string } };
}

/** oslo.log lines prefixed with the log file name (the Loghub OpenStack sample). */
function filePrefixed(line: string, ctx: ParseContext): ParsedText | null {
  const f = FILE_PREFIX.exec(line);
  if (!f) return null;
  const out = isoHeaded(line.slice(f[0].length), ctx);
  if (out) out.attributes['log_file'] = f[1] as string;
  return out;
}

/** Dispatch on the first character; each candidate is an anchored regex. */
export function parseAppLog(line: string, ctx: ParseContext): ParsedText | null {
  const c = line.charCodeAt(0);
  if (c >= 0x30 && c <= 0x39) {
    const c2 = line.charCodeAt(2);
    if (c2 === 0x2f /* / */) return spark(line, ctx);
    if (c2 === 0x2d /* - */) return logcat(line, ctx);
    return line.charCodeAt(4) === 0x2d ? isoHeaded(line, ctx) : hdfs(line, ctx);
  }
  if (c === 0x5b /* [ */) return isoHeaded(line, ctx);
  if (c === 0x49 || c === 0x57 || c === 0x45 || c === 0x46) {
    // I W E F: klog, else Python basicConfig (INFO:, WARNING:, ERROR:).
    const k = klog(line, ctx);
    if (k) return k;
  }
  return pyBasic(line) ?? filePrefixed(line, ctx);
}

/** A named member of this family, for the `format` hint. */
export function parseAppLogAs(name: string, line: string, ctx: ParseContext): ParsedText | null {
  switch (name) {
    case 'hdfs': return hdfs(line, ctx);
    case 'spark': return spark(line, ctx);
    case 'logcat': return logcat(line, ctx);
    case 'klog': return klog(line, ctx);
    default: return parseAppLog(line, ctx);
  }
}
