import { createUserAgentParser, parseUserAgent } from './user-agent.js';
import { LruCache } from './lru.js';

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

describe('LruCache', () => {
  test('evicts the least recently used entry and stays bounded', () => {
    const c = new LruCache<string, number>(2);
    c.set('a', 1);
    c.set('b', 2);
    expect(c.get('a')).toBe(1); // a is now the most recent
    c.set('c', 3); // evicts b
    expect(c.get('b')).toBeUndefined();
    expect(c.get('a')).toBe(1);
    expect(c.get('c')).toBe(3);
    expect(c.size).toBe(2);
  });

  test('size 0 keeps nothing', () => {
    const c = new LruCache<string, number>(0);
    c.set('a', 1);
    expect(c.get('a')).toBeUndefined();
    expect(c.size).toBe(0);
  });
});
