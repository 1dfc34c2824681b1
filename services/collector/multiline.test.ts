import { LineGrouper, MultilineMerger, ContinuationRules } from './multiline.js';
import { compileFormats, MAX_RULE_LINE } from '../../shared/formats/rules.js';

/** Group the lines of one text with the pure grouper, as collect.ts does within a message. */
function group(text: string): string[] {
  const g = new LineGrouper<string>((l) => l);
  const out: string[][] = [];
  for (const line of text.split('\n')) out.push(...g.push(line));
  out.push(...g.finish());
  return out.map((lines) => lines.join('\n'));
}

const java = [
  '2024-11-21 10:00:00,001 ERROR [main] c.e.Orders - order failed',
  'com.example.OrderException: could not reserve stock',
  '\tat com.example.Orders.reserve(Orders.java:88)',
  '\tat com.example.Orders.place(Orders.java:40)',
  'Caused by: java.sql.SQLException: pool exhausted',
  '\tat com.zaxxer.hikari.pool.HikariPool.getConnection(HikariPool.java:696)',
  '\t... 12 more',
  '\tSuppressed: java.lang.IllegalStateException: closed',
  '\t\tat com.example.Pool.close(Pool.java:9)',
].join('\n');

const scala = [
  'Exception in thread "main" scala.MatchError: 42 (of class java.lang.Integer)',
  '\tat Main$.delayedEndpoint$Main$1(Main.scala:3)',
  '\tat Main$delayedInit$body.apply(Main.scala:1)',
  '\tat scala.Function0.apply$mcV$sp(Function0.scala:39)',
].join('\n');

const python = [
  'ERROR:root:request failed',
  'Traceback (most recent call last):',
  '  File "/app/main.py", line 10, in handler',
  '    result = compute(x)',
  '  File "/app/main.py", line 5, in compute',
  '    return 1 / x',
  'ZeroDivisionError: division by zero',
  '',
  'During handling of the above exception, another exception occurred:',
  '',
  'Traceback (most recent call last):',
  '  File "/app/main.py", line 12, in handler',
  '    raise RuntimeError("wrapped")',
  'RuntimeError: wrapped',
].join('\n');

const goPanic = [
  'panic: runtime error: index out of range [5] with length 3',
  '',
  'goroutine 1 [running]:',
  'main.lookup(...)',
  '\t/app/main.go:8',
  'main.main()',
  '\t/app/main.go:12 +0x1d',
  '',
  'goroutine 18 [chan receive]:',
  'net/http.(*conn).serve(0xc000128000, {0x7a3e40, 0xc0000a2000})',
  '\t/usr/local/go/src/net/http/server.go:2009 +0x645',
  'created by net/http.(*Server).Serve in goroutine 1',
  '\t/usr/local/go/src/net/http/server.go:3086 +0x5cb',
].join('\n');

const node = [
  'TypeError: Cannot read properties of undefined (reading \'id\')',
  '    at getUser (/app/src/users.js:14:22)',
  '    at async Promise.all (index 0)',
  '    at async handler (/app/src/server.js:40:5)',
].join('\n');

const dotnet = [
  'Unhandled exception. System.InvalidOperationException: Sequence contains no elements',
  ' ---> System.ArgumentNullException: Value cannot be null. (Parameter \'source\')',
  '   at System.Linq.ThrowHelper.ThrowArgumentNullException(ExceptionArgument argument)',
  '   --- End of inner exception stack trace ---',
  '   at System.Linq.Enumerable.First[TSource](IEnumerable`1 source)',
  '   at Program.<Main>$(String[] args) in /app/Program.cs:line 3',
].join('\n');

describe('LineGrouper: one event per stack trace, per language', () => {
  test.each([
    ['java', java],
    ['scala', scala],
    ['python (chained tracebacks)', python],
    ['go panic with goroutines', goPanic],
    ['node', node],
    ['.NET', dotnet],
  ])('%s', (_lang, trace) => {
    const text = `2024-11-21 09:59:59 INFO before\n${trace}\n2024-11-21 10:00:01 INFO after`;
    expect(group(text)).toEqual(['2024-11-21 09:59:59 INFO before', trace, '2024-11-21 10:00:01 INFO after']);
  });

  test('a Python traceback ends at its exception line', () => {
    expect(group('Traceback (most recent call last):\n  File "a.py", line 1, in <module>\nKeyError: \'x\'\nnext event')).toEqual([
      'Traceback (most recent call last):\n  File "a.py", line 1, in <module>\nKeyError: \'x\'',
      'next event',
    ]);
  });

  test('a line that is no exception line after Python frames starts a new event', () => {
    expect(group('Traceback (most recent call last):\n  File "a.py", line 1\n2024-11-21 10:00:00 INFO next')).toEqual([
      'Traceback (most recent call last):\n  File "a.py", line 1',
      '2024-11-21 10:00:00 INFO next',
    ]);
  });

  test('after a goroutine dump an ordinary line starts a new event', () => {
    expect(group('goroutine 1 [running]:\nmain.main()\n\t/app/main.go:3 +0x1d\nlevel=info msg=restarted')).toEqual([
      'goroutine 1 [running]:\nmain.main()\n\t/app/main.go:3 +0x1d',
      'level=info msg=restarted',
    ]);
  });

  test('blank lines between events are dropped, inside a trace they are kept', () => {
    expect(group('a\n\n\nb\n\n  c')).toEqual(['a', 'b\n\n  c']);
  });

  test('a leading continuation line has nothing to join and is an event of its own', () => {
    expect(group('\tat x.y(Z.java:1)\nnext')).toEqual(['\tat x.y(Z.java:1)', 'next']);
  });

  test('ordinary lines stay separate', () => {
    expect(group('one\ntwo\nthree')).toEqual(['one', 'two', 'three']);
  });
});

