/**
 * Span derivation on the Nezha corpus (read in place from $SLUICE_CORPUS_DIR or
 * ../shared/corpus; skipped, saying so, when absent). Thresholds are what was measured;
 * `npm run traces:nezha` prints the table.
 * The records are exactly what the collector and normalizer make of the logs.
 */
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultCorpusDir } from './corpus-eval.js';
import { NEZHA_SYSTEMS, evaluateNezha, nezhaAvailable, nezhaTable, readNezhaLogs, type NezhaReport, type Rate } from './nezha-eval.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const corpus = resolve(defaultCorpusDir(repoRoot));
const frac = (r: Rate): number => (r.total === 0 ? 0 : r.ok / r.total);

if (!nezhaAvailable(corpus)) {
  // eslint-disable-next-line no-console
  console.warn(`corpus absent: no nezha/ CSVs under ${corpus}; set SLUICE_CORPUS_DIR to run the Nezha span tests`);
  test.skip(`Nezha span derivation skipped: corpus absent at ${corpus}`, () => undefined);
} else {
  describe('Nezha span derivation', () => {
    const reports: NezhaReport[] = [];
    afterAll(() => {
      // eslint-disable-next-line no-console
      console.log(nezhaTable(reports));
    });
    // [system, rows, logged span ids, floor at the default 30 s timeout, floor at 60 s]
    const expected: Array<[number, number, number, number]> = [
      [2489, 760, 1, 1],
      [5874, 2784, 0.994, 1],
    ];
    test.each(NEZHA_SYSTEMS.map((s, i) => [s.name, i] as const))('%s', (_name, i) => {
      const system = NEZHA_SYSTEMS[i]!;
      const [rows, spanIds, floor30, floor60] = expected[i]!;
      const logs = readNezhaLogs(join(corpus, system.log));
      const at30 = evaluateNezha(corpus, system, {}, logs);
      const at60 = evaluateNezha(corpus, system, { inactivityTimeoutUs: 60_000_000 }, logs);
      reports.push(at30, at60);
      for (const r of [at30, at60]) {
        expect(r.logRows).toBe(rows);
        expect(r.records).toBe(rows);
        expect(r.loggedSpanIds).toBe(spanIds);
      }
      const check = (r: NezhaReport, floor: number) => {
        for (const k of ['exactlyOne', 'rightTrace', 'rightService', 'intervalInside'] as const) expect(frac(r[k])).toBeGreaterThanOrEqual(floor);
        expect(frac(r.membership)).toBe(1);
        // A span whose logs pause longer than the timeout closes early; its later logs are late (counted).
        if (floor === 1) expect(r.stats.late).toBe(0);
      };
      check(at30, floor30);
      check(at60, floor60);
    });
  });
}
