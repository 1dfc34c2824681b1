/**
 * User-agent parsing with ua-parser-js 1.x (MIT; 2.x is AGPL-3.0 and must not be used),
 * behind a bounded LRU cache because a service sees few distinct agents.
 *
 * Labels (each only when known): `ua.browser` (name, e.g. "Chrome"), `ua.os` (name,
 * e.g. "Mac OS", "Android"), `ua.device` (`mobile`, `tablet`, `smarttv`, `console`,
 * `wearable`, `embedded`, `bot`, or `desktop` when a browser is known but no device
 * type). Versions are left out on purpose: they multiply label values and the full
 * agent stays in `http.user_agent`.
 */
import { createRequire } from 'node:module';
import { memoize } from './memo.js';

/** The part of ua-parser-js 1.x's result this module reads (the package ships no types). */
interface UaResult {
  browser: { name?: string | undefined };
  os: { name?: string | undefined };
  device: { type?: string | undefined };
}
type UaParserFn = (ua: string) => UaResult;

// ua-parser-js 1.x is CommonJS; its export is callable as a function returning the result.
const UAParser = createRequire(import.meta.url)('ua-parser-js') as UaParserFn;

export interface UserAgentInfo {
  browser: string | null;
  os: string | null;
  device: string | null;
}

// Crawlers and monitors that ua-parser-js 1.x reports as no browser at all.
const BOT_RE = /bot\b|bot\/|crawler|spider|slurp|facebookexternalhit|bingpreview|headlesschrome|pingdom|uptimerobot/i;
/** Agents longer than this are parsed by their first MAX_UA characters (the cache key too). */
const MAX_UA = 512;

export function parseUserAgent(ua: string): UserAgentInfo {
  const r = UAParser(ua);
  const browser = r.browser.name ?? null;
  const os = r.os.name ?? null;
  let device = r.device.type ?? null;
  if (BOT_RE.test(ua)) device = 'bot';
  else if (device === null && browser !== null) device = 'desktop';
  return { browser, os, device };
}

export interface UserAgentParser {
  parse(ua: string): UserAgentInfo;
}

/** A cached parser; `cacheSize` entries at most (0: no cache). */
export function createUserAgentParser(cacheSize: number): UserAgentParser {
  const cached = memoize(cacheSize, parseUserAgent);
  return {
    parse: (raw: string): UserAgentInfo => cached(raw.length > MAX_UA ? raw.slice(0, MAX_UA) : raw),
  };
}
