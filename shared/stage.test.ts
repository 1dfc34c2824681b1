import { withAdmission, type PartitionStage, type Stage, type StageInput, type StageOutput, type StatefulStage } from './stage.js';

const input = (offset: number, tenant: string): StageInput<string> => ({ topic: 't', partition: 0, offset: String(offset), timestampMs: 0, key: null, headers: { tenant }, value: `v${offset}`, raw: Buffer.from(`v${offset}`) });
const ctx = { now: () => 0 };
const refuseB = (i: StageInput<string>) => (i.headers['tenant'] === 'b' ? new Error('b refused') : null);

describe('withAdmission', () => {
  test('a stateless stage never sees a refused input; the refusal is thrown for the runner to dead-letter', () => {
    const seen: string[] = [];
    const stage: Stage<string> = { name: 's', process: (i) => (seen.push(i.value), [{ topic: 'o', key: null, value: i.value }]) };
    const gated = withAdmission(stage, refuseB);
    expect(gated.process(input(0, 'a'), ctx)).toEqual([{ topic: 'o', key: null, value: 'v0' }]);
    expect(() => gated.process(input(1, 'b'), ctx)).toThrow('b refused');
    expect(seen).toEqual(['v0']);
  });

  test('a stateful stage keeps its state, flush, endOfBatch and checkpoint', () => {
    const held: string[] = [];
    const stage: StatefulStage<string> = {
      name: 's',
      flushIntervalMs: 10,
      open: (): PartitionStage<string> => ({
        process: (i) => (held.push(i.value), []),
        flush: (): StageOutput[] => held.splice(0).map((v) => ({ topic: 'o', key: null, value: v })),
        endOfBatch: () => [],
        checkpoint: (next) => ({ offset: next, metadata: `held=${held.length}` }),
        get held() {
          return held.length;
        },
      }),
    };
    const p = withAdmission(stage, refuseB).open('t', 0, null);
    p.process(input(0, 'a'), ctx);
    expect(() => p.process(input(1, 'b'), ctx)).toThrow('b refused');
    p.process(input(2, 'a'), ctx);
    expect([p.held, p.checkpoint('3'), typeof p.endOfBatch]).toEqual([2, { offset: '3', metadata: 'held=2' }, 'function']);
    expect(p.flush(ctx).map((o) => o.value)).toEqual(['v0', 'v2']);
    expect(p.held).toBe(0);
  });
});
