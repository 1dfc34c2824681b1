import { createUserAgentParser, parseUserAgent } from './user-agent.js';
import { memoize } from './memo.js';

describe('parseUserAgent', () => {
  test.each([
    ['Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_1) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/32.0.1700.77 Safari/537.36', { browser: 'Chrome', os: 'Mac OS', device: 'desktop' }],
    ['Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0', { browser: 'Firefox', os: 'Windows', device: 'desktop' }],
    ['Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1', { browser: 'Mobile Safari', os: 'iOS', device: 'mobile' }],
    ['Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1', { browser: 'Mobile Safari', os: 'iOS', device: 'tablet' }],
    ['Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36', { browser: 'Chrome', os: 'Android', device: 'mobile' }],
    ['Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)', { browser: null, os: null, device: 'bot' }],
    ['Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)', { browser: null, os: null, device: 'bot' }],
    ['curl/8.5.0', { browser: null, os: null, device: null }],
    ['', { browser: null, os: null, device: null }],
  ])('%s', (ua, want) => expect(parseUserAgent(ua)).toEqual(want));
});

describe('createUserAgentParser', () => {
  test('cached results equal uncached ones', () => {
    const cached = createUserAgentParser(2);
    const ua = 'Mozilla/5.0 (X11; Linux x86_64; rv:109.0) Gecko/20100101 Firefox/115.0';
    expect(cached.parse(ua)).toEqual(parseUserAgent(ua));
    expect(cached.parse(ua)).toEqual(parseUserAgent(ua));
    expect(createUserAgentParser(0).parse(ua)).toEqual(parseUserAgent(ua));
  });

  test('very long agents are parsed by their first 512 characters', () => {
    const ua = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36 ' + 'x'.repeat(100_000);
    expect(createUserAgentParser(10).parse(ua).browser).toBe('Chrome');
  });
});

describe('memoize (bounded LRU)', () => {
  test('evicts the least recently used entry, stays bounded, caches null results', () => {
    const calls: string[] = [];
    const f = memoize(2, (k: string) => {
      calls.push(k);
      return k === 'n' ? null : k.toUpperCase();
    });
    f('a');
    f('b');
    f('a'); // a is now the most recent
    f('c'); // evicts b
    f('b'); // computed again; evicts a (c is more recent)
    f('c'); // still cached
    expect(calls).toEqual(['a', 'b', 'c', 'b']);
    expect(f.size).toBe(2);
    const g = memoize(3, (k: string) => (calls.push(k), null));
    g('n');
    g('n');
    expect(calls.filter((c) => c === 'n')).toHaveLength(1);
  });

  test('size 0 keeps nothing', () => {
    let n = 0;
    const f = memoize(0, () => ++n);
    f('a');
    f('a');
    expect([n, f.size]).toEqual([2, 0]);
  });
});
