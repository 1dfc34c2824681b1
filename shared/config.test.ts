import { describeSchema, loadConfig, redacted, type Schema } from './config.js';
import { ConfigError } from './errors.js';

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
    expect(md).toContain('| `T_X_SIZE` | `10` | size (bytes) |');
  });
});
