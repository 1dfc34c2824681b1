import { formatMicros, parseEpoch, parseIso, parseTimestamp } from './timestamps.js';

const at = (y: number, mo: number, d: number, h = 0, mi = 0, s = 0) => Date.UTC(y, mo - 1, d, h, mi, s) * 1000;

describe('timestamps', () => {
  test.each([
    ['2026-11-21T10:00:00Z', at(2026, 11, 21, 10)],
    ['2026-11-21T10:00:00.1Z', at(2026, 11, 21, 10) + 100_000],
    ['2026-11-21T10:00:00.123456Z', at(2026, 11, 21, 10) + 123_456],
    ['2026-11-21T10:00:00.123456789Z', at(2026, 11, 21, 10) + 123_456],
    ['2026-11-21 10:00:00,5', at(2026, 11, 21, 10) + 500_000],
    ['2026-11-21T10:00:00+02:00', at(2026, 11, 21, 8)],
    ['2026-11-21T10:00:00-0130', at(2026, 11, 21, 11, 30)],
    ['2026-11-21T10:00', at(2026, 11, 21, 10)],
  ])('ISO %s', (s, us) => expect(parseIso(s)).toBe(us));

  test.each([['2026-13-01T00:00:00Z'], ['0000-01-01T00:00:00Z'], ['yesterday'], ['2026-11-21T25:00:00Z']])('rejects %s', (s) => {
    expect(parseIso(s)).toBeUndefined();
  });

  test.each([
    [1732183200, 1732183200_000_000],
    ['1732183200.25', 1732183200_250_000],
    [1732183200123, 1732183200_123_000],
    ['1732183200123456', 1732183200_123_456],
    ['1732183200123456789', 1732183200_123_456],
  ])('epoch %s', (v, us) => expect(parseEpoch(v)).toBe(us));

  test('negative and zero epochs are not event times', () => {
    expect(parseTimestamp(-5)).toBeUndefined();
    expect(parseTimestamp(0)).toBeUndefined();
  });

  test('formats with exactly six fractional digits', () => {
    expect(formatMicros(at(2026, 1, 2, 3, 4, 5) + 7)).toBe('2026-01-02T03:04:05.000007Z');
    expect(formatMicros(at(2026, 1, 2, 3, 4, 5) + 999_999)).toBe('2026-01-02T03:04:05.999999Z');
  });

  test('round-trips microseconds through format and parse', () => {
    for (const us of [at(2000, 2, 29) + 1, at(2026, 11, 21) + 123_456, at(2038, 1, 19, 3, 14, 8) + 999_999]) {
      expect(parseIso(formatMicros(us))).toBe(us);
    }
  });
});
