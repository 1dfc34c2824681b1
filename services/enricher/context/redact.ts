/**
 * PII and secret redaction: matches are replaced by `[REDACTED:<kind>]`.
 *
 * Built-in kinds (SLUICE_ENRICHER_REDACT_KINDS picks among them):
 * - `email`: addresses (`local@domain.tld`);
 * - `card`: 13 to 19 digits, optionally grouped by spaces or dashes, that pass the Luhn
 *   check AND start with an issuer prefix (Visa 4, Mastercard 51-55/2221-2720, Amex
 *   34/37, Discover 6011/644-649/65, JCB 35, Diners 30/36/38, UnionPay 62). The prefix
 *   test keeps random long numbers (order ids, epoch micros) out: 1 in 10 passes Luhn;
 * - `bearer`: the token after `Bearer ` (the word stays: `Bearer [REDACTED:bearer]`);
 * - `api_key`: well-known key shapes (Stripe `sk_live_`/`rk_test_`..., AWS `AKIA`/`ASIA`
 *   access key ids, GitHub `ghp_`/`gho_`/`ghu_`/`ghs_`/`ghr_`/`github_pat_`, Slack
 *   `xoxb-`/`xoxp-`/..., Google `AIza`) and the value of `api_key=`, `apikey:`,
 *   `x-api-key: ` (the name stays);
 * - `secret`: the value of `password=`, `passwd=`, `pwd=`, `secret=`, `token=`,
 *   `access_token=`, `client_secret=` (also with `:` and JSON quoting; the name stays).
 *
 * Extra patterns (SLUICE_ENRICHER_REDACT_PATTERNS, a JSON object kind -> regex) are
 * compiled once as every user regex is (shared/formats/safe-regex.ts): backreferences,
 * lookaround and counted repetitions above 16 are refused, and a match that backtracks
 * too much (`(a+)+$`) is re-run by V8 in linear time. They scan at most the first
 * `maxChars` characters of a value (the built-ins, all linear, scan everything).
 *
 * Every built-in alternative begins with a literal or a look-behind that fails inside
 * a run of the same characters, so scanning is linear in the input length.
 */
import { compileUserRegex, UnsafePatternError } from '../../../shared/formats/safe-regex.js';
import { ConfigError } from '../../../shared/errors.js';

export const BUILTIN_KINDS = ['email', 'card', 'bearer', 'api_key', 'secret'] as const;
export type BuiltinKind = (typeof BUILTIN_KINDS)[number];

export interface RedactOptions {
  kinds: readonly string[];
  /** Extra patterns: kind -> regular expression source (JavaScript syntax, no flags). */
  patterns: Readonly<Record<string, string>>;
  /** Characters of a value that extra patterns scan. */
  maxChars: number;
}

export interface Redaction {
  text: string;
  count: number;
}

export interface Redactor {
  /** The text with every match replaced, and the number of replacements. */
  redact(text: string): Redaction;
}

/**
 * One built-in detector: `pre` is a cheap test that must be true whenever `re` can
 * match (so most values skip the regex entirely), `keep` the prefix of a match that
 * stays (the name in `password=...`, the word in `Bearer ...`).
 */
interface Detector {
  kind: BuiltinKind;
  pre: (s: string) => boolean;
  re: RegExp;
  keep?: RegExp;
  accept?: (match: string) => boolean;
}

const KEY_NAME = String.raw`(?<![A-Za-z0-9_-])(?:x-)?api[_-]?key`;
const SECRET_NAME = String.raw`(?<![A-Za-z0-9_-])(?:password|passwd|pwd|secret|client_secret|token|access_token|refresh_token)`;
const ASSIGN = String.raw`["']?[ \t]*[:=][ \t]*["']?`;
// A value already replaced by another detector is not counted twice.
const NOT_DONE = String.raw`(?!\[REDACTED:)`;

