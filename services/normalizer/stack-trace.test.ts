/** Error fields from merged stack traces, and HTTP fields from Go-middleware request lines. */
import { splitStackTrace } from './stack-trace.js';
import { goDurationMicros, requestLineHttp } from './request-line.js';

describe('splitStackTrace', () => {
  test('Java: the outermost exception; Caused by stays in the stack', () => {
    const s = splitStackTrace('failed\njava.lang.IllegalStateException: boom\n\tat a.B.c(B.java:1)\nCaused by: java.io.IOException: disk\n\t... 1 more');
    expect(s).toEqual({
      message: 'failed',
      error: { type: 'java.lang.IllegalStateException', message: 'boom', stack: 'java.lang.IllegalStateException: boom\n\tat a.B.c(B.java:1)\nCaused by: java.io.IOException: disk\n\t... 1 more' },
    });
  });
  test('Java: an uncaught exception on the first line, header without a message', () => {
    const s = splitStackTrace('Exception in thread "main" java.lang.NullPointerException\n\tat Main.main(Main.java:3)');
    expect(s?.message).toBe('Exception in thread "main" java.lang.NullPointerException');
    expect(s?.error.type).toBe('java.lang.NullPointerException');
    expect(s?.error.message).toBeNull();
  });
  test('Node: an unqualified Error type needs indented "at" frames', () => {
    expect(splitStackTrace('request failed\nTypeError: x is undefined\n    at handler (/app/h.js:3:9)')?.error).toEqual({ type: 'TypeError', message: 'x is undefined', stack: 'TypeError: x is undefined\n    at handler (/app/h.js:3:9)' });
    expect(splitStackTrace('request failed\nTypeError: x is undefined')).toBeNull();
    expect(splitStackTrace('summary\nWarning: low disk\n    at noon')).toBeNull();
  });
  test('.NET: indented header inside a Microsoft.Extensions.Logging console entry', () => {
    const s = splitStackTrace('fail: Shop.Api[0]\n      Request failed\n      System.TimeoutException: slow\n         at Shop.Api.Get() in /src/Api.cs:line 9');
    expect(s?.message).toBe('fail: Shop.Api[0]\n      Request failed');
    expect(s?.error.type).toBe('System.TimeoutException');
  });
  test('Python: type and message from the last exception line', () => {
    const s = splitStackTrace('job failed\nTraceback (most recent call last):\n  File "w.py", line 1, in <module>\n    f()\nZeroDivisionError: division by zero');
    expect(s?.message).toBe('job failed');
    expect(s?.error.type).toBe('ZeroDivisionError');
    expect(s?.error.message).toBe('division by zero');
    expect(s?.error.stack?.startsWith('Traceback (most recent call last):')).toBe(true);
  });
  test('Python: an exception without a message', () => {
    expect(splitStackTrace('stop\nTraceback (most recent call last):\n  File "w.py", line 1, in <module>\nStopIteration')?.error.type).toBe('StopIteration');
  });
  test('Go: panic with [recovered] and fatal error', () => {
    expect(splitStackTrace('panic: boom [recovered]\n\tpanic: boom\n\ngoroutine 7 [running]:\nmain.f()')?.error).toMatchObject({ type: 'panic', message: 'boom' });
    expect(splitStackTrace('fatal error: concurrent map writes\n\ngoroutine 1 [running]:\nruntime.throw()')?.error).toMatchObject({ type: 'fatal error', message: 'concurrent map writes' });
    expect(splitStackTrace('panic: boom\nno dump follows')).toBeNull();
  });
  test('multi-line text that is no stack trace is left alone', () => {
    expect(splitStackTrace('one line')).toBeNull();
    expect(splitStackTrace('config:\n  a = 1\n  at = 2 pm')).toBeNull();
    expect(splitStackTrace('see com.example.Foo\nand more\n\tat the end')).toBeNull();
  });
  test('a trace of 200,000 frames keeps every frame in the stack', () => {
    const frames = '\n\tat a.B.c(B.java:1)'.repeat(200_000);
    const s = splitStackTrace(`x\njava.lang.Error: e${frames}`);
    expect(s?.error.type).toBe('java.lang.Error');
    expect(s?.error.stack?.length).toBe(`java.lang.Error: e${frames}`.length);
  });
});

describe('requestLineHttp', () => {
  test('Loki / Grafana middleware lines', () => {
    expect(requestLineHttp('POST /loki/api/v1/push (204) 3.129545ms')).toEqual({ method: 'POST', route: null, path: '/loki/api/v1/push', status: 204, duration_us: 3130, bytes: null, client_ip: null, user_agent: null });
    expect(requestLineHttp('GET /ready (200) 1.2ms Request Headers: ...')?.duration_us).toBe(1200);
  });
  test('not a request line', () => {
    expect(requestLineHttp('GET /ready 200 1.2ms')).toBeNull();
    expect(requestLineHttp('FETCH /x (200) 1ms')).toBeNull();
    expect(requestLineHttp('GET /x (200) 1.2 ms')).toBeNull();
    expect(requestLineHttp('served GET /x (200) 1ms')).toBeNull();
  });
  test('Go durations', () => {
    expect([goDurationMicros('850µs'), goDurationMicros('120ns'), goDurationMicros('1.5s'), goDurationMicros('1m2.003s'), goDurationMicros('1h0m0s')]).toEqual([850, 0, 1_500_000, 62_003_000, 3_600_000_000]);
    expect(goDurationMicros('1.2')).toBeUndefined();
    expect(goDurationMicros('')).toBeUndefined();
  });
});
