/** Enricher process: logs.normalized -> enrich -> logs.enriched. The only file here that reads the environment. */
import { loadConfig } from '../../shared/config.js';
import { startPipelineService } from '../../shared/service.js';
import { runMain } from '../../shared/main-helpers.js';
import { avro } from '../../shared/runner.js';
import type { LogRecord } from '../../shared/records.js';
import { schema, strictPrefixes } from './config.js';
import { createEnrichStage } from './enrich.js';

runMain(async () => {
  const config = loadConfig(schema, process.env, strictPrefixes);
  return startPipelineService({
    name: 'enricher',
    schema,
    config,
    inputTopic: config.topicNormalized,
    // Metrics and trace topics exist from the start; issue #5 fills them.
    outputTopics: [config.topicEnriched, config.topicMetrics, config.topicSpans, config.topicTraces],
    decode: avro<LogRecord>(),
    stage: createEnrichStage({ outputTopic: config.topicEnriched }),
  });
});
