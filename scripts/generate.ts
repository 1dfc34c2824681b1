/**
 * `npm run generate -- --seed 42 --out DIR [options]`: write a seeded, realistic set of
 * logs with its ground truth (scripts/lib/generator.ts describes the simulation,
 * generator-formats.ts every line format, generator-truth.ts the window truth).
 *
 * DIR receives:
 *   <stream>.log            one file per service stream, in write order (frontend.log,
 *                           frontend.access.log, checkout.log, checkout.access.log, ...)
 *   messages.ndjson         one Kafka message per line, in emission order:
 *                           {"key","headers":{"service","tenant"},"timestamp" (ms),"value"}
 *   truth/traces.ndjson     TraceSummary fields per trace
 *   truth/spans.ndjson      Span fields per span
 *   truth/windows.ndjson    MetricWindow-like truth per window and series
 *   truth/summary.json      options and counts
 * A summary goes to stderr. The same options always write the same bytes.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { generate, renderFiles, type GeneratorOptions } from './lib/generator.js';

const USAGE = `usage: npm run generate -- --seed N --out DIR [--rps 50] [--seconds 120] [--start 2026-11-21T09:00:00Z]
  [--error-rate 0.02] [--slow-rate 0.05] [--slow-threshold-ms 1000] [--not-found-rate 0.02]
  [--out-of-order-rate 0.05] [--out-of-order-ms 2000] [--late-rate 0.01] [--lateness-ms 30000]
  [--window-ms 10000] [--tenant demo]`;

const NUMERIC: Readonly<Record<string, keyof GeneratorOptions>> = {
  '--seed': 'seed', '--rps': 'rps', '--seconds': 'seconds', '--error-rate': 'errorRate', '--slow-rate': 'slowRate', '--slow-threshold-ms': 'slowThresholdMs',
  '--not-found-rate': 'notFoundRate', '--out-of-order-rate': 'outOfOrderRate', '--out-of-order-ms': 'outOfOrderMs', '--late-rate': 'lateRate',
  '--lateness-ms': 'latenessMs', '--window-ms': 'windowMs',
};

function fail(msg: string): never {
  process.stderr.write(`generate: ${msg}\n${USAGE}\n`);
  process.exit(2);
}

function parseArgs(argv: string[]): { opts: Partial<GeneratorOptions> & { seed: number }; out: string } {
  const opts: Record<string, number | string> = {};
  let out: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i] as string;
    if (flag === '--help' || flag === '-h') {
      process.stdout.write(USAGE + '\n');
      process.exit(0);
    }
    const value = argv[++i];
    if (value === undefined) fail(`${flag} needs a value`);
    if (flag === '--out') out = value;
    else if (flag === '--tenant') opts['tenant'] = value;
    else if (flag === '--start') {
      const ms = Date.parse(value);
      if (Number.isNaN(ms)) fail(`--start: not a date: ${value}`);
      opts['startMs'] = ms;
    } else if (NUMERIC[flag]) {
      const n = Number(value);
      if (value.trim() === '' || !Number.isFinite(n)) fail(`${flag}: not a number: ${value}`);
      opts[NUMERIC[flag] as string] = n;
    } else fail(`unknown option ${flag}`);
  }
  if (opts['seed'] === undefined) fail('--seed is required');
  if (!out) fail('--out is required');
  return { opts: opts as unknown as Partial<GeneratorOptions> & { seed: number }, out };
}

function main(): void {
  const { opts, out } = parseArgs(process.argv.slice(2));
  let g;
  try {
    g = generate(opts);
  } catch (err) {
    fail(err instanceof Error ? err.message : String(err));
  }
  const files = renderFiles(g);
  for (const [rel, content] of files) {
    const path = join(out, rel);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, content);
  }
  const o = g.options;
  const s = g.stats;
  const streams = Object.entries(g.streams).map(([k, v]) => `${k} ${v.length}`).join(', ');
  process.stderr.write(
    `generate: seed ${o.seed}, ${o.rps} req/s for ${o.seconds} s from ${new Date(o.startMs).toISOString()}\n` +
      `  lines ${g.events.length} (${streams})\n` +
      `  traces ${g.traces.length} (${g.traces.filter((t) => t.error).length} with errors), spans ${g.spans.length}, windows ${g.windows.length} of ${o.windowMs} ms\n` +
      `  messages ${s.messages}: shipped out of order ${s.plannedOutOfOrder}, late ${s.plannedLate}; measured out of order ${s.outOfOrder}, beyond ${o.latenessMs} ms lateness ${s.beyondLateness}, in a closed window ${s.lateWindow}\n` +
      `  written to ${out}\n`,
  );
}

main();
