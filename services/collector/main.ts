/** Collector process: logs.raw -> collect -> logs.collected. The only file here that reads the environment. */
import { loadServiceConfig } from '../../shared/config-file.js';
import { startPipelineService } from '../../shared/service.js';
import { runMain } from '../../shared/main-helpers.js';
import { schema, strictPrefixes } from './config.js';
import { collectorStages } from './stages.js';
import { tenantGate } from './tenants.js';
import { Registry } from '../../shared/metrics.js';

runMain(async () => {
  // Settings from the environment over sluice.yaml (also the user formats' multi-line start rules). A broken one throws ConfigError (exit 78).
  const { config, file } = loadServiceConfig(schema, process.env, strictPrefixes);
  const registry = new Registry();
  return startPipelineService({ name: 'collector', schema, config, registry, stages: collectorStages(config, file.formats, true, tenantGate(file.tenants, registry)) });
});
