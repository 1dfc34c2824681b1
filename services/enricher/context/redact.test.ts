import { BUILTIN_KINDS, createRedactor, isCardNumber, isSecretKey, luhnValid, parseRedactPatterns } from './redact.js';
import { ConfigError } from '../../../shared/errors.js';

const r = createRedactor({ kinds: BUILTIN_KINDS, patterns: {}, maxChars: 65_536 });

describe('built-in redaction', () => {
  test.each([
    ['mail to alice.smith+tag@example.co.uk now', 'mail to [REDACTED:email] now', 1],
    ['from a@b.io and c.d@e-f.example.org', 'from [REDACTED:email] and [REDACTED:email]', 2],
    ['card 4111 1111 1111 1111 declined', 'card [REDACTED:card] declined', 1],
    ['card 4111-1111-1111-1111 declined', 'card [REDACTED:card] declined', 1],
    ['pan=5555555555554444;', 'pan=[REDACTED:card];', 1],
    ['amex 378282246310005 ok', 'amex [REDACTED:card] ok', 1],
    ['Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig-_x rejected', 'Authorization: Bearer [REDACTED:bearer] rejected', 1],
    ['authorization: bearer abcdefgh12345678', 'authorization: bearer [REDACTED:bearer]', 1],
    ['using key sk_live_4eC39HqLyjWDarjtT1zdp7dc', 'using key [REDACTED:api_key]', 1],
    ['aws AKIAIOSFODNN7EXAMPLE in env', 'aws [REDACTED:api_key] in env', 1],
    ['token ghp_abcdefghijklmnopqrstuvwxyz0123456789 leaked', 'token [REDACTED:api_key] leaked', 1],
    ['slack xoxb-123456789012-abcdefghij ok', 'slack [REDACTED:api_key] ok', 1],
    ['GET /v1/data?api_key=abc123def456&page=2', 'GET /v1/data?api_key=[REDACTED:api_key]&page=2', 1],
    ['X-API-Key: 9f8e7d6c5b4a', 'X-API-Key: [REDACTED:api_key]', 1],
    ['login password=hunter2 user=bob', 'login password=[REDACTED:secret] user=bob', 1],
    ['{"client_secret": "s3cr3t-value"}', '{"client_secret": "[REDACTED:secret]"}', 1],
    ['access_token=Bearer', 'access_token=[REDACTED:secret]', 1],
  ])('%s', (input, text, count) => {
    expect(r.redact(input)).toEqual({ text, count });
  });

  test.each([
    'order 1234567890123456 shipped', // 16 digits, no card prefix
    'card 4111 1111 1111 1112 declined', // Luhn fails
    'ts=1700000000000000 latency=12ms', // epoch micros
    'trace 4bf92f3577b34da6a3ce929d0e0e4736', // hex id
    'at 2024-05-17 10:00:00.123456 UTC', // timestamps
    'phone +1 (555) 010-9999',
    'user@localhost is not an address with a domain',
    'AsiaPacificHeadquarters reported', // not an AWS key: case matters
    'the token was refreshed', // a word, not an assignment
    'nothing here',
    '',
  ])('%s stays', (input) => {
    expect(r.redact(input)).toEqual({ text: input, count: 0 });
  });

  test('Luhn and issuer prefixes', () => {
    expect(luhnValid('4111111111111111')).toBe(true);
    expect(luhnValid('4111111111111112')).toBe(false);
    expect(isCardNumber('6011 1111 1111 1117')).toBe(true);
    expect(isCardNumber('3530111333300000')).toBe(true);
    expect(isCardNumber('1234567812345670')).toBe(false); // passes Luhn, no issuer
  });

  test('kinds can be switched off', () => {
    const onlyEmail = createRedactor({ kinds: ['email'], patterns: {}, maxChars: 1000 });
    expect(onlyEmail.redact('a@b.io 4111111111111111')).toEqual({ text: '[REDACTED:email] 4111111111111111', count: 1 });
    expect(() => createRedactor({ kinds: ['ssn'], patterns: {}, maxChars: 1000 })).toThrow(ConfigError);
  });

  test('linear on adversarial input: 1 MiB of address-like characters', () => {
    const big = 'a.'.repeat(512 * 1024) + '@';
    const out = r.redact(big);
    expect(out.count).toBe(0);
  });
});

describe('extra patterns', () => {
  test('from JSON config, with their own kind', () => {
    const x = createRedactor({ kinds: [], patterns: parseRedactPatterns('{"employee_id": "EMP-[0-9]{6}"}'), maxChars: 1000 });
    expect(x.redact('by EMP-123456 and EMP-654321')).toEqual({ text: 'by [REDACTED:employee_id] and [REDACTED:employee_id]', count: 2 });
  });

  test('scan only the first maxChars characters', () => {
    const x = createRedactor({ kinds: [], patterns: { n: 'N[0-9]{3}' }, maxChars: 300 });
    const text = 'N123 ' + 'x'.repeat(400) + ' N456';
    const out = x.redact(text);
    expect(out.count).toBe(1);
    expect(out.text.startsWith('[REDACTED:n] ')).toBe(true);
    expect(out.text.endsWith(' N456')).toBe(true);
    expect(out.text.length).toBe(text.length - 4 + '[REDACTED:n]'.length);
  });

  test.each(['(a)\\1', 'x(?=y)', '(?<!a)b', 'a{0,62}'])('%s is rejected: it cannot run in bounded time', (src) => {
    expect(() => createRedactor({ kinds: [], patterns: { bad: src }, maxChars: 1000 })).toThrow(/cannot run in bounded time/);
  });

  test.each(['(a+)+$', '(\\w*x?)*y', '(?:a|a)*$x'])('%s is accepted and bounded: an adversarial value is scanned in linear time', (src) => {
    // Without V8's linear fallback each of these backtracks exponentially on 5,000 characters.
    const r = createRedactor({ kinds: [], patterns: { odd: src }, maxChars: 10_000 });
    const value = 'a'.repeat(5_000) + '!';
    expect(r.redact(value).text).toBe(value);
  });

  test.each(['EMP-[0-9]{6}', '(?:foo|bar)+baz', '[a-z]+@corp', '(ab)?c'])('%s is accepted', (src) => {
    expect(() => createRedactor({ kinds: [], patterns: { ok: src }, maxChars: 1000 })).not.toThrow();
  });

  test.each([
    ['not json', 'not a JSON object'],
    ['["a"]', 'must be a JSON object'],
    ['{"k": 1}', 'must be a string'],
  ])('config %s is rejected', (text, why) => {
    expect(() => parseRedactPatterns(text)).toThrow(why);
  });

  test('bad kinds, invalid and empty-matching patterns are rejected', () => {
    expect(() => createRedactor({ kinds: [], patterns: { 'Bad Kind': 'x' }, maxChars: 1000 })).toThrow(/kind/);
    expect(() => createRedactor({ kinds: [], patterns: { k: '(' }, maxChars: 1000 })).toThrow(/invalid regular expression/);
    expect(() => createRedactor({ kinds: [], patterns: { k: 'x*' }, maxChars: 1000 })).toThrow(/empty string/);
  });
});

describe('isSecretKey', () => {
  test.each(['db.password', 'headers.authorization', 'stripe_api_key', 'session_token', 'req.headers.cookie', 'PASSWORD', 'client_secret'])('%s names a secret', (k) => {
    expect(isSecretKey(k)).toBe(true);
  });
  test.each(['password_policy', 'token_count', 'user', 'secretary', 'keyboard'])('%s does not', (k) => expect(isSecretKey(k)).toBe(false));
});
