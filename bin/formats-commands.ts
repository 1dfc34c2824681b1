/**
 * `sluice validate` and `sluice learn`: the commands around user-declared formats
 * (docs/formats.md). The work is in shared/config-file.ts, shared/formats/rules.ts and
 * shared/formats/learn.ts; this file reads files and arguments and prints.
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { stringify } from 'yaml';
import { configPath, emptyConfig, loadConfigFile, type LoadedConfig } from '../shared/config-file.js';
import { connectChecks, settingsProblems } from './validate-settings.js';
import { ConfigError, errorMessage } from '../shared/errors.js';
import { EXIT_CONFIG } from '../shared/main-helpers.js';
import { applies, readWithFormats } from '../shared/formats/rules.js';
import { learn } from '../shared/formats/learn.js';

/** What `sluice validate --help` says after the options. */
export const VALIDATE_HELP = `
Checks a sluice.yaml: YAML syntax, the JSON Schema (schemas/sluice.schema.json) and
every format rule (patterns, layouts, zones, levels); then every service's settings as
it would load them at start, the file's sections under the environment (URLs, files
that must exist, numbers, choices, unknown SLUICE_* names). Prints every problem (the
file's as file:line:col) and exits 78 when there is one. Without a file, and with no
SLUICE_CONFIG or ./sluice.yaml, the environment alone is checked.
--connect: also asks Kafka, the schema registry, Elasticsearch and the S3 bucket
whether they answer with those settings (5 s each); exit 1 when one does not.
--sample LOG: also runs the formats over the sample (each line as an event of service
--service, file LOG, topic --topic) and says, per format, how many lines it applies to
and reads, with a time and a level; a format that reads nothing is named (exit 1).`;

/** What `sluice learn --help` says after the options. */
export const LEARN_HELP = `
Reads the first --lines lines of an unknown log and prints what it found: time layout
and zone, level, multi-line start, the header fields, how many events the inferred rule
reads, how sure it is and what it could not explain; then the rule as YAML to paste
under \`formats:\` in sluice.yaml. --json: the whole report as JSON.`;

export interface ValidateOptions {
  connect?: boolean;
  sample?: string[];
  service?: string;
  topic: string;
}

export interface LearnOptions {
  lines: string;
  name: string;
  json?: boolean;
}

function sampleLines(file: string, max: number): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  let start = 0;
  while (start < text.length && out.length < max) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    const line = text.slice(start, end).replace(/\r$/, '');
    if (line.length > 0) out.push(line);
    start = end + 1;
  }
  return out;
}

export async function validateCommand(explicit: string | undefined, opts: ValidateOptions): Promise<number> {
  const path = configPath(explicit, process.env);
  let loaded: LoadedConfig = emptyConfig();
  if (path !== null) {
    try {
      loaded = loadConfigFile(path, process.env);
    } catch (err) {
      if (err instanceof ConfigError) {
        process.stderr.write(`${err.message}\n`);
        return EXIT_CONFIG;
      }
      throw err;
    }
  }
  const settings = settingsProblems(loaded.raw, process.env);
  if (settings.problems.length > 0) {
    process.stderr.write(`${settings.problems.map((p) => `settings: ${p}`).join('\n')}\n`);
    return EXIT_CONFIG;
  }
  const counted = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;
  const tenants = loaded.tenants.allow ? `, ${counted(loaded.tenants.allow.length, 'tenant')} allowed` : '';
  process.stdout.write(`${path ?? 'no configuration file, the environment'}: ok, ${counted(loaded.formats.length, 'format')}, ${counted(loaded.routes.size, 'route')}${tenants}, ${counted(settings.fromFile, 'setting')} from the file\n`);
  if (opts.connect) {
    const checks = await connectChecks(loaded.raw, process.env);
    for (const c of checks) (c.ok ? process.stdout : process.stderr).write(`${c.ok ? 'reachable' : 'UNREACHABLE'}: ${c.what} (${c.target}): ${c.detail}\n`);
    if (checks.some((c) => !c.ok)) return 1;
  }
  let silent = 0;
  for (const sample of opts.sample ?? []) {
    let lines: string[];
    try {
      lines = sampleLines(sample, 100_000);
    } catch (err) {
      process.stderr.write(`sluice validate: --sample ${sample}: ${errorMessage(err)}\n`);
      return 1;
    }
    const subject = { topic: opts.topic, service: opts.service ?? null, format: null, file: sample };
    process.stdout.write(`\n${sample}: ${lines.length} lines\n`);
    process.stdout.write('| format | applies to | reads | with time | with level |\n|---|---:|---:|---:|---:|\n');
    for (const f of loaded.formats) {
      let applicable = 0, read = 0, withTime = 0, withLevel = 0;
      for (const line of lines) {
        if (!applies(f, subject, line)) continue;
        applicable++;
        const r = readWithFormats([f], subject, line, { ingest: Date.now() * 1000 });
        if (!r) continue;
        read++;
        if (r.time !== undefined) withTime++;
        if (r.level !== undefined) withLevel++;
      }
      process.stdout.write(`| ${f.name} | ${applicable} | ${read} | ${withTime} | ${withLevel} |\n`);
      if (read === 0) {
        silent++;
        process.stderr.write(`sluice validate: format "${f.name}" reads no line of ${sample}${applicable === 0 ? ' (its match applies to none: check match.service/file/topic/prefix)' : ' (its pattern matches none)'}\n`);
      }
    }
  }
  return silent > 0 ? 1 : 0;
}

