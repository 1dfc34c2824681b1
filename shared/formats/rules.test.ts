import { compileFormats, FormatRuleError, globRegex, multilineStartFor, readWithFormats, type FormatRule } from './rules.js';
import { BUILTIN_PATTERNS, compilePattern, PatternError } from './grok.js';

const ingest = Date.UTC(2026, 10, 21, 12) * 1000;
const us = (y: number, mo: number, d: number, h = 0, mi = 0, s = 0, ms = 0) => Date.UTC(y, mo - 1, d, h, mi, s, ms) * 1000;
const subject = { topic: 'logs.raw', service: 'checkout', format: null, file: '/var/log/checkout/app.log' };
const one = (rule: Partial<FormatRule>) => compileFormats([{ name: 'r', pattern: '%{GREEDYDATA:message}', ...rule }]);

describe('grok-style patterns', () => {
  test('named sub-patterns expand, fields keep dotted names, plain named groups work', () => {
    const p = compilePattern('%{HTTPMETHOD:http.method} %{URIPATH:url.path} (?<code>\\d{3}) %{MY}', { MY: '%{INT:n}x' });
    const m = p.regex.exec('GET /a/b 404 12x');
    expect(Object.fromEntries(p.fields.map(([g, f]) => [f, m?.groups?.[g]]))).toEqual({ 'http.method': 'GET', 'url.path': '/a/b', code: '404', n: '12' });
  });
  test('unknown names, cycles and unbounded constructs are refused with the reason', () => {
    expect(() => compilePattern('%{NOPE}')).toThrow(/unknown sub-pattern %\{NOPE\}/);
    expect(() => compilePattern('%{A}', { A: '%{B}', B: '%{A}' })).toThrow(/refers to itself \(A -> B -> A\)/);
    expect(() => compilePattern('(a)\\1')).toThrow(/backreferences/);
    expect(() => compilePattern('a{0,62}')).toThrow(/counted repetition above 16/);
    expect(() => compilePattern('(?=a)a')).toThrow(/lookaround/);
    expect(() => compilePattern('(')).toThrow(PatternError);
    expect(() => compilePattern('x'.repeat(5000))).toThrow(/at most 4096/);
  });
  test('every built-in sub-pattern compiles for the linear engine', () => {
    for (const name of Object.keys(BUILTIN_PATTERNS)) expect(() => compilePattern(`%{${name}:x}`)).not.toThrow();
  });
  test('a catastrophic pattern on a long line ends (V8 falls back to its linear engine)', () => {
    const [f] = one({ pattern: '(?<message>(a+)+)$' });
    const line = 'a'.repeat(10_000) + '!';
    expect(readWithFormats([f!], subject, line, { ingest })).toBeNull();
  });
});

