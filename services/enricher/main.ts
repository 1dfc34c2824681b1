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

runMain(async () => {
  const { config } = loadServiceConfig(schema, process.env, strictPrefixes);
  // Built before the service starts: a bad catalog or pattern fails start-up with a clear ConfigError.
  const context = createEnrichContext(config, { readFile: (p) => readFileSync(p, 'utf8') });
  return startPipelineService({ name: 'enricher', schema, config, stages: enricherStages(config, context) });
});
