/**
 * AWS load balancer access logs, as documented by AWS ("Access logs for your Classic Load
 * Balancer", "Access logs for your Application Load Balancer"):
 * - Classic ELB (format `elb`): `time elb client:port backend:port request_processing_time
 *   backend_processing_time response_processing_time elb_status_code backend_status_code
 *   received_bytes sent_bytes "request" "user_agent" ssl_cipher ssl_protocol`;
 * - ALB (format `alb`): `type time elb client:port target:port request_processing_time
 *   target_processing_time response_processing_time elb_status_code target_status_code
 *   received_bytes sent_bytes "request" "user_agent" ssl_cipher ssl_protocol
 *   target_group_arn "trace_id" "domain_name" "chosen_cert_arn" ...`; AWS appends fields
 *   over time, so everything after `trace_id` is optional and only the next two are read.
 *
 * `time` is RFC 3339 UTC with microseconds. The processing times are seconds; -1 means
 * the load balancer could not dispatch or the target closed the connection, and then
 * `duration_us` (their sum) is null. `bytes` is sent_bytes (-1, seen from TLS listeners,
 * is null too), `status` the load balancer's status code, `path` the path and query of
 * the request URL (the request line holds an absolute URL). The level follows the status
 * as in access-log.ts. A `-` is absent. The ALB `trace_id` is an X-Ray
 * `Root=1-{8 hex epoch}-{24 hex}` id: its 32 hex digits are the W3C trace id (the
 * OpenTelemetry X-Ray propagator's mapping); the original stays an attribute.
 */
import type { Http } from '../../shared/records.js';
import type { ParseContext, ParsedText } from './parsed.js';
import { fracMicros, parseIso } from '../../shared/time/timestamps.js';

const Q = '"([^"\\\\]*(?:\\\\.[^"\\\\]*)*)"';
const TIME = '(\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(?:\\.\\d{1,9})?Z)';
const SECS = '(-1|\\d+(?:\\.\\d+)?)';
/** From the load balancer name to ssl_protocol: the part both shapes share. */
const COMMON = `(\\S+) (\\S+) (\\S+) ${SECS} ${SECS} ${SECS} (\\d{3}|-) (\\d{1,3}|-) (-1|\\d+|-) (-1|\\d+|-) ${Q} ${Q} (\\S+) (\\S+)`;
const CLASSIC = new RegExp(`^${TIME} ${COMMON}$`);
const ALB = new RegExp(`^(https?|h2|grpcs|wss?) ${TIME} ${COMMON} (\\S+) ${Q}(?: ${Q} ${Q})?(?: .*)?$`);

const XRAY_ROOT = /(?:^|;)Root=1-([0-9a-f]{8})-([0-9a-f]{24})(?:;|$)/;

/** Seconds with up to 9 decimals to whole microseconds (truncated, no floats); null for -1. */
function secondsMicros(s: string): number | null {
  if (s === '-1') return null;
  const dot = s.indexOf('.');
  return dot < 0 ? Number(s) * 1_000_000 : Number(s.slice(0, dot)) * 1_000_000 + fracMicros(s.slice(dot + 1));
}

/** `ip:port` (IPv6 maybe bracketed) to the ip; `-` to null. */
function hostOf(addr: string): string | null {
  if (addr === '-') return null;
  const colon = addr.lastIndexOf(':');
  const ip = colon > 0 ? addr.slice(0, colon) : addr;
  return ip.startsWith('[') && ip.endsWith(']') ? ip.slice(1, -1) : ip;
}

/** Path and query of an absolute URL (`http://host:80/a?b` -> `/a?b`); other targets as logged. */
function pathOf(url: string): string {
  const scheme = url.indexOf('://');
  if (scheme < 0) return url;
  const slash = url.indexOf('/', scheme + 3);
  return slash < 0 ? '/' : url.slice(slash);
}

function dash(s: string | undefined): string | undefined {
  return s === undefined || s === '-' || s === '' ? undefined : s;
}

/** Groups shared by both shapes, starting at `i` (the load balancer name). */
function common(m: RegExpExecArray, i: number, line: string, format: 'elb' | 'alb', time: string): ParsedText {
  const g = (k: number): string => m[i + k] as string;
  const times = [secondsMicros(g(3)), secondsMicros(g(4)), secondsMicros(g(5))];
  const status = g(6) === '-' ? null : Number(g(6));
  // A TCP listener logs the request as "- - - ".
  const [method, url, protocol] = g(10).trim().split(' ');
  const http: Http = {
    method: dash(method) ?? null,
    route: null,
    path: dash(url) === undefined ? null : pathOf(url as string),
    status,
    duration_us: times.some((t) => t === null) ? null : (times as number[]).reduce((a, b) => a + b, 0),
    bytes: g(9) === '-' || g(9) === '-1' ? null : Number(g(9)),
    client_ip: hostOf(g(1)),
    user_agent: dash(g(11)) ?? null,
  };
  const attributes: Record<string, string> = { 'aws.elb.name': g(0) };
  const put = (k: string, v: string | undefined): void => {
    const d = dash(v);
    if (d !== undefined) attributes[k] = d;
  };
  put('aws.elb.target', g(2));
  put('aws.elb.target_status_code', g(7));
  if (g(8) !== '-1') put('http.request.bytes', g(8));
  put('http.version', protocol);
  put('tls.cipher', g(12));
  put('tls.protocol', g(13));
  return {
    format,
    time: parseIso(time),
    level: status === null ? 'INFO' : status >= 500 ? 'ERROR' : status >= 400 ? 'WARN' : 'INFO',
    message: line,
    http,
    attributes,
  };
}

export function parseElbLog(line: string, _ctx: ParseContext): ParsedText | null {
  const c = CLASSIC.exec(line);
  if (c) return common(c, 2, line, 'elb', c[1] as string);
  const a = ALB.exec(line);
  if (!a) return null;
  const p = common(a, 3, line, 'alb', a[2] as string);
  p.attributes['aws.alb.type'] = a[1] as string;
  const extra: Array<[string, string | undefined]> = [
    ['aws.elb.target_group_arn', a[17]], ['aws.xray.trace_id', a[18]], ['tls.client.server_name', a[19]], ['aws.elb.chosen_cert_arn', a[20]],
  ];
  for (const [k, v] of extra) if (v !== undefined && v !== '-' && v !== '') p.attributes[k] = v;
  const root = XRAY_ROOT.exec(a[18] as string);
  if (root) p.traceId = `${root[1]}${root[2]}`;
  return p;
}
