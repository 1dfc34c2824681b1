/**
 * A real shipper: rsyslog (imfile + omkafka, Debian packages rsyslog and rsyslog-kafka)
 * tails a file and produces to logs.raw in its JSON template; the lines must arrive in
 * logs.normalized with the right host, service, timestamps and levels.
 * rsyslogd and omkafka are the system's when the Debian packages are installed, else
 * fetched into .stack/ by `scripts/rsyslog-shipper install` (apt-get download, no root).
 * Skips with a clear message when neither works (no apt-get, no package lists).
 */
import { appendFileSync, existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../shared/schemas.js';
import type { LogRecord } from '../shared/records.js';
import { startServices, stopServices, waitReady, type ServiceProcess } from '../scripts/lib/services.js';
import { cleanup, clients, codecsFor, endpoints, isolatedEnv, newRunId, readTopic, topicName } from './helpers.js';

const shipper = join(repoRoot(), 'scripts', 'rsyslog-shipper');
function rsyslogAvailable(): boolean {
  try {
    execFileSync(shipper, ['install'], { stdio: 'pipe', timeout: 300_000 });
    return true;
  } catch (err) {
    console.warn(`rsyslog-shipper test SKIPPED: no rsyslogd with omkafka, and fetching the Debian packages failed: ${String((err as { stderr?: Buffer }).stderr ?? err).trim()}`);
    return false;
  }
}
const available = rsyslogAvailable();
const maybe = available ? test : test.skip;

const runId = newRunId('rsys');
const c = clients('rsys');
const dir = mkdtempSync(join(tmpdir(), 'sluice-rsyslog-'));
const logFile = join(dir, 'checkout.log');
const state = join(dir, 'state');
let procs: ServiceProcess[] = [];

afterAll(async () => {
  if (existsSync(state)) execFileSync(shipper, ['stop', '--state', state]);
  await stopServices(procs);
  await cleanup(c, runId, runId).catch((err: unknown) => console.warn(`cleanup failed: ${String(err)}`));
}, 120_000);

maybe('lines tailed by rsyslog arrive normalized with host, service, time and level', async () => {
  const env = isolatedEnv(runId);
  procs = await startServices({ env, logDir: join(repoRoot(), '.stack', 'logs', 'test', runId), names: ['collector', 'normalizer'] });
  await waitReady(procs); // the collector has created <run>.logs.raw
  writeFileSync(logFile, '');
  execFileSync(shipper, ['start', '--file', logFile, '--tag', 'checkout', '--topic', topicName(runId, 'logs.raw'), '--brokers', endpoints.kafka, '--state', state]);

  const levels = ['INFO', 'WARN', 'ERROR', 'DEBUG'];
  const lines: string[] = [];
  for (let i = 0; i < 20; i++) {
    const us = String(100_000 + i).padStart(6, '0');
    lines.push(i % 2 === 0
      ? JSON.stringify({ timestamp: `2026-11-21T08:00:${String(i).padStart(2, '0')}.${us}Z`, level: levels[i % 4]!.toLowerCase(), msg: `json line ${i}`, order_id: `o-${i}` })
      : `2026-11-21 08:00:${String(i).padStart(2, '0')},${String(i).padStart(3, '0')} ${levels[i % 4]} [main] com.example.Checkout - text line ${i}`);
  }
  // imfile polls once a second; write in two steps like an application would.
  appendFileSync(logFile, lines.slice(0, 10).join('\n') + '\n');
  await new Promise((r) => setTimeout(r, 1500));
  appendFileSync(logFile, lines.slice(10).join('\n') + '\n');

  const codecs = await codecsFor(runId);
  const out = await readTopic(c.kafka, topicName(runId, 'logs.normalized'), lines.length, 90_000);
  const records = (await Promise.all(out.map((m) => codecs.decode(m.value)))) as LogRecord[];
  records.sort((a, b) => a.timestamp - b.timestamp);
  expect(records).toHaveLength(20);
  for (const [i, r] of records.entries()) {
    expect(r.source.shipper).toBe('rsyslog');
    expect(r.host).toBe(hostname());
    expect(r.service).toBe('checkout');
    expect(r.level).toBe(levels[i % 4]);
    expect(r.timestamp_source).toBe('event');
    const expectedUs = Date.UTC(2026, 10, 21, 8, 0, i) * 1000 + (i % 2 === 0 ? 100_000 + i : i * 1000);
    expect(r.timestamp).toBe(expectedUs);
    expect(r.message).toBe(i % 2 === 0 ? `json line ${i}` : `text line ${i}`);
  }
  expect(records[0]!.ids['order_id']).toBe('o-0');
}, 300_000);
