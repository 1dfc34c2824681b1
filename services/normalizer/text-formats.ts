/**
 * Format detection for non-JSON bodies. Auto-detection looks at the first character
 * and then tries anchored regexes of the candidate families only; a `format` hint
 * (RawEvent.format) forces one family. Names accepted as hints (case-insensitive):
 * logfmt|kv, syslog|rfc5424|rfc3164, clf|combined|nginx|apache|access, log4j|logback|
 * python|oslo|openstack|zookeeper|calico, hdfs, spark, logcat|android, klog, elb|alb, text|plain.
 * `json` is handled by the caller.
 */
import { parseAccessLog } from './access-log.js';
import { parseAppLog, parseAppLogAs } from './app-log.js';
import { parseElbLog } from './elb-log.js';
import { looksLikeLogfmt, parseLogfmt } from './logfmt.js';
import type { ParseContext, ParsedText } from './parsed.js';
import { parseSyslog } from './syslog.js';

export type Family = 'json' | 'logfmt' | 'syslog' | 'access' | 'app' | 'hdfs' | 'spark' | 'logcat' | 'klog' | 'elb' | 'text';

const HINTS: Readonly<Record<string, Family>> = {
  json: 'json', ndjson: 'json', logfmt: 'logfmt', kv: 'logfmt', keyvalue: 'logfmt',
  syslog: 'syslog', rfc5424: 'syslog', rfc3164: 'syslog', syslog5424: 'syslog', syslog3164: 'syslog',
  clf: 'access', combined: 'access', nginx: 'access', apache: 'access', access: 'access',
  log4j: 'app', logback: 'app', python: 'app', oslo: 'app', openstack: 'app', zookeeper: 'app', calico: 'app', spring: 'app',
  hdfs: 'hdfs', spark: 'spark', logcat: 'logcat', android: 'logcat', klog: 'klog', elb: 'elb', alb: 'elb', text: 'text', plain: 'text',
};

/** The family a hint names, or undefined for an unknown hint (then the body is auto-detected). */
export function hintFamily(hint: string | null): Family | undefined {
  return hint ? HINTS[hint.toLowerCase()] : undefined;
}

/** Every name accepted as a hint (lower case; hints are matched case-insensitively). */
export function formatHints(): string[] {
  return Object.keys(HINTS);
}

function logfmt(line: string): ParsedText | null {
  const fields = parseLogfmt(line);
  return fields ? { format: 'logfmt', message: '', attributes: {}, fields } : null;
}

/** Parse `line` (first line of the event decides; later lines stay in the message) as one family. */
export function parseAs(family: Family, line: string, ctx: ParseContext): ParsedText | null {
  switch (family) {
    case 'logfmt': return logfmt(line);
    case 'syslog': return parseSyslog(line, ctx);
    case 'access': return parseAccessLog(line, ctx);
    case 'elb': return parseElbLog(line, ctx);
    case 'app': return parseAppLog(line, ctx);
    case 'hdfs': case 'spark': case 'logcat': case 'klog': return parseAppLogAs(family, line, ctx);
    default: return null;
  }
}

/** Auto-detect; null when no family matches (the caller keeps the body as text). */
export function detectAndParse(line: string, ctx: ParseContext): ParsedText | null {
  const c = line.charCodeAt(0);
  if (c === 0x3c /* < */) return parseSyslog(line, ctx);
  // Classic ELB lines open with their RFC 3339 time, ALB lines with `http`/`https`/`h2`/...:
  // both regexes are anchored and fail within a few characters on other lines.
  if (c >= 0x30 && c <= 0x39) return parseAccessLog(line, ctx) ?? parseElbLog(line, ctx) ?? parseAppLog(line, ctx) ?? parseSyslog(line, ctx) ?? (looksLikeLogfmt(line) ? logfmt(line) : null);
  if (c === 0x5b /* [ */) return parseAppLog(line, ctx);
  if (c === 0x68 /* h */ || c === 0x67 /* g */ || c === 0x77 /* w */) {
    const elb = parseElbLog(line, ctx);
    if (elb) return elb;
  }
  return parseSyslog(line, ctx) ?? parseAppLog(line, ctx) ?? parseAccessLog(line, ctx) ?? (looksLikeLogfmt(line) ? logfmt(line) : null);
}
