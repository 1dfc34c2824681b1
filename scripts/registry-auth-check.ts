/**
 * `npm run check:registry-auth`: Sluice's schema-registry credentials (basic auth and a
 * bearer token, docs/configuration.md) against a server that enforces them.
 *
 * The local stack's registry (Apicurio Registry, scripts/stack.d/registry.sh) does not
 * enforce authentication: Apicurio's own auth needs an OIDC server (Keycloak), which the
 * stack does not run. So the registry is put behind Caddy, the deployment an operator
 * without registry-side auth would use: an authenticating reverse proxy. Caddy is built
 * from the Go module proxy into .stack/caddy (once; reused after, as scripts/lib/chaos-cases.ts
 * builds Toxiproxy) and run as this script's own process with two sites:
 * - http://127.0.0.1:8446 (--basic-port): `basic_auth` with one user whose password is
 *   stored as a bcrypt hash (`caddy hash-password`), then `reverse_proxy` to the registry;
 * - http://127.0.0.1:8447 (--bearer-port): a request whose `Authorization` is not exactly
 *   `Bearer <token>` gets 401 (with `WWW-Authenticate: Bearer`), any other is proxied.
 * Password and token are random per run, written to 0600 files under .stack/caddy/runs/<run>/
 * and given to Sluice only through SLUICE_REGISTRY_PASSWORD_FILE / SLUICE_REGISTRY_TOKEN_FILE
 * (the `_FILE` form of a secret, shared/config.ts); they are never printed.
 *
 * For each site and each of correct, wrong and no credentials, two paths:
 * - client: the settings loaded as a service loads them (shared/config.ts loadConfig of
 *   registrySchema, then registryOptions), and the registry client the services use
 *   (shared/registry.ts). Correct credentials: createRegistry().register() of the real
 *   RawEvent schema under a run-unique subject, a fresh client's avroType(id) (nothing
 *   cached) round-trips an event, registrySubjectCount() answers, and the registry itself
 *   (asked directly, without the proxy) lists that id under the subject. Wrong or no
 *   credentials: register() and registrySubjectCount() fail with a permanent
 *   SLUICE_ERR_REGISTRY_AUTH (a service stops at start), avroType() with a retryable one
 *   (a record is never dead-lettered for it), each message saying the registry refused
 *   the credentials and naming the settings to check.
 * - validate: `node dist/bin/sluice.js validate --connect` with the same variables. It
 *   also asks Kafka, Elasticsearch and the bucket, which are not under test here (and may
 *   be down while other jobs run): only its schema-registry line is judged, `reachable`
 *   with correct credentials and `UNREACHABLE ... refused the credentials` otherwise.
 * Each case is also judged from Caddy's JSON access log: with correct credentials no
 * request was refused and at least one passed (2xx); with wrong or none every request of
 * the case was answered 401 by Caddy (so none reached the registry). No secret (the
 * password, the token, the wrong ones, the base64 of user:password) may appear in any
 * error text (message, stack, causes), in validate's output, in Caddy's logs or in what
 * this script prints.
 *
 * If the registry itself is down (a 5xx from Caddy, "unavailable" from the client: another
 * job restarting the stack), the round is not judged: the script waits for the registry
 * (--wait-seconds, 900) and runs the whole round again (--attempts, 3 in all).
 *
 * Prints a Markdown table, one row per case; exits 1 if any row or the secret check fails.
 * The run's subjects are deleted from the registry at the end and the secret files
 * removed (--keep keeps both); Caddy's logs stay in .stack/logs/registry-auth/<run>/.
 * Caddy is stopped by its PID at the end, on failure and on Ctrl-C.
 *
 *   npm run check:registry-auth -- [--basic-port 8446] [--bearer-port 8447]
 *                                  [--upstream 127.0.0.1:8081] [--attempts 3]
 *                                  [--wait-seconds 900] [--keep]
 *
 * Needs the local stack's registry (`npm run stack up`) and Go (first run only).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { inspect } from 'node:util';
import type avro from 'avsc';
import { registrySchema } from '../shared/common-config.js';
import { loadConfig } from '../shared/config.js';
import { ErrorCodes, SluiceError, errorMessage } from '../shared/errors.js';
import { createRegistry, registryOptions, registrySubjectCount } from '../shared/registry.js';
import { loadSchema, repoRoot } from '../shared/schemas.js';
import { arg, argString } from './lib/bench-common.js';
import { reachable } from './lib/probes.js';

// ---------------------------------------------------------------- settings

/** The Caddy release built from the Go module proxy (a tag of github.com/caddyserver/caddy/v2). */
const CADDY_VERSION = 'v2.11.9';
const CADDY_DIR = join(repoRoot(), '.stack', 'caddy');
const BASIC_PORT = arg('--basic-port', 8446);
const BEARER_PORT = arg('--bearer-port', 8447);
/** host:port of the registry Caddy proxies to (the local stack's Apicurio, plain HTTP). */
const UPSTREAM = argString('--upstream') ?? `127.0.0.1:${process.env['SLUICE_REGISTRY_PORT'] || '8081'}`;
/** Apicurio's Confluent-compatible API. */
const API_PATH = '/apis/ccompat/v7';
const ATTEMPTS = Math.round(arg('--attempts', 3));
const WAIT_MS = arg('--wait-seconds', 900) * 1000;
const KEEP = process.argv.includes('--keep');
/** The basic-auth user (not a secret; the password is). */
const USER = 'sluice-registry-check';

