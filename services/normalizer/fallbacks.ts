/**
 * Fallbacks the normalizer applies after reading a body (pure):
 *
 * - Time of day only: a line that starts `HH:mm:ss.SSS LEVEL logger message` (logback's
 *   default console pattern without a date, e.g. TrainTicket) carries a LOCAL time of
 *   day in an unknown zone. It is placed at the instant nearest the reference time (the
 *   shipper envelope's time when there is one, else the Kafka timestamp) whose time of day
 *   matches in some zone offset that is a multiple of 15 minutes; level, logger and
 *   message are read from the line. With the Docker envelope of the Nezha corpus this
 *   lands within a few ms of the tracer's own times (median 1 ms).
 * - No time at all in the body: the envelope's time (when the shipper captured the line)
 *   is closer to the event than the Kafka timestamp; it is used, and the record is
 *   flagged `time_from_envelope` (timestamp_source stays "ingest": the log did not say).
 * - Trace context written as text: `TraceID: <32 hex> SpanID: <16 hex>` in the message
 *   fills trace_id and span_id when no field did.
 */
import type { LogRecord, RawEvent } from '../../shared/records.js';
import { isStorableTime, parseTimestamp } from '../../shared/time/timestamps.js';
import { severityNumber, toLevel } from '../../shared/levels.js';
import { instantFromTimeOfDay } from '../../shared/time/layout.js';

const TOD_LINE = /^(\d{2}):(\d{2}):(\d{2})[.,](\d{1,9})\s+(TRACE|DEBUG|INFO|WARN|WARNING|ERROR|FATAL)\s+(\S+)\s+([\s\S]*)$/;
const TRACE_TEXT = /\bTraceID:\s*([0-9a-f]{32})\s+SpanID:\s*([0-9a-f]{16})\b/i;
const DAY_US = 86_400_000_000;

/**
 * A logback console line without a date (`HH:mm:ss.SSS LEVEL logger message`), read on
 * the envelope's or Kafka's date; true when it applied. Switched off with the other
 * system-specific readers (`readers: 'generic'`): the generic header reader then reads
 * the time of day through the catalogue's `HH:mm:ss` layout.
 */
export function timeOfDayLine(ev: RawEvent, record: LogRecord): boolean {
  if (record.timestamp_source !== 'ingest' || record.source.format !== 'text') return false;
  const m = TOD_LINE.exec(ev.body.replace(/\r?\n$/, ''));
  if (!m) return false;
  const frac = ((m[4] as string) + '000000').slice(0, 6);
  const tod = ((Number(m[1]) * 60 + Number(m[2])) * 60 + Number(m[3])) * 1_000_000 + Number(frac);
  if (tod >= DAY_US) return false;
  record.timestamp = instantFromTimeOfDay(tod, envelopeMicros(ev) ?? ev.kafka_timestamp);
  record.timestamp_source = 'event';
  record.source.format = 'logback';
  if (record.level === 'UNKNOWN') {
    record.level = toLevel(m[5] as string);
    record.severity_number = severityNumber[record.level];
  }
  if (m[6] !== '-') record.attributes['logger'] = m[6] as string;
  record.message = m[7] as string;
  return true;
}

/** The shipper envelope's time, when it has one that sinks can store. */
export function envelopeMicros(ev: RawEvent): number | undefined {
  const envelope = ev.envelope_time === null ? undefined : parseTimestamp(ev.envelope_time);
  return envelope !== undefined && isStorableTime(envelope) ? envelope : undefined;
}

/** No event time in the body: the envelope's time, flagged `time_from_envelope`. */
export function envelopeTime(ev: RawEvent, record: LogRecord): void {
  if (record.timestamp_source !== 'ingest') return;
  const envelopeUs = envelopeMicros(ev);
  if (envelopeUs === undefined) return;
  record.timestamp = envelopeUs;
  record.flags.push('time_from_envelope');
}

/** `TraceID: <32 hex> SpanID: <16 hex>` in the message fills trace and span ids no field gave. */
export function traceFromText(record: LogRecord): void {
  if (record.trace_id !== null) return;
  const t = TRACE_TEXT.exec(record.message);
  if (t) {
    record.trace_id = (t[1] as string).toLowerCase();
    record.span_id ??= (t[2] as string).toLowerCase();
  }
}
