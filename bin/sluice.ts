#!/usr/bin/env node
/**
 * The `sluice` command. Subcommands:
 *   sluice config [service]   print the configuration reference (Markdown), all services or one
 *   sluice help
 * `sluice parse` (issue #3) and `sluice dlq` (issue #4) join here.
 */
import { describeSchema } from '../shared/config.js';
import { commonSchema } from '../shared/common-config.js';
import { collectorSchema } from '../services/collector/config.js';
import { normalizerSchema } from '../services/normalizer/config.js';
import { enricherSchema } from '../services/enricher/config.js';
import { sinkSchema } from '../services/sink/config.js';

const sections = {
  common: { title: 'Every service', schema: commonSchema },
  collector: { title: 'collector', schema: collectorSchema },
  normalizer: { title: 'normalizer', schema: normalizerSchema },
  enricher: { title: 'enricher', schema: enricherSchema },
  sink: { title: 'sink', schema: sinkSchema },
} as const;

function usage(): string {
  return 'usage: sluice config [common|collector|normalizer|enricher|sink]\n       sluice help\n';
}

const [cmd, arg] = process.argv.slice(2);
if (cmd === 'config') {
  const keys = arg ? [arg] : Object.keys(sections);
  for (const k of keys) {
    const s = sections[k as keyof typeof sections];
    if (!s) {
      process.stderr.write(`unknown section ${k}\n${usage()}`);
      process.exit(2);
    }
    process.stdout.write(`### ${s.title}\n\n${describeSchema(s.schema)}\n\n`);
  }
} else if (cmd === 'help' || cmd === undefined || cmd === '--help') {
  process.stdout.write(usage());
} else {
  process.stderr.write(`unknown command ${cmd}\n${usage()}`);
  process.exit(2);
}
