/** Collector process: logs.raw -> collect -> logs.collected. The only file here that reads the environment. */
import { loadConfig } from '../../shared/config.js';
import { startService } from '../../shared/service.js';
import { runMain } from '../../shared/main-helpers.js';
import { PipelineRunner, rawBytes } from '../../shared/runner.js';
import { schema, strictPrefixes } from './config.js';
import { createCollectStage } from './collect.js';

runMain(async () => {
  const config = loadConfig(schema, process.env, strictPrefixes);
  return startService({
    name: 'collector',
    schema,
    config,
    adminPort: config.adminPort,
    topics: [config.topicRaw, config.topicCollected, config.topicDlq],
    start: async (ctx) => {
      const stage = createCollectStage({ outputTopic: config.topicCollected, defaultTenant: config.defaultTenant, maxEventBytes: config.maxEventBytes });
      const runner = new PipelineRunner(
        { stageName: 'collector', kafka: ctx.kafka, groupId: config.groupId, outputTopics: [config.topicCollected], inputTopic: config.topicRaw, dlqTopic: config.topicDlq, codecs: ctx.codecs, decode: rawBytes, metrics: ctx.metrics, log: ctx.log },
        stage,
      );
      await runner.start();
      return [runner];
    },
  });
});
