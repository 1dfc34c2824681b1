/**
 * Clock quality (issue #3): how far a record's event time is from its ingest time.
 *
 * Contract:
 * - skew = ingest time (the raw message's Kafka timestamp) - event time, in microseconds;
 *   positive means the event time lies in the past, negative in the future. The Kafka
 *   timestamp is used, never the wall clock, so reprocessing yields the same flags;
 * - an event time more than `futureHorizonUs` after the ingest time earns the flag
 *   `clock_skew_future`, one more than `pastHorizonUs` before it `clock_skew_past`
 *   (the names schemas/LogRecord.avsc documents). The record is kept either way;
 * - a horizon of 0 or undefined turns that check off;
 * - a record whose time fell back to ingest (`timestamp_source = "ingest"`) has no skew:
 *   it is never flagged and never observed.
 */
import type { LogRecord, Micros } from '../../shared/records.js';
import type { Registry } from '../../shared/metrics.js';

export const CLOCK_FUTURE_FLAG = 'clock_skew_future';
export const CLOCK_PAST_FLAG = 'clock_skew_past';

export interface ClockHorizons {
  /** Largest tolerated lead of event time over ingest time, µs; 0 or undefined = unchecked. */
  futureHorizonUs?: number | undefined;
  /** Largest tolerated lag of event time behind ingest time, µs; 0 or undefined = unchecked. */
  pastHorizonUs?: number | undefined;
}

/** One observation handed to the stage's observer. */
export interface ClockSkew {
  /** `LogRecord.service`, or null; the observer bounds it before using it as a label. */
  service: string | null;
  /** ingest - event, µs (positive: event time in the past). */
  skewUs: number;
  /** The flag the record earned, if any. */
  flag: typeof CLOCK_FUTURE_FLAG | typeof CLOCK_PAST_FLAG | null;
}

export type ClockObserver = (skew: ClockSkew) => void;

/** The skew of `record` against `ingest`, or null when the record carries no event time. */
export function clockSkew(record: LogRecord, ingest: Micros, horizons: ClockHorizons): ClockSkew | null {
  if (record.timestamp_source !== 'event') return null;
  const skewUs = ingest - record.timestamp;
  const { futureHorizonUs: future, pastHorizonUs: past } = horizons;
  let flag: ClockSkew['flag'] = null;
  if (future && -skewUs > future) flag = CLOCK_FUTURE_FLAG;
  else if (past && skewUs > past) flag = CLOCK_PAST_FLAG;
  return { service: record.service, skewUs, flag };
}

/**
 * Maps free-form names to a bounded label set: the first `max` distinct names keep
 * their own value, later ones become "other"; a null name is "unknown". Stateful (it
 * remembers what it has admitted), so it belongs to the observer, not to the stage.
 */
export function boundedLabel(max: number): (name: string | null) => string {
  const admitted = new Set<string>();
  return (name) => {
    if (name === null || name === '') return 'unknown';
    if (admitted.has(name)) return name;
    if (admitted.size >= max) return 'other';
    admitted.add(name);
    return name;
  };
}

/** The metrics the observer feeds; registered by main.ts on the service's registry. */
export function clockSkewMetrics(registry: Registry) {
  return {
    skew: registry.gauge('sluice_clock_skew_seconds', 'Kafka timestamp minus event time of the latest record with an event time, seconds, by service (bounded; "other" past the cap). Negative: event time in the future.', ['service']),
    flagged: registry.counter('sluice_clock_skew_flagged_total', 'Records kept but flagged clock_skew_future or clock_skew_past, by service and direction.', ['service', 'direction']),
  };
}

/** An observer that writes skews into `clockSkewMetrics`, with at most `maxServices` service labels. */
export function clockSkewObserver(metrics: ReturnType<typeof clockSkewMetrics>, maxServices: number): ClockObserver {
  const label = boundedLabel(maxServices);
  return (s) => {
    const service = label(s.service);
    metrics.skew.set(s.skewUs / 1_000_000, { service });
    if (s.flag) metrics.flagged.inc({ service, direction: s.flag === CLOCK_FUTURE_FLAG ? 'future' : 'past' });
  };
}
