import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadCatalog, parseCatalog } from './catalog.js';
import { ConfigError } from '../../../shared/errors.js';

const example = join(dirname(fileURLToPath(import.meta.url)), 'testdata', 'catalog.json');

describe('service catalog', () => {
  test('the shipped example loads; numbers become strings; missing fields stay absent', () => {
    const c = loadCatalog(example, (p) => readFileSync(p, 'utf8'));
    expect(c.get('ts-order-service')).toEqual({ team: 'orders', tier: '1', owner: 'orders-oncall@example.com' });
    expect(c.get('checkout')).toEqual({ team: 'payments', tier: '2' });
    expect(c.get('batch-reports')).toEqual({ owner: 'data-platform' });
    expect(c.get('unknown')).toBeUndefined();
  });

  test('the file is read once, through the loader', () => {
    let reads = 0;
    loadCatalog('catalog.json', () => {
      reads++;
      return '{"services": {}}';
    });
    expect(reads).toBe(1);
  });

  test.each([
    ['not json', 'not valid JSON'],
    ['[]', 'expected {"services"'],
    ['{"services": {}, "extra": 1}', 'unknown top-level key "extra"'],
    ['{"services": {"a": "team"}}', 'is not an object'],
    ['{"services": {"a": {"teem": "x"}}}', 'services["a"].teem is not one of team, tier, owner'],
    ['{"services": {"a": {"team": ["x"]}}}', 'must be a string'],
  ])('%s is rejected at start-up', (text, message) => {
    expect(() => parseCatalog(text, 'cat.json')).toThrow(ConfigError);
    expect(() => parseCatalog(text, 'cat.json')).toThrow(message);
  });

  test('an unreadable file is a ConfigError naming the variable', () => {
    expect(() => loadCatalog('/nope.json', () => {
      throw new Error('ENOENT');
    })).toThrow(/SLUICE_ENRICHER_CATALOG_FILE=\/nope.json: cannot read \(ENOENT\)/);
  });
});
