/** Normalizer settings (prefix SLUICE_NORMALIZER_), on top of the common ones. */
import type { Schema } from '../../shared/config.js';
import { commonSchema } from '../../shared/common-config.js';

export const normalizerSchema = {
  groupId: { type: 'string', env: 'SLUICE_NORMALIZER_GROUP', default: 'sluice-normalizer', doc: 'Consumer group.' },
  adminPort: { type: 'int', env: 'SLUICE_NORMALIZER_ADMIN_PORT', default: 9702, min: 0, max: 65535, doc: 'Admin port; 0 picks a free one.' },
  maxAttributes: { type: 'int', env: 'SLUICE_NORMALIZER_MAX_ATTRIBUTES', default: 128, min: 0, doc: 'Most attributes kept per record; the rest are dropped and the record flagged `attributes_truncated`.' },
  maxAttributeBytes: { type: 'int', env: 'SLUICE_NORMALIZER_MAX_ATTRIBUTE_BYTES', default: 4096, min: 16, unit: 'bytes', doc: 'Longest attribute value kept; longer values are cut.' },
  zone: { type: 'optional-string', env: 'SLUICE_NORMALIZER_ZONE', doc: 'IANA time zone for timestamps that carry none (e.g. Europe/Berlin); unset means UTC. DST is resolved per instant.' },
  maxJsonDepth: { type: 'int', env: 'SLUICE_NORMALIZER_MAX_JSON_DEPTH', default: 32, min: 1, doc: 'Deepest JSON nesting flattened into attributes; deeper parts are kept as JSON text.' },
  futureHorizonMs: { type: 'int', env: 'SLUICE_NORMALIZER_FUTURE_HORIZON_MS', default: 300_000, min: 0, unit: 'ms', doc: 'Event times further than this after the Kafka timestamp are kept but flagged `clock_skew_future`; 0 turns the check off. 5 minutes absorbs ordinary clock drift; a wrong time zone (whole hours) is flagged.' },
  pastHorizonMs: { type: 'int', env: 'SLUICE_NORMALIZER_PAST_HORIZON_MS', default: 604_800_000, min: 0, unit: 'ms', doc: 'Event times further than this before the Kafka timestamp are kept but flagged `clock_skew_past`; 0 turns the check off. 7 days is the Kafka default retention: older lines are backfills or broken clocks.' },
  skewSources: { type: 'int', env: 'SLUICE_NORMALIZER_SKEW_SOURCES', default: 50, min: 1, max: 90, doc: 'Distinct `service` label values of the clock-skew metrics (`sluice_clock_skew_seconds`, `sluice_clock_skew_flagged_total`); later services are counted as `other`. At most 90, so both metrics stay under the registry\'s 200-series guard.' },
} as const satisfies Schema;

export const schema = { ...commonSchema, ...normalizerSchema } as const;
export const strictPrefixes = ['SLUICE_NORMALIZER_'] as const;
