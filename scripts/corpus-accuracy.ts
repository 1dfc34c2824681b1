/**
 * Prints the normalizer's per-system accuracy on the Loghub samples as a markdown table.
 * Corpus: $SLUICE_CORPUS_DIR, else ../shared/corpus relative to the repo root.
 *   npm run corpus:accuracy [-- --generic-only] [-- --misses]
 * With --generic-only the table also has the generic header reader's own figures: every
 * system-specific reader switched off (NormalizeOptions.readers = 'generic').
 */
import { dirname, join, resolve } from 'node:path';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { LOGHUB_SYSTEMS, defaultCorpusDir, evaluateLoghub, loghubAvailable, markdownTable } from './lib/corpus-eval.js';

// Compiled to dist/scripts/, run from source by ts tools at scripts/: find the repo root by package.json.
let root = dirname(fileURLToPath(import.meta.url));
while (!existsSync(join(root, 'package.json')) && dirname(root) !== root) root = dirname(root);
const corpus = resolve(defaultCorpusDir(root));
if (!loghubAvailable(corpus)) {
  console.error(`corpus absent: no loghub/ under ${corpus} (set SLUICE_CORPUS_DIR)`);
  process.exit(2);
}
const genericOnly = process.argv.includes('--generic-only');
const reports = LOGHUB_SYSTEMS.map((s) => evaluateLoghub(corpus, s));
const generic = genericOnly ? LOGHUB_SYSTEMS.map((s) => evaluateLoghub(corpus, s, 'generic')) : undefined;
console.log(`Normalizer accuracy on Loghub 2k samples (${corpus})${genericOnly ? '; generic only = every system-specific reader off' : ''}\n`);
console.log(markdownTable(reports, generic));
if (process.argv.includes('--misses')) for (const r of [...reports, ...(generic ?? [])]) for (const m of r.misses) console.log(m);
