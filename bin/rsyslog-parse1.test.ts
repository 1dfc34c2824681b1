/**
 * rsyslog's parse1 test vectors (corpus rsyslog-parse1/*.parse1, read in place from
 * $SLUICE_CORPUS_DIR or <repo>/../shared/corpus; skipped, saying so, when absent).
 *
 * Each case is a raw syslog line followed by rsyslog's expected parse
 * `PRI,facility,severity,timestamp(3164 form),hostname,programname,syslogtag,msg`; lines
 * starting with `#` are comments, and anything after the pair is ignored. Every raw line
 * goes through `sluice parse` (ParsePipeline: the real collect + normalize stages) and
 * the fields Sluice keeps are compared:
 * - facility / severity: attributes `syslog.facility` / `syslog.severity` (numbers);
 * - level: `fromSyslogSeverity` of rsyslog's severity;
 * - host: hostname;
 * - service: programname; rsyslog's parse1 format leaves programname empty for RFC 5424
 *   messages, so there the APP-NAME is compared: syslogtag without `[pid]` / `:`;
 * - message: msg, without the one space rsyslog keeps after `tag:` (Sluice drops it);
 * - timestamp: the record's time rendered as `Mmm dd HH:MM:SS` in the message's own UTC
 *   offset (RFC 5424) or UTC (RFC 3164 has no zone; Sluice reads it as UTC by default).
 *   Sub-seconds and the year are not in rsyslog's form, so they are not compared.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Readable } from 'node:stream';
import { ParsePipeline } from './parse-pipeline.js';
import { fromSyslogSeverity } from '../shared/levels.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const corpus = resolve(process.env['SLUICE_CORPUS_DIR'] || join(repoRoot, '..', 'shared', 'corpus'));
const dir = join(corpus, 'rsyslog-parse1');

const SEVERITIES = ['emerg', 'alert', 'crit', 'err', 'warning', 'notice', 'info', 'debug'];
const FACILITIES = ['kern', 'user', 'mail', 'daemon', 'auth', 'syslog', 'lpr', 'news', 'uucp', 'cron', 'authpriv', 'ftp', 'ntp', 'audit', 'alert', 'clock', 'local0', 'local1', 'local2', 'local3', 'local4', 'local5', 'local6', 'local7'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const FIELDS = ['facility', 'severity', 'level', 'host', 'service', 'message', 'timestamp'] as const;
type Field = (typeof FIELDS)[number];

/** Measured: every field of every case matches (see the report printed by the test). */
const FLOOR: Record<Field, number> = { facility: 1, severity: 1, level: 1, host: 1, service: 1, message: 1, timestamp: 1 };

interface Case {
  where: string;
  raw: string;
  pri: number;
  facility: string;
  severity: string;
  timestamp: string;
  hostname: string;
  programname: string;
  syslogtag: string;
  msg: string;
}

interface Rec {
  timestamp: string;
  timestamp_source: string;
  level: string;
  message: string;
  service: string | null;
  host: string | null;
  attributes: Record<string, string>;
}

function readCases(): Case[] {
  const cases: Case[] = [];
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.parse1')).sort()) {
    const lines = readFileSync(join(dir, f), 'utf8').split('\n');
    const content = lines.map((l, i) => [l.replace(/\r$/, ''), i + 1] as const).filter(([l]) => l.length > 0 && !l.startsWith('#'));
    // Cases are pairs; the files hold one each except where noted, and trailing lines are free text.
    for (let k = 0; k + 1 < content.length; k += 2) {
      const [raw, at] = content[k] as readonly [string, number];
      const [exp] = content[k + 1] as readonly [string, number];
      const parts = exp.split(',');
      if (parts.length < 8 || !/^\d+$/.test(parts[0] as string)) break;
      const [pri, facility, severity, timestamp, hostname, programname, syslogtag] = parts as [string, string, string, string, string, string, string];
      cases.push({ where: `${f}:${at}`, raw, pri: Number(pri), facility, severity, timestamp, hostname, programname, syslogtag, msg: parts.slice(7).join(',') });
    }
  }
  return cases;
}

