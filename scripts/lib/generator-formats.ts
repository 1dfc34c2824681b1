/**
 * How each simulated service writes its lines. Deliberately independent of the
 * normalizer's code: these are the formats real software writes, and the generator's
 * tests check that Sluice reads them.
 *
 * Application log styles (one per service, all carrying W3C trace context):
 * - `pino-iso`   frontend:  pino JSON, numeric level, `time` RFC 3339 with µs, `name`, `msg`,
 *                           `traceparent: 00-<trace>-<span>-01`, `parent_span_id`;
 * - `node-camel` checkout:  Node/OTel JSON, `timestamp` RFC 3339 µs, `level` word, `service`,
 *                           `message`, `traceId` / `spanId` / `parentSpanId`, errors as pino `err`;
 * - `ecs-java`   payment:   ecs-logging-java JSON, `@timestamp`, `log.level`, `service.name`,
 *                           `trace.id` / `span.id`, `parent_id`, errors as `error.type/message/stack_trace`
 *                           (a multi-line Java stack trace);
 * - `otel-python` inventory: OTel Python JSON, `timestamp` with `+00:00`, `severity_text`, `body`,
 *                           `service.name`, `trace_id` / `span_id` / `parent_span_id`, errors as
 *                           `exception.type/message/stacktrace` (a multi-line Python traceback);
 * - `pino-ms`    catalog:   classic pino JSON, epoch-ms `time` (so its stated times are truncated to
 *                           the millisecond), numeric level, pino-otel `trace_id` / `span_id`;
 * - `logfmt`     db:        go-kit/logrus logfmt, `ts` RFC 3339 µs, `level`, `trace_id` / `span_id`.
 * Access logs:
 * - `nginx`  frontend.access: combined + `"$otel_traceparent" $request_time`; time = END of
 *            the request, to the second; request time in seconds with ms resolution;
 * - `apache` checkout.access: combined + `%D`; time = START of the request, to the second;
 *            request time in integer µs.
 */
export type GenLevel = 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';
export type AppStyle = 'pino-iso' | 'node-camel' | 'ecs-java' | 'otel-python' | 'pino-ms' | 'logfmt';
export type AccessStyle = 'nginx' | 'apache';

export interface AppLine {
  service: string;
  host: string;
  pid: number;
  time_us: number;
  level: GenLevel;
  msg: string;
  trace_id: string;
  span_id: string;
  parent_span_id: string | null;
  fields: Record<string, string | number>;
  error?: { type: string; message: string; stack: string } | undefined;
}

export interface AccessLine {
  /** Stated time of the line (start or end of the request, see the style), µs. */
  at_us: number;
  client_ip: string;
  method: string;
  path: string;
  status: number;
  bytes: number;
  user_agent: string;
  /** The request time exactly, µs; the line states it at the style's resolution. */
  duration_us: number;
  traceparent: string;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const pad = (n: number, w: number): string => String(n).padStart(w, '0');

/** RFC 3339 UTC with six fractional digits and `Z` (or `+00:00`). */
export function isoMicros(us: number, zulu = true): string {
  const d = new Date(Math.floor(us / 1000));
  const frac = pad(((us % 1_000_000) + 1_000_000) % 1_000_000, 6);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1, 2)}-${pad(d.getUTCDate(), 2)}T${pad(d.getUTCHours(), 2)}:${pad(d.getUTCMinutes(), 2)}:${pad(d.getUTCSeconds(), 2)}.${frac}${zulu ? 'Z' : '+00:00'}`;
}

/** `21/Nov/2026:09:00:00 +0000` (seconds; the fraction is dropped, as nginx and Apache do). */
function clfTime(us: number): string {
  const d = new Date(Math.floor(us / 1000));
  return `${pad(d.getUTCDate(), 2)}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${pad(d.getUTCHours(), 2)}:${pad(d.getUTCMinutes(), 2)}:${pad(d.getUTCSeconds(), 2)} +0000`;
}

const PINO_LEVEL: Record<GenLevel, number> = { DEBUG: 20, INFO: 30, WARN: 40, ERROR: 50 };
const PY_LEVEL: Record<GenLevel, string> = { DEBUG: 'DEBUG', INFO: 'INFO', WARN: 'WARNING', ERROR: 'ERROR' };

/** The event time a style states for an event at `us` (what a reader of the line gets). */
export function statedAppTime(style: AppStyle, us: number): number {
  return style === 'pino-ms' ? Math.floor(us / 1000) * 1000 : us;
}

function logfmtValue(v: string | number): string {
  const s = String(v);
  return /^[^\s"=\\]+$/.test(s) ? s : `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;
}

