/**
 * The enricher stage: LogRecord -> LogRecord with enrichment (logs.enriched).
 *
 * Contract: the record passes on unchanged but for `labels`, keyed by service so one
 * service's records stay in order. Context enrichment and the derived metrics and
 * spans (metrics.derived, traces.spans) arrive with issue #5; their topics and schemas
 * already exist.
 */
import type { Stage, StageInput, StageOutput } from '../../shared/stage.js';
import type { LogRecord } from '../../shared/records.js';

export interface EnrichOptions {
  outputTopic: string;
}

export function enrich(record: LogRecord): LogRecord {
  return { ...record, labels: { ...record.labels } };
}

export function createEnrichStage(opts: EnrichOptions): Stage<LogRecord> {
  return {
    name: 'enrich',
    process(input: StageInput<LogRecord>): StageOutput[] {
      const out = enrich(input.value);
      return [{ topic: opts.outputTopic, key: out.service, value: out }];
    },
  };
}
