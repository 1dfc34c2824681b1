/**
 * Regular expressions written by users (format patterns, multi-line starts) run in bounded
 * time. Two V8 switches, set once when this module loads:
 * - `--enable-experimental-regexp-engine` makes the linear-time engine available; a user
 *   pattern must compile for it (`l` flag), which refuses backreferences and lookaround
 *   (no automaton can run them) and counted repetitions above 16 (`x{0,62}`);
 * - `--enable-experimental-regexp-engine-on-excessive-backtracks` re-runs any match that
 *   backtracks more than `--regexp-backtracks-before-fallback` times on that linear engine.
 * Only a pattern the linear engine accepts can fall back, hence the first rule.
 * So a user pattern runs on V8's fast backtracking engine (the linear engine alone is
 * ~25x slower per line, measured here) and a catastrophic one (`(a+)+$`) falls back to
 * linear time instead of stalling the stage. Built-in regexes benefit too.
 * Patterns and the text they see are also size-limited (MAX_PATTERN_CHARS, rules.ts).
 */
import { setFlagsFromString } from 'node:v8';

setFlagsFromString('--enable-experimental-regexp-engine');
setFlagsFromString('--enable-experimental-regexp-engine-on-excessive-backtracks');
setFlagsFromString('--regexp-backtracks-before-fallback=10000');

export const MAX_PATTERN_CHARS = 4096;

export class UnsafePatternError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnsafePatternError';
  }
}

let linearAvailable: boolean | undefined;
function linear(): boolean {
  if (linearAvailable === undefined) {
    try {
      new RegExp('a', 'l');
      linearAvailable = true;
    } catch {
      linearAvailable = false;
    }
  }
  return linearAvailable;
}

/**
 * Compile a user's regex source. Throws UnsafePatternError when it is too long, invalid, or
 * uses a construct the linear engine refuses (backreferences, lookahead, lookbehind).
 */
export function compileUserRegex(source: string, flags = ''): RegExp {
  if (source.length > MAX_PATTERN_CHARS) throw new UnsafePatternError(`pattern is ${source.length} characters; at most ${MAX_PATTERN_CHARS}`);
  let re: RegExp;
  try {
    re = new RegExp(source, flags);
  } catch (err) {
    throw new UnsafePatternError(`invalid regular expression: ${(err as Error).message.replace(/^Invalid regular expression: /, '')}`);
  }
  if (!linear()) throw new UnsafePatternError('this Node.js has no linear-time regexp engine; user patterns cannot be bounded');
  try {
    // Lookbehind is refused on every Node.js alike, though newer linear engines run it.
    if (hasLookbehind(source)) throw new Error('lookbehind');
    new RegExp(source, flags.replace(/[gyl]/g, '') + 'l');
  } catch {
    throw new UnsafePatternError('uses what cannot run in bounded time: backreferences (\\1, \\k<name>), lookaround ((?=, (?!, (?<=, (?<!), or a counted repetition above 16 (x{17}, x{0,62}: write x+ or x* instead)');
  }
  return re;
}

/** Whether `source` has a lookbehind group `(?<=` / `(?<!` (not escaped, not inside a character class). */
function hasLookbehind(source: string): boolean {
  let inClass = false;
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    if (c === '\\') i++;
    else if (inClass) inClass = c !== ']';
    else if (c === '[') inClass = true;
    else if (c === '(' && source[i + 1] === '?' && source[i + 2] === '<' && (source[i + 3] === '=' || source[i + 3] === '!')) return true;
  }
  return false;
}
