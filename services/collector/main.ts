/** Collector process: logs.raw -> collect -> logs.collected. The only file here that reads the environment. */
import { loadConfig } from '../../shared/config.js';
import { loadConfigFile } from '../../shared/config-file.js';
import { startPipelineService } from '../../shared/service.js';
import { runMain } from '../../shared/main-helpers.js';
import { schema, strictPrefixes } from './config.js';
import { collectorStages } from './stages.js';

runMain(async () => {
  const config = loadConfig(schema, process.env, strictPrefixes);
  // sluice.yaml: user formats' multi-line start rules. A broken file throws ConfigError (exit 78).
  const file = loadConfigFile(config.configFile ?? undefined, process.env);
  return startPipelineService({ name: 'collector', schema, config, stages: collectorStages(config, file.formats) });
});
