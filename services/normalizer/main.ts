/** Normalizer process: logs.collected -> normalize -> logs.normalized. The only file here that reads the environment. */
import { loadServiceConfig } from '../../shared/config-file.js';
import { startPipelineService } from '../../shared/service.js';
import { runMain } from '../../shared/main-helpers.js';
import { Registry } from '../../shared/metrics.js';
import { schema, strictPrefixes } from './config.js';
import { normalizerStages } from './stages.js';
import { clockSkewMetrics, clockSkewObserver } from './clock.js';

runMain(async () => {
  // Settings from the environment over sluice.yaml (and its formats). A broken one throws ConfigError (exit 78).
  const { config, file } = loadServiceConfig(schema, process.env, strictPrefixes);
  // The clock-skew observer feeds the service's metrics registry. A bad zone throws ConfigError here, before the service starts.
  const registry = new Registry();
  const stages = normalizerStages(config, file.formats, { onClockSkew: clockSkewObserver(clockSkewMetrics(registry), config.skewSources) });
  return startPipelineService({ name: 'normalizer', schema, config, registry, stages });
});