/** The record's time as rsyslog prints an RFC 3164 stamp, in `offsetMin` from UTC. */
function rfc3164Stamp(iso: string, offsetMin: number): string {
  const d = new Date(Date.parse(iso) + offsetMin * 60_000);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${MONTHS[d.getUTCMonth()]} ${String(d.getUTCDate()).padStart(2, ' ')} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}`;
}

/** The UTC offset written in an RFC 5424 timestamp (0 for `Z` or RFC 3164). */
function offsetOf(raw: string): number {
  const m = /^<\d{1,3}>1 \d{4}-\d\d-\d\dT[\d:.]+(Z|([+-])(\d\d):(\d\d)) /.exec(raw);
  if (!m || m[1] === 'Z') return 0;
  return (m[2] === '-' ? -1 : 1) * (Number(m[3]) * 60 + Number(m[4]));
}

function expected(c: Case): Record<Field, string | null> {
  const sev = SEVERITIES.indexOf(c.severity);
  const app = c.programname || c.syslogtag.replace(/:$/, '').replace(/\[[^\]]*\]$/, '');
  return {
    facility: String(FACILITIES.indexOf(c.facility)),
    severity: String(sev),
    level: fromSyslogSeverity(sev),
    host: c.hostname || null,
    service: app || null,
    message: c.msg.replace(/^ /, ''),
    timestamp: c.timestamp,
  };
}

function actual(r: Rec, raw: string): Record<Field, string | null> {
  return {
    facility: r.attributes['syslog.facility'] ?? null,
    severity: r.attributes['syslog.severity'] ?? null,
    level: r.level,
    host: r.host,
    service: r.service,
    message: r.message,
    timestamp: r.timestamp_source === 'event' ? rfc3164Stamp(r.timestamp, offsetOf(raw)) : `(no event time: ${r.timestamp_source})`,
  };
}

if (!existsSync(dir)) {
  // eslint-disable-next-line no-console
  console.warn(`corpus absent: no rsyslog-parse1/ under ${corpus}; set SLUICE_CORPUS_DIR to run the rsyslog parse1 tests`);
  test.skip(`rsyslog parse1 tests skipped: corpus absent at ${dir}`, () => undefined);
} else {
  test('rsyslog parse1 vectors through collect + normalize', async () => {
    const cases = readCases();
    expect(cases.length).toBe(15);
    const ok: Record<Field, number> = { facility: 0, severity: 0, level: 0, host: 0, service: 0, message: 0, timestamp: 0 };
    const misses: string[] = [];
    // A fixed ingest time in the same year as the RFC 3164 stamps' months, so year-less stamps resolve without wrap-around.
    const ingest = Date.UTC(2026, 11, 31, 23, 0, 0);
    for (const c of cases) {
      const p = await ParsePipeline.create({ startedAtMs: ingest, env: {} });
      const out: string[] = [];
      await p.run(c.where, ingest, Readable.from([c.raw + '\n']), (l) => void out.push(l));
      await p.finish();
      expect(out).toHaveLength(1);
      const r = JSON.parse(out[0] as string) as Rec;
      const want = expected(c);
      const got = actual(r, c.raw);
      for (const f of FIELDS) {
        if (got[f] === want[f]) ok[f]++;
        else misses.push(`${c.where} ${f}: got ${JSON.stringify(got[f])} want ${JSON.stringify(want[f])} | ${c.raw}`);
      }
    }
    const table = ['| field | matched | rate |', '|---|---:|---:|', ...FIELDS.map((f) => `| ${f} | ${ok[f]}/${cases.length} | ${((100 * ok[f]) / cases.length).toFixed(1)}% |`)];
    // eslint-disable-next-line no-console
    console.log(`rsyslog parse1: ${cases.length} cases\n${table.join('\n')}${misses.length ? `\nmismatches:\n${misses.join('\n')}` : ''}`);
    for (const f of FIELDS) expect(ok[f] / cases.length).toBeGreaterThanOrEqual(FLOOR[f]);
  });

  test('RFC 5424 structured data with a space after `=` (rfc5424-3/-4) is read param by param', async () => {
    const c = readCases().find((x) => x.where.startsWith('rfc5424-4.parse1')) as Case;
    const out: string[] = [];
    const p = await ParsePipeline.create({ startedAtMs: 0, env: {} });
    await p.run('x', 0, Readable.from([c.raw + '\n']), (l) => void out.push(l));
    await p.finish();
    const r = JSON.parse(out[0] as string) as Rec;
    expect(r.attributes).toMatchObject({ 'sd.exampleSDID@32473.iut': '3', 'sd.exampleSDID@32473.eventSource': 'Application', 'sd.exampleSDID@32473.eventID': '1011', msgid: 'ID47' });
  });
}
