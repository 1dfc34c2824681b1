import { civilMicros, formatMicros, parseEpoch, parseIso, parseTimestamp, yearlessMicros } from './timestamps.js';

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

  describe('zones (IANA, DST-correct)', () => {
    test.each([
      ['Europe/Berlin', [2026, 7, 1, 12, 0], at(2026, 7, 1, 10)], // CEST +02:00
      ['Europe/Berlin', [2026, 1, 15, 12, 0], at(2026, 1, 15, 11)], // CET +01:00
      ['America/New_York', [2026, 1, 15, 12, 0], at(2026, 1, 15, 17)],
      ['Europe/Berlin', [2026, 3, 29, 2, 30], at(2026, 3, 29, 1, 30)], // spring gap: offset before the gap
      ['Europe/Berlin', [2026, 10, 25, 2, 30], at(2026, 10, 25, 0, 30)], // repeated hour: first occurrence
      ['Europe/Berlin', [2026, 10, 25, 3, 0], at(2026, 10, 25, 2, 0)],
      ['Asia/Kolkata', [2026, 11, 21, 10, 0], at(2026, 11, 21, 4, 30)],
    ])('%s %j', (zone, [y, mo, d, h, mi], us) => {
      expect(civilMicros(y!, mo!, d!, h!, mi!, 0, 7, zone)).toBe(us + 7);
    });
    test('zone-less ISO strings use the zone; explicit offsets win', () => {
      expect(parseIso('2026-07-01 12:00:00.123456', 'Europe/Berlin')).toBe(at(2026, 7, 1, 10) + 123_456);
      expect(parseIso('2026-07-01T12:00:00Z', 'Europe/Berlin')).toBe(at(2026, 7, 1, 12));
      expect(parseTimestamp('2026-07-01 12:00:00')).toBe(at(2026, 7, 1, 12));
    });
    test('invalid calendar dates are rejected, not rolled over', () => {
      expect(civilMicros(2026, 2, 29, 0, 0, 0, 0)).toBeUndefined();
      expect(civilMicros(2024, 2, 29, 0, 0, 0, 0)).toBe(at(2024, 2, 29));
    });
  });

  describe('year-less dates', () => {
    const ingest = at(2026, 11, 21, 12);
    test('take the ingest year', () => expect(yearlessMicros(3, 17, 16, 13, 38, 811_000, ingest)).toBe(at(2026, 3, 17, 16, 13, 38) + 811_000));
    test('up to 7 days in the future stay in the ingest year', () => expect(yearlessMicros(11, 28, 11, 0, 0, 0, ingest)).toBe(at(2026, 11, 28, 11)));
    test('more than 7 days in the future go to the year before', () => expect(yearlessMicros(12, 31, 23, 59, 58, 0, ingest)).toBe(at(2025, 12, 31, 23, 59, 58)));
    test('New Year: a Dec 31 line read on Jan 1 is last year', () => {
      expect(yearlessMicros(12, 31, 23, 59, 59, 0, at(2027, 1, 1, 0, 0, 5))).toBe(at(2026, 12, 31, 23, 59, 59));
      expect(yearlessMicros(1, 1, 0, 0, 1, 0, at(2027, 1, 1, 0, 0, 5))).toBe(at(2027, 1, 1, 0, 0, 1));
    });
    test('Feb 29 that does not exist in the ingest year is taken from the year before, else unparsed', () => {
      expect(yearlessMicros(2, 29, 0, 0, 0, 0, at(2025, 3, 5))).toBe(at(2024, 2, 29));
      expect(yearlessMicros(2, 29, 0, 0, 0, 0, ingest)).toBeUndefined();
    });
  });
});
