/** Enricher process: logs.normalized -> enrich -> logs.enriched. The only file here that reads the environment. */
import { loadConfig } from '../../shared/config.js';
import { startService } from '../../shared/service.js';
import { runMain } from '../../shared/main-helpers.js';
import { PipelineRunner, avro } from '../../shared/runner.js';
import type { LogRecord } from '../../shared/records.js';
import { schema, strictPrefixes } from './config.js';
import { createEnrichStage } from './enrich.js';

runMain(async () => {
  const config = loadConfig(schema, process.env, strictPrefixes);
  return startService({
    name: 'enricher',
    schema,
    config,
    adminPort: config.adminPort,
    topics: [config.topicNormalized, config.topicEnriched, config.topicMetrics, config.topicSpans, config.topicTraces, config.topicDlq],
    start: async (ctx) => {
      const runner = new PipelineRunner<LogRecord>(
        { stageName: 'enricher', kafka: ctx.kafka, groupId: config.groupId, outputTopics: [config.topicEnriched, config.topicMetrics, config.topicSpans, config.topicTraces], inputTopic: config.topicNormalized, dlqTopic: config.topicDlq, codecs: ctx.codecs, decode: avro<LogRecord>(), metrics: ctx.metrics, log: ctx.log },
        createEnrichStage({ outputTopic: config.topicEnriched }),
      );
      await runner.start();
      return [runner];
    },
  });
});