/** One application log line (a single physical line; stack traces are escaped inside JSON). */
export function renderApp(style: AppStyle, l: AppLine): string {
  const tp = `00-${l.trace_id}-${l.span_id}-01`;
  switch (style) {
    case 'pino-iso': {
      const o: Record<string, unknown> = { level: PINO_LEVEL[l.level], time: isoMicros(l.time_us), pid: l.pid, hostname: l.host, name: l.service, msg: l.msg, traceparent: tp };
      if (l.parent_span_id) o['parent_span_id'] = l.parent_span_id;
      Object.assign(o, l.fields);
      if (l.error) o['err'] = l.error;
      return JSON.stringify(o);
    }
    case 'pino-ms': {
      const o: Record<string, unknown> = { level: PINO_LEVEL[l.level], time: Math.floor(l.time_us / 1000), pid: l.pid, hostname: l.host, name: l.service, msg: l.msg, trace_id: l.trace_id, span_id: l.span_id, trace_flags: '01' };
      if (l.parent_span_id) o['parent_span_id'] = l.parent_span_id;
      Object.assign(o, l.fields);
      if (l.error) o['err'] = l.error;
      return JSON.stringify(o);
    }
    case 'node-camel': {
      const o: Record<string, unknown> = { timestamp: isoMicros(l.time_us), level: l.level.toLowerCase(), service: l.service, host: l.host, message: l.msg, traceId: l.trace_id, spanId: l.span_id };
      if (l.parent_span_id) o['parentSpanId'] = l.parent_span_id;
      Object.assign(o, l.fields);
      if (l.error) o['err'] = l.error;
      return JSON.stringify(o);
    }
    case 'ecs-java': {
      const o: Record<string, unknown> = {
        '@timestamp': isoMicros(l.time_us), 'log.level': l.level, message: l.msg, 'ecs.version': '1.2.0', 'service.name': l.service,
        'host.name': l.host, 'process.thread.name': `http-nio-8080-exec-${(parseInt(l.span_id.slice(0, 4), 16) % 16) + 1}`, 'log.logger': 'com.example.payment.ChargeController',
        'trace.id': l.trace_id, 'span.id': l.span_id,
      };
      if (l.parent_span_id) o['parent_id'] = l.parent_span_id;
      Object.assign(o, l.fields);
      if (l.error) Object.assign(o, { 'error.type': l.error.type, 'error.message': l.error.message, 'error.stack_trace': l.error.stack });
      return JSON.stringify(o);
    }
    case 'otel-python': {
      const o: Record<string, unknown> = { timestamp: isoMicros(l.time_us, false), severity_text: PY_LEVEL[l.level], body: l.msg, 'service.name': l.service, 'host.name': l.host, trace_id: l.trace_id, span_id: l.span_id };
      if (l.parent_span_id) o['parent_span_id'] = l.parent_span_id;
      Object.assign(o, l.fields);
      if (l.error) Object.assign(o, { 'exception.type': l.error.type, 'exception.message': l.error.message, 'exception.stacktrace': l.error.stack });
      return JSON.stringify(o);
    }
    case 'logfmt': {
      const pairs: Array<[string, string | number]> = [['ts', isoMicros(l.time_us)], ['level', l.level.toLowerCase()], ['service', l.service], ['host', l.host], ['msg', l.msg], ['trace_id', l.trace_id], ['span_id', l.span_id]];
      if (l.parent_span_id) pairs.push(['parent_span_id', l.parent_span_id]);
      pairs.push(...Object.entries(l.fields));
      if (l.error) pairs.push(['error', l.error.message]);
      return pairs.map(([k, v]) => `${k}=${logfmtValue(v)}`).join(' ');
    }
  }
}

