/**
 * The collector with user-declared formats (sluice.yaml): a stream whose first applicable
 * format has `multiline.start` merges by that rule; every other stream keeps the built-in
 * continuation rules.
 */
import { createCollectStage, createStreamingCollectStage } from './collect.js';
import { compileFormats, type FormatRule } from '../../shared/formats/rules.js';
import { PermanentError } from '../../shared/errors.js';
import type { RawEvent } from '../../shared/records.js';
import type { StageInput, StageOutput } from '../../shared/stage.js';

const DATED = '^\\d{2}\\.\\d{2}\\.\\d{4} ';
const dated = (name: string, match: FormatRule['match']): FormatRule => ({ name, match, pattern: '%{GREEDYDATA:message}', multiline: { start: DATED } });
const base = { outputTopic: 'logs.collected', defaultTenant: 'default', maxEventBytes: 1_048_576, multilineTimeoutMs: 1000, maxEventLines: 1000, maxHeldStreams: 128 };
const ctx = { now: () => 1_700_000_000_000 };

function msg(offset: number, text: string, key = 'host-a', headers: Record<string, string> = {}, topic = 'logs.raw'): StageInput<Buffer> {
  const value = Buffer.from(text);
  return { topic, partition: 0, offset: String(offset), timestampMs: 1_699_999_000_000 + offset, key: Buffer.from(key), headers, value, raw: value };
}
/** A Filebeat envelope naming the file it read. */
const filebeat = (path: string, message: string) => JSON.stringify({ '@timestamp': '2024-11-21T10:00:00.000Z', message, log: { file: { path } }, agent: { type: 'filebeat' } });
const events = (out: StageOutput[]) => out.map((o) => o.value as RawEvent);

/** Feed messages one by one to a fresh partition, then flush; the bodies in emission order. */
function collect(rules: FormatRule[], messages: StageInput<Buffer>[]): string[] {
  const p = createStreamingCollectStage({ ...base, formats: compileFormats(rules) }).open('logs.raw', 0, null);
  const out = messages.flatMap((m) => p.process(m, ctx));
  out.push(...p.flush({ now: () => ctx.now() + 10 * base.multilineTimeoutMs }));
  return events(out).map((e) => e.body);
}

