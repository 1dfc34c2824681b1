/**
 * Micro-benchmark of the enrichment context (not a test: timing belongs in benchmarks).
 *
 *   npm run build && node dist/scripts/bench-enrich-context.js [records]
 *
 * Prints CPU ns/record (process CPU time, not wall time) for each part and for the composed `enrich()` over a mix of
 * realistic records: JSON app logs, access logs with user agents, Kubernetes paths,
 * some carrying PII. All parts on, with a catalog.
 */
import { createEnrichContext, defaultEnrichConfig, enrich } from '../services/enricher/enrich.js';
import type { LogRecord } from '../shared/records.js';
import { createRedactor, BUILTIN_KINDS } from '../services/enricher/context/redact.js';
import { templateRoute } from '../services/enricher/context/route.js';
import { createUserAgentParser } from '../services/enricher/context/user-agent.js';
import { k8sFromPath } from '../services/enricher/context/kubernetes.js';
import { workloadOf } from '../shared/kubernetes.js';

const N = Number(process.argv[2] ?? 200_000);

const UAS = [
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1',
  'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)',
  'curl/8.5.0',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0',
];
const PATHS = ['/api/v1/users/12345/orders', '/api/v1/orders/3f2b8c1e-9a4d-4e7b-8c2d-1a2b3c4d5e6f', '/healthz', '/static/js/app.4f9a2b7c.js', '/search?q=shoes&page=2'];
const MESSAGES = [
  'GET /api/v1/users/12345/orders 200 12.3ms',
  'order created for customer 8812, total 129.90 EUR, items=3',
  'payment declined for alice.smith@example.com card 4111 1111 1111 1111',
  'upstream call failed: connect ECONNREFUSED 10.0.3.7:8080 after 3 retries (circuit half-open)',
  'Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.abcDEF123 rejected',
  'cache miss for key session:7f3a9b2c1d, falling back to database read on replica-2',
];

function record(i: number): LogRecord {
  const http = i % 2 === 0;
  return {
    event_id: `E${i}`, timestamp: 1_700_000_000_000_000 + i, timestamp_source: 'event', observed_at: 1_700_000_000_000_000, level: 'INFO', severity_number: 9,
    message: MESSAGES[i % MESSAGES.length]!, service: i % 3 === 0 ? null : 'ts-order-service', host: 'node-1', tenant: 'acme', environment: null,
    source: { format: 'json', shipper: null, file: i % 3 === 0 ? '/var/log/containers/ts-order-service-5d8f7b9c4-xk2lp_train_server-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.log' : null, topic: 'logs.raw', partition: 0, offset: i },
    trace_id: null, span_id: null, parent_span_id: null, ids: { request_id: `req-${i}` },
    http: http ? { method: 'GET', route: null, path: PATHS[i % PATHS.length]!, status: 200, duration_us: 1200, bytes: 512, client_ip: '203.0.113.9', user_agent: UAS[i % UAS.length]! } : null,
    error: null, attributes: { 'thread': 'http-nio-8080-exec-3', 'logger': 'com.acme.OrderController', 'user.email': i % 10 === 0 ? 'bob@example.org' : 'n/a' }, labels: {}, flags: [],
  };
}

/** Process CPU time in ns: on a shared machine, wall time counts other processes' work too. */
function cpuNs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) * 1000;
}

function time(name: string, n: number, fn: (i: number) => unknown): void {
  for (let i = 0; i < Math.min(n, 20_000); i++) fn(i); // warm-up
  const t0 = cpuNs();
  let sink = 0;
  for (let i = 0; i < n; i++) sink += fn(i) === undefined ? 0 : 1;
  const ns = (cpuNs() - t0) / n;
  process.stdout.write(`${name.padEnd(32)} ${ns.toFixed(0).padStart(7)} ns/record  (${(1e9 / ns / 1000).toFixed(0)}k/s)${sink < 0 ? '!' : ''}\n`);
}

const records = Array.from({ length: 1000 }, (_, i) => record(i));
const catalog = JSON.stringify({ services: { 'ts-order-service': { team: 'orders', tier: '1', owner: 'orders@acme.example' } } });
const ctx = createEnrichContext({ ...defaultEnrichConfig, catalogFile: 'catalog.json' }, { readFile: () => catalog });
const redactor = createRedactor({ kinds: BUILTIN_KINDS, patterns: {}, maxChars: 65_536 });
const ua = createUserAgentParser(10_000);

time('redact message', N, (i) => redactor.redact(MESSAGES[i % MESSAGES.length]!));
time('route template', N, (i) => templateRoute(PATHS[i % PATHS.length]!, { maxSegments: 8 }));
time('user agent (cached)', N, (i) => ua.parse(UAS[i % UAS.length]!));
time('user agent (uncached)', Math.min(N, 20_000), (i) => createUserAgentParser(0).parse(UAS[i % UAS.length]!));
time('kubernetes path (uncached)', N, (i) => workloadOf(k8sFromPath(records[0]!.source.file!)!.pod! + String(i % 2)));
time('enrich() all parts, PII mix', N, (i) => enrich(records[i % records.length]!, ctx));
// Without PII: messages 0, 1, 3 and 5 and no e-mail attribute (the common case).
const clean = records.map((r, i) => ({ ...r, message: MESSAGES[[0, 1, 3, 5][i % 4]!]!, attributes: { ...r.attributes, 'user.email': 'n/a' } }));
time('enrich() all parts, no PII', N, (i) => enrich(clean[i % clean.length]!, ctx));
time('reference: JSON.stringify(record)', N, (i) => JSON.stringify(records[i % records.length]!));