/** `sluice learn`; a bad --lines or --name is a usage error (exit 2) through `cmd`. */
export function learnCommand(file: string, opts: LearnOptions, cmd: Command): number {
  const usageError = (text: string): never => cmd.error(text, { exitCode: 2, code: 'sluice.usage' });
  const max = Number(opts.lines);
  if (!Number.isSafeInteger(max) || max < 1) usageError(`sluice learn: --lines must be a positive whole number, got ${JSON.stringify(opts.lines)}`);
  const name = opts.name;
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(name)) usageError(`sluice learn: --name ${JSON.stringify(name)}: letters, digits, _ . - (64 at most)`);
  let lines: string[];
  try {
    lines = sampleLines(file, max);
  } catch (err) {
    process.stderr.write(`sluice learn: ${file}: ${errorMessage(err)}\n`);
    return 1;
  }
  const r = learn(lines, Date.now() * 1000, name);
  if (opts.json) {
    process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
    return r.rule ? 0 : 1;
  }
  const pct = (n: number, d: number): string => (d === 0 ? 'n/a' : `${((100 * n) / d).toFixed(1)}%`);
  const out = [
    `${file}: ${r.lines} lines, ${r.events} start an event`,
    `time:       ${r.timeLayout ?? 'none found'}${r.timeLayout ? ` (${pct(r.timeShare * r.events, r.events)} of event starts)${r.zoned ? ', with offset or zone' : ', no zone in the data'}` : ''}`,
    `level:      ${r.levelShare > 0 ? `found on ${pct(r.levelShare, 1)} of event starts` : 'none found'}`,
    `multi-line: ${r.multilineStart ? `events start with ${r.multilineStart}` : 'every line is an event'}`,
    `fit:        the rule reads ${r.fits.read} of ${r.fits.events} events (${r.fits.withTime} with time, ${r.fits.withLevel} with level)`,
    `confidence: ${pct(r.confidence, 1)}${r.confidence >= 0.995 ? '' : r.confidence >= 0.9 ? ' (check the events below)' : ' (low: write or correct the rule by hand)'}`,
    ...r.notes.map((n) => `note:       ${n}`),
    ...(r.unexplained.length > 0 ? ['not explained (first lines of events the rule does not read):', ...r.unexplained.map((u) => `  ${u}`)] : []),
  ];
  process.stdout.write(`${out.join('\n')}\n`);
  if (!r.rule) return 1;
  process.stdout.write(`\n# paste under formats: in sluice.yaml, add a match (service, file, topic), then: sluice parse --rules sluice.yaml --explain ${file}\n`);
  process.stdout.write(stringify({ formats: [r.rule] }, { lineWidth: 0 }));
  return 0;
}
