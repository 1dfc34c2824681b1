/** The configuration reference (docs/configuration.md) is exactly what `sluice config` prints. */
import { copyFileSync, mkdtempSync, readFileSync, rmSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import { repoRoot } from '../shared/schemas.js';
import { describeSchema, settingsJsonSchema } from '../shared/config.js';
import { commonSchema } from '../shared/common-config.js';
import { collectorSchema } from '../services/collector/config.js';
import { normalizerSchema } from '../services/normalizer/config.js';
import { enricherSchema } from '../services/enricher/config.js';
import { sinkSchema } from '../services/sink/config.js';
import { EXIT_CONFIG } from '../shared/main-helpers.js';

test('docs/configuration.md reference matches the schemas', () => {
  const reference = readFileSync(join(repoRoot(), 'docs', 'configuration.md'), 'utf8');
  const block = reference.split('<!-- config:start -->')[1]?.split('<!-- config:end -->')[0] ?? '';
  for (const schema of [commonSchema, collectorSchema, normalizerSchema, enricherSchema, sinkSchema]) {
    expect(block).toContain(describeSchema(schema));
  }
  const envs = [commonSchema, collectorSchema, normalizerSchema, enricherSchema, sinkSchema].flatMap((s) => Object.values(s).map((f) => f.env));
  expect(envs.filter((e) => !block.includes(`\`${e}\``))).toEqual([]);
});

test('schemas/sluice.schema.json has a section for every setting, as `sluice config --json-schema` prints it', () => {
  const file = JSON.parse(readFileSync(join(repoRoot(), 'schemas', 'sluice.schema.json'), 'utf8')) as { properties: Record<string, unknown> };
  const generated = settingsJsonSchema([commonSchema, collectorSchema, normalizerSchema, enricherSchema, sinkSchema]);
  const { formats: _formats, routes: _routes, tenants: _tenants, ...sections } = file.properties;
  expect(sections).toEqual(generated);
  // Every non-secret variable with a section has its place; SLUICE_KAFKA_BROKERS is kafka.brokers.
  expect(Object.keys((generated['kafka'] as { properties: object }).properties)).toContain('brokers');
  expect(Object.keys((generated['sink'] as { properties: object }).properties)).toContain('es_max_docs');
  expect(JSON.stringify(generated)).not.toMatch(/"password"|"secret_key"|"api_key"/);
});

test('the built CLI prints the same reference', () => {
  const cli = join(repoRoot(), 'dist', 'bin', 'sluice.js');
  let out: string;
  try {
    out = execFileSync(process.execPath, [cli, 'config', 'collector'], { encoding: 'utf8' });
  } catch {
    throw new Error(`run 'npm run build' first: ${cli} is missing or failed`);
  }
  expect(out).toContain(describeSchema(collectorSchema));
});

describe('sluice dlq argument checks (no Kafka needed: they fail before connecting)', () => {
  const cli = join(repoRoot(), 'dist', 'bin', 'sluice.js');
  const run = (args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', env: { ...process.env, SLUICE_KAFKA_BROKERS: '127.0.0.1:1' } });

  test('replay refuses to run without --stage or --code', () => {
    const r = run(['dlq', 'replay', '--dry-run']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/refusing to replay every dead letter/);
  });

  test('a bad --since, an unknown option and a missing subcommand are usage errors', () => {
    expect(run(['dlq', 'list', '--since', 'yesterday']).stderr).toMatch(/--since "yesterday"/);
    expect(run(['dlq', 'list', '--limit', '3']).status).toBe(2); // --limit belongs to replay
    const r = run(['dlq']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('sluice dlq list');
  });

  test('usage documents both subcommands', () => {
    const r = run(['help']);
    expect(r.stdout).toContain('sluice dlq list');
    expect(r.stdout).toContain('sluice dlq replay');
  });
});

describe('sluice parse --enrich --derived (built CLI)', () => {
  const cli = join(repoRoot(), 'dist', 'bin', 'sluice.js');
  const golden = join(repoRoot(), 'bin', 'testdata', 'parse-enrich');
  /** The mtime the golden test uses as the Kafka timestamp (event ids hash it). */
  const MTIME = Date.UTC(2024, 10, 21, 11, 0, 0);
  const derivedFlags = ['--window-ms', '10000', '--lateness-ms', '5000', '--span-inactivity-ms', '5000', '--trace-inactivity-ms', '10000'];
  const noEnricherEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SLUICE_')));

  test('writes the golden enriched records to stdout and the golden derived files', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-parse-enrich-'));
    try {
      copyFileSync(join(golden, 'input.log'), join(dir, 'input.log'));
      utimesSync(join(dir, 'input.log'), MTIME / 1000, MTIME / 1000);
      const r = spawnSync(process.execPath, [cli, 'parse', '--enrich', '--derived', 'out', ...derivedFlags, '--tenant', 'acme', 'input.log'], { cwd: dir, encoding: 'utf8', env: noEnricherEnv });
      expect(r.stderr).toMatch(/26 records written \(enriched\), 0 dead letters; derived 25 metric windows \(1 late records in delta windows\), 10 spans, 5 traces\n$/);
      expect(r.status).toBe(0);
      for (const name of ['metrics', 'spans', 'traces']) {
        expect(readFileSync(join(dir, 'out', `${name}.ndjson`), 'utf8')).toBe(readFileSync(join(golden, `expected.${name}.ndjson`), 'utf8'));
      }
      // observed_at is the wall clock of the run; everything else is the golden record.
      const withoutObserved = (text: string): unknown[] => text.trim().split('\n').map((l) => ({ ...(JSON.parse(l) as object), observed_at: null }));
      expect(withoutObserved(r.stdout)).toEqual(withoutObserved(readFileSync(join(golden, 'expected.ndjson'), 'utf8')));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('--enrich alone enriches stdin; usage and configuration errors exit non-zero before reading', () => {
    const run = (args: string[], env: NodeJS.ProcessEnv = noEnricherEnv) => spawnSync(process.execPath, [cli, 'parse', ...args], { input: 'contact bob@example.org\n', encoding: 'utf8', env });
    const ok = run(['--enrich']);
    expect(ok.status).toBe(0);
    expect(JSON.parse(ok.stdout) as object).toMatchObject({ message: 'contact [REDACTED:email]', flags: ['redacted'] });
    expect(ok.stderr).toContain('1 records written (enriched), 0 dead letters\n');
    expect(run(['--derived', 'x']).stderr).toContain('--derived requires --enrich');
    expect(run(['--enrich', '--window-ms', '5000']).stderr).toContain('--window-ms requires --derived');
    const bad = run(['--enrich', '--derived', join(tmpdir(), 'never-written'), '--window-ms', '500']);
    expect([bad.status, bad.stderr]).toEqual([2, expect.stringContaining('--window-ms must be a whole number of milliseconds >= 1000')]);
    const conf = run(['--enrich'], { ...noEnricherEnv, SLUICE_ENRICHER_REDACT: 'perhaps' });
    expect(conf.status).toBe(EXIT_CONFIG);
    expect(conf.stdout).toBe('');
  });

  test('parse --help documents --enrich and --derived', () => {
    const r = spawnSync(process.execPath, [cli, 'parse', '--help'], { encoding: 'utf8' });
    expect(r.stdout).toContain('--enrich');
    expect(r.stdout).toContain('--derived <dir>');
    expect(r.stdout).toContain('--window-ms <ms>');
  });
});