const runId = `rauth${Date.now().toString(36)}`;
/** Secrets and Caddy's configuration (0700 directory, 0600 files); removed at the end unless --keep. */
const SECRET_DIR = join(CADDY_DIR, 'runs', runId);
/** Caddy's own log and its access logs; kept. */
const LOG_DIR = join(repoRoot(), '.stack', 'logs', 'registry-auth', runId);
const UPSTREAM_URL = `http://${UPSTREAM}${API_PATH}`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const t0 = Date.now();
/** Everything this script prints, kept for the final secret check. */
const printed: string[] = [];
const say = (s: string) => {
  const line = `[registry-auth +${((Date.now() - t0) / 1000).toFixed(0)}s] ${s}\n`;
  printed.push(line);
  process.stdout.write(line);
};

// ---------------------------------------------------------------- secrets

/** This run's credentials: right and wrong, all random. */
interface Secrets {
  password: string;
  wrongPassword: string;
  token: string;
  wrongToken: string;
  /** Files holding them (mode 0600), what Sluice is given. */
  files: { password: string; wrongPassword: string; token: string; wrongToken: string };
}

function makeSecrets(): Secrets {
  mkdirSync(SECRET_DIR, { recursive: true, mode: 0o700 });
  chmodSync(SECRET_DIR, 0o700);
  const s = {
    password: randomBytes(18).toString('base64url'),
    wrongPassword: randomBytes(18).toString('base64url'),
    token: randomBytes(32).toString('hex'),
    wrongToken: randomBytes(32).toString('hex'),
  };
  const files = { password: '', wrongPassword: '', token: '', wrongToken: '' };
  for (const k of Object.keys(s) as Array<keyof typeof s>) {
    files[k] = join(SECRET_DIR, k);
    writeSecretFile(files[k], `${s[k]}\n`);
  }
  return { ...s, files };
}

/** Write `text` to a new file only its owner can read. */
function writeSecretFile(path: string, text: string): void {
  writeFileSync(path, text, { mode: 0o600 });
  chmodSync(path, 0o600); // mode applies only when the file is created; make sure.
}

/** Every form in which a secret could leak: the values and the Basic header payloads. */
function secretForms(s: Secrets): string[] {
  const basic = (p: string) => Buffer.from(`${USER}:${p}`).toString('base64');
  return [s.password, s.wrongPassword, s.token, s.wrongToken, basic(s.password), basic(s.wrongPassword)];
}

// ---------------------------------------------------------------- Caddy

/**
 * The Caddy module version a binary was built from, as `go version -m` reads it from the
 * binary's build information (`caddy version` says "unknown" for a plain `go install` of
 * cmd/caddy); undefined when there is no binary or it is not Caddy.
 */
function builtVersion(bin: string): string | undefined {
  if (!existsSync(bin)) return undefined;
  const r = spawnSync('go', ['version', '-m', bin], { encoding: 'utf8' });
  return /^\s*mod\s+github\.com\/caddyserver\/caddy\/v2\s+(\S+)/m.exec(r.stdout ?? '')?.[1];
}

