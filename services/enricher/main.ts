/**
 * Enricher process: its two stages (stages.ts), each on a PipelineRunner of its own
 * consumer group. The only file here that reads the environment.
 */
import { readFileSync } from 'node:fs';
import { loadServiceConfig } from '../../shared/config-file.js';
import { startPipelineService } from '../../shared/service.js';
import { runMain } from '../../shared/main-helpers.js';
import { schema, strictPrefixes } from './config.js';
import { createEnrichContext } from './enrich.js';
import { enricherStages } from './stages.js';
import { Registry } from '../../shared/metrics.js';

runMain(async () => {
  const { config, file } = loadServiceConfig(schema, process.env, strictPrefixes);
  // Built before the service starts: a bad catalog or pattern fails start-up with a clear ConfigError.
  const context = createEnrichContext(config, { readFile: (p) => readFileSync(p, 'utf8') });
  const registry = new Registry();
  const decisions = registry.counter('sluice_route_decisions_total', 'Log records a sluice.yaml route decided on, by rule and action (keep: stored, possibly in another index; drop: not stored).', ['rule', 'action']);
  const routing = { router: file.routes, onDecision: (rule: string, action: string) => decisions.inc({ rule, action }) };
  return startPipelineService({ name: 'enricher', schema, config, registry, stages: enricherStages(config, context, routing) });
});
