/** Collector process: logs.raw -> collect -> logs.collected. The only file here that reads the environment. */
import { loadConfig } from '../../shared/config.js';
import { startPipelineService } from '../../shared/service.js';
import { runMain } from '../../shared/main-helpers.js';
import { rawBytes } from '../../shared/runner/index.js';
import { schema, strictPrefixes } from './config.js';
import { createStreamingCollectStage } from './collect.js';
import { loadConfigFile } from '../../shared/config-file.js';

runMain(async () => {
  const config = loadConfig(schema, process.env, strictPrefixes);
  // sluice.yaml: user formats' multi-line start rules. A broken file throws ConfigError (exit 78).
  const file = loadConfigFile(config.configFile ?? undefined, process.env);
  return startPipelineService({
    name: 'collector',
    schema,
    config,
    inputTopic: config.topicRaw,
    outputTopics: [config.topicCollected],
    decode: rawBytes,
    stage: createStreamingCollectStage({
      outputTopic: config.topicCollected,
      defaultTenant: config.defaultTenant,
      maxEventBytes: config.maxEventBytes,
      multilineTimeoutMs: config.multilineTimeoutMs,
      maxEventLines: config.maxEventLines,
      maxHeldStreams: config.maxHeldStreams,
      formats: file.formats,
    }),
  });
});
