/**
 * Ground truth for metric windows, computed from the generated events themselves (never
 * from Sluice code), so it can be compared with the enricher's MetricWindow records.
 *
 * Window: tumbling, `windowMs` (default 10 s) of EVENT time, aligned to the Unix epoch:
 * window_start = floor(t / windowMs) * windowMs, window_end = window_start + windowMs
 * (end exclusive). t is the event time AS THE LINE STATES IT (µs for ISO lines, ms for
 * classic pino, whole seconds for access lines), i.e. what a parser of the line reads.
 *
 * Two kinds of series, every event counting in the first and access lines also in the second:
 * - log series {service, level} (route/method/status_class null): count = events;
 *   error_count = events at level ERROR (or FATAL); duration_sum_us = 0. The level of an
 *   access line is the access-log convention: 5xx ERROR, 4xx WARN, otherwise INFO;
 * - HTTP series {service, route, method, status_class} (level null), access lines only:
 *   route is the route TEMPLATE the generator used (e.g. `/api/orders/{id}`),
 *   status_class `2xx`..`5xx`; count = requests; error_count = 5xx responses;
 *   duration_sum_us = the request times as the lines state them (nginx: ms resolution).
 * late_count: events of the window that arrive, in the emission order of messages.ndjson
 * (one stream, one partition), after the window has closed under a watermark of "the
 * largest event time emitted before" with allowed lateness `latenessMs` — i.e.
 * window_end + latenessMs <= that watermark (Flink's rule). Late events are still counted
 * in count/error_count/duration_sum_us: those are the complete truth.
 */
import type { GenLevel } from './generator-formats.js';

export interface TruthSeries {
  service: string;
  route: string | null;
  method: string | null;
  status_class: string | null;
  level: string | null;
}

export interface TruthWindow {
  series: TruthSeries;
  window_start: number;
  window_end: number;
  count: number;
  error_count: number;
  duration_sum_us: number;
  late_count: number;
  tenant: string;
}

/** What the window truth needs of one event. */
export interface CountedEvent {
  service: string;
  /** Stated event time, µs. */
  time_us: number;
  level: GenLevel;
  http: { route: string; method: string; status: number; duration_us: number } | null;
  /** Arrived after its window closed (see the header). */
  late: boolean;
}

export function statusClass(status: number): string {
  return `${Math.floor(status / 100)}xx`;
}

/** The level an access line implies: 5xx ERROR, 4xx WARN, else INFO. */
export function accessLevel(status: number): GenLevel {
  return status >= 500 ? 'ERROR' : status >= 400 ? 'WARN' : 'INFO';
}

function seriesKey(s: TruthSeries): string {
  return [s.service, s.route ?? '', s.method ?? '', s.status_class ?? '', s.level ?? ''].join('\u0000');
}

/** Windows sorted by window_start, then series (service, route, method, status_class, level). */
export function computeWindows(events: Iterable<CountedEvent>, windowMs: number, tenant: string): TruthWindow[] {
  const windowUs = windowMs * 1000;
  const byKey = new Map<string, TruthWindow>();
  const add = (series: TruthSeries, start: number, isError: boolean, durationUs: number, late: boolean): void => {
    const key = `${start}\u0000${seriesKey(series)}`;
    let w = byKey.get(key);
    if (!w) byKey.set(key, (w = { series, window_start: start, window_end: start + windowUs, count: 0, error_count: 0, duration_sum_us: 0, late_count: 0, tenant }));
    w.count++;
    if (isError) w.error_count++;
    w.duration_sum_us += durationUs;
    if (late) w.late_count++;
  };
  for (const e of events) {
    const start = Math.floor(e.time_us / windowUs) * windowUs;
    add({ service: e.service, route: null, method: null, status_class: null, level: e.level }, start, e.level === 'ERROR', 0, e.late);
    if (e.http) {
      const h = e.http;
      add({ service: e.service, route: h.route, method: h.method, status_class: statusClass(h.status), level: null }, start, h.status >= 500, h.duration_us, e.late);
    }
  }
  return [...byKey.values()].sort((a, b) => a.window_start - b.window_start || (seriesKey(a.series) < seriesKey(b.series) ? -1 : seriesKey(a.series) > seriesKey(b.series) ? 1 : 0));
}