describe('streaming collector: a user start rule per stream', () => {
  test('matched by the service header: lines the built-in rules would start with join the event', () => {
    const ledger = { service: 'ledger' };
    const bodies = collect(
      [dated('ledger', { service: 'ledger' })],
      [
        msg(1, '21.11.2024 10:00:00 posting failed', 'k', ledger),
        msg(2, 'INFO something', 'k', ledger),
        msg(3, '2024-11-21 a digit, not the date', 'k', ledger),
        msg(4, '22.11.2024 10:00:01 next', 'k', ledger),
      ],
    );
    expect(bodies).toEqual(['21.11.2024 10:00:00 posting failed\nINFO something\n2024-11-21 a digit, not the date', '22.11.2024 10:00:01 next']);
  });

  test('another stream of the same partition without a matching format keeps the built-in rules', () => {
    const bodies = collect(
      [dated('ledger', { service: 'ledger' })],
      [
        msg(1, '21.11.2024 10:00:00 ledger one', 'k1', { service: 'ledger' }),
        msg(2, 'ERROR other failed', 'k2', { service: 'other' }),
        msg(3, 'INFO ledger detail', 'k1', { service: 'ledger' }),
        msg(4, '\tat a.B.c(B.java:1)', 'k2', { service: 'other' }),
        msg(5, 'INFO other next', 'k2', { service: 'other' }),
        msg(6, '7 ledger digit', 'k1', { service: 'ledger' }),
      ],
    );
    expect(bodies.sort()).toEqual(['21.11.2024 10:00:00 ledger one\nINFO ledger detail\n7 ledger digit', 'ERROR other failed\n\tat a.B.c(B.java:1)', 'INFO other next']);
  });

  test('the envelope service counts when there is no header', () => {
    const line = (msgText: string) => JSON.stringify({ timereported: '2024-01-01T00:00:00Z', hostname: 'h1', programname: 'ledger', msg: msgText });
    const bodies = collect([dated('ledger', { service: 'ledger' })], [msg(1, line('21.11.2024 one')), msg(2, line('INFO two')), msg(3, line('22.11.2024 three'))]);
    expect(bodies).toEqual(['21.11.2024 one\nINFO two', '22.11.2024 three']);
  });

  test('matched by a file glob: only the files it names', () => {
    const rules = [dated('checkout', { file: '/var/log/checkout/*.log' })];
    const bodies = collect(rules, [
      msg(1, filebeat('/var/log/checkout/app.log', '21.11.2024 one')),
      msg(2, filebeat('/var/log/payments/app.log', '21.11.2024 other file')),
      msg(3, filebeat('/var/log/checkout/app.log', 'INFO two')),
      msg(4, filebeat('/var/log/payments/app.log', 'INFO not joined')),
      msg(5, filebeat('/var/log/checkout/sub/app.log', '21.11.2024 in a subfolder')),
      msg(6, filebeat('/var/log/checkout/sub/app.log', 'INFO separate: * stays within a folder')),
    ]);
    expect(bodies.sort()).toEqual([
      '21.11.2024 in a subfolder',
      '21.11.2024 one\nINFO two',
      '21.11.2024 other file',
      'INFO not joined',
      'INFO separate: * stays within a folder',
    ]);
  });

  test('matched by the format header or by the topic', () => {
    expect(collect([dated('f', { format: 'ledger' })], [msg(1, '21.11.2024 a', 'k', { format: 'ledger' }), msg(2, 'INFO b', 'k', { format: 'ledger' })])).toEqual(['21.11.2024 a\nINFO b']);
    expect(collect([dated('f', { format: 'ledger' })], [msg(1, '21.11.2024 a', 'k', { format: 'other' }), msg(2, 'INFO b', 'k', { format: 'other' })])).toEqual(['21.11.2024 a', 'INFO b']);
    expect(collect([dated('t', { topic: 'logs.raw' })], [msg(1, '21.11.2024 a'), msg(2, 'INFO b')])).toEqual(['21.11.2024 a\nINFO b']);
    expect(collect([dated('t', { topic: 'elsewhere' })], [msg(1, '21.11.2024 a'), msg(2, 'INFO b')])).toEqual(['21.11.2024 a', 'INFO b']);
  });

  test('the first applicable format with a start rule wins', () => {
    const rules: FormatRule[] = [
      { name: 'no-rule', match: { service: 'x' }, pattern: '%{GREEDYDATA:message}' },
      { name: 'pipe', match: { service: 'x' }, pattern: '%{GREEDYDATA:message}', multiline: { start: '^\\|' } },
      dated('later', { service: 'x' }),
    ];
    expect(collect(rules, [msg(1, '| one', 'k', { service: 'x' }), msg(2, '21.11.2024 joins', 'k', { service: 'x' }), msg(3, '| two', 'k', { service: 'x' })])).toEqual(['| one\n21.11.2024 joins', '| two']);
  });

  test('an event is classified by the rule of its first line when the format header changes mid-stream', () => {
    const rules = [dated('f', { format: 'ledger' })];
    const m = (offset: number, text: string, format: string) => msg(offset, text, 'k', { format });
    // 'INFO b' continues the ledger event; '22.11.2024 c' ends it by the ledger rule and
    // starts an event of format plain (built-in rules), which 'INFO d' does not continue.
    expect(collect(rules, [m(1, '21.11.2024 a', 'ledger'), m(2, 'INFO b', 'plain'), m(3, '22.11.2024 c', 'plain'), m(4, 'INFO d', 'plain')])).toEqual(['21.11.2024 a\nINFO b', '22.11.2024 c', 'INFO d']);
  });

  test('a catastrophic start rule on a 10,000-character line completes', () => {
    const rules: FormatRule[] = [{ name: 'evil', pattern: '%{GREEDYDATA:message}', multiline: { start: '^(a+)+$' } }];
    const bodies = collect(rules, [msg(1, 'head'), msg(2, `${'a'.repeat(10_000)}!`), msg(3, 'a'.repeat(10_000))]);
    expect(bodies.map((b) => b.length)).toEqual([4 + 1 + 10_001, 10_000]);
  });
});

