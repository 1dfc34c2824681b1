/**
 * Golden tests for shipper envelopes and in-message splitting: each testdata/<case>/input.*
 * is ONE raw Kafka message; the collect stage runs with a fixed clock and coordinates and
 * its outputs must equal expected.json (UPDATE_GOLDEN=1 rewrites them; review by hand).
 */
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createCollectStage } from './collect.js';
import { golden, goldenCases } from '../../shared/testing/golden.js';
import type { StageInput } from '../../shared/stage.js';

const here = dirname(fileURLToPath(import.meta.url));
const NOW = Date.UTC(2024, 10, 21, 12, 0, 0);
const KAFKA_TS = Date.UTC(2024, 10, 21, 11, 59, 59, 500);
const stage = createCollectStage({ outputTopic: 'logs.collected', defaultTenant: 'default', maxEventBytes: 1_048_576 });

function input(raw: Buffer): StageInput<Buffer> {
  return { topic: 'logs.raw', partition: 2, offset: '42', timestampMs: KAFKA_TS, key: null, headers: {}, value: raw, raw };
}

describe('collector golden cases (envelopes, splitting, merging)', () => {
  const cases = goldenCases(join(here, 'testdata'));
  test('there are cases', () => expect(cases.length).toBeGreaterThanOrEqual(12));
  test.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const actual = stage.process(input(c.input), { now: () => NOW });
    expect(actual).toEqual(golden(c.dir, actual));
  });
});
