import { severityNumber, toLevel } from './levels.js';

describe('levels', () => {
  test.each([
    ['info', 'INFO'], ['INFO', 'INFO'], ['Warning', 'WARN'], ['ERR', 'ERROR'], ['crit', 'FATAL'], ['dbg', 'DEBUG'], ['notice', 'INFO'],
    [10, 'TRACE'], [20, 'DEBUG'], [30, 'INFO'], [40, 'WARN'], [50, 'ERROR'], [60, 'FATAL'], ['30', 'INFO'],
    ['nonsense', 'UNKNOWN'], [null, 'UNKNOWN'],
  ])('%s -> %s', (v, level) => expect(toLevel(v)).toBe(level));

  test('OpenTelemetry severity numbers', () => {
    expect(severityNumber.INFO).toBe(9);
    expect(severityNumber.ERROR).toBe(17);
    expect(severityNumber.UNKNOWN).toBe(0);
  });
});
