import { compileLayout, fromStrptime, LayoutError, matchLayout } from './layout.js';
import { CATALOGUE, CATALOGUE_LAYOUTS, parseCatalogueTime } from './catalogue.js';

const ingest = Date.UTC(2026, 10, 21, 12) * 1000;
const at = (layout: string, text: string, opts = {}, ctx = {}) => matchLayout(compileLayout(layout, opts), text, 0, { ingest, ...ctx });
const us = (...a: [number, number, number, number?, number?, number?, number?]) => Date.UTC(a[0], a[1] - 1, a[2], a[3] ?? 0, a[4] ?? 0, a[5] ?? 0, a[6] ?? 0) * 1000;

describe('time layouts', () => {
  test('letters, literals, fractions and offsets', () => {
    expect(at("yyyy-MM-dd'T'HH:mm:ss.SSSXXX", '2024-03-01T12:00:00.123+01:00')?.micros).toBe(us(2024, 3, 1, 11, 0, 0, 123));
    expect(at('dd/MMM/yyyy:HH:mm:ss Z', '01/Mar/2024:12:00:00 -0500')?.micros).toBe(us(2024, 3, 1, 17));
    expect(at('M/d/yyyy h:mm:ss a', '3/1/2024 12:05:00 AM')?.micros).toBe(us(2024, 3, 1, 0, 5));
    expect(at('M/d/yyyy h:mm:ss a', '3/1/2024 1:05:00 PM')?.micros).toBe(us(2024, 3, 1, 13, 5));
    expect(at('EEE MMM d HH:mm:ss zzz yyyy', 'Fri Mar 1 12:00:00 CET 2024')?.micros).toBe(us(2024, 3, 1, 11));
    // Nine fraction digits are truncated to microseconds, never rounded through a float.
    expect(at('yyyy-MM-dd HH:mm:ss', '2024-03-01 12:00:00.123456789', { autoFraction: true })?.micros).toBe(us(2024, 3, 1, 12) + 123456);
  });

  test('strptime layouts are translated', () => {
    expect(fromStrptime('%Y-%m-%dT%H:%M:%S%z')).toBe("yyyy-MM-dd'T'HH:mm:ssZ");
    expect(at('%d/%b/%Y:%H:%M:%S %z', '01/Mar/2024:12:00:00 +0000')?.micros).toBe(us(2024, 3, 1, 12));
    expect(() => fromStrptime('%Q')).toThrow(/unsupported strptime directive %Q/);
  });

  test('impossible dates and times are refused', () => {
    expect(at('yyyy-MM-dd HH:mm:ss', '2024-02-30 12:00:00')).toBeNull();
    expect(at('yyyy-MM-dd HH:mm:ss', '2023-02-29 12:00:00')).toBeNull();
    expect(at('yyyy-MM-dd HH:mm:ss', '2024-02-29 12:00:00')?.micros).toBe(us(2024, 2, 29, 12));
    expect(at('yyyy-MM-dd HH:mm:ss', '2024-03-01 25:00:00')).toBeNull();
    expect(at('yyyy-MM-dd HH:mm:ss', '2024-03-01 12:61:00')).toBeNull();
    expect(at('h:mm:ss a', '13:00:00 PM')).toBeNull();
    expect(at('EEE MMM d HH:mm:ss yyyy', 'Xyz Mar 1 12:00:00 2024')).toBeNull();
    expect(at('yyyy-MM-dd HH:mm:ss XX', '2024-03-01 12:00:00 +9900')).toBeNull();
  });

  test('a match must not stop inside a number or word', () => {
    expect(at('yyyy-MM-dd HH:mm:ss', '2024-03-01 12:00:001')).toBeNull();
    expect(at('HH:mm:ss', '12:00:00x')).toBeNull();
  });

  test('epochs: units by name, plausible range only', () => {
    expect(at('UNIX', '1709294400.5')?.micros).toBe(us(2024, 3, 1, 12) + 500_000);
    expect(at('UNIX_MS', '1709294400123')?.micros).toBe(us(2024, 3, 1, 12, 0, 0, 123));
    expect(at('UNIX_NS', '1709294400123456789')?.micros).toBe(us(2024, 3, 1, 12) + 123456);
    expect(at('UNIX', '0946684799')).toBeNull(); // 1999: an id, not a time
    expect(at('UNIX', '4102444800')).toBeNull(); // 2100: after the ingest time
  });

  test('bad layouts say what is wrong', () => {
    expect(() => compileLayout('yyyy-QQ')).toThrow(LayoutError);
    expect(() => compileLayout('yyyy-QQ')).toThrow(/unknown pattern letters 'QQ'/);
    expect(() => compileLayout('yyyy-MM-dd')).toThrow(/has no hour/);
    expect(() => compileLayout('hh:mm:ss')).toThrow(/without AM\/PM/);
    expect(() => compileLayout("yyyy 'T")).toThrow(/unclosed quote/);
    expect(() => compileLayout('y'.repeat(65))).toThrow(/1 to 64 characters/);
  });

  test('year-less and two-digit years', () => {
    expect(at('MMM d HH:mm:ss', 'Dec 31 23:59:59')?.micros).toBe(us(2025, 12, 31, 23, 59, 59)); // after ingest + 7 days: last year
    expect(at('MMM d HH:mm:ss', 'Nov 20 10:00:00')?.micros).toBe(us(2026, 11, 20, 10));
    expect(at('yy/MM/dd HH:mm:ss', '17/06/09 20:10:40')?.micros).toBe(us(2017, 6, 9, 20, 10, 40));
    expect(at('yy/MM/dd HH:mm:ss', '99/06/09 20:10:40')?.micros).toBe(us(1999, 6, 9, 20, 10, 40));
    // The pivot: up to a year after the Kafka timestamp's year (2026) is this century.
    expect(at('yy/MM/dd HH:mm:ss', '27/12/31 23:59:59')?.micros).toBe(us(2027, 12, 31, 23, 59, 59));
    expect(at('yy/MM/dd HH:mm:ss', '75/01/01 00:00:00')?.micros).toBe(us(1975, 1, 1));
    expect(at('%y%m%d %H%M%S', '271231 235959')?.micros).toBe(us(2027, 12, 31, 23, 59, 59));
    expect(at('%y%m%d %H%M%S', '750101 000000')?.micros).toBe(us(1975, 1, 1));
    expect(at('yyyy/MM/dd HH:mm:ss', '2028/01/01 00:00:00')?.micros).toBe(us(2028, 1, 1));
    expect([compileLayout('yy/MM/dd HH:mm:ss').twoDigitYear, compileLayout('%y%m%d %H%M%S').twoDigitYear]).toEqual([true, true]);
    expect([compileLayout('yyyy/MM/dd HH:mm:ss').twoDigitYear, compileLayout('MMM d HH:mm:ss').twoDigitYear, compileLayout('UNIX').twoDigitYear, compileLayout('ISO8601').twoDigitYear]).toEqual([false, false, false, false]);
  });

  test('zone-less times are read in the given IANA zone, DST-correct', () => {
    expect(at('yyyy-MM-dd HH:mm:ss', '2024-07-01 12:00:00', {}, { zone: 'Europe/Berlin' })?.micros).toBe(us(2024, 7, 1, 10));
    expect(at('yyyy-MM-dd HH:mm:ss', '2024-01-01 12:00:00', {}, { zone: 'Europe/Berlin' })?.micros).toBe(us(2024, 1, 1, 11));
  });

  test('ambiguous day/month: evidence from the value, else the stream order, else flagged', () => {
    const l = compileLayout('M/d/yyyy HH:mm:ss', { dayMonthAmbiguous: true });
    expect(matchLayout(l, '13/04/2024 10:00:00', 0, { ingest })).toMatchObject({ micros: us(2024, 4, 13, 10), orderEvidence: 'dmy' });
    expect(matchLayout(l, '04/13/2024 10:00:00', 0, { ingest })).toMatchObject({ micros: us(2024, 4, 13, 10), orderEvidence: 'mdy' });
    expect(matchLayout(l, '03/04/2024 10:00:00', 0, { ingest })).toMatchObject({ micros: us(2024, 3, 4, 10), orderAssumed: true });
    expect(matchLayout(l, '03/04/2024 10:00:00', 0, { ingest, dayFirst: true })?.micros).toBe(us(2024, 4, 3, 10));
    expect(matchLayout(l, '03/03/2024 10:00:00', 0, { ingest })?.orderAssumed).toBeUndefined();
  });

  test('every catalogue entry compiles and names its source', () => {
    expect(CATALOGUE_LAYOUTS).toHaveLength(CATALOGUE.length);
    for (const e of CATALOGUE) expect(e.source.length).toBeGreaterThan(5);
  });

  test('whole values through the catalogue', () => {
    expect(parseCatalogueTime('Mar 1, 2024 1:05:00 PM', { ingest })).toBe(us(2024, 3, 1, 13, 5));
    expect(parseCatalogueTime('01/Mar/2024:12:00:00 +0000', { ingest })).toBe(us(2024, 3, 1, 12));
    expect(parseCatalogueTime('2024-03-01 12:00:00 and more', { ingest })).toBeUndefined();
    expect(parseCatalogueTime('hello', { ingest })).toBeUndefined();
  });
});
