/**
 * Zone abbreviations a log may print after its time, with their fixed offsets (minutes
 * east of UTC). Abbreviations are not unique worldwide; where one is ambiguous this table
 * takes the reading of the IANA tz database's most populous use and says so:
 * IST = India (+05:30, not Irish or Israel), CST = US Central (-06:00, not China),
 * BST = British Summer Time (+01:00). A log whose zone is not here is read with
 * `SLUICE_NORMALIZER_ZONE` (or the format's `zone`), as a zone-less time.
 */
const ABBREVIATIONS: Readonly<Record<string, number>> = {
  UTC: 0, GMT: 0, UT: 0, Z: 0, WET: 0, WEST: 60, BST: 60, IST: 330,
  CET: 60, CEST: 120, MET: 60, MEST: 120, EET: 120, EEST: 180, MSK: 180,
  EST: -300, EDT: -240, CST: -360, CDT: -300, MST: -420, MDT: -360, PST: -480, PDT: -420,
  AKST: -540, AKDT: -480, HST: -600, AST: -240, ADT: -180, NST: -210, NDT: -150,
  BRT: -180, ART: -180, SAST: 120, WAT: 60, CAT: 120, EAT: 180, PKT: 300, NPT: 345,
  ICT: 420, WIB: 420, SGT: 480, HKT: 480, PHT: 480, AWST: 480, JST: 540, KST: 540,
  ACST: 570, ACDT: 630, AEST: 600, AEDT: 660, NZST: 720, NZDT: 780,
};

/** Regex alternation of the abbreviations, longest first, as one capture-free group; followed by a word end. */
export const ZONE_ABBREVIATION_PATTERN = `(?:${Object.keys(ABBREVIATIONS).sort((a, b) => b.length - a.length).join('|')})(?![A-Za-z])`;

/** Offset of a known abbreviation (upper case as printed), or undefined. */
export function zoneAbbreviationMinutes(abbr: string): number | undefined {
  return ABBREVIATIONS[abbr];
}

/** Every abbreviation with its offset, in table order: docs/time-layouts.md lists the same (zones.test.ts keeps them equal). */
export function zoneAbbreviations(): ReadonlyArray<readonly [string, number]> {
  return Object.entries(ABBREVIATIONS);
}
