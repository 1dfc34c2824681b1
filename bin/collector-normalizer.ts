/**
 * The collector and the normalizer in one process (issue #11, "fewer hops where the
 * operator wants them"): logs.raw -> collect + normalize -> logs.normalized, one stage
 * fused from the two services' own bindings (shared/runner/fuse.ts), on one
 * PipelineRunner: the same records and the same exactly-once transaction per batch,
 * one Kafka hop fewer; logs.collected is not written. Run it instead of the collector
 * and the normalizer services (`node dist/bin/collector-normalizer.js`); the
 * collector's settings (SLUICE_COLLECTOR_*: group, admin port, ...) and the
 * normalizer's (SLUICE_NORMALIZER_*: zone, horizons, limits) apply as they would to
 * each service. It lives in bin/ because a service imports no other service.
 */
import { loadServiceConfig } from '../shared/config-file.js';
import { startPipelineService } from '../shared/service.js';
import { runMain } from '../shared/main-helpers.js';
import { Registry } from '../shared/metrics.js';
import { fuse } from '../shared/runner/index.js';
import { schema as collectorSchema, strictPrefixes as collectorPrefixes } from '../services/collector/config.js';
import { collectorStages } from '../services/collector/stages.js';
import { tenantGate } from '../services/collector/tenants.js';
import { schema as normalizerSchema, strictPrefixes as normalizerPrefixes } from '../services/normalizer/config.js';
import { normalizerStages } from '../services/normalizer/stages.js';
import { clockSkewMetrics, clockSkewObserver } from '../services/normalizer/clock.js';

runMain(async () => {
  // Settings from the environment over sluice.yaml (and its formats: multi-line starts and parsers). A broken one throws ConfigError (exit 78).
  const { config, file } = loadServiceConfig(collectorSchema, process.env, collectorPrefixes);
  const { config: normalizerConfig } = loadServiceConfig(normalizerSchema, process.env, normalizerPrefixes);
  const registry = new Registry();
  const [collect, ...release] = collectorStages(config, file.formats, true, tenantGate(file.tenants, registry));
  const [normalize] = normalizerStages(normalizerConfig, file.formats, { onClockSkew: clockSkewObserver(clockSkewMetrics(registry), normalizerConfig.skewSources) });
  return startPipelineService({ name: 'collector', schema: collectorSchema, config, registry, stages: [fuse(collect, normalize), ...release.map((r) => fuse(r, normalize))] });
});
