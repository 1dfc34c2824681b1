/** compileUserRegex: what it refuses, on every Node.js alike, and what it lets through. */
import { compileUserRegex, UnsafePatternError } from './safe-regex.js';

test.each(['(a)\\1', 'x(?=y)', 'x(?!y)', '(?<=x)y', '(?<!x)y', 'a{0,62}'])('%s is refused: it cannot run in bounded time on every engine', (src) => {
  expect(() => compileUserRegex(src)).toThrow(UnsafePatternError);
});

test.each(['\\(?<=x', '[(?<=]x', '(?<name>\\d+)-(?<rest>.*)', '(a+)+$'])('%s is accepted (an escaped or bracketed "(?<=" is no lookbehind; named groups are fine)', (src) => {
  expect(compileUserRegex(src).test('(<=x 12-ab aaa')).toBe(true);
});
