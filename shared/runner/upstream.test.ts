/** upstreamState: when an upstream consumer group counts as caught up (the enricher's idle check). */
import { upstreamState } from './upstream.js';

const ends = (...hl: Array<[number, number]>) => hl.map(([high, low], partition) => ({ partition, high: String(high), low: String(low) }));
const committed = (...offsets: number[]) => offsets.map((offset, partition) => ({ partition, offset: String(offset) }));

test('caught up: every partition read to its end (a transactional topic may leave its last commit marker)', () => {
  expect(upstreamState({ ends: ends([10, 0], [5, 0]), committed: committed(10, 5) }, 0)).toBe('caught-up');
  expect(upstreamState({ ends: ends([11, 0]), committed: committed(10) }, 1)).toBe('caught-up');
});

test('behind: one unread record, a partition never committed, or a backlog', () => {
  expect(upstreamState({ ends: ends([11, 0]), committed: committed(10) }, 0)).toBe('behind');
  expect(upstreamState({ ends: ends([12, 0]), committed: committed(10) }, 1)).toBe('behind');
  expect(upstreamState({ ends: ends([10, 0], [5, 0]), committed: committed(10, -1) }, 0)).toBe('behind');
});

test('records removed by retention count from the log start; an empty topic is caught up', () => {
  expect(upstreamState({ ends: ends([100, 100]), committed: committed(40) }, 0)).toBe('caught-up');
  expect(upstreamState({ ends: ends([0, 0]), committed: committed(-1) }, 0)).toBe('caught-up');
});

test('unknown: a group that never committed on a topic holding records (a misnamed group is left out, not waited for)', () => {
  expect(upstreamState({ ends: ends([10, 0], [3, 0]), committed: committed(-1, -1) }, 0)).toBe('unknown');
  expect(upstreamState({ ends: ends([10, 0]), committed: [] }, 0)).toBe('unknown');
});
