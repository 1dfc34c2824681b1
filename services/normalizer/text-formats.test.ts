import type { RawEvent } from '../../shared/records.js';
import { createNormalizeStage, normalize } from './normalize.js';
import { parseLogfmt } from './logfmt.js';

const opts = { outputTopic: 'logs.normalized', maxAttributes: 128, maxAttributeBytes: 4096, maxJsonDepth: 32 };
const INGEST = Date.UTC(2026, 10, 21, 12) * 1000;
const ev = (body: string, format: string | null = null): RawEvent => ({
  event_id: 'E', tenant: 't', observed_at: 2, kafka_timestamp: INGEST, origin: { topic: 'logs.raw', partition: 0, offset: 5, index: 0 },
  format, shipper: null, service: 'hdr', host: null, file: null, envelope_time: null, body, flags: [],
});

describe('logfmt', () => {
  test('quoted values, escapes, bare keys', () => {
    expect(Object.fromEntries(parseLogfmt('a=1 b="x y" c="q\\"\\\\n" d= flag e=\\t')!)).toEqual({ a: '1', b: 'x y', c: 'q"\\n', d: '', flag: 'true', e: '\\t' });
  });
  test('an unterminated quote is not logfmt', () => expect(parseLogfmt('a=1 b="open')).toBeNull());
  test('prose with one "=" is not auto-detected as logfmt', () => {
    expect(normalize(ev('x=1 happened'), opts).source.format).toBe('text');
  });
});

describe('format hint', () => {
  test('forces a family', () => {
    const r = normalize(ev('level=error msg=boom', 'logfmt'), opts);
    expect([r.level, r.message, r.source.format]).toEqual(['ERROR', 'boom', 'logfmt']);
  });
  test('a body that fails its forced format is flagged and read by the generic header reader', () => {
    const r = normalize(ev('Nov 21 10:00:00 host app: hi', 'clf'), opts);
    // The Kafka `service` header (hdr) still names the service; the syslog tag is kept as `program`.
    expect([r.message, r.host, r.service, r.attributes['program'], r.timestamp_source]).toEqual(['hi', 'host', 'hdr', 'app', 'event']);
    expect(r.flags).toContain('format_mismatch');
  });
  test('text keeps the body even when it looks like syslog', () => {
    expect(normalize(ev('Nov 21 10:00:00 host app: hi', 'text'), opts).timestamp_source).toBe('ingest');
  });
});

describe('zone option', () => {
  test('zone-less text times are read in the zone; year-less too', () => {
    const z = { ...opts, zone: 'Europe/Berlin' };
    expect(normalize(ev('2026-07-01 12:00:00,250 INFO [main] a.B - x'), z).timestamp).toBe(Date.UTC(2026, 6, 1, 10, 0, 0, 250) * 1000);
    expect(normalize(ev('Jul  1 12:00:00 h sshd[1]: x'), z).timestamp).toBe(Date.UTC(2026, 6, 1, 10) * 1000);
    // CLF carries its own offset: the zone does not apply.
    expect(normalize(ev('1.2.3.4 - - [01/Jul/2026:12:00:00 +0000] "GET / HTTP/1.1" 200 5'), z).timestamp).toBe(Date.UTC(2026, 6, 1, 12) * 1000);
  });
  test('an unknown zone is refused at stage creation', () => {
    expect(() => createNormalizeStage({ ...opts, zone: 'Mars/Olympus' })).toThrow(RangeError);
  });
});

describe('syslog tags with a space', () => {
  test.each([
    ['Jun 19 04:09:11 combo syslogd 1.4.1: restart.', 'syslogd 1.4.1', undefined, 'restart.'],
    ['Jul  7 08:06:15 combo  -- root[2421]: ROOT LOGIN ON tty2', '-- root', '2421', 'ROOT LOGIN ON tty2'],
  ])('%s', (line, service, pid, message) => {
    const r = normalize(ev(line), opts);
    expect([r.host, r.service, r.attributes['pid'], r.message]).toEqual(['combo', service, pid, message]);
  });
  test('prose with a colon is not taken for a tag', () => {
    const r = normalize(ev('Jun 19 04:09:11 combo Out of memory: Killed process 42'), opts);
    expect([r.service, r.message]).toEqual(['hdr', 'Out of memory: Killed process 42']);
  });
});