describe('ContinuationRules', () => {
  test('without a current event everything starts one', () => {
    expect(new ContinuationRules().classify('\tat x', false)).toBe('start');
  });
  test('an unqualified exception-like line is not a continuation', () => {
    const r = new ContinuationRules();
    expect(r.classify('Error: boom', true)).toBe('start');
    expect(r.classify('java.lang.IllegalStateException: boom', true)).toBe('continuation');
  });
});

describe('MultilineMerger (across messages, keyed by stream)', () => {
  test('merges a Java trace that arrives one line per message and emits it when the next event starts', () => {
    const m = new MultilineMerger();
    const lines = java.split('\n');
    const out = lines.flatMap((l, i) => m.push(l, 's1', 1000 + i));
    expect(out).toEqual([]);
    expect(m.push('next event', 's1', 2000)).toEqual([{ streamKey: 's1', body: java, lineCount: lines.length, firstAtMs: 1000, truncated: false }]);
    expect(m.pendingStreams).toBe(1);
  });

  test('streams do not mix', () => {
    const m = new MultilineMerger();
    m.push('a1', 'a', 0);
    m.push('b1', 'b', 0);
    m.push('\tat a.A(A.java:1)', 'a', 1);
    m.push('\tat b.B(B.java:1)', 'b', 1);
    const out = [...m.push('a2', 'a', 2), ...m.push('b2', 'b', 2)];
    expect(out.map((e) => [e.streamKey, e.body])).toEqual([
      ['a', 'a1\n\tat a.A(A.java:1)'],
      ['b', 'b1\n\tat b.B(B.java:1)'],
    ]);
  });

  test('flush emits only streams quiet for the timeout; 0 flushes everything', () => {
    const m = new MultilineMerger();
    m.push('old', 'old', 0);
    m.push('fresh', 'fresh', 900);
    expect(m.flush(1000, 500).map((e) => e.body)).toEqual(['old']);
    expect(m.flush(1000, 500)).toEqual([]);
    expect(m.flush(1000, 0).map((e) => e.body)).toEqual(['fresh']);
    expect(m.pendingStreams).toBe(0);
  });

  test('a continuation keeps the stream alive for the timeout', () => {
    const m = new MultilineMerger();
    m.push('Traceback (most recent call last):', 's', 0);
    m.push('  File "a.py", line 1, in <module>', 's', 400);
    expect(m.flush(600, 500)).toEqual([]);
    expect(m.flush(900, 500).map((e) => e.lineCount)).toEqual([2]);
  });

  test('Python mode survives across messages: the exception line joins, the next line starts', () => {
    const m = new MultilineMerger();
    const out = [
      ...m.push('Traceback (most recent call last):', 's', 0),
      ...m.push('  File "a.py", line 1, in <module>', 's', 1),
      ...m.push('ValueError: bad', 's', 2),
      ...m.push('INFO next', 's', 3),
    ];
    expect(out.map((e) => e.body)).toEqual(['Traceback (most recent call last):\n  File "a.py", line 1, in <module>\nValueError: bad']);
  });

  test('Go: a blank line before the goroutine header is kept', () => {
    const m = new MultilineMerger();
    for (const [i, l] of goPanic.split('\n').entries()) m.push(l, 'g', i);
    expect(m.flush(100, 0).map((e) => e.body)).toEqual([goPanic]);
  });

  test('maxLines cuts an event, flags it and goes on', () => {
    const m = new MultilineMerger({ maxLines: 3 });
    const out = ['head', '  1', '  2', '  3', '  4'].flatMap((l) => m.push(l, 's', 0));
    expect(out).toEqual([{ streamKey: 's', body: 'head\n  1\n  2', lineCount: 3, firstAtMs: 0, truncated: true }]);
    expect(m.flush(0, 0).map((e) => e.body)).toEqual(['  3\n  4']);
  });

  test('maxChars bounds an event', () => {
    const m = new MultilineMerger({ maxChars: 10 });
    const out = ['12345', '  678', '  9ab'].flatMap((l) => m.push(l, 's', 0));
    expect(out.map((e) => [e.body, e.truncated])).toEqual([['12345', true], ['  678', true]]);
    expect(m.flush(0, 0).map((e) => e.body)).toEqual(['  9ab']);
  });
});

