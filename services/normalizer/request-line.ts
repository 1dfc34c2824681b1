/**
 * Request lines of the Go HTTP middleware shared by Loki, Grafana, Cortex, Mimir and
 * Tempo (weaveworks/common and dskit `middleware.Log`): the message opens with
 * `METHOD uri (status) duration`, e.g. `POST /loki/api/v1/push (204) 3.129545ms`; debug
 * builds append request headers after it. The duration is a Go `time.Duration` string
 * (`850µs`, `33.123ms`, `1.5s`, `1m2.003s`).
 *
 * Only the start of the message is read, with one anchored regex compiled once; the
 * message itself is left as it is. `path` is the URI as logged (query included), as in
 * access-log.ts.
 */
import type { Http } from '../../shared/records.js';

const REQUEST = /^(GET|HEAD|POST|PUT|PATCH|DELETE|OPTIONS|CONNECT|TRACE) (\S+) \((\d{3})\) ((?:\d+(?:\.\d+)?(?:ns|us|µs|μs|ms|s|m|h)){1,6})(?=\s|$)/;
const PART = /(\d+(?:\.\d+)?)(ns|us|µs|μs|ms|s|m|h)/g;
const UNIT_US: Readonly<Record<string, number>> = { ns: 0.001, us: 1, 'µs': 1, 'μs': 1, ms: 1_000, s: 1_000_000, m: 60_000_000, h: 3_600_000_000 };

/** A Go duration string to whole microseconds (rounded); undefined when it is not one. */
export function goDurationMicros(s: string): number | undefined {
  let us = 0;
  let seen = 0;
  // As `s.matchAll(PART)`, without its iterator and regex copy.
  PART.lastIndex = 0;
  for (let m = PART.exec(s); m !== null; m = PART.exec(s)) {
    us += Number(m[1]) * (UNIT_US[m[2] as string] as number);
    seen += (m[0] as string).length;
  }
  return seen === s.length && seen > 0 ? Math.round(us) : undefined;
}

/** The HTTP fields of a message that opens with a request line; null otherwise. */
export function requestLineHttp(message: string): Http | null {
  const m = REQUEST.exec(message);
  if (!m) return null;
  const duration = goDurationMicros(m[4] as string);
  if (duration === undefined) return null;
  return { method: m[1] as string, route: null, path: m[2] as string, status: Number(m[3]), duration_us: duration, bytes: null, client_ip: null, user_agent: null };
}
