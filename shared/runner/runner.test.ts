import { chunkByBytes } from './batching.js';

const msg = (n: number) => ({ key: null, value: Buffer.alloc(n) });

describe('chunkByBytes', () => {
  test('keeps order and stays under the limit', () => {
    const messages = Array.from({ length: 100 }, (_, i) => ({ key: `k${i}`, value: Buffer.alloc(1000) }));
    const chunks = chunkByBytes(messages, 10_000);
    expect(chunks.flat()).toEqual(messages);
    for (const c of chunks) expect(c.reduce((n, m) => n + m.value.length + 64 + m.key.length, 0)).toBeLessThanOrEqual(10_000);
    expect(chunks.length).toBeGreaterThan(10);
  });

  test('a message larger than the limit is a chunk of its own', () => {
    const chunks = chunkByBytes([msg(10), msg(50_000), msg(10)], 1000);
    expect(chunks.map((c) => c.length)).toEqual([1, 1, 1]);
  });

  test('nothing in, nothing out', () => {
    expect(chunkByBytes([], 1000)).toEqual([]);
  });
});
