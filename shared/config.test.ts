import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeSchema, fileKeyOf, loadConfig, redacted, settingsFromFile, settingsJsonSchema, type Schema } from './config.js';
import { ConfigError } from './errors.js';
import { repoRoot } from './schemas.js';
import { loadServiceConfig } from './config-file.js';

const schema = {
  brokers: { type: 'list', env: 'T_BROKERS', default: ['a:1'], doc: 'brokers' },
  size: { type: 'int', env: 'T_X_SIZE', default: 10, min: 1, max: 100, doc: 'size', unit: 'bytes' },
  on: { type: 'bool', env: 'T_X_ON', default: false, doc: 'flag' },
  mode: { type: 'string', env: 'T_X_MODE', default: 'a', choices: ['a', 'b'], doc: 'mode' },
  secret: { type: 'optional-string', env: 'T_X_SECRET', doc: 'secret', secret: true },
} as const satisfies Schema;

describe('loadConfig', () => {
  test('defaults when nothing is set', () => {
    expect(loadConfig(schema, {})).toEqual({ brokers: ['a:1'], size: 10, on: false, mode: 'a', secret: undefined });
  });

  test('parses every type', () => {
    const c = loadConfig(schema, { T_BROKERS: 'x:1, y:2', T_X_SIZE: '42', T_X_ON: 'yes', T_X_MODE: 'b', T_X_SECRET: 's3cr3t' });
    expect(c).toEqual({ brokers: ['x:1', 'y:2'], size: 42, on: true, mode: 'b', secret: 's3cr3t' });
  });

  test('reports every problem at once', () => {
    let err: unknown;
    try {
      loadConfig(schema, { T_X_SIZE: '4.5', T_X_ON: 'maybe', T_X_MODE: 'c' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const msg = (err as Error).message;
    expect(msg).toContain('T_X_SIZE="4.5" is not a whole number');
    expect(msg).toContain('T_X_ON="maybe" is not a boolean');
    expect(msg).toContain('T_X_MODE="c" is not one of a, b');
  });

  test('enforces bounds', () => {
    expect(() => loadConfig(schema, { T_X_SIZE: '0' })).toThrow('below the minimum 1');
    expect(() => loadConfig(schema, { T_X_SIZE: '101' })).toThrow('above the maximum 100');
  });

  test('rejects unknown variables under its own prefixes (typos)', () => {
    expect(() => loadConfig(schema, { T_X_SIZ: '5' }, ['T_X_'])).toThrow('T_X_SIZ is not a known setting');
    expect(() => loadConfig(schema, { OTHER_THING: '5' }, ['T_X_'])).not.toThrow();
  });

  test('redacts secrets for the start-up log', () => {
    const c = loadConfig(schema, { T_X_SECRET: 'hunter2' });
    expect(redacted(schema, c)['secret']).toBe('***');
    expect(JSON.stringify(redacted(schema, c))).not.toContain('hunter2');
  });

  test('describes itself as a markdown table', () => {
    const md = describeSchema(schema);
    expect(md).toContain('| `T_X_SIZE` | — | `10` | size (bytes) |');
    expect(md).toContain('| `T_X_SECRET` | secret: or `T_X_SECRET_FILE` |');
  });
});

describe('value checks', () => {
  const checked = {
    url: { type: 'string', env: 'SLUICE_T_URL', default: 'http://127.0.0.1:1', check: 'url', doc: 'u' },
    ca: { type: 'optional-string', env: 'SLUICE_T_CA_FILE', check: 'file', doc: 'f' },
    brokers: { type: 'list', env: 'SLUICE_T_BROKERS', default: ['127.0.0.1:9092'], check: 'host-port', doc: 'b' },
  } as const satisfies Schema;
  const problems = (env: Record<string, string>): string => {
    try {
      loadConfig(checked, env);
      return '';
    } catch (err) {
      return (err as Error).message;
    }
  };

  test('good values pass', () => {
    expect(problems({ SLUICE_T_URL: 'https://es.example:9200/', SLUICE_T_CA_FILE: join(repoRoot(), 'package.json'), SLUICE_T_BROKERS: 'k1:9092,[::1]:9093' })).toBe('');
  });

  test.each([
    [{ SLUICE_T_URL: 'not a url' }, 'SLUICE_T_URL="not a url" is not a URL'],
    [{ SLUICE_T_URL: 'ftp://x' }, 'SLUICE_T_URL="ftp://x": ftp is not supported (http or https)'],
    [{ SLUICE_T_CA_FILE: '/no/such/ca.pem' }, 'SLUICE_T_CA_FILE="/no/such/ca.pem": no such file'],
    [{ SLUICE_T_BROKERS: 'k1:9092,k2' }, 'SLUICE_T_BROKERS: "k2" is not host:port'],
  ])('%j is refused: %s', (env, message) => {
    expect(problems(env)).toContain(message);
  });
});

describe('secrets from files', () => {
  const s = { password: { type: 'optional-string', env: 'SLUICE_T_PASSWORD', doc: 'p', secret: true } } as const satisfies Schema;
  const dir = mkdtempSync(join(tmpdir(), 'sluice-secret-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('<VARIABLE>_FILE holds the value (its last newline dropped)', () => {
    const f = join(dir, 'pw');
    writeFileSync(f, 'hunter2\n');
    expect(loadConfig(s, { SLUICE_T_PASSWORD_FILE: f }, ['SLUICE_T_']).password).toBe('hunter2');
  });

  test('both set, or an unreadable file, is refused without printing the value', () => {
    const f = join(dir, 'pw2');
    writeFileSync(f, 'hunter2');
    expect(() => loadConfig(s, { SLUICE_T_PASSWORD: 'other', SLUICE_T_PASSWORD_FILE: f })).toThrow('SLUICE_T_PASSWORD and SLUICE_T_PASSWORD_FILE are both set');
    expect(() => loadConfig(s, { SLUICE_T_PASSWORD_FILE: join(dir, 'missing') })).toThrow(/SLUICE_T_PASSWORD_FILE=.*cannot read it \(ENOENT\)/);
  });
});

describe('sluice.yaml sections', () => {
  const s = {
    brokers: { type: 'list', env: 'SLUICE_KAFKA_BROKERS', default: ['a:1'], doc: 'b' },
    maxDocs: { type: 'int', env: 'SLUICE_SINK_ES_MAX_DOCS', default: 10, min: 1, doc: 'm' },
    pw: { type: 'optional-string', env: 'SLUICE_ES_PASSWORD', doc: 'p', secret: true },
    file: { type: 'optional-string', env: 'SLUICE_CONFIG', doc: 'c' },
  } as const satisfies Schema;

  test('SLUICE_<SECTION>_<REST> is <section>.<rest>; secrets and section-less variables have no place', () => {
    expect([s.brokers, s.maxDocs, s.pw, s.file].map((f) => fileKeyOf(f))).toEqual([['kafka', 'brokers'], ['sink', 'es_max_docs'], null, null]);
  });

  test('file values become the variables they stand for, lists joined', () => {
    expect(settingsFromFile(s, { kafka: { brokers: ['k1:1', 'k2:2'] }, sink: { es_max_docs: 500 }, es: { password: 'x' } })).toEqual({ SLUICE_KAFKA_BROKERS: 'k1:1,k2:2', SLUICE_SINK_ES_MAX_DOCS: '500' });
  });

  test('the JSON Schema has a typed, closed section per prefix', () => {
    const js = settingsJsonSchema([s]) as Record<string, { properties: Record<string, { type?: string; minimum?: number }>; additionalProperties: boolean }>;
    expect(Object.keys(js)).toEqual(['kafka', 'sink']);
    expect(js['sink']!.properties['es_max_docs']).toMatchObject({ type: 'integer', minimum: 1 });
    expect(js['kafka']!.additionalProperties).toBe(false);
  });
});

describe('loadServiceConfig: the environment over sluice.yaml over the defaults', () => {
  const s = {
    maxDocs: { type: 'int', env: 'SLUICE_SINK_ES_MAX_DOCS', default: 10, min: 1, doc: 'm' },
    url: { type: 'string', env: 'SLUICE_ES_URL', default: 'http://127.0.0.1:9200', check: 'url', doc: 'u' },
  } as const satisfies Schema;
  const dir = mkdtempSync(join(tmpdir(), 'sluice-cfg-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const f = join(dir, 'sluice.yaml');
  writeFileSync(f, 'sink:\n  es_max_docs: 500\nes:\n  url: https://es.example:9200\n');

  test('the file sets what the environment does not', () => {
    expect(loadServiceConfig(s, { SLUICE_CONFIG: f }).config).toEqual({ maxDocs: 500, url: 'https://es.example:9200' });
  });
  test('a variable that is set wins; an empty one does not', () => {
    expect(loadServiceConfig(s, { SLUICE_CONFIG: f, SLUICE_SINK_ES_MAX_DOCS: '7', SLUICE_ES_URL: '' }).config).toEqual({ maxDocs: 7, url: 'https://es.example:9200' });
  });
  test('no file: the defaults', () => {
    expect(loadServiceConfig(s, {}, [], []).config.maxDocs).toBe(10);
  });
});

describe('Kafka TLS options', () => {
  test('off, system CAs, or the files read; a certificate without its key is refused', async () => {
    const { tlsOptions } = await import('./kafka.js');
    const pkg = join(repoRoot(), 'package.json');
    expect(tlsOptions({ ssl: false })).toBe(false);
    expect(tlsOptions({ ssl: true })).toBe(true);
    const o = tlsOptions({ ssl: false, caFile: pkg, certFile: pkg, keyFile: pkg, keyPassword: 'pw' }) as { ca: string[]; cert: string; passphrase: string };
    expect([o.ca[0]!.includes('"name"'), o.cert.includes('"name"'), o.passphrase]).toEqual([true, true, 'pw']);
    expect(() => tlsOptions({ ssl: true, certFile: pkg })).toThrow('SLUICE_KAFKA_CERT_FILE and SLUICE_KAFKA_KEY_FILE go together');
  });
});
