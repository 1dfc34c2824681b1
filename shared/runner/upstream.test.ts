/** upstreamState: when an upstream consumer group counts as caught up (the enricher's idle check). */
import type { KafkaClient } from '../kafka.js';
import { createLogger } from '../logger.js';
import { UpstreamWatch, upstreamState } from './upstream.js';

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

test('UpstreamWatch never looks twice at once: a look slower than the interval delays the next (an older answer cannot land last)', async () => {
  let running = 0;
  let most = 0;
  let looks = 0;
  let behind = false;
  const slow = async <T>(v: T): Promise<T> => {
    running += 1;
    most = Math.max(most, running);
    await new Promise((r) => setTimeout(r, 40));
    running -= 1;
    return v;
  };
  const admin = {
    connect: async () => undefined,
    disconnect: async () => undefined,
    listTopics: async () => { looks += 1; return ['logs.raw']; },
    fetchTopicOffsets: () => slow([{ partition: 0, high: behind ? '11' : '10', low: '0' }]),
    fetchOffsets: () => slow([{ topic: 'logs.raw', partitions: [{ partition: 0, offset: '10' }] }]),
  };
  const kafka = { admin: () => admin } as unknown as KafkaClient;
  const watch = new UpstreamWatch(kafka, [{ groupId: 'collector', topic: 'logs.raw', unreadMarkers: 0 }], createLogger('test', 'silent'), 5);
  await watch.start();
  expect(watch.quiet).toBe(true);
  behind = true;
  await new Promise((r) => setTimeout(r, 300));
  await watch.stop();
  expect(looks).toBeGreaterThan(2);
  expect(most).toBe(2); // the two fetches of one look run together; never those of two looks
  expect(watch.quiet).toBe(false);
});