const DETECTORS: Readonly<Record<BuiltinKind, Detector | Detector[]>> = {
  email: {
    kind: 'email',
    pre: (s) => s.includes('@'),
    re: /(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63}){0,8}\.[A-Za-z]{2,24}(?![A-Za-z0-9-])/g,
  },
  card: {
    kind: 'card',
    pre: (s) => CARD_PRE.test(s),
    re: /(?<![0-9])[2-6](?:[ -]?[0-9]){12,18}(?![0-9])/g,
    accept: (m) => isCardNumber(m),
  },
  bearer: {
    kind: 'bearer',
    pre: (s) => s.includes('earer') || s.includes('EARER'),
    re: /\bbearer[ \t]+[A-Za-z0-9._~+/-]{8,}=*/gi,
    keep: /^bearer[ \t]+/i,
  },
  api_key: [
    {
      kind: 'api_key',
      pre: (s) => API_PREFIX_PRE.test(s),
      re: /\b(?:(?:sk|pk|rk)_(?:live|test)_[A-Za-z0-9]{10,}|(?:AKIA|ASIA)[0-9A-Z]{16}|gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,}|xox[abposr]-[A-Za-z0-9-]{10,}|AIza[0-9A-Za-z_-]{35})(?![A-Za-z0-9])/g,
    },
    {
      kind: 'api_key',
      pre: (s) => API_NAME_PRE.test(s),
      re: new RegExp(String.raw`${KEY_NAME}${ASSIGN}${NOT_DONE}[^\s"'&,;]{6,}`, 'gi'),
      keep: new RegExp(`^${KEY_NAME}${ASSIGN}`, 'i'),
    },
  ],
  secret: {
    kind: 'secret',
    pre: (s) => SECRET_PRE.test(s),
    re: new RegExp(`${SECRET_NAME}${ASSIGN}${NOT_DONE}[^\\s"'&,;]{3,}`, 'gi'),
    keep: new RegExp(`^${SECRET_NAME}${ASSIGN}`, 'i'),
  },
};

// 13+ digits, possibly grouped: the shortest card shape.
const CARD_PRE = /\d{4}[ -]?\d{4}[ -]?\d{4}/;
const API_PREFIX_PRE = /[spr]k_|AKIA|ASIA|gh[pousr]_|github_pat_|xox|AIza/;
const API_NAME_PRE = /api[_-]?key/i;
const SECRET_PRE = /passw|pwd|secret|token/i;
/**
 * Any built-in detector could match: one scan that lets most values (no '@', no long
 * digit run, no key word) skip every detector.
 */
const ANY_PRE = /@|\d{4}[ -]?\d{4}[ -]?\d{4}|passw|pwd|secret|token|api[_-]?key|bearer|[spr]k_|akia|asia|gh[pousr]_|github_pat_|xox|aiza/i;
/** Shorter values hold nothing a built-in detector matches (the shortest, `pwd=abc`, `a@b.io`, has 6+). */
const MIN_CHARS = 6;

/**
 * Attribute keys whose whole value is a secret (`db.password`, `headers.authorization`,
 * `stripe_api_key`, `session_token`): the value is replaced as kind `secret`, whatever
 * it looks like (a `Basic` credential, a bare password).
 */
const SECRET_KEY_RE = /(?:^|[._-])(?:password|passwd|pwd|secret|client_secret|token|access_token|refresh_token|api[_-]?key|apikey|authorization|cookie|set-cookie)$/i;

export function isSecretKey(key: string): boolean {
  return SECRET_KEY_RE.test(key);
}

/** Luhn checksum over the digits of `s` (separators ignored). */
export function luhnValid(digits: string): boolean {
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return sum % 10 === 0;
}

/** Issuer (IIN) prefixes of the major card networks, with their lengths. */
function cardPrefixOk(d: string): boolean {
  const n = d.length;
  const p2 = Number(d.slice(0, 2));
  const p4 = Number(d.slice(0, 4));
  const p3 = Number(d.slice(0, 3));
  if (d[0] === '4') return n === 13 || n === 16 || n === 19;
  if ((p2 >= 51 && p2 <= 55) || (p4 >= 2221 && p4 <= 2720)) return n === 16;
  if (p2 === 34 || p2 === 37) return n === 15;
  if (p4 === 6011 || p2 === 65 || (p3 >= 644 && p3 <= 649)) return n >= 16 && n <= 19;
  if (p2 === 35) return n >= 16 && n <= 19;
  if (p2 === 30 || p2 === 36 || p2 === 38) return n >= 14 && n <= 19;
  if (p2 === 62) return n >= 16 && n <= 19;
  return false;
}

