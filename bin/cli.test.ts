/** The `sluice` command line itself (commander): version, help, usage errors; through the built CLI. */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { repoRoot } from '../shared/schemas.js';

const root = repoRoot();
const cli = join(root, 'dist', 'bin', 'sluice.js');
const env = { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SLUICE_'))), SLUICE_KAFKA_BROKERS: '127.0.0.1:1' };
const sluice = (args: string[], input = '') => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', env, input, cwd: root });

test('--version prints the version of package.json', () => {
  const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
  const r = sluice(['--version']);
  expect([r.status, r.stdout]).toEqual([0, `${version}\n`]);
});

test.each([['-h'], ['--help'], ['help'], []])('sluice %s prints the overview of every command', (...args) => {
  const r = sluice(args);
  expect(r.status).toBe(0);
  for (const cmd of ['config', 'parse', 'dlq', 'validate', 'learn']) expect(r.stdout).toMatch(new RegExp(`^  ${cmd}\\b`, 'm'));
  expect(r.stderr).toBe('');
});

test.each([
  [['parse', '--help'], ['Usage: sluice parse', '--format <hint>', '--rules <sluice.yaml>', '--explain', '--generic-only', '--no-multiline', '--derived <dir>', 'oldest first']],
  [['dlq', '--help'], ['Usage: sluice dlq', 'list', 'replay', 'SLUICE_TOPIC_DLQ']],
  [['dlq', 'replay', '--help'], ['Usage: sluice dlq replay', '--stage <stage>', '--limit <n>', '--dry-run', 'sluice-replayed-from']],
  [['validate', '--help'], ['Usage: sluice validate', '--sample <log>', '--service <name>', '--topic <name>', 'file:line:col']],
  [['learn', '--help'], ['Usage: sluice learn', '--lines <n>', '--name <name>', '--json']],
  [['help', 'parse'], ['Usage: sluice parse', '--format <hint>']],
])('sluice %j prints that command\'s help', (args, expected) => {
  const r = sluice(args);
  expect(r.status).toBe(0);
  for (const text of expected) expect(r.stdout).toContain(text);
});

test('an unknown command is a usage error naming it', () => {
  const r = sluice(['pars']);
  expect(r.status).toBe(2);
  expect(r.stderr).toContain("unknown command 'pars'");
  expect(r.stderr).toContain('Did you mean parse?');
  expect(r.stdout).toBe('');
});

test.each([
  [['parse', '--bogus'], "unknown option '--bogus'"],
  [['validate', '--lines', '3'], "unknown option '--lines'"],
  [['parse', '--format'], "option '--format <hint>' argument missing"],
  [['config', 'nope'], 'Allowed choices are common, collector, normalizer, enricher, sink'],
  [['learn'], "missing required argument 'file'"],
])('sluice %j is a usage error: %s', (args, message) => {
  const r = sluice(args);
  expect(r.status).toBe(2);
  expect(r.stderr).toContain(message);
});

describe('parse --format', () => {
  test('an unknown name is a usage error listing the valid ones', () => {
    const r = sluice(['parse', '--format', 'bogus'], 'a=1\n');
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('unknown --format "bogus"');
    expect(r.stderr).toMatch(/\blogfmt\b/);
    expect(r.stderr).toMatch(/\bsyslog\b/);
    expect(r.stdout).toBe('');
  });

  test('a known hint is accepted in any case', () => {
    const r = sluice(['parse', '--format', 'LogFmt'], 'a=1 b=2\n');
    expect(r.status).toBe(0);
    expect((JSON.parse(r.stdout) as { attributes: object }).attributes).toEqual({ a: '1', b: '2' });
  });

  test('a format of --rules answers to its name and its match.format; unknown names list them', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-cli-'));
    try {
      const rules = join(dir, 'sluice.yaml');
      writeFileSync(rules, "formats:\n  - name: shop\n    pattern: 'SHOP %{GREEDYDATA:message}'\n    match: { format: shop-v2 }\n");
      expect(sluice(['parse', '--rules', rules, '--format', 'shop'], 'SHOP hello\n').status).toBe(0);
      const v2 = sluice(['parse', '--rules', rules, '--explain', '--format', 'shop-v2'], 'SHOP hello\n');
      expect(v2.status).toBe(0);
      expect((JSON.parse(v2.stdout) as { explain: { reader: string } }).explain.reader).toBe('format "shop" (sluice.yaml)');
      const r = sluice(['parse', '--rules', rules, '--format', 'Shop'], 'SHOP hello\n');
      expect(r.status).toBe(2);
      expect(r.stderr).toContain('from sluice.yaml: shop, shop-v2');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
