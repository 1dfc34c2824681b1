/** The README's configuration reference is exactly what `sluice config` prints. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import { repoRoot } from '../shared/schemas.js';
import { describeSchema } from '../shared/config.js';
import { commonSchema } from '../shared/common-config.js';
import { collectorSchema } from '../services/collector/config.js';
import { normalizerSchema } from '../services/normalizer/config.js';
import { enricherSchema } from '../services/enricher/config.js';
import { sinkSchema } from '../services/sink/config.js';

test('README configuration reference matches the schemas', () => {
  const readme = readFileSync(join(repoRoot(), 'README.md'), 'utf8');
  const block = readme.split('<!-- config:start -->')[1]?.split('<!-- config:end -->')[0] ?? '';
  for (const schema of [commonSchema, collectorSchema, normalizerSchema, enricherSchema, sinkSchema]) {
    expect(block).toContain(describeSchema(schema));
  }
  const envs = [commonSchema, collectorSchema, normalizerSchema, enricherSchema, sinkSchema].flatMap((s) => Object.values(s).map((f) => f.env));
  expect(envs.filter((e) => !block.includes(`\`${e}\``))).toEqual([]);
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
