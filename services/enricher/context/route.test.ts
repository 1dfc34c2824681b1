import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { templateRoute } from './route.js';

// The corpus is read in place ($SLUICE_CORPUS_DIR or ../shared/corpus beside the repo).
const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const apacheLog = join(process.env['SLUICE_CORPUS_DIR'] || join(repoRoot, '..', 'shared', 'corpus'), 'elastic-examples', 'apache_logs', 'apache_logs');

const opts = { maxSegments: 8 };
const route = (p: string): string | null => templateRoute(p, opts);

describe('templateRoute', () => {
  test.each([
    ['/users/12345', '/users/{id}'],
    ['/api/v1/users/42/orders/9001', '/api/v1/users/{id}/orders/{id}'],
    ['/orders/3f2b8c1e-9a4d-4e7b-8c2d-1a2b3c4d5e6f', '/orders/{uuid}'],
    ['/orders/3F2B8C1E-9A4D-4E7B-8C2D-1A2B3C4D5E6F/items', '/orders/{uuid}/items'],
    ['/commits/9fceb02d0ae598e95dc970b74767f19372d61af8', '/commits/{hex}'],
    ['/products/507f1f77bcf86cd799439011', '/products/{hex}'],
    ['/users/alice.smith@example.com/profile', '/users/{email}/profile'],
    ['/reports/2024-05-17', '/reports/{date}'],
    ['/events/01HZX3K9V4Q8W7N2M5P6R1T0YA', '/events/{id}'],
    ['/reset/eyJhbGciOiJIUzI1NiJ9xQ2k7Lm9pZ3RtVw', '/reset/{token}'],
    ['/s/k3j4h5g6f7d8s9a0', '/s/{token}'],
    ['/orders/ORD-2024-000123', '/orders/{id}'],
    ['/invoice/order-12345', '/invoice/{id}'],
    ['/images/12345.jpg', '/images/{id}.jpg'],
    ['/fonts/xjAJXh38I15wypJXxuGMBp0EAVxt0G0biEntp43Qt6E.ttf', '/fonts/{token}.ttf'],
    ['/search?q=shoes&page=2', '/search'],
    ['/a/b#frag', '/a/b'],
    ['https://shop.example.com/cart/77?x=1', '/cart/{id}'],
    ['http://example.com', '/'],
    ['/', '/'],
    ['/healthz', '/healthz'],
    ['/api/v2/oauth2/token', '/api/v2/oauth2/token'],
    ['/blog/logstash-monitorama-2013/slides', '/blog/logstash-monitorama-2013/slides'],
    ['/static/app.min.js', '/static/app.min.js'],
    ['/x86_64/packages', '/x86_64/packages'],
    ['/price/-12.50', '/price/{id}'],
    ['/a//b/', '/a//b/'],
  ])('%s -> %s', (path, expected) => {
    expect(route(path)).toBe(expected);
  });

  test('paths that are not paths have no route', () => {
    expect(route('*')).toBeNull();
    expect(route('-')).toBeNull();
    expect(route('example.com:443')).toBeNull();
  });

  test('depth is bounded: deeper paths end in /{*}', () => {
    expect(templateRoute('/a/b/c/d/e', { maxSegments: 3 })).toBe('/a/b/c/{*}');
    expect(templateRoute('/a/b/c', { maxSegments: 3 })).toBe('/a/b/c');
    expect(templateRoute('/a/1/c/2/e', { maxSegments: 2 })).toBe('/a/{id}/{*}');
  });

  test('segment length is bounded: a segment over 64 characters becomes {token}', () => {
    const long = 'a'.repeat(65);
    expect(route(`/x/${long}`)).toBe('/x/{token}');
    expect(route(`/x/${'a'.repeat(64)}`)).toBe(`/x/${'a'.repeat(64)}`);
    // Whatever the input, a route is at most maxSegments * (64 + 1) + 4 characters.
    const nasty = '/' + Array.from({ length: 50 }, (_, i) => 'seg'.repeat(i)).join('/');
    expect(route(nasty)!.length).toBeLessThanOrEqual(8 * 65 + 4);
  });

  test('deterministic: the same path gives the same route', () => {
    const p = '/users/42/orders/3f2b8c1e-9a4d-4e7b-8c2d-1a2b3c4d5e6f?x=1';
    expect(route(p)).toBe(route(p));
  });

  test('ids vary, routes do not: 1000 users give one route', () => {
    const routes = new Set(Array.from({ length: 1000 }, (_, i) => route(`/api/users/${1000 + i * 7919}/orders/${crypto.randomUUID()}`)));
    expect([...routes]).toEqual(['/api/users/{id}/orders/{uuid}']);
  });

  (existsSync(apacheLog) ? test : test.skip)('elastic-examples apache_logs: distinct routes vs distinct paths', () => {
    const lines = readFileSync(apacheLog, 'utf8').split('\n');
    const paths = new Set<string>();
    const routes = new Set<string>();
    for (const line of lines) {
      const m = /"[A-Z]+ (\S+) HTTP\/[\d.]+"/.exec(line);
      if (!m) continue;
      paths.add(m[1]!);
      const r = route(m[1]!);
      if (r !== null) routes.add(r);
    }
    console.log(`apache_logs: ${paths.size} distinct paths -> ${routes.size} distinct routes`);
    expect(paths.size).toBeGreaterThan(1000);
    // A site of mostly static files: the routes that remain are real files; the ids,
    // dates and query strings are gone.
    expect(routes.size).toBeLessThan(paths.size * 0.9);
    expect([...routes].some((r) => r.includes('?'))).toBe(false);
    expect(routes.has('/blog/geekery/{id}.html')).toBe(true);
    expect(routes.has('/files/blogposts/{id}/')).toBe(true);
  });
});
