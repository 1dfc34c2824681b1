/**
 * The import graph's rules (docs/architecture.md, "Code layout"), checked over every
 * TypeScript file of the repository:
 * - `shared/` imports no service, no script and no CLI code;
 * - a service imports no other service; its source files import no script or CLI code;
 * - nothing outside `scripts/` and `test/` imports `test/`.
 * A service's tests may also build realistic input with an upstream service's stages or
 * the seeded generator (scripts/lib/generator*.ts); tests of the whole chain live in bin/
 * (through `sluice parse`) and test/ (through Kafka).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { repoRoot } from '../../shared/schemas.js';

const root = repoRoot();

function tsFiles(dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return e.name === 'node_modules' || e.name === 'testdata' ? [] : tsFiles(path);
    return e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [path] : [];
  });
}

/** The repository-relative files a file imports (relative specifiers only). */
function importsOf(file: string): string[] {
  const text = readFileSync(join(root, file), 'utf8');
  const specs = [...text.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/g)].map((m) => m[1] as string);
  return specs.map((s) => relative(root, resolve(root, dirname(file), s)).replace(/\.js$/, '.ts'));
}

/** Where a file lives: shared, services/<name>, bin, scripts or test. */
function area(file: string): string {
  const [top, second] = file.split('/');
  return top === 'services' ? `services/${second}` : (top as string);
}

const edges = ['shared', 'services', 'bin', 'scripts', 'test'].flatMap((d) => tsFiles(d)).flatMap((from) => importsOf(from).map((to) => ({ from, to })));

test('the tree was read (the rules below are not vacuous)', () => {
  expect(edges.length).toBeGreaterThan(500);
  expect(edges.some((e) => area(e.from) === 'services/enricher' && area(e.to) === 'shared')).toBe(true);
});

test('shared/ imports no service, script, CLI or test code', () => {
  expect(edges.filter((e) => area(e.from) === 'shared' && area(e.to) !== 'shared').map((e) => `${e.from} -> ${e.to}`)).toEqual([]);
});

test('a service imports no other service; its source no script, CLI or test code', () => {
  const bad = edges.filter((e) => {
    const from = area(e.from);
    const to = area(e.to);
    if (!from.startsWith('services/') || to === from || to === 'shared') return false;
    // A service's tests may build their input with an upstream service's stages or the generator.
    if (e.from.endsWith('.test.ts') && (to.startsWith('services/') || e.to.startsWith('scripts/lib/generator'))) return false;
    return true;
  });
  expect(bad.map((e) => `${e.from} -> ${e.to}`)).toEqual([]);
});

test('only tests and scripts import test/', () => {
  expect(edges.filter((e) => area(e.to) === 'test' && !['test', 'scripts'].includes(area(e.from))).map((e) => `${e.from} -> ${e.to}`)).toEqual([]);
});
