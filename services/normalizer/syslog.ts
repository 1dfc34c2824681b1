/**
 * Syslog: RFC 5424 (`<PRI>1 TIMESTAMP HOST APP PROCID MSGID [SD] MSG`, structured data
 * becomes attributes `sd.<id>.<param>`), RFC 3164 / BSD (`[<PRI>]Mmm dd HH:MM:SS host
 * tag[pid]: msg`, year-less: see `yearlessMicros`) and the rsyslog file form with an
 * RFC 3339 timestamp. PRI gives the level through the severity (PRI mod 8) and the
 * `syslog.facility` attribute; the app name / tag becomes the service.
 */
import { fromSyslogSeverity } from '../../shared/levels.js';
import type { ParseContext, ParsedText } from './parsed.js';
import { parseIso } from '../../shared/time/timestamps.js';
import { catalogueLayout } from '../../shared/time/catalogue.js';
import { matchLayout } from '../../shared/time/layout.js';

const RFC5424 = /^<(\d{1,3})>1 (\S+) (\S+) (\S+) (\S+) (\S+) ?([\s\S]*)$/;
// Lenient like rsyslog (its parse1 vectors): a space after PRI, a year before the time
// (`Mar 7 2008 19:06:53`, used when present) and a colon after the time are accepted.
const RFC3164_PRI = /^<(\d{1,3})> ?/;
// The time is read by the catalogue's layouts (shared/time), the parser every reader shares.
const BSD_TIME_WITH_YEAR = catalogueLayout('MMM d yyyy HH:mm:ss');
const BSD_TIME = catalogueLayout('MMM d HH:mm:ss');
const RFC3339 = /^(?:<(\d{1,3})>)?(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})) ([\s\S]*)$/;
const TAG = /^([^\s:[\]]{1,128})(?:\[([^\]\s]{0,32})\])?: ?/;
// Two-word tags, accepted only in two shapes prose hardly takes: a program with
// its version (sysklogd's `syslogd 1.4.1: restart.`) and two words with a numeric pid
// (`-- root[2421]: ROOT LOGIN ON tty2`, after a doubled space). Both are in Loghub Linux.
const SPACED_TAG = /^ ?([^\s:[\]]{1,64} (?:\d+(?:\.\d+)+(?=:)|[^\s:[\]]{1,64}(?=\[\d)))(?:\[(\d{1,10})\])?: ?/;
const NIL = '-';

function pri(p: string | undefined, out: ParsedText): void {
  if (p === undefined) return;
  const n = Number(p);
  if (n > 191) return;
  out.level = fromSyslogSeverity(n % 8);
  out.attributes['syslog.facility'] = String(n >> 3);
  out.attributes['syslog.severity'] = String(n % 8);
}

/** `host tag[pid]: msg` (host optional when the first word is already a tag). */
function hostTagMessage(rest: string, out: ParsedText): void {
  const sp = rest.indexOf(' ');
  const first = sp < 0 ? rest : rest.slice(0, sp);
  let afterHost = rest;
  if (!first.endsWith(':') && !/[[\]]/.test(first) && sp > 0) {
    out.host = first;
    afterHost = rest.slice(sp + 1);
  }
  const t = TAG.exec(afterHost) ?? SPACED_TAG.exec(afterHost);
  if (t) {
    out.service = t[1];
    if (t[2]) out.attributes['pid'] = t[2];
    out.message = afterHost.slice(t[0].length);
  } else {
    out.message = afterHost;
  }
}

/** Structured data: `[id k="v" ...]...`; returns the index after it, or -1 when malformed. */
function structuredData(s: string, attrs: Record<string, string>): number {
  let i = 0;
  if (s.startsWith(NIL)) return 1;
  while (s.charCodeAt(i) === 0x5b /* [ */) {
    i++;
    const idEnd = s.slice(i).search(/[ \]]/);
    if (idEnd < 0) return -1;
    const id = s.slice(i, i + idEnd);
    i += idEnd;
    while (s[i] === ' ') {
      i++;
      const eq = s.indexOf('=', i);
      if (eq < 0) return -1;
      const name = s.slice(i, eq);
      if (name.length === 0 || /[\s\]"]/.test(name)) return -1;
      // Spaces between `=` and the quote are tolerated, as rsyslog does (`eventSource= "x"`).
      for (i = eq + 1; s[i] === ' '; ) i++;
      if (s[i] !== '"') return -1;
      i++;
      let val = '';
      let start = i;
      for (;;) {
        if (i >= s.length) return -1;
        const c = s[i];
        if (c === '\\' && (s[i + 1] === '"' || s[i + 1] === '\\' || s[i + 1] === ']')) {
          val += s.slice(start, i) + s[i + 1];
          i += 2;
          start = i;
        } else if (c === '"') break;
        else i++;
      }
      val += s.slice(start, i);
      i++;
      attrs[`sd.${id}.${name}`] = val;
    }
    if (s[i] !== ']') return -1;
    i++;
  }
  return i;
}

export function parseSyslog(line: string, ctx: ParseContext): ParsedText | null {
  const c = line.charCodeAt(0);
  if (c === 0x3c /* < */) {
    const m = RFC5424.exec(line);
    if (m) {
      const out: ParsedText = { format: 'syslog5424', message: '', attributes: {} };
      pri(m[1], out);
      if (m[2] !== NIL) out.time = parseIso(m[2] as string, ctx.zone);
      if (m[3] !== NIL) out.host = m[3];
      if (m[4] !== NIL) out.service = m[4];
      if (m[5] !== NIL) out.attributes['pid'] = m[5] as string;
      if (m[6] !== NIL) out.attributes['msgid'] = m[6] as string;
      const rest = m[7] as string;
      const end = structuredData(rest, out.attributes);
      if (end < 0) return null;
      out.message = rest.slice(end).replace(/^ /, '').replace(/^\uFEFF/, '');
      return out;
    }
  }
  const p = RFC3164_PRI.exec(line);
  const at = p ? p[0].length : 0;
  const c0 = line.charCodeAt(at);
  if ((c0 >= 0x41 && c0 <= 0x5a) || (c0 >= 0x61 && c0 <= 0x7a)) {
    const tctx = { ingest: ctx.ingest, zone: ctx.zone };
    const t = matchLayout(BSD_TIME_WITH_YEAR, line, at, tctx) ?? matchLayout(BSD_TIME, line, at, tctx);
    // A colon after the time is tolerated (rsyslog); then one space and the rest.
    let i = t ? t.end : -1;
    if (t && line.charCodeAt(i) === 0x3a) i++;
    if (t && line.charCodeAt(i) === 0x20) {
      const out: ParsedText = { format: 'syslog3164', message: '', attributes: {} };
      pri(p?.[1], out);
      out.time = t.micros;
      hostTagMessage(line.slice(i + 1), out);
      return out;
    }
  }
  const r = RFC3339.exec(line);
  if (r) {
    const out: ParsedText = { format: 'syslog', message: '', attributes: {} };
    // Without PRI an ISO timestamp + host only is syslog when a tag follows.
    const rest = r[3] as string;
    if (r[1] === undefined && !TAG.test(rest.slice(rest.indexOf(' ') + 1))) return null;
    pri(r[1], out);
    out.time = parseIso(r[2] as string, ctx.zone);
    hostTagMessage(rest, out);
    return out;
  }
  return null;
}
