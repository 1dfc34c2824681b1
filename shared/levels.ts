/**
 * One level table: words and abbreviations in any case, pino/bunyan numbers, syslog
 * severities -> Sluice level and OpenTelemetry severity_number (OTel logs data model,
 * "Severity Fields": TRACE 1, DEBUG 5, INFO 9, WARN 13, ERROR 17, FATAL 21).
 */
import type { Level } from './records.js';

export const severityNumber: Readonly<Record<Level, number>> = { TRACE: 1, DEBUG: 5, INFO: 9, WARN: 13, ERROR: 17, FATAL: 21, UNKNOWN: 0 };

const words: Readonly<Record<string, Level>> = {
  trace: 'TRACE', trc: 'TRACE', finest: 'TRACE', finer: 'TRACE', verbose: 'TRACE', v: 'TRACE',
  debug: 'DEBUG', dbg: 'DEBUG', d: 'DEBUG', fine: 'DEBUG', config: 'DEBUG',
  debug1: 'DEBUG', debug2: 'DEBUG', debug3: 'DEBUG', debug4: 'DEBUG', debug5: 'DEBUG', // PostgreSQL
  info: 'INFO', inf: 'INFO', i: 'INFO', information: 'INFO', informational: 'INFO', notice: 'INFO', normal: 'INFO',
  note: 'INFO', system: 'INFO', // MySQL 8 [Note] / [System]
  log: 'INFO', // PostgreSQL LOG, console.log
  warn: 'WARN', warning: 'WARN', wrn: 'WARN', w: 'WARN',
  error: 'ERROR', err: 'ERROR', e: 'ERROR', severe: 'ERROR', fail: 'ERROR', failure: 'ERROR', fault: 'ERROR', // Apple unified log
  fatal: 'FATAL', critical: 'FATAL', crit: 'FATAL', alert: 'FATAL', emerg: 'FATAL', emergency: 'FATAL', panic: 'FATAL', dpanic: 'FATAL', f: 'FATAL',
};

/** pino/bunyan numeric levels: 10 trace, 20 debug, 30 info, 40 warn, 50 error, 60 fatal. */
function fromNumber(n: number): Level {
  if (n >= 60) return 'FATAL';
  if (n >= 50) return 'ERROR';
  if (n >= 40) return 'WARN';
  if (n >= 30) return 'INFO';
  if (n >= 20) return 'DEBUG';
  if (n >= 10) return 'TRACE';
  return 'UNKNOWN';
}

export function toLevel(v: unknown): Level {
  if (typeof v === 'number') return fromNumber(v);
  if (typeof v !== 'string') return 'UNKNOWN';
  const w = v.trim().toLowerCase();
  if (/^\d+$/.test(w)) return fromNumber(Number(w));
  return words[w] ?? 'UNKNOWN';
}

/** Syslog severity (RFC 5424 §6.2.1): 0-2 emerg/alert/crit FATAL, 3 ERROR, 4 WARN, 5-6 notice/info INFO, 7 DEBUG. */
export function fromSyslogSeverity(sev: number): Level {
  if (sev <= 2) return 'FATAL';
  if (sev === 3) return 'ERROR';
  if (sev === 4) return 'WARN';
  if (sev <= 6) return 'INFO';
  return 'DEBUG';
}

/** One-letter priorities: Android logcat (V D I W E F A) and klog (I W E F). */
export function fromLetter(c: string): Level {
  switch (c) {
    case 'V': return 'TRACE';
    case 'D': return 'DEBUG';
    case 'I': return 'INFO';
    case 'W': return 'WARN';
    case 'E': return 'ERROR';
    case 'F': case 'A': return 'FATAL';
    default: return 'UNKNOWN';
  }
}
