import { eventId, ulidTime } from './ids.js';

describe('eventId', () => {
  const t = Date.UTC(2026, 10, 21, 10, 0, 0, 123);

  test('is deterministic for the same coordinates', () => {
    expect(eventId(t, 'logs.raw', 2, '42', 0)).toBe(eventId(t, 'logs.raw', 2, '42', 0));
  });

  test('differs when any coordinate differs', () => {
    const ids = new Set([
      eventId(t, 'logs.raw', 2, '42', 0),
      eventId(t, 'logs.raw', 2, '42', 1),
      eventId(t, 'logs.raw', 2, '43', 0),
      eventId(t, 'logs.raw', 3, '42', 0),
      eventId(t, 'other', 2, '42', 0),
    ]);
    expect(ids.size).toBe(5);
  });

  test('is a 26-character Crockford ULID whose time part is the Kafka timestamp', () => {
    const id = eventId(t, 'logs.raw', 0, '0', 0);
    expect(id).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/);
    expect(ulidTime(id)).toBe(t);
  });

  test('sorts by time', () => {
    const a = eventId(t, 'x', 0, '999', 0);
    const b = eventId(t + 1, 'x', 0, '1', 0);
    expect(a < b).toBe(true);
  });
});
