/** `sluice validate`, `sluice learn`, `sluice parse --rules --explain` and a service's start with a broken sluice.yaml, through the built CLI. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { parse as parseYaml } from 'yaml';
import { repoRoot } from '../shared/schemas.js';
import { EXIT_CONFIG } from '../shared/main-helpers.js';

const root = repoRoot();
const cli = join(root, 'dist', 'bin', 'sluice.js');
const env = { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SLUICE_'))), SLUICE_KAFKA_BROKERS: '127.0.0.1:1' };
const sluice = (args: string[], opts: { cwd?: string; input?: string } = {}) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', env, ...opts });

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-formats-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const file = (name: string, text: string): string => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

describe('sluice validate', () => {
  test('the shipped example passes', () => {
    const r = sluice(['validate', join(root, 'examples', 'sluice.yaml')]);
    expect([r.status, r.stdout]).toEqual([0, `${join(root, 'examples', 'sluice.yaml')}: ok, 3 formats, 3 routes, 3 tenants allowed, 11 settings from the file\n`]);
  });

  // Issue #12: five broken configurations, each refused with its exact problem.
  test.each([
    ['a setting of the wrong type', 'sink:\n  es_max_docs: lots\n', {}, ':2:16: sink.es_max_docs: must be integer'],
    ['a misspelt setting', 'sink:\n  es_max_doc: 10\n', {}, ':2:3: sink: must NOT have additional properties "es_max_doc"'],
    ['a secret in the file', 'es:\n  password: hunter2\n', {}, 'must NOT have additional properties "password" (a secret is never read from this file'],
    ['an Elasticsearch URL that is not one', 'es:\n  url: not a url\n', {}, ':2:8: es.url: must match pattern'],
    ['a registry URL with another scheme, from the environment', 'kafka:\n  brokers: [127.0.0.1:9092]\n', { SLUICE_REGISTRY_URL: 'ftp://x' }, 'settings: SLUICE_REGISTRY_URL="ftp://x": ftp is not supported (http or https)'],
    ['a CA file that does not exist', 'es:\n  ca_file: /no/such/ca.pem\n', {}, 'settings: SLUICE_ES_CA_FILE="/no/such/ca.pem": no such file'],
    ['an unknown variable', '', { SLUICE_SINK_ES_MAXDOCS: '3' }, 'settings: SLUICE_SINK_ES_MAXDOCS is not a known setting'],
    ['a registry client key file that does not exist', 'registry:\n  url: https://127.0.0.1:8444/apis/ccompat/v7\n  key_file: /no/such/client.key\n', {}, 'settings: SLUICE_REGISTRY_KEY_FILE="/no/such/client.key": no such file'],
    ['a registry client certificate without its key', 'registry:\n  url: https://127.0.0.1:8444/apis/ccompat/v7\n', { SLUICE_REGISTRY_CERT_FILE: join(root, 'README.md') }, 'settings: SLUICE_REGISTRY_CERT_FILE and SLUICE_REGISTRY_KEY_FILE go together'],
  ])('%s: exit 78 naming it', (_case, text, extraEnv, problem) => {
    const p = file('settings.yaml', text);
    const r = spawnSync(process.execPath, [cli, 'validate', p], { encoding: 'utf8', env: { ...env, ...extraEnv } });
    expect(r.stderr).toContain(problem);
    expect(r.status).toBe(EXIT_CONFIG);
  });

  test('--connect names an endpoint that does not answer (exit 1)', () => {
    const r = spawnSync(process.execPath, [cli, 'validate', '--connect'], { encoding: 'utf8', cwd: dir, env: { ...env, SLUICE_REGISTRY_URL: 'http://127.0.0.1:1', SLUICE_SINK_WRITERS: 'es', SLUICE_ES_URL: 'http://127.0.0.1:1' }, timeout: 60_000 });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('UNREACHABLE: kafka (127.0.0.1:1)');
    expect(r.stderr).toContain('UNREACHABLE: schema registry (http://127.0.0.1:1)');
    expect(r.stderr).toContain('UNREACHABLE: elasticsearch (http://127.0.0.1:1)');
  });

  test.each([
    ['unknown key', 'formats:\n  - name: a\n    pattern: x\n    colour: red\n', '2:5: formats[0] "a": must NOT have additional properties "colour"'],
    ['unknown sub-pattern', "formats:\n  - name: a\n    pattern: '%{NOPE:x}'\n", '3:14: formats[0] "a": pattern: unknown sub-pattern %{NOPE}'],
    ['unbounded regex', "formats:\n  - name: a\n    pattern: '(a)\\1'\n", '3:14: formats[0] "a": pattern: uses what cannot run in bounded time'],
    ['bad layout', "formats:\n  - name: a\n    pattern: '%{DATA:time}'\n    time: { layout: 'yyyy-QQ-dd HH:mm' }\n", "4:21: formats[0] \"a\": time.layout: time layout 'yyyy-QQ-dd HH:mm': unknown pattern letters 'QQ'"],
    ['bad zone', "formats:\n  - name: a\n    pattern: '%{DATA:time}'\n    time: { layout: 'HH:mm', zone: Mars/Base }\n", '4:36: formats[0] "a": time.zone: "Mars/Base" is not an IANA time zone'],
    ['YAML syntax', 'formats:\n  - name: a\n    pattern: [unclosed\n', ':1:'],
  ])('%s: exit 78 with file, line, rule and problem', (_case, text, problem) => {
    const p = file('broken.yaml', text);
    const r = sluice(['validate', p]);
    expect(r.status).toBe(EXIT_CONFIG);
    expect(r.stderr).toContain(`${p}:`);
    expect(r.stderr).toContain(problem);
  });

  test('every broken rule is listed, not only the first', () => {
    const p = file('two.yaml', "formats:\n  - name: a\n    pattern: '%{NOPE}'\n  - name: b\n    pattern: '%{ALSO_NOPE}'\n");
    const r = sluice(['validate', p]);
    expect(r.stderr.trim().split('\n')).toHaveLength(2);
  });

  test('--sample names a format that reads nothing', () => {
    const sample = file('sample.log', '2024-03-01 12:00:00 INFO hello\n');
    const p = file('sample.yaml', "formats:\n  - name: hits\n    pattern: '%{TIMESTAMP_ISO8601:ts} %{LOGLEVEL:level} %{GREEDYDATA:message}'\n  - name: misses\n    pattern: 'NEVER %{GREEDYDATA:message}'\n");
    const r = sluice(['validate', p, '--sample', sample]);
    expect(r.status).toBe(1);
    expect(r.stdout).toContain('| hits | 1 | 1 | 0 | 1 |');
    expect(r.stderr).toContain('format "misses" reads no line');
  });
});

describe('your own format: learn, paste, parse --explain', () => {
  const sample = [
    '01.03.2024 12:00:00.123 [main] INFO  com.acme.shop.Checkout - order placed id=1',
    '01.03.2024 12:00:01.456 [http-nio-8080-exec-1] WARN  com.acme.shop.Cart - cart almost full',
    '13.03.2024 12:00:02.789 [http-nio-8080-exec-2] ERROR com.acme.shop.Payment - payment failed',
    'Details: amount=12 currency=EUR',
    'java.lang.IllegalStateException: card declined',
    '\tat com.acme.shop.Payment.charge(Payment.java:42)',
    '13.03.2024 12:00:03.000 [main] DEBUG com.acme.shop.Checkout - retry scheduled',
  ].join('\n') + '\n';

  test('the learned rule reads every event with its time and level', () => {
    const log = file('shop.log', sample);
    const learned = sluice(['learn', log, '--name', 'shop']);
    expect(learned.status).toBe(0);
    expect(learned.stdout).toContain('time:       d.M.yyyy H:mm:ss.SSS');
    expect(learned.stdout).toContain('confidence: 100.0%');
    const yaml = learned.stdout.slice(learned.stdout.indexOf('\nformats:') + 1);
    const rules = file('learned.yaml', yaml);
    expect(sluice(['validate', rules]).status).toBe(0);
    const parsed = sluice(['parse', '--rules', rules, '--explain', log]);
    expect(parsed.status).toBe(0);
    const records = parsed.stdout.trim().split('\n').map((l) => JSON.parse(l) as { timestamp: string; level: string; message: string; error: unknown; explain: { reader: string } });
    expect(records.map((r) => [r.timestamp, r.level, r.explain.reader])).toEqual([
      ['2024-03-01T12:00:00.123000Z', 'INFO', 'format "shop" (sluice.yaml)'],
      ['2024-03-01T12:00:01.456000Z', 'WARN', 'format "shop" (sluice.yaml)'],
      ['2024-03-13T12:00:02.789000Z', 'ERROR', 'format "shop" (sluice.yaml)'],
      ['2024-03-13T12:00:03.000000Z', 'DEBUG', 'format "shop" (sluice.yaml)'],
    ]);
    // `Details: …` opens like an event for the built-in rules; the learned start rule keeps it in the event.
    expect(records[2]?.message).toBe('payment failed\nDetails: amount=12 currency=EUR');
    expect(records[2]?.error).toMatchObject({ type: 'java.lang.IllegalStateException', message: 'card declined' });
    expect(parsed.stderr).toContain('formats: shop 4');
    expect((parseYaml(yaml) as { formats: Array<{ multiline?: unknown }> }).formats[0]?.multiline).toBeDefined();
  });

  test('a sample with no known time says so and prints no rule', () => {
    const r = sluice(['learn', file('none.log', 'hello\nworld\n')]);
    expect(r.status).toBe(1);
    expect(r.stdout).toContain('no line has a time the catalogue knows');
  });

  test('the three lines of issue #9 are read without any rule', () => {
    const r = sluice(['parse', '--explain'], { input: '2024-03-01T12:00:00Z something happened\n[2024-03-01 12:00:00] production.ERROR: boom\n2024/03/01 12:00:00 [error] 1234#0: *5 open() "/x" failed\n' });
    const records = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { timestamp: string; timestamp_source: string; level: string });
    expect(records.map((x) => [x.timestamp, x.timestamp_source, x.level])).toEqual([
      ['2024-03-01T12:00:00.000000Z', 'event', 'UNKNOWN'],
      ['2024-03-01T12:00:00.000000Z', 'event', 'ERROR'],
      ['2024-03-01T12:00:00.000000Z', 'event', 'ERROR'],
    ]);
  });
});

test('a service started with a broken setting exits 78 naming it', () => {
  const p = file('service-settings.yaml', 'es:\n  url: http://127.0.0.1:9200\n');
  const r = spawnSync(process.execPath, [join(root, 'dist', 'services', 'sink', 'main.js')], { encoding: 'utf8', env: { ...env, SLUICE_CONFIG: p, SLUICE_ES_CA_FILE: '/no/such/ca.pem' }, timeout: 30_000 });
  expect(r.status).toBe(EXIT_CONFIG);
  expect(r.stderr).toContain('SLUICE_ES_CA_FILE="/no/such/ca.pem": no such file');
});

test('a service started with a broken sluice.yaml exits 78 naming the problem', () => {
  const p = file('service.yaml', "formats:\n  - name: a\n    pattern: '%{NOPE}'\n");
  const r = spawnSync(process.execPath, [join(root, 'dist', 'services', 'normalizer', 'main.js')], { encoding: 'utf8', env: { ...env, SLUICE_CONFIG: p }, timeout: 30_000 });
  expect(r.status).toBe(EXIT_CONFIG);
  expect(r.stderr).toContain('formats[0] "a": pattern: unknown sub-pattern %{NOPE}');
});