describe('format rules', () => {
  const rules: FormatRule[] = [
    {
      name: 'checkout', match: { service: 'checkout' },
      pattern: '%{TIME:time} \\[%{DATA:thread}\\] %{LOGLEVEL:level} +%{JAVACLASS:logger} - %{GREEDYDATA:message}',
      time: { layout: 'dd.MM.yyyy HH:mm:ss.SSS', zone: 'Europe/Berlin' }, multiline: { start: '^\\d{2}\\.\\d{2}\\.\\d{4} ' },
    },
    { name: 'router', match: { file: '/var/log/router/**/*.log' }, pattern: '%{POSINT:time} %{WORD:level} %{GREEDYDATA:message}', time: { layout: 'UNIX_MS' }, level: { map: { C: 'FATAL' } } },
  ];
  const formats = compileFormats(rules);

  test('the rule reads time (layout and zone), level, fields; other lines stay in the message', () => {
    const r = readWithFormats(formats, subject, '01.03.2024 12:00:00.123 [main] WARN  com.acme.Cart - almost full\n\tat x', { ingest });
    expect(r).toEqual({ format: 'checkout', time: us(2024, 3, 1, 11, 0, 0, 123), level: 'WARN', fields: new Map([['thread', 'main'], ['logger', 'com.acme.Cart'], ['message', 'almost full']]), rest: '\n\tat x' });
  });
  test('match keys all hold: service, file glob', () => {
    expect(readWithFormats(formats, { ...subject, service: 'other' }, '01.03.2024 12:00:00.123 [main] WARN  a.b.C - x', { ingest })).toBeNull();
    const router = { topic: 'logs.raw', service: null, format: null, file: '/var/log/router/eu/1.log' };
    expect(readWithFormats(formats, router, '1709294400123 C boom', { ingest })).toMatchObject({ format: 'router', time: us(2024, 3, 1, 12, 0, 0, 123), level: 'FATAL' });
    expect(readWithFormats(formats, { ...router, file: '/var/log/other/1.log' }, '1709294400123 C boom', { ingest })).toBeNull();
  });
  test('an impossible time is not read (the field stays)', () => {
    const r = readWithFormats(formats, subject, '30.02.2024 12:00:00.123 [main] INFO a.b.C - x', { ingest });
    expect(r?.time).toBeUndefined();
  });
  test('multi-line starts by stream', () => {
    expect(multilineStartFor(formats, subject)?.test('01.03.2024 x')).toBe(true);
    expect(multilineStartFor(formats, { ...subject, service: 'x' })).toBeUndefined();
  });
  test('the first applicable format in file order wins, whatever its kind of match', () => {
    const scoped: FormatRule = { name: 'scoped', match: { service: 'checkout' }, pattern: 'X %{GREEDYDATA:message}' };
    const literal: FormatRule = { name: 'literal', pattern: 'X %{GREEDYDATA:message}' };
    const any: FormatRule = { name: 'any', pattern: '%{WORD:w} %{GREEDYDATA:message}' };
    const read = (rules: FormatRule[]) => readWithFormats(compileFormats(rules), subject, 'X hello', { ingest })?.format;
    expect(read([scoped, literal, any])).toBe('scoped');
    expect(read([literal, scoped, any])).toBe('literal');
    expect(read([any, scoped, literal])).toBe('any');
    expect(readWithFormats(compileFormats([scoped, literal]), { ...subject, service: null }, 'X hello', { ingest })?.format).toBe('literal');
  });
  test('globs: * within a segment, ** across', () => {
    expect(globRegex('/var/log/*.log').test('/var/log/a.log')).toBe(true);
    expect(globRegex('/var/log/*.log').test('/var/log/x/a.log')).toBe(false);
    expect(globRegex('/var/**/a?.log').test('/var/log/x/ab.log')).toBe(true);
  });
  test('bad rules name the rule and the problem', () => {
    const err = (r: Partial<FormatRule>) => {
      try {
        one(r);
      } catch (e) {
        return e instanceof FormatRuleError ? `${e.path}: ${e.problem}` : String(e);
      }
      return 'no error';
    };
    expect(err({ pattern: '%{WORD:w}', time: { layout: 'HH:mm' } })).toBe('time.field: the pattern captures no field "time" (captures: w)');
    expect(err({ time: { layout: 'yyyy-MM-dd', field: 'message' } })).toMatch(/^time.layout: time layout 'yyyy-MM-dd': has no hour/);
    expect(err({ time: { layout: 'HH:mm', zone: 'Mars/Base', field: 'message' } })).toMatch(/^time.zone: "Mars\/Base" is not an IANA time zone/);
    expect(err({ level: { map: { X: 'LOUD' } } })).toMatch(/^level.map.X: "LOUD" is not a level/);
    expect(err({ multiline: { start: '(?<=x)y' } })).toMatch(/^multiline.start: uses what cannot run in bounded time/);
    expect(() => compileFormats([{ name: 'a', pattern: 'x' }, { name: 'a', pattern: 'y' }])).toThrow(/another format has the same name/);
  });
});
