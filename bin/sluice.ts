#!/usr/bin/env node
/**
 * The `sluice` command. Subcommands:
 *   sluice config [service]   print the configuration reference (Markdown), all services or one
 *   sluice parse [options] [file ...]   run collect + normalize on files or stdin, NDJSON to stdout
 *   sluice help
 * `sluice dlq` (issue #4) joins here.
 */
import { createReadStream, statSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ParsePipeline } from '../shared/parse-pipeline.js';
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
  return [
    'usage: sluice config [common|collector|normalizer|enricher|sink]',
    '       sluice parse [--format <hint>] [--zone <IANA>] [--source <service>] [--tenant <tenant>]',
    '                    [--multiline-timeout <ms>] [--no-multiline] [file ...]',
    '         runs the collector and normalizer stages on the files (or stdin, or "-"), merging',
    '         multi-line events (stack traces) across lines; writes LogRecords as NDJSON to stdout',
    '         and a one-line summary to stderr. On stdin a pending multi-line event is written once',
    '         its stream has been quiet for --multiline-timeout ms (default 1000; 0 = only at end',
    '         of input). --no-multiline: every line is its own record.',
    '       sluice help',
    '',
  ].join('\n');
}

/** Write with backpressure, so a slow consumer (`| head`, `| less`) bounds memory. */
function writeOut(line: string): Promise<void> | void {
  if (process.stdout.write(line + '\n')) return;
  return new Promise((resolve) => process.stdout.once('drain', resolve));
}

async function parseCommand(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        format: { type: 'string' },
        zone: { type: 'string' },
        source: { type: 'string' },
        tenant: { type: 'string' },
        'multiline-timeout': { type: 'string' },
        'no-multiline': { type: 'boolean' },
      },
    });
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${usage()}`);
    return 2;
  }
  const { values, positionals } = parsed;
  const timeoutText = values['multiline-timeout'] ?? '1000';
  const idleFlushMs = Number(timeoutText);
  if (!/^\d+$/.test(timeoutText) || !Number.isSafeInteger(idleFlushMs)) {
    process.stderr.write(`sluice parse: --multiline-timeout must be a whole number of milliseconds, got ${JSON.stringify(timeoutText)}\n${usage()}`);
    return 2;
  }
  const startedAtMs = Date.now();
  let pipeline: ParsePipeline;
  try {
    pipeline = new ParsePipeline({
      format: values.format,
      zone: values.zone,
      source: values.source,
      tenant: values.tenant,
      startedAtMs,
      multiline: values['no-multiline'] !== true,
    });
  } catch (err) {
    process.stderr.write(`sluice parse: ${(err as Error).message}\n`);
    return 2;
  }
  // A closed stdout (`| head`) ends the run quietly.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
  let failed = false;
  for (const file of positionals.length > 0 ? positionals : ['-']) {
    try {
      if (file === '-') {
        await pipeline.run('stdin', Date.now(), process.stdin, writeOut, { idleFlushMs });
      } else {
        const mtimeMs = Math.trunc(statSync(file).mtimeMs);
        await pipeline.run(file, mtimeMs, createReadStream(file), writeOut);
      }
    } catch (err) {
      process.stderr.write(`sluice parse: ${file}: ${(err as Error).message}\n`);
      failed = true;
    }
  }
  process.stderr.write(pipeline.summaryLine() + '\n');
  return failed ? 1 : 0;
}

const [cmd, arg] = process.argv.slice(2);
if (cmd === 'parse') {
  process.exitCode = await parseCommand(process.argv.slice(3));
} else if (cmd === 'config') {
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
