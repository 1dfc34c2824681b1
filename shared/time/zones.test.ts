import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { zoneAbbreviationMinutes, zoneAbbreviations } from './zones.js';

const doc = readFileSync(join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'docs', 'time-layouts.md'), 'utf8');
const start = doc.indexOf('## Zone abbreviations');
/** The section of docs/time-layouts.md on zone abbreviations, up to the next heading. */
const section = doc.slice(start, doc.indexOf('\n## ', start + 1));

/** `+05:30` (or with U+2212, the typographic minus of the prose) in minutes east of UTC. */
function minutes(offset: string): number {
  const m = /^([+\-\u2212])(\d{2}):(\d{2})$/.exec(offset);
  if (!m) throw new Error(`not an offset: ${offset}`);
  return (m[1] === '+' ? 1 : -1) * (Number(m[2]) * 60 + Number(m[3]));
}

describe('zone abbreviations', () => {
  test('docs/time-layouts.md lists exactly the table of zones.ts, in its order, with its offsets', () => {
    expect(start).toBeGreaterThan(0);
    // The list is the section's lines of `ABBR ±HH:MM` items, comma-separated.
    const items = section.split('\n').filter((l) => /^[A-Z]+ [+-]\d{2}:\d{2}(, |$)/.test(l)).join(', ').split(', ');
    const listed = items.map((item) => {
      const m = /^([A-Z]+) ([+-]\d{2}:\d{2})$/.exec(item);
      if (!m) throw new Error(`docs/time-layouts.md: zone list item ${JSON.stringify(item)} is not "ABBR ±HH:MM"`);
      return [m[1], minutes(m[2] as string)];
    });
    expect(listed).toEqual(zoneAbbreviations().map(([abbr, offset]) => [abbr, offset]));
  });

  test('the readings the docs name for ambiguous abbreviations are the table\'s', () => {
    // "IST is India (+05:30), CST is US Central (−06:00), …"
    const named = [...section.matchAll(/\b([A-Z]{2,5}) is [^(]+\(([+\-\u2212]\d{2}:\d{2})\)/g)].map((m) => [m[1], minutes(m[2] as string)]);
    expect(named.map(([abbr]) => abbr)).toEqual(['IST', 'CST', 'BST']);
    expect(named.map(([abbr]) => [abbr, zoneAbbreviationMinutes(abbr as string)])).toEqual(named);
  });
});
