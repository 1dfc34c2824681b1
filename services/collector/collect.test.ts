import { createCollectStage, cleanBody } from './collect.js';
import { PermanentError } from '../../shared/errors.js';
import type { RawEvent } from '../../shared/records.js';
import type { StageInput } from '../../shared/stage.js';

const stage = createCollectStage({ outputTopic: 'logs.collected', defaultTenant: 'default', maxEventBytes: 1024 });
const ctx = { now: () => 1_700_000_000_000 };
function input(value: Buffer, headers: Record<string, string> = {}): StageInput<Buffer> {
  return { topic: 'logs.raw', partition: 0, offset: '7', timestampMs: 1_699_999_999_000, key: Buffer.from('k'), headers, value, raw: value };
}
const one = (value: Buffer, headers?: Record<string, string>) => stage.process(input(value, headers), ctx)[0]!.value as RawEvent;

describe('collect', () => {
  test('stamps ids, times and origin', () => {
    const ev = one(Buffer.from('hello\n'));
    expect(ev.body).toBe('hello');
    expect(ev.observed_at).toBe(1_700_000_000_000_000);
    expect(ev.kafka_timestamp).toBe(1_699_999_999_000_000);
    expect(ev.origin).toEqual({ topic: 'logs.raw', partition: 0, offset: 7, index: 0 });
    expect(ev.event_id).toBe(one(Buffer.from('other body')).event_id); // id depends on coordinates, not content
    expect(ev.tenant).toBe('default');
  });

  test('honours tenant, service and format headers', () => {
    const ev = one(Buffer.from('x'), { tenant: 'acme', service: 'api', format: 'logfmt' });
    expect([ev.tenant, ev.service, ev.format]).toEqual(['acme', 'api', 'logfmt']);
  });

  test('flags invalid UTF-8 and NUL bytes', () => {
    const ev = one(Buffer.from([0x61, 0xff, 0x00, 0x62]));
    expect(ev.body).toBe('a\uFFFDb');
    expect(ev.flags).toEqual(['invalid_utf8', 'nul_bytes']);
  });

  test('a real U+FFFD in valid UTF-8 is not flagged', () => {
    expect(one(Buffer.from('a\uFFFDb')).flags).toEqual([]);
  });

  test('truncates at a character boundary and flags it', () => {
    const ev = one(Buffer.from('é'.repeat(600))); // 1,200 bytes
    expect(Buffer.byteLength(ev.body)).toBeLessThanOrEqual(1024);
    expect(ev.body).toBe('é'.repeat(512));
    expect(ev.flags).toContain('truncated');
  });

  test('an empty message is a permanent error (dead letter)', () => {
    expect(() => stage.process(input(Buffer.from('  \n')), ctx)).toThrow(PermanentError);
  });

  test('cleanBody leaves clean text alone', () => {
    expect(cleanBody(Buffer.from('plain'), 100)).toEqual({ text: 'plain', flags: [] });
  });

  test('a message with several lines becomes several events, each indexed by its first line', () => {
    const out = stage.process(input(Buffer.from('first\nsecond\n\tcontinued\nthird\n')), ctx).map((o) => o.value as RawEvent);
    expect(out.map((e) => e.body)).toEqual(['first', 'second\n\tcontinued', 'third']);
    expect(out.map((e) => e.origin.index)).toEqual([0, 1, 3]);
    expect(new Set(out.map((e) => e.event_id)).size).toBe(3);
    expect(out[0]!.event_id).toBe(one(Buffer.from('x')).event_id); // index 0 keeps the single-event id
  });

  test('Kafka headers win over the envelope; the envelope fills the rest', () => {
    const line = JSON.stringify({ timereported: '2024-01-01T00:00:00Z', hostname: 'h1', programname: 'sshd', msg: 'hello' });
    const ev = one(Buffer.from(line), { service: 'from-header', format: 'logfmt' });
    expect([ev.service, ev.format, ev.host, ev.shipper, ev.body]).toEqual(['from-header', 'logfmt', 'h1', 'rsyslog', 'hello']);
    expect(one(Buffer.from(line)).service).toBe('sshd');
  });

  test('an envelope whose line is empty is an empty message (dead letter)', () => {
    const docker = JSON.stringify({ log: '\n', stream: 'stdout', time: '2024-01-01T00:00:00Z' });
    expect(() => stage.process(input(Buffer.from(docker)), ctx)).toThrow(PermanentError);
  });

  test('invalid_utf8 marks only the events that hold a replacement character', () => {
    const out = stage.process(input(Buffer.concat([Buffer.from('good\nbad '), Buffer.from([0xff]), Buffer.from('\n')])), ctx).map((o) => o.value as RawEvent);
    expect(out.map((e) => e.flags)).toEqual([[], ['invalid_utf8']]);
  });

  test('truncation is per event, not per message', () => {
    const out = stage.process(input(Buffer.from(`${'a'.repeat(2000)}\nshort`)), ctx).map((o) => o.value as RawEvent);
    expect(out.map((e) => [e.body.length, e.flags])).toEqual([[1024, ['truncated']], [5, []]]);
  });

  test('an unterminated CRI partial line is kept and flagged', () => {
    const ev = one(Buffer.from('2024-01-01T00:00:00.1Z stdout P half a li'));
    expect([ev.body, ev.flags, ev.shipper]).toEqual(['half a li', ['partial'], 'cri']);
  });
});