export function isCardNumber(match: string): boolean {
  const d = match.replace(/[ -]/g, '');
  return cardPrefixOk(d) && luhnValid(d);
}

function compileExtra(kind: string, source: string): RegExp {
  if (!/^[a-z][a-z0-9_]{0,31}$/.test(kind)) throw new ConfigError(`SLUICE_ENRICHER_REDACT_PATTERNS: kind "${kind}" must be lower-case letters, digits and _ (at most 32)`);
  if (source.length === 0 || source.length > 512) throw new ConfigError(`SLUICE_ENRICHER_REDACT_PATTERNS: pattern for "${kind}" must be 1 to 512 characters`);
  let re: RegExp;
  try {
    re = compileUserRegex(source, 'g');
  } catch (err) {
    if (err instanceof UnsafePatternError) throw new ConfigError(`SLUICE_ENRICHER_REDACT_PATTERNS: pattern for "${kind}" rejected: ${err.message}`);
    throw err;
  }
  if (re.test('')) throw new ConfigError(`SLUICE_ENRICHER_REDACT_PATTERNS: pattern for "${kind}" matches the empty string`);
  re.lastIndex = 0;
  return re;
}

/** Parse SLUICE_ENRICHER_REDACT_PATTERNS (a JSON object kind -> regex; unset: none). */
export function parseRedactPatterns(text: string | undefined): Record<string, string> {
  if (text === undefined || text.trim() === '') return {};
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`SLUICE_ENRICHER_REDACT_PATTERNS is not a JSON object ({"kind": "regex"}): ${err instanceof Error ? err.message : String(err)}`);
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw new ConfigError('SLUICE_ENRICHER_REDACT_PATTERNS must be a JSON object ({"kind": "regex"})');
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(doc)) {
    if (typeof v !== 'string') throw new ConfigError(`SLUICE_ENRICHER_REDACT_PATTERNS: the pattern for "${k}" must be a string`);
    out[k] = v;
  }
  return out;
}

/** Build a redactor; throws ConfigError for unknown kinds and unsafe or invalid patterns. */
export function createRedactor(opts: RedactOptions): Redactor {
  const detectors: Detector[] = [];
  for (const k of opts.kinds) {
    if (!(BUILTIN_KINDS as readonly string[]).includes(k)) throw new ConfigError(`SLUICE_ENRICHER_REDACT_KINDS: "${k}" is not one of ${BUILTIN_KINDS.join(', ')}`);
    detectors.push(...[DETECTORS[k as BuiltinKind]].flat());
  }
  const extras = Object.entries(opts.patterns).map(([kind, src]) => ({ kind, re: compileExtra(kind, src), tag: `[REDACTED:${kind}]` }));
  const maxChars = opts.maxChars;

  return {
    redact(text: string): Redaction {
      let count = 0;
      let out = text;
      const any = detectors.length > 0 && out.length >= MIN_CHARS && ANY_PRE.test(out);
      for (const d of any ? detectors : []) {
        if (!d.pre(out)) continue;
        d.re.lastIndex = 0;
        const tag = `[REDACTED:${d.kind}]`;
        out = out.replace(d.re, (match: string) => {
          if (d.accept !== undefined && !d.accept(match)) return match;
          count++;
          const keep = d.keep?.exec(match)?.[0] ?? '';
          return keep + tag;
        });
      }
      for (const { re, tag } of extras) {
        const head = out.length > maxChars ? out.slice(0, maxChars) : out;
        re.lastIndex = 0;
        const replaced = head.replace(re, () => {
          count++;
          return tag;
        });
        if (replaced !== head) out = head.length === out.length ? replaced : replaced + out.slice(maxChars);
      }
      return { text: out, count };
    },
  };
}
