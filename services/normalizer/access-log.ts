/**
 * NCSA common / combined access logs (Apache, nginx):
 * `client ident user [dd/Mmm/yyyy:HH:mm:ss ±zzzz] "METHOD path PROTO" status bytes ["referrer" "agent"] [extra...] [request_time]`.
 * `bytes` "-" is 0 (Apache %b). A trailing number is the request time: with a fraction it is
 * seconds (nginx $request_time), an integer is microseconds (Apache %D). The level follows
 * the status: 5xx ERROR, 4xx WARN, otherwise INFO.
 */
import type { Http } from '../../shared/records.js';
import type { ParseContext, ParsedText } from './parsed.js';
import { fracMicros } from '../../shared/time/timestamps.js';
import { catalogueLayout } from '../../shared/time/catalogue.js';
import { matchLayout } from '../../shared/time/layout.js';

/** grok HTTPDATE, read by the catalogue's layout (shared/time), the parser every reader shares. */
const HTTPDATE = catalogueLayout('d/MMM/yyyy:HH:mm:ss');

// Quoted fields use the unrolled-loop form "[^"\\]*(?:\\.[^"\\]*)*" so matching stays linear.
const Q = '"([^"\\\\]*(?:\\\\.[^"\\\\]*)*)"';
const CLF = new RegExp(
  `^(\\S+) (\\S+) (\\S+) \\[(\\d{2}/[A-Za-z]{3}/\\d{4}:\\d{2}:\\d{2}:\\d{2}(?:\\.\\d{1,6})? [+-]\\d{4})\\] ${Q} (\\d{3}|-) (\\d+|-)(?: ${Q} ${Q})?(.*)$`,
  's',
);
const TRAILING_TIME = / (\d+)(?:\.(\d{1,9}))?$/;

function requestTimeUs(rest: string): number | null {
  const m = TRAILING_TIME.exec(rest);
  if (!m) return null;
  if (m[2] === undefined) return Number(m[1]);
  return Number(m[1]) * 1_000_000 + fracMicros(m[2]);
}

export function parseAccessLog(line: string, ctx: ParseContext): ParsedText | null {
  const m = CLF.exec(line);
  if (!m) return null;
  const when = m[4] as string;
  const t = matchLayout(HTTPDATE, when, 0, { ingest: ctx.ingest, zone: ctx.zone });
  const request = m[5] as string;
  const sp1 = request.indexOf(' ');
  const sp2 = request.lastIndexOf(' ');
  let method: string | null = null;
  let path: string | null = null;
  let protocol: string | null = null;
  if (sp1 > 0) {
    method = request.slice(0, sp1);
    if (sp2 > sp1 && request.startsWith('HTTP/', sp2 + 1)) {
      path = request.slice(sp1 + 1, sp2);
      protocol = request.slice(sp2 + 1);
    } else path = request.slice(sp1 + 1);
  } else if (request !== '-' && request !== '') path = request;
  const status = m[6] === '-' ? null : Number(m[6]);
  const user = m[3] as string;
  const http: Http = {
    method,
    route: null,
    path,
    status,
    duration_us: requestTimeUs(m[10] as string),
    bytes: m[7] === '-' ? 0 : Number(m[7]),
    client_ip: m[1] as string,
    user_agent: m[9] === undefined || m[9] === '-' ? null : m[9],
  };
  const attributes: Record<string, string> = {};
  if (m[2] !== '-') attributes['ident'] = m[2] as string;
  if (user !== '-') attributes['user.name'] = user;
  if (protocol) attributes['http.version'] = protocol;
  if (m[8] !== undefined && m[8] !== '-') attributes['http.referrer'] = m[8];
  return {
    format: m[8] === undefined ? 'clf' : 'combined',
    time: t && t.end === when.length ? t.micros : undefined,
    level: status === null ? 'INFO' : status >= 500 ? 'ERROR' : status >= 400 ? 'WARN' : 'INFO',
    message: line,
    http,
    attributes,
  };
}
