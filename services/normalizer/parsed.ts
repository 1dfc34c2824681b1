/**
 * What a text-format parser hands back to the normalizer: the header fields it found.
 * `undefined` means "not in this line" (the normalizer falls back); parsers never
 * allocate per-record regexes and return null when the line is not their format.
 */
import type { Http, Level, Micros } from '../../shared/records.js';

export interface ParsedText {
  /** Format name written to `source.format`. */
  format: string;
  /** Event time in UTC microseconds, when the line carries one that parses. */
  time?: Micros | undefined;
  level?: Level | undefined;
  message: string;
  host?: string | undefined;
  service?: string | undefined;
  http?: Http | undefined;
  /** W3C trace id, 32 lower-case hex digits, when the line carries one. */
  traceId?: string | undefined;
  /** request/correlation ids (same names as the JSON path). */
  ids?: Record<string, string> | undefined;
  /** Set by key=value formats: the fields go through the same extraction as JSON fields. */
  fields?: Map<string, string> | undefined;
  /** Header fields kept as attributes (component, pid, thread, ...). */
  attributes: Record<string, string>;
}

/** Context a parser needs: ingest time (for year-less dates) and the zone for zone-less times. */
export interface ParseContext {
  ingest: Micros;
  zone: string | undefined;
}
