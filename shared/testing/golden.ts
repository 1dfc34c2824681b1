/**
 * Golden-file tests (CONVENTIONS.md, "Tests"): each `testdata/<case>/` directory holds
 * an `input.*` file and an `expected.json`. The test runs the stage with a fixed clock
 * and compares; `UPDATE_GOLDEN=1` rewrites the expected files instead.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface GoldenCase {
  name: string;
  dir: string;
  input: Buffer;
  inputFile: string;
}

export function goldenCases(testdataDir: string): GoldenCase[] {
  if (!existsSync(testdataDir)) return [];
  return readdirSync(testdataDir, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => {
      const dir = join(testdataDir, d.name);
      const inputFile = readdirSync(dir).find((f) => f.startsWith('input.'));
      if (!inputFile) throw new Error(`golden case ${dir} has no input.* file`);
      return { name: d.name, dir, inputFile, input: readFileSync(join(dir, inputFile)) };
    });
}

/** Compare `actual` with `<dir>/expected.json` (or write it when UPDATE_GOLDEN=1). Returns the expected value. */
export function golden(dir: string, actual: unknown): unknown {
  const file = join(dir, 'expected.json');
  const text = JSON.stringify(actual, null, 2) + '\n';
  if (process.env['UPDATE_GOLDEN'] === '1' || !existsSync(file)) {
    writeFileSync(file, text);
    if (process.env['UPDATE_GOLDEN'] !== '1') throw new Error(`${file} did not exist and was written; review it and run again`);
  }
  return JSON.parse(readFileSync(file, 'utf8')) as unknown;
}
