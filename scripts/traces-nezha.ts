/**
 * Span derivation on the Nezha corpus: per system, how logged span ids become derived
 * spans, compared with the tracer's trace CSVs (scripts/lib/nezha-eval.ts), plus
 * the derivation's throughput. Corpus: $SLUICE_CORPUS_DIR, else ../shared/corpus.
 *   npm run traces:nezha [-- --misses]
 */
import { dirname, join, resolve } from 'node:path';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defaultCorpusDir } from './lib/corpus-eval.js';
import { NEZHA_SYSTEMS, evaluateNezha, nezhaAvailable, nezhaTable, readNezhaLogs, type NezhaReport } from './lib/nezha-eval.js';

let root = dirname(fileURLToPath(import.meta.url));
while (!existsSync(join(root, 'package.json')) && dirname(root) !== root) root = dirname(root);
const corpus = resolve(defaultCorpusDir(root));
if (!nezhaAvailable(corpus)) {
  console.error(`corpus absent: no nezha/ log and trace CSVs under ${corpus} (set SLUICE_CORPUS_DIR); nothing measured`);
  process.exit(2);
}
const reports: NezhaReport[] = [];
for (const system of NEZHA_SYSTEMS) {
  const logs = readNezhaLogs(join(corpus, system.log));
  // A span whose logs pause longer than the timeout is split: show the default and 60 s.
  reports.push(evaluateNezha(corpus, system, {}, logs));
  reports.push(evaluateNezha(corpus, system, { inactivityTimeoutUs: 60_000_000 }, logs));
}
console.log(`Span derivation on Nezha (${corpus})\n`);
console.log(nezhaTable(reports));
console.log('\nTimestamps (record time vs the CSV TimeUnixNano column):');
for (const r of reports) {
  console.log(`- ${r.system} [${r.timeoutUs / 1_000_000} s]: event ${r.timestamp.event}, ingest fallback ${r.timestamp.ingest}, within 10 ms ${r.timestamp.within10ms}/${r.records}, median |error| ${r.timestamp.medianAbsErrorMs.toFixed(3)} ms; records with trace_id ${r.withTraceId}, span_id ${r.withSpanId}; deriver ${JSON.stringify(r.stats)}`);
}
// Throughput: the derivation alone, repeated so the figure is not dominated by JIT warm-up.
console.log('\nDerivation throughput (SpanDeriver.push + drain, best of 20 runs):');
for (const system of NEZHA_SYSTEMS) {
  const logs = readNezhaLogs(join(corpus, system.log));
  let best = Infinity;
  let n = 0;
  for (let i = 0; i < 20; i++) {
    const r = evaluateNezha(corpus, system, {}, logs);
    best = Math.min(best, r.deriveMs);
    n = r.records;
  }
  console.log(`- ${system.name}: ${n} events in ${best.toFixed(2)} ms = ${Math.round((n / best) * 1000).toLocaleString('en-US')} events/s`);
}
if (process.argv.includes('--misses')) for (const r of reports) for (const m of r.misses) console.log(m);
