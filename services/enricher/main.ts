/**
 * Enricher process, two runners (shared/runner/pipeline-runner.ts, one consumer group each):
 * - logs.normalized -> enrich + derive -> logs.enriched, metrics.derived, traces.spans;
 * - traces.spans (keyed by trace id) -> summarize -> traces.summaries.
 * The only file here that reads the environment.
 */
import { readFileSync } from 'node:fs';
import { loadConfig } from '../../shared/config.js';
import { startService } from '../../shared/service.js';
import { runMain } from '../../shared/main-helpers.js';
import { avro, PipelineRunner } from '../../shared/runner/index.js';
import type { LogRecord, Span } from '../../shared/records.js';
import { schema, strictPrefixes } from './config.js';
import { createEnrichContext, enrich } from './enrich.js';
import { createDeriveStage, createSummarizeStage } from './derive.js';

runMain(async () => {
  const config = loadConfig(schema, process.env, strictPrefixes);
  // Built before the service starts: a bad catalog or pattern fails start-up with a clear ConfigError.
  const context = createEnrichContext(config, { readFile: (p) => readFileSync(p, 'utf8') });
  const flushIntervalMs = Math.max(100, Math.min(1000, Math.floor(config.idleAfterMs / 5)));
  return startService({
    name: 'enricher',
    schema,
    config,
    adminPort: config.adminPort,
    topics: [config.topicNormalized, config.topicEnriched, config.topicMetrics, config.topicSpans, config.topicTraces, config.topicDlq],
    start: async (ctx) => {
      const common = { kafka: ctx.kafka, dlqTopic: config.topicDlq, codecs: ctx.codecs, metrics: ctx.metrics, log: ctx.log };
      const derive = new PipelineRunner<LogRecord>(
        { ...common, stageName: 'enricher', groupId: config.groupId, inputTopic: config.topicNormalized, outputTopics: [config.topicEnriched, config.topicMetrics, config.topicSpans], decode: avro<LogRecord>() },
        createDeriveStage({
          topics: { enriched: config.topicEnriched, metrics: config.topicMetrics, spans: config.topicSpans },
          enrich: (r) => enrich(r, context),
          metrics: { windowUs: config.windowMs * 1000, allowedLatenessUs: config.allowedLatenessMs * 1000 },
          spans: { inactivityTimeoutUs: config.spanInactivityMs * 1000 },
          idleAfterMs: config.idleAfterMs,
          flushIntervalMs,
        }),
      );
      const summarize = new PipelineRunner<Span>(
        { ...common, stageName: 'enricher-traces', groupId: config.tracesGroupId, inputTopic: config.topicSpans, outputTopics: [config.topicTraces], decode: avro<Span>() },
        createSummarizeStage({ topic: config.topicTraces, traces: { inactivityTimeoutUs: config.traceInactivityMs * 1000 }, idleAfterMs: config.idleAfterMs, flushIntervalMs }),
      );
      await derive.start();
      await summarize.start();
      return [derive, summarize];
    },
  });
});
