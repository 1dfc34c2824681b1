/** Normalizer process: logs.collected -> normalize -> logs.normalized. The only file here that reads the environment. */
import { loadConfig } from '../../shared/config.js';
import { ConfigError } from '../../shared/errors.js';
import { startPipelineService } from '../../shared/service.js';
import { runMain } from '../../shared/main-helpers.js';
import { avro } from '../../shared/runner/index.js';
import type { RawEvent } from '../../shared/records.js';
import { schema, strictPrefixes } from './config.js';
import { createNormalizeStage } from './normalize.js';
import { loadConfigFile } from '../../shared/config-file.js';
import { clockSkewMetrics, clockSkewObserver } from './clock.js';

runMain(async () => {
  const config = loadConfig(schema, process.env, strictPrefixes);
  if (config.zone) {
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: config.zone });
    } catch {
      throw new ConfigError(`SLUICE_NORMALIZER_ZONE=${JSON.stringify(config.zone)} is not an IANA time zone`);
    }
  }
  const file = loadConfigFile(config.configFile ?? undefined, process.env);
  return startPipelineService({
    name: 'normalizer',
    schema,
    config,
    inputTopic: config.topicCollected,
    outputTopics: [config.topicNormalized],
    decode: avro<RawEvent>(),
    // A factory: the clock-skew observer needs the service's metrics registry.
    stage: (ctx) =>
      createNormalizeStage({
        outputTopic: config.topicNormalized,
        maxAttributes: config.maxAttributes,
        maxAttributeBytes: config.maxAttributeBytes,
        maxJsonDepth: config.maxJsonDepth,
        formats: file.formats,
        ...(config.zone ? { zone: config.zone } : {}),
        futureHorizonUs: config.futureHorizonMs * 1000,
        pastHorizonUs: config.pastHorizonMs * 1000,
        onClockSkew: clockSkewObserver(clockSkewMetrics(ctx.registry), config.skewSources),
      }),
  });
});
