import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readHeader, StreamMemory } from './header.js';
import { CATALOGUE } from '../time/catalogue.js';

const ingest = Date.UTC(2026, 10, 21, 12) * 1000;
const us = (y: number, mo: number, d: number, h = 0, mi = 0, s = 0, ms = 0) => Date.UTC(y, mo - 1, d, h, mi, s, ms) * 1000;
const read = (line: string) => readHeader(line, { ingest });

describe('generic header reader', () => {
  // Default layouts of loggers and servers, from their documentation; none has a reader of its own.
  test.each([
    ['2024-03-01T12:00:00Z something happened', us(2024, 3, 1, 12), undefined, 'something happened'],
    ['[2024-03-01 12:00:00] production.ERROR: boom', us(2024, 3, 1, 12), 'ERROR', 'boom'],
    ['2024/03/01 12:00:00 [error] 1234#0: *5 open() "/x" failed', us(2024, 3, 1, 12), 'ERROR', '1234#0: *5 open() "/x" failed'],
    ['[Fri Sep 09 10:42:29.902022 2011] [core:error] [pid 35708] File does not exist', us(2011, 9, 9, 10, 42, 29, 902) + 22, 'ERROR', '[pid 35708] File does not exist'],
    ['2024-03-01 12:00:00,123 - myapp.module - WARNING - disk almost full', us(2024, 3, 1, 12, 0, 0, 123), 'WARN', 'disk almost full'],
    ['INFO  [main] 2024-03-01 12:00:00,123 CassandraDaemon.java:123 - Startup complete', us(2024, 3, 1, 12, 0, 0, 123), 'INFO', undefined],
    ['[2024-03-01 12:00:00.123][1234][info][main] starting', us(2024, 3, 1, 12, 0, 0, 123), 'INFO', '[main] starting'],
    ['I, [2024-03-01T12:00:00.123456 #1234]  INFO -- : Started GET', us(2024, 3, 1, 12, 0, 0, 123) + 456, 'INFO', undefined],
    ['01-Mar-2024 12:00:00.123 SEVERE [main] org.apache.catalina.core.StandardService.startInternal failed', us(2024, 3, 1, 12, 0, 0, 123), 'ERROR', undefined],
    ['2024-03-01T12:00:00.123+0000 W NETWORK  [conn1] slow', us(2024, 3, 1, 12, 0, 0, 123), 'WARN', 'NETWORK  [conn1] slow'],
    ['I0301 12:00:00.123456    1234 main.go:42] hello', us(2026, 3, 1, 12, 0, 0, 123) + 456, 'INFO', undefined],
    ['03-01 12:00:00.123 D/ActivityManager( 1234): msg', us(2026, 3, 1, 12, 0, 0, 123), 'DEBUG', undefined],
    ['Fri, 01 Mar 2024 12:00:00 GMT warn oops', us(2024, 3, 1, 12), 'WARN', 'oops'],
    ['1709294400.123 1 10.0.0.1 TCP_MISS/200 1234 GET http://x/', us(2024, 3, 1, 12, 0, 0, 123), undefined, undefined],
    ['Mar 01, 2024 1:00:00 PM org.apache.catalina.startup.Catalina start\nINFO: Server startup in 1234 ms', us(2024, 3, 1, 13), 'INFO', undefined],
    ['1234:M 01 Mar 2024 12:00:00.123 # WARNING overcommit_memory is set to 0', us(2024, 3, 1, 12, 0, 0, 123), 'WARN', 'WARNING overcommit_memory is set to 0'],
    ['2024-03-01 12:00:00.123:INFO:oejs.Server:main: Started @1234ms', us(2024, 3, 1, 12, 0, 0, 123), 'INFO', 'Started @1234ms'],
    ['2024-03-01 12:00:00.123|ERROR|Acme.Billing|charge failed', us(2024, 3, 1, 12, 0, 0, 123), 'ERROR', 'Acme.Billing|charge failed'],
  ])('%s', (line, time, level, message) => {
    const h = read(line);
    expect(h.time).toBe(time);
    expect(h.level).toBe(level);
    if (message !== undefined) expect(line.slice(h.messageStart)).toBe(message);
  });

  test('syslog header: host, program, pid, and the level word stays in the message', () => {
    const h = read('Dec 10 06:55:46 LabSZ sshd[24200]: error: Received disconnect');
    expect([h.host, h.program, h.pid, h.level]).toEqual(['LabSZ', 'sshd', '24200', 'ERROR']);
    expect('Dec 10 06:55:46 LabSZ sshd[24200]: error: Received disconnect'.slice(h.messageStart)).toBe('error: Received disconnect');
    expect(read('<11>Oct 11 22:14:15 mymachine su: failed').level).toBe('ERROR');
  });

  test('two words and a colon after an ISO time without a pid are prose, not host and program', () => {
    const h = read('2024-03-01 12:00:00 Server started: port 80');
    expect([h.host, h.program]).toEqual([undefined, undefined]);
  });

  test('an epoch and a clock time that agree give the exact epoch; a 10-digit id does not displace a clock time', () => {
    // BG/L style: epoch, then the same instant as a zone-less local clock time.
    expect(read('- 1117838570 2005.06.03 R02-M1 2005-06-03-15.42.50.675872 R02-M1 RAS KERNEL INFO cache parity').time).toBe(us(2005, 6, 3, 22, 42, 50));
    expect(read('[1234567890] 2024-03-01 12:00:00 INFO x').time).toBe(us(2024, 3, 1, 12));
  });

  test('levels: prose is not a header', () => {
    expect(read('2024-03-01 12:00:00 User foo got ERROR from bar').level).toBeUndefined();
    expect(read('no time here at all ERROR maybe').level).toBeUndefined();
    expect(read('I think so').level).toBeUndefined();
  });

  test('a line without a time keeps its whole text as the message', () => {
    const h = read('panic: runtime error: index out of range');
    expect([h.time, h.level, h.messageStart]).toEqual([undefined, 'FATAL', 0]);
  });

  test('no time: nothing guessed; impossible dates are not times', () => {
    expect(read('just text').time).toBeUndefined();
    expect(read('2024-02-30 12:00:00 bad date').time).toBeUndefined();
    expect(read('2024-03-01 25:00:00 bad hour').time).toBeUndefined();
    expect(read('[    0.000000] Linux version 6.1.0').time).toBeUndefined();
  });

  test('10,000 digits and 1 MiB lines are read in bounded work', () => {
    expect(read('9'.repeat(10_000) + ' 2024-03-01 12:00:00').time).toBeUndefined(); // beyond the scan limit
    expect(read('2024-03-01T12:00:00Z ' + '9'.repeat(10_000)).time).toBe(us(2024, 3, 1, 12));
    expect(read('[' + '1 '.repeat(500_000)).time).toBeUndefined();
  });

  test('day/month order is learnt per stream from the first value that shows it', () => {
    const memory = new StreamMemory();
    const a = memory.get('a');
    const first = readHeader('03/04/2024 10:00:00 x', { ingest }, a);
    expect([first.time, first.flags]).toEqual([us(2024, 3, 4, 10), ['date_order_assumed']]);
    expect(readHeader('13/04/2024 10:00:00 x', { ingest }, a).time).toBe(us(2024, 4, 13, 10));
    const after = readHeader('03/04/2024 10:00:00 x', { ingest }, a);
    expect([after.time, after.flags]).toEqual([us(2024, 4, 3, 10), []]);
    // Another stream has its own order.
    expect(readHeader('03/04/2024 10:00:00 x', { ingest }, memory.get('b')).time).toBe(us(2024, 3, 4, 10));
  });

  test('the stream memory only speeds up: same result with and without it, over mixed lines', () => {
    const lines = ['2024-03-01 12:00:00 INFO a', '[2024-03-01 12:00:01] x.WARN: b', 'Mar  1 12:00:02 h p[1]: c', 'no time', '2024-03-01T12:00:03Z d', '1709294404 e'];
    const memory = new StreamMemory();
    const state = memory.get('s');
    for (const l of [...lines, ...lines.reverse()]) {
      const { time, level, messageStart } = readHeader(l, { ingest }, state);
      expect({ time, level, messageStart }).toEqual((({ time: t, level: lv, messageStart: m }) => ({ time: t, level: lv, messageStart: m }))(read(l)));
    }
  });

  test('the memory is bounded', () => {
    const memory = new StreamMemory(3);
    for (const k of ['a', 'b', 'c', 'd', 'e']) memory.get(k);
    expect(memory.size).toBe(3);
  });

  test('docs/time-layouts.md lists every catalogue layout', () => {
    const doc = readFileSync(join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'docs', 'time-layouts.md'), 'utf8');
    const section = doc.slice(doc.indexOf('## The catalogue'), doc.indexOf('## Zone abbreviations'));
    const listed = [...section.matchAll(/^\| `([^`]+)` \|/gm)].map((m) => m[1]);
    expect(listed).toEqual(CATALOGUE.map((e) => e.layout));
  });
});