describe('robustness', () => {
  test('a merged stack trace moves to error; the log line stays the message', () => {
    const r = normalize(ev('2026-11-21 10:00:00,000 ERROR [main] a.B - failed\njava.lang.X: y\n\tat a.B.c(B.java:1)\n'), opts);
    expect(r.level).toBe('ERROR');
    expect(r.message).toBe('failed');
    expect(r.error).toEqual({ type: 'java.lang.X', message: 'y', stack: 'java.lang.X: y\n\tat a.B.c(B.java:1)' });
  });
  test('multi-line events without a stack trace keep the continuation lines in the message', () => {
    const r = normalize(ev('2026-11-21 10:00:00,000 INFO [main] a.B - config:\n  a = 1\n  b = 2\n'), opts);
    expect(r.message).toBe('config:\n  a = 1\n  b = 2');
    expect(r.error).toBeNull();
  });
  test('a huge unstructured line falls through quickly to text', () => {
    const r = normalize(ev('a'.repeat(1_000_000) + ' "' + '\\"'.repeat(100_000)), opts);
    expect(r.source.format).toBe('text');
  });
  test('RFC 5424 with nil fields and BOM', () => {
    const r = normalize(ev('<14>1 - - - - - - \uFEFFhello'), opts);
    expect([r.message, r.level, r.timestamp_source, r.service]).toEqual(['hello', 'INFO', 'ingest', 'hdr']);
  });
});

describe('AWS load balancer logs', () => {
  const classic = '2015-05-13T23:39:43.945958Z my-lb 192.168.131.39:2817 10.0.0.1:80 0.000073 0.001048 0.000057 404 404 0 29 "GET http://www.example.com:80/a?b=1 HTTP/1.1" "curl/7.38.0" - -';
  const alb = 'https 2018-07-02T22:23:00.186641Z app/my-lb/50dc6c495c0c9188 [2001:db8::1]:2817 10.0.0.1:80 0.086 0.048 0.037 200 200 0 57 "GET https://www.example.com:443/ HTTP/1.1" "curl/7.46.0" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 - "Root=1-58337281-1d84f3d73c47ec4e58577259"';
  test('classic ELB is auto-detected; times in seconds sum to µs without float error', () => {
    const r = normalize(ev(classic), opts);
    expect([r.source.format, r.level, r.timestamp]).toEqual(['elb', 'WARN', Date.UTC(2015, 4, 13, 23, 39, 43) * 1000 + 945_958]);
    expect(r.http).toMatchObject({ method: 'GET', path: '/a?b=1', status: 404, duration_us: 1178, bytes: 29 });
  });
  test('ALB with only the fields up to trace_id, IPv6 client, forced by hint', () => {
    const r = normalize(ev(alb, 'alb'), opts);
    expect([r.source.format, r.http?.client_ip, r.http?.duration_us, r.trace_id]).toEqual(['alb', '2001:db8::1', 171_000, '583372811d84f3d73c47ec4e58577259']);
  });
  test('other formats are not taken for ELB', () => {
    expect(normalize(ev('1.2.3.4 - - [01/Jul/2026:12:00:00 +0000] "GET / HTTP/1.1" 200 5'), opts).source.format).toBe('clf');
    expect(normalize(ev('2026-11-21T10:00:00.000Z INFO [main] a.B - x'), opts).source.format).not.toMatch(/^(elb|alb)$/);
    expect(normalize(ev('http 200 GET / took 3ms'), opts).source.format).toBe('text');
  });
});