/** The request time an access style states, µs (nginx: ms resolution; Apache %D: exact). */
export function statedDuration(style: AccessStyle, us: number): number {
  return style === 'nginx' ? Math.floor(us / 1000) * 1000 : us;
}

/** The event time an access style states, µs (to the second). */
export function statedAccessTime(us: number): number {
  return Math.floor(us / 1_000_000) * 1_000_000;
}

export function renderAccess(style: AccessStyle, a: AccessLine): string {
  const head = `${a.client_ip} - - [${clfTime(a.at_us)}] "${a.method} ${a.path} HTTP/1.1" ${a.status} ${a.bytes} "-" "${a.user_agent}"`;
  if (style === 'nginx') {
    const ms = Math.floor(a.duration_us / 1000);
    return `${head} "${a.traceparent}" ${Math.floor(ms / 1000)}.${pad(ms % 1000, 3)}`;
  }
  return `${head} ${a.duration_us}`;
}

/** Stack traces the failing services throw, by language. */
export const JAVA_ERRORS: ReadonlyArray<{ type: string; message: string; frames: string[]; cause?: string }> = [
  {
    type: 'com.example.payment.GatewayTimeoutException', message: 'card gateway did not answer within 2000 ms',
    frames: ['com.example.payment.gateway.CardGatewayClient.charge(CardGatewayClient.java:118)', 'com.example.payment.ChargeService.charge(ChargeService.java:64)', 'com.example.payment.ChargeController.post(ChargeController.java:41)', 'org.springframework.web.servlet.FrameworkServlet.service(FrameworkServlet.java:885)'],
    cause: 'java.net.SocketTimeoutException: Read timed out',
  },
  {
    type: 'java.lang.IllegalStateException', message: 'card token expired',
    frames: ['com.example.payment.TokenVault.resolve(TokenVault.java:77)', 'com.example.payment.ChargeService.charge(ChargeService.java:52)', 'com.example.payment.ChargeController.post(ChargeController.java:41)'],
  },
];

export function javaStack(e: (typeof JAVA_ERRORS)[number]): string {
  const lines = [`${e.type}: ${e.message}`, ...e.frames.map((f) => `\tat ${f}`)];
  if (e.cause) lines.push(`Caused by: ${e.cause}`, '\tat java.base/sun.nio.ch.NioSocketImpl.timedRead(NioSocketImpl.java:288)', '\t... 12 more');
  return lines.join('\n');
}

export const PYTHON_ERRORS: ReadonlyArray<{ type: string; message: string; raise: string }> = [
  { type: 'inventory.stock.InsufficientStock', message: 'sku-4821 has 0 units', raise: 'raise InsufficientStock(f"{sku} has {units} units")' },
  { type: 'KeyError', message: "'warehouse-eu-2'", raise: 'units = self.levels[warehouse][sku]' },
];

export function pythonStack(e: (typeof PYTHON_ERRORS)[number]): string {
  return [
    'Traceback (most recent call last):',
    '  File "/app/inventory/api.py", line 57, in reserve',
    '    reservation = stock.reserve(sku, qty)',
    '  File "/app/inventory/stock.py", line 112, in reserve',
    `    ${e.raise}`,
    `${e.type}: ${e.message}`,
  ].join('\n');
}

export function nodeStack(type: string, message: string): string {
  return [`${type}: ${message}`, '    at TCPConnectWrap.afterConnect [as oncomplete] (node:net:1611:16)', '    at async Router.handle (/app/node_modules/express/lib/router/index.js:284:7)'].join('\n');
}