/**
 * The Caddy binary in .stack/caddy/bin, built with `go install` from the Go module proxy
 * unless it is there at CADDY_VERSION (built once, reused after). The build runs at the
 * lowest priority on one thread (nice 19, GOMAXPROCS 1 unless set): other jobs share the machine.
 */
function caddyBinary(): { bin: string; version: string } {
  const bin = join(CADDY_DIR, 'bin', 'caddy');
  let version = builtVersion(bin);
  if (version !== CADDY_VERSION) {
    say(`building Caddy ${CADDY_VERSION} from the Go module proxy into ${CADDY_DIR} (a few minutes, once)`);
    const r = spawnSync('nice', ['-n', '19', 'go', 'install', `github.com/caddyserver/caddy/v2/cmd/caddy@${CADDY_VERSION}`], {
      env: { ...process.env, GOBIN: join(CADDY_DIR, 'bin'), GOPATH: join(CADDY_DIR, 'gopath'), GOFLAGS: '-modcacherw', GOMAXPROCS: process.env['GOMAXPROCS'] || '1' },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    version = builtVersion(bin);
    if (r.status !== 0 || version !== CADDY_VERSION) throw new Error('could not build Caddy (go install failed; is the Go module proxy reachable?)');
  }
  return { bin, version };
}

/** bcrypt hash of `password` by `caddy hash-password`, the password given on stdin (not in argv, which `ps` shows). */
function bcryptHash(bin: string, password: string): string {
  const r = spawnSync(bin, ['hash-password', '--algorithm', 'bcrypt'], { input: `${password}\n`, encoding: 'utf8' });
  const hash = r.stdout.trim();
  if (r.status !== 0 || !/^\$2[aby]\$\d\d\$/.test(hash)) throw new Error(`caddy hash-password failed (exit ${r.status}): ${r.stderr.trim()}`);
  return hash;
}

/** The Caddyfile of the two sites (holds the token and the hash: written 0600). */
function caddyfile(hash: string, token: string, accessLog: { basic: string; bearer: string }): string {
  const log = (file: string) => `\tlog {\n\t\toutput file ${file}\n\t\tformat json\n\t}`;
  return `# registry-auth-check ${runId}: the registry behind an authenticating reverse proxy.
{
\tadmin off
\tpersist_config off
\tauto_https off
\tstorage file_system ${join(SECRET_DIR, 'data')}
}

# Basic auth: one user, bcrypt hash; everything else is refused by Caddy with 401.
http://127.0.0.1:${BASIC_PORT} {
\tbind 127.0.0.1
${log(accessLog.basic)}
\tbasic_auth bcrypt "sluice registry" {
\t\t${USER} ${hash}
\t}
\treverse_proxy ${UPSTREAM}
}

# Bearer token: anything but exactly "Bearer <token>" gets 401.
http://127.0.0.1:${BEARER_PORT} {
\tbind 127.0.0.1
${log(accessLog.bearer)}
\t@bad not header Authorization "Bearer ${token}"
\thandle @bad {
\t\theader WWW-Authenticate "Bearer realm=\\"sluice registry\\""
\t\trespond 401
\t}
\thandle {
\t\treverse_proxy ${UPSTREAM}
\t}
}
`;
}

/** Caddy running as this script's child: started with the Caddyfile, stopped by its PID. */
let running: Caddy | undefined;
class Caddy {
  private exited = false;
  private constructor(readonly child: ChildProcess) {
    child.once('exit', () => (this.exited = true));
  }

  static async start(bin: string, config: string, logFile: string): Promise<Caddy> {
    for (const port of [BASIC_PORT, BEARER_PORT]) {
      if (await reachable(port)) throw new Error(`127.0.0.1:${port} is already in use (another Caddy of an interrupted run?); choose --basic-port/--bearer-port`);
    }
    const out = openSync(logFile, 'a', 0o600);
    // XDG_*: Caddy's data and config directories inside this run's directory, nothing in ~.
    const env = { ...process.env, XDG_DATA_HOME: join(SECRET_DIR, 'xdg-data'), XDG_CONFIG_HOME: join(SECRET_DIR, 'xdg-config') };
    const child = spawn(bin, ['run', '--adapter', 'caddyfile', '--config', config], { env, stdio: ['ignore', out, out] });
    closeSync(out);
    const caddy = new Caddy(child);
    running = caddy; // from here on, a signal or exit stops it
    for (let i = 0; i < 150; i++) {
      if (caddy.exited) throw new Error(`Caddy exited at start (exit ${child.exitCode}); see ${logFile}`);
      if ((await reachable(BASIC_PORT)) && (await reachable(BEARER_PORT))) return caddy;
      await sleep(100);
    }
    await caddy.stop();
    throw new Error(`Caddy did not listen on ${BASIC_PORT} and ${BEARER_PORT} within 15 s; see ${logFile}`);
  }

  /** SIGTERM by PID (Caddy shuts down gracefully), SIGKILL after 5 s. */
  async stop(): Promise<void> {
    if (this.exited || this.child.pid === undefined) return;
    this.child.kill('SIGTERM');
    for (let i = 0; i < 50 && !this.exited; i++) await sleep(100);
    if (!this.exited) this.child.kill('SIGKILL');
  }

  /** Last resort on process exit (synchronous). */
  killNow(): void {
    if (!this.exited) this.child.kill('SIGKILL');
  }
}

// ---------------------------------------------------------------- Caddy's access log

/** Statuses of the access-log entries written after `from` (a byte offset); waits until the log stops growing. */
async function accessSince(file: string, from: number): Promise<{ statuses: number[]; end: number }> {
  const read = () => (existsSync(file) ? readFileSync(file) : Buffer.alloc(0));
  let buf = read();
  for (let i = 0; i < 10; i++) {
    await sleep(150);
    const again = read();
    if (again.length === buf.length) break;
    buf = again;
  }
  const statuses = buf
    .subarray(from)
    .toString('utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => Number((JSON.parse(l) as { status?: unknown }).status));
  return { statuses, end: buf.length };
}

const logSize = (file: string) => (existsSync(file) ? readFileSync(file).length : 0);

// ---------------------------------------------------------------- the registry itself

/** Whether the registry answers directly (not through Caddy). */
async function upstreamUp(): Promise<boolean> {
  return fetch(`${UPSTREAM_URL}/subjects`, { signal: AbortSignal.timeout(5000) }).then((r) => r.ok, () => false);
}

/** Wait until the registry answers (another job may be restarting it); throws after WAIT_MS. */
async function waitUpstream(): Promise<void> {
  const until = Date.now() + WAIT_MS;
  let said = false;
  while (!(await upstreamUp())) {
    if (Date.now() > until) throw new Error(`the registry at ${UPSTREAM_URL} did not answer within ${WAIT_MS / 1000} s`);
    if (!said) say(`the registry at ${UPSTREAM_URL} does not answer; waiting for it (up to ${WAIT_MS / 1000} s)`);
    said = true;
    await sleep(3000);
  }
  if (said) say('the registry answers again');
}

/** The registry's own name and version (Apicurio's system info), for the report. */
async function upstreamVersion(): Promise<string> {
  try {
    const r = await fetch(`http://${UPSTREAM}/apis/registry/v3/system/info`, { signal: AbortSignal.timeout(5000) });
    const info = (await r.json()) as { name?: string; version?: string };
    return `${info.name ?? 'registry'} ${info.version ?? '?'}`;
  } catch {
    return 'a Confluent-API registry (version unknown)';
  }
}

/** The id the registry itself (without the proxy) holds as the latest version of `subject`. */
async function upstreamLatestId(subject: string): Promise<number | undefined> {
  const r = await fetch(`${UPSTREAM_URL}/subjects/${encodeURIComponent(subject)}/versions/latest`, { signal: AbortSignal.timeout(5000) });
  return r.ok ? ((await r.json()) as { id?: number }).id : undefined;
}

/** Delete a subject (soft, then permanently) directly at the registry; a failure is printed, not thrown. */
async function deleteSubject(subject: string): Promise<void> {
  for (const q of ['', '?permanent=true']) {
    const r = await fetch(`${UPSTREAM_URL}/subjects/${encodeURIComponent(subject)}${q}`, { method: 'DELETE', signal: AbortSignal.timeout(5000) }).catch((err: unknown) => err as Error);
    if (r instanceof Error || (!r.ok && r.status !== 404)) say(`could not delete subject ${subject}${q}: ${r instanceof Error ? r.message : `HTTP ${r.status}`}`);
  }
}

// ---------------------------------------------------------------- the cases

type Site = 'basic' | 'bearer';
type Creds = 'correct' | 'wrong' | 'none';
type Path = 'client' | 'validate';

/** One judged case: a row of the table. */
interface Outcome {
  site: Site;
  creds: Creds;
  path: Path;
  expected: string;
  got: string;
  /** Access-log entries of the case: 401s, 2xx, anything else. */
  refused: number;
  passed: number;
  other: number;
  /** The registry (not the credentials) was the problem: the round is run again. */
  unavailable: boolean;
  ok: boolean;
  /** The first refusal message (client: register's error; validate: its registry line), shown under the table. */
  message?: string;
  /** Every text the case produced (error messages, stacks, causes, validate's output), for the secret check. */
  texts: string[];
}

/** A RawEvent to round-trip through the fetched schema. */
const EVENT = { event_id: 'e1', tenant: 'default', observed_at: 1, kafka_timestamp: 1, origin: { topic: 't', partition: 0, offset: 0, index: 0 }, format: null, shipper: null, service: null, host: null, file: null, envelope_time: null, body: 'through the authenticating proxy', flags: [], labels: {} };

/** The SLUICE_REGISTRY_* variables of a (site, credentials) pair: secrets only as `_FILE`. */
function registryEnv(site: Site, creds: Creds, s: Secrets): Record<string, string> {
  const url = `http://127.0.0.1:${site === 'basic' ? BASIC_PORT : BEARER_PORT}${API_PATH}`;
  const env: Record<string, string> = { SLUICE_REGISTRY_URL: url };
  if (creds === 'none') return env;
  if (site === 'basic') return { ...env, SLUICE_REGISTRY_USERNAME: USER, SLUICE_REGISTRY_PASSWORD_FILE: creds === 'correct' ? s.files.password : s.files.wrongPassword };
  return { ...env, SLUICE_REGISTRY_TOKEN_FILE: creds === 'correct' ? s.files.token : s.files.wrongToken };
}

/** An error's full text: message, stack and (through inspect) its causes. */
const errorText = (err: unknown): string => (err instanceof Error ? `${err.message}\n${err.stack ?? ''}\n${inspect(err, { depth: 8 })}` : String(err));

/** What `p` rejects with, or a description of its success. */
async function outcomeOf(p: Promise<unknown>): Promise<{ err?: unknown; value?: unknown }> {
  try {
    return { value: await p };
  } catch (err) {
    return { err };
  }
}

/** Whether an error (or validate's registry line) says the registry was down rather than the credentials refused. */
const isUnavailable = (err: unknown) => err instanceof SluiceError && err.code === ErrorCodes.registryUnavailable;

/** Short label of a classified error: code and whether it is retried. */
const label = (err: unknown) => (err instanceof SluiceError ? `${err.code.replace('SLUICE_ERR_', '')} (${err.retryable ? 'retryable' : 'permanent'})` : `unclassified: ${errorMessage(err).slice(0, 80)}`);

/**
 * The client path with correct credentials: register under `subject`, a fresh client
 * resolves the id and round-trips an event, the subject count answers, and the registry
 * itself holds that id under the subject. Returns the id (for the refused cases' avroType).
 */
async function clientCorrect(env: Record<string, string>, subject: string, o: Outcome): Promise<number | undefined> {
  const opts = registryOptions(loadConfig(registrySchema, env));
  const schema = loadSchema('RawEvent');
  const reg = await outcomeOf(createRegistry(opts).register(subject, schema));
  if (reg.err !== undefined) {
    o.texts.push(errorText(reg.err));
    o.unavailable = isUnavailable(reg.err);
    o.got = `register failed: ${label(reg.err)}: ${errorMessage(reg.err)}`;
    return undefined;
  }
  const id = reg.value as number;
  const typ = await outcomeOf(createRegistry(opts).avroType(id));
  const cnt = await outcomeOf(registrySubjectCount(opts));
  for (const r of [typ, cnt]) if (r.err !== undefined) o.texts.push(errorText(r.err));
  if (typ.err !== undefined || cnt.err !== undefined) {
    const err = typ.err ?? cnt.err;
    o.unavailable = isUnavailable(err);
    o.got = `id ${id}, then ${typ.err !== undefined ? 'avroType' : 'subject count'} failed: ${label(err)}`;
    return id;
  }
  const type = typ.value as avro.Type;
  const back = (type.fromBuffer(type.toBuffer(EVENT)) as { body: string }).body;
  const direct = await upstreamLatestId(subject).catch(() => undefined);
  const good = back === EVENT.body && direct === id;
  o.got = `id ${id} registered; avroType(${id}) is ${type.name ?? '?'}, round-trips an event; ${cnt.value as number} subject(s)${direct === id ? '; registry holds it' : `; registry says id ${direct}`}`;
  o.ok = good;
  return id;
}

/**
 * The client path with wrong or no credentials: register and the subject count must fail
 * with a permanent SLUICE_ERR_REGISTRY_AUTH, avroType of a known id with a retryable one,
 * each message saying the credentials were refused and what to check.
 */
async function clientRefused(env: Record<string, string>, subject: string, knownId: number, o: Outcome): Promise<void> {
  const opts = registryOptions(loadConfig(registrySchema, env));
  // [what, call, whether its AUTH error must be retryable]; one after the other.
  const calls: Array<[string, () => Promise<unknown>, boolean]> = [
    ['register', () => createRegistry(opts).register(subject, loadSchema('RawEvent')), false],
    ['avroType', () => createRegistry(opts).avroType(knownId), true],
    ['subjects', () => registrySubjectCount(opts), false],
  ];
  const parts: string[] = [];
  let ok = true;
  for (const [what, call, retryable] of calls) {
    const r = await outcomeOf(call());
    if (r.err === undefined) {
      ok = false;
      parts.push(`${what}: SUCCEEDED`);
      continue;
    }
    o.texts.push(errorText(r.err));
    if (isUnavailable(r.err)) o.unavailable = true;
    const e = r.err;
    o.message ??= `${e instanceof SluiceError ? `${e.code}: ` : ''}${errorMessage(e)}`;
    const good = e instanceof SluiceError && e.code === ErrorCodes.registryAuth && e.retryable === retryable && /refused the credentials/.test(e.message) && /SLUICE_REGISTRY_USERNAME\/_PASSWORD or SLUICE_REGISTRY_TOKEN/.test(e.message) && /\b401\b/.test(e.message);
    if (!good) ok = false;
    parts.push(`${what}: ${label(e)}`);
  }
  o.ok = ok;
  o.got = parts.join('; ');
}

/** `sluice validate --connect` with the pair's variables; judged on its schema-registry line only. */
function validatePath(env: Record<string, string>, creds: Creds, o: Outcome): void {
  // The caller's own SLUICE_* settings (and a ./sluice.yaml) would blur the case: start from none.
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SLUICE_')));
  const r = spawnSync(process.execPath, [join(repoRoot(), 'dist', 'bin', 'sluice.js'), 'validate', '--connect'], { env: { ...base, ...env }, cwd: SECRET_DIR, encoding: 'utf8', timeout: 90_000 });
  const out = `${r.stdout ?? ''}${r.stderr ?? ''}`;
  o.texts.push(out);
  const line = /^(reachable|UNREACHABLE): schema registry \([^)]*\): (.*)$/m.exec(out);
  const others = out
    .split('\n')
    .filter((l) => /^(reachable|UNREACHABLE): /.test(l) && !l.includes('schema registry'))
    .map((l) => `${l.split(':')[1]!.trim().split(' ')[0]} ${l.startsWith('reachable') ? 'up' : 'down'}`);
  if (!line) {
    o.got = `no schema-registry line (exit ${r.status}): ${out.trim().split('\n').slice(-2).join(' / ').slice(0, 160)}`;
    return;
  }
  const [, state, detail] = line as unknown as [string, string, string];
  const note = ` (exit ${r.status}${others.length > 0 ? `; ${others.join(', ')}` : ''})`;
  if (creds === 'correct') {
    o.ok = state === 'reachable';
    if (!o.ok) o.unavailable = !/refused the credentials/.test(detail);
    o.got = `registry ${state}: ${detail.slice(0, 120)}${note}`;
  } else {
    o.message = line[0];
    o.ok = state === 'UNREACHABLE' && /refused the credentials/.test(detail) && /\b401\b/.test(detail) && r.status === 1;
    if (!o.ok) o.unavailable = /HTTP 5\d\d|ECONNREFUSED|timeout|no answer/i.test(detail);
    o.got = `registry ${state}: ${/refused the credentials/.test(detail) ? `refused the credentials (HTTP ${/\b(40[13])\b/.exec(detail)?.[1] ?? '?'})` : detail.slice(0, 120)}${note}`;
  }
}

/** One round: every site × credentials × path, in order (correct first, so the refused avroType has a real id). */
async function round(s: Secrets, accessLog: Record<Site, string>, attempt: number, subjects: string[]): Promise<Outcome[]> {
  const out: Outcome[] = [];
  for (const site of ['basic', 'bearer'] as const) {
    const subject = `${runId}-${attempt}.registry-auth-${site}-value`;
    subjects.push(subject);
    let knownId = 1;
    for (const creds of ['correct', 'wrong', 'none'] as const) {
      for (const path of ['client', 'validate'] as const) {
        const expected =
          creds === 'correct'
            ? path === 'client' ? 'register, avroType, subject count succeed' : 'registry reachable'
            : path === 'client' ? 'AUTH: register, subjects permanent; avroType retryable' : 'registry UNREACHABLE: refused the credentials';
        const o: Outcome = { site, creds, path, expected, got: '', refused: 0, passed: 0, other: 0, unavailable: false, ok: false, texts: [] };
        const from = logSize(accessLog[site]);
        const env = registryEnv(site, creds, s);
        if (path === 'client') {
          if (creds === 'correct') knownId = (await clientCorrect(env, subject, o)) ?? knownId;
          else await clientRefused(env, subject, knownId, o);
        } else {
          validatePath(env, creds, o);
        }
        // What Caddy says about the case's requests.
        const { statuses } = await accessSince(accessLog[site], from);
        o.refused = statuses.filter((x) => x === 401).length;
        o.passed = statuses.filter((x) => x >= 200 && x < 300).length;
        o.other = statuses.length - o.refused - o.passed;
        if (statuses.some((x) => x >= 500)) o.unavailable = true;
        const accessOk = creds === 'correct' ? o.refused === 0 && o.passed >= 1 : o.refused >= 1 && o.passed === 0 && o.other === 0;
        o.ok = o.ok && accessOk;
        say(`${site} / ${creds} / ${path}: ${o.ok ? 'as expected' : 'UNEXPECTED'}: ${o.got}; Caddy: ${o.refused} × 401, ${o.passed} × 2xx, ${o.other} other`);
        out.push(o);
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------- main

function table(rows: Outcome[], leaks: string[]): string {
  const lines = [
    '| site | credentials | via | expected | outcome | Caddy access log | result |',
    '|---|---|---|---|---|---|---|',
    ...rows.map((o) => `| ${o.site} | ${o.creds} | ${o.path === 'client' ? 'registry client' : 'sluice validate --connect'} | ${o.expected} | ${o.got.replace(/\|/g, '\\|')} | ${o.refused} × 401, ${o.passed} × 2xx${o.other ? `, ${o.other} other` : ''} | ${o.ok ? 'ok' : 'FAIL'} |`),
  ];
  const messages = rows.filter((o) => o.creds === 'wrong' && o.message);
  if (messages.length > 0) lines.push('', 'What a refusal says (wrong credentials):', '', ...messages.map((o) => `- ${o.site}, ${o.path === 'client' ? 'registry client' : 'sluice validate --connect'}: \`${o.message}\``));
  lines.push('', leaks.length === 0 ? 'secrets in any error text, validate output, Caddy log or this output: none' : `SECRETS LEAKED in: ${leaks.join(', ')}`);
  return lines.join('\n');
}

async function main(): Promise<void> {
  mkdirSync(LOG_DIR, { recursive: true });
  const accessLog: Record<Site, string> = { basic: join(LOG_DIR, 'access-basic.log'), bearer: join(LOG_DIR, 'access-bearer.log') };
  const caddyLog = join(LOG_DIR, 'caddy.log');
  const { bin, version } = caddyBinary();

  // From here on secrets exist on disk and Caddy may run: Ctrl-C / SIGTERM stop Caddy by
  // its PID and remove the secrets; on any exit a Caddy still there is killed and the
  // secrets removed (unless --keep).
  /** The run's subjects, deleted at the end (also on Ctrl-C) unless --keep. */
  const subjects: string[] = [];
  const removeSecrets = () => {
    if (!KEEP) rmSync(SECRET_DIR, { recursive: true, force: true });
  };
  const onSignal = (sig: NodeJS.Signals) => {
    say(`${sig}: stopping Caddy${running ? ` (pid ${running.child.pid})` : ''}`);
    void (running?.stop() ?? Promise.resolve())
      .then(async () => {
        if (!KEEP) for (const subject of subjects) await deleteSubject(subject);
      })
      .finally(() => {
        removeSecrets();
        process.exit(130);
      });
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  process.once('exit', () => {
    running?.killNow();
    removeSecrets();
  });

  let rows: Outcome[] = [];
  let secrets: Secrets;
  let registryName = '';
  try {
    secrets = makeSecrets();
    const config = join(SECRET_DIR, 'Caddyfile');
    writeSecretFile(config, caddyfile(bcryptHash(bin, secrets.password), secrets.token, accessLog));
    await waitUpstream();
    registryName = await upstreamVersion();
    const caddy = await Caddy.start(bin, config, caddyLog);
    say(`Caddy ${version} (pid ${caddy.child.pid}) on 127.0.0.1:${BASIC_PORT} (basic auth) and 127.0.0.1:${BEARER_PORT} (bearer token) in front of ${registryName} at ${UPSTREAM}; run ${runId}`);
    for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
      await waitUpstream();
      rows = await round(secrets, accessLog, attempt, subjects);
      // Judge only a round the registry was up for; otherwise wait and run it again.
      const disturbed = rows.some((o) => !o.ok && o.unavailable);
      if (!disturbed) break;
      if (attempt < ATTEMPTS) say(`round ${attempt}: the registry was unavailable during it; running the round again`);
    }
  } finally {
    if (running) {
      await running.stop();
      say(`Caddy stopped (pid ${running.child.pid}, ${running.child.exitCode !== null ? `exit ${running.child.exitCode}` : running.child.signalCode})`);
    }
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    if (!KEEP) for (const subject of subjects) await deleteSubject(subject);
    removeSecrets();
  }

  // No secret anywhere: the cases' texts, Caddy's logs, and what was printed (with the table).
  const forms = secretForms(secrets);
  const leaks: string[] = [];
  const scan = (where: string, text: string) => {
    if (forms.some((f) => text.includes(f))) leaks.push(where);
  };
  for (const o of rows) scan(`${o.site}/${o.creds}/${o.path}`, o.texts.join('\n'));
  for (const f of [accessLog.basic, accessLog.bearer, caddyLog]) scan(f, existsSync(f) ? readFileSync(f, 'utf8') : '');
  scan("this script's output", printed.join('') + table(rows, []));

  process.stdout.write(`\nregistry auth through Caddy ${version} (basic_auth with a bcrypt hash; a bearer-token matcher) in front of ${registryName}; run ${runId}\n\n${table(rows, leaks)}\n\nCaddy's logs: ${LOG_DIR}\n`);
  const failed = rows.filter((o) => !o.ok).length;
  if (failed > 0 || leaks.length > 0 || rows.length === 0) {
    process.stdout.write(`FAIL: ${failed} unexpected case(s)${leaks.length ? `, secrets leaked in ${leaks.length} place(s)` : ''}\n`);
    process.exitCode = 1;
  } else {
    process.stdout.write(`PASS: ${rows.length} cases as expected\n`);
  }
}

main().catch((err: unknown) => {
  // Never the secrets here: they live only in files and in the Secrets object.
  console.error(`registry-auth-check: ${errorMessage(err)}`);
  process.exitCode = 1;
});