describe('pure collector (one message) with user start rules', () => {
  const formats = compileFormats([dated('ledger', { service: 'ledger' })]);
  const stage = createCollectStage({ outputTopic: 'logs.collected', defaultTenant: 'default', maxEventBytes: 1024, formats });
  const plain = createCollectStage({ outputTopic: 'logs.collected', defaultTenant: 'default', maxEventBytes: 1024 });

  test('merges by the rule within the message, events in the order of their first line', () => {
    const text = ['21.11.2024 a', 'INFO a2', '7 a3', '22.11.2024 b', '', 'INFO b2', ''].join('\n');
    const out = events(stage.process(msg(5, text, 'k', { service: 'ledger' }), ctx));
    expect(out.map((e) => [e.body, e.origin.index])).toEqual([
      ['21.11.2024 a\nINFO a2\n7 a3', 0],
      ['22.11.2024 b\n\nINFO b2', 3],
    ]);
    expect(events(plain.process(msg(5, text, 'k', { service: 'ledger' }), ctx)).map((e) => e.body)).toEqual(['21.11.2024 a', 'INFO a2', '7 a3', '22.11.2024 b', 'INFO b2']);
  });

  // Where no start rule applies, the path through the streaming collector gives what
  // splitMessage gives: same events, ids, flags and order.
  const cases: Array<[string, Buffer]> = [
    ['several lines and a continuation', Buffer.from('first\nsecond\n\tcontinued\nthird\n')],
    ['truncation per event', Buffer.from(`${'a'.repeat(2000)}\nshort`)],
    ['invalid UTF-8 and NUL', Buffer.concat([Buffer.from('good\nbad '), Buffer.from([0xff, 0x00]), Buffer.from('\n')])],
    ['an unterminated CRI partial line', Buffer.from('2024-01-01T00:00:00.1Z stdout P half a li')],
    ['CRI partials joined, streams interleaved', Buffer.from(['2024-01-01T00:00:00.1Z stdout P one ', '2024-01-01T00:00:00.2Z stderr F err', '2024-01-01T00:00:00.3Z stdout F two', '2024-01-01T00:00:00.4Z stderr F \tat x'].join('\n'))],
    ['a Go panic with a blank line', Buffer.from('panic: boom\n\ngoroutine 1 [running]:\nmain.main()\n\t/app/main.go:5 +0x1d\nINFO after')],
    ['a pretty-printed JSON document', Buffer.from('{\n  "msg": "hi",\n  "level": "info"\n}\n')],
  ];
  test.each(cases)('no applicable rule: same as without formats (%s)', (_name, value) => {
    const input = msg(9, '', 'k', { service: 'other' });
    const withValue = { ...input, value, raw: value };
    expect(stage.process(withValue, ctx)).toEqual(plain.process(withValue, ctx));
  });

  test('an empty message is still a dead letter', () => {
    const value = Buffer.from(' \n\n');
    expect(() => stage.process({ ...msg(1, '', 'k', { service: 'ledger' }), value, raw: value }, ctx)).toThrow(PermanentError);
    const docker = Buffer.from(JSON.stringify({ log: '\n', stream: 'stdout', time: '2024-01-01T00:00:00Z' }));
    expect(() => stage.process({ ...msg(1, ''), value: docker, raw: docker }, ctx)).toThrow(PermanentError);
  });
});
