/** The README's configuration reference is exactly what `sluice config` prints. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
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
