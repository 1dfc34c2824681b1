/**
 * Every SLUICE_* variable that scripts/stack reads is either a service setting or
 * listed in `stackVariables` (so the services' strict check accepts it and the README
 * documents it).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../../shared/schemas.js';
import { commonSchema, stackVariables } from '../../shared/common-config.js';
import { sinkSchema } from '../../services/sink/config.js';

test('scripts/stack variables are all known', () => {
  const dir = join(repoRoot(), 'scripts', 'stack.d');
  const text = readdirSync(dir).map((f) => readFileSync(join(dir, f), 'utf8')).join('\n') + readFileSync(join(repoRoot(), 'scripts', 'stack'), 'utf8');
  const used = new Set(text.match(/SLUICE_[A-Z0-9_]+/g) ?? []);
  const known = new Set<string>([...stackVariables, ...Object.values(commonSchema).map((f) => f.env), ...Object.values(sinkSchema).map((f) => f.env)]);
  expect([...used].filter((v) => !known.has(v)).sort()).toEqual([]);
  const readme = readFileSync(join(repoRoot(), 'README.md'), 'utf8');
  expect(stackVariables.filter((v) => !readme.includes(v))).toEqual([]);
});