describe('a user start rule (sluice.yaml multiline.start)', () => {
  const dated = /^\d{2}\.\d{2}\.\d{4} /;

  test('only the rule decides: lines the built-in rules call a start continue the event', () => {
    const r = new ContinuationRules(dated);
    expect(r.classify('INFO something', false)).toBe('start');
    expect(r.classify('21.11.2024 10:00:00 ERROR boom', true)).toBe('start');
    expect(r.classify('INFO something', true)).toBe('continuation');
    expect(r.classify('2024-11-21 10:00:00 a digit, not the date', true)).toBe('continuation');
    expect(r.classify('{"json": true}', true)).toBe('continuation');
    expect(r.classify('Traceback (most recent call last):', true)).toBe('continuation');
    expect(r.classify('   ', true)).toBe('blank');
    expect(r.classify('', false)).toBe('blank');
  });

  test('the rule sees at most the first MAX_RULE_LINE characters of a line', () => {
    const r = new ContinuationRules(/^x+$/);
    expect(r.classify('x'.repeat(MAX_RULE_LINE), true)).toBe('start');
    expect(r.classify('x'.repeat(MAX_RULE_LINE + 10) + '!', true)).toBe('start');
    expect(r.classify('x'.repeat(MAX_RULE_LINE - 1) + '!', true)).toBe('continuation');
  });

  test('a global regex does not make a line depend on the line before', () => {
    const r = new ContinuationRules(/^\d/g);
    expect(['1 a', '2 b', '3 c'].map((l) => r.classify(l, true))).toEqual(['start', 'start', 'start']);
  });

  test('LineGrouper takes the rule', () => {
    const g = new LineGrouper<string>((l) => l, dated);
    const lines = ['first line before any date', '21.11.2024 10:00:00 one', 'INFO two', '', '3 three', '22.11.2024 10:00:00 four', ''];
    const out = [...lines.flatMap((l) => g.push(l)), ...g.finish()].map((e) => e.join('\n'));
    expect(out).toEqual(['first line before any date', '21.11.2024 10:00:00 one\nINFO two\n\n3 three', '22.11.2024 10:00:00 four']);
  });

  test('MultilineMerger: per stream; a stream without a rule keeps the built-in ones', () => {
    const m = new MultilineMerger();
    const feed = (line: string, key: string, start?: RegExp) => m.push(line, key, 0, { start });
    const out = [
      ...feed('21.11.2024 10:00:00 one', 'user', dated),
      ...feed('INFO one', 'builtin'),
      ...feed('INFO two', 'user', dated),
      ...feed('7 three', 'user', dated),
      ...feed('7 three', 'builtin'),
      ...feed('22.11.2024 10:00:00 four', 'user', dated),
    ];
    expect(out.map((e) => [e.streamKey, e.body])).toEqual([
      ['builtin', 'INFO one'],
      ['user', '21.11.2024 10:00:00 one\nINFO two\n7 three'],
    ]);
    expect(m.flush(0, 0).map((e) => [e.streamKey, e.body])).toEqual([
      ['user', '22.11.2024 10:00:00 four'],
      ['builtin', '7 three'],
    ]);
  });

  test('an event is classified by the rule of its first line', () => {
    const m = new MultilineMerger();
    const out = [
      ...m.push('21.11.2024 dated event', 's', 0, { start: dated }),
      // Given without a rule, but the pending event was started under one: it continues.
      ...m.push('INFO continues', 's', 1),
      // Starts the next event by the pending event's rule; that event has the built-in rules.
      ...m.push('22.11.2024 next', 's', 2),
      ...m.push('INFO separate', 's', 3),
      ...m.push('INFO with a rule again', 's', 4, { start: dated }),
      ...m.push('INFO joins', 's', 5, { start: dated }),
    ];
    expect(out.map((e) => e.body)).toEqual(['21.11.2024 dated event\nINFO continues', '22.11.2024 next', 'INFO separate']);
    expect(m.flush(9, 0).map((e) => e.body)).toEqual(['INFO with a rule again\nINFO joins']);
  });

  test('the rest of an event cut at maxLines keeps its rule', () => {
    const m = new MultilineMerger({ maxLines: 2 });
    const out = ['21.11.2024 a', 'b', 'c', 'd'].flatMap((l) => m.push(l, 's', 0, { start: dated }));
    expect(out.map((e) => [e.body, e.truncated])).toEqual([['21.11.2024 a\nb', true]]);
    expect(m.flush(0, 0).map((e) => e.body)).toEqual(['c\nd']);
  });

  test('a catastrophic user regex on a long line completes (linear-engine fallback)', () => {
    const [f] = compileFormats([{ name: 'evil', pattern: '%{GREEDYDATA:message}', multiline: { start: '^(a+)+$' } }]);
    const start = f!.multilineStart!;
    const m = new MultilineMerger();
    m.push('first', 's', 0, { start });
    expect(m.push(`${'a'.repeat(10_000)}!`, 's', 1, { start })).toEqual([]);
    expect(m.push('a'.repeat(10_000), 's', 2, { start }).map((e) => e.lineCount)).toEqual([2]);
  });
});
