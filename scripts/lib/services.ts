/**
 * Starts the four Sluice services as child processes (the built dist/ entry points)
 * and stops them in pipeline order with SIGTERM, waiting for each to exit.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { repoRoot } from '../../shared/schemas.js';

export const SERVICE_NAMES = ['collector', 'normalizer', 'enricher', 'sink'] as const;
/** A process: one of the four services, or the collector and normalizer fused (bin/collector-normalizer.ts). */
export type ServiceName = (typeof SERVICE_NAMES)[number] | 'collector-normalizer';

/** Entry point (under dist/) and the service whose settings (admin port) a process reads. */
function entryOf(name: ServiceName): { path: string[]; settings: string } {
  return name === 'collector-normalizer' ? { path: ['bin', 'collector-normalizer.js'], settings: 'COLLECTOR' } : { path: ['services', name, 'main.js'], settings: name.toUpperCase() };
}

export interface ServiceProcess {
  name: ServiceName;
  child: ChildProcess;
  adminPort: number;
  logFile: string;
  exited: Promise<number | null>;
}

/**
 * A free TCP port on 127.0.0.1 for a child to listen on, taken below the kernel's
 * ephemeral range: a port the kernel handed out with listen(0) can be given again, between
 * our check and the child's listen, as the local port of any outgoing connection (the
 * tests open hundreds), and the child then fails with EADDRINUSE. Ports below the range
 * are never assigned that way; a port another listener holds is skipped.
 */
export async function freePort(): Promise<number> {
  let low = 32768;
  try {
    low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]) || low;
  } catch {
    // not Linux: the usual lower bound
  }
  const from = Math.max(10_000, low - 12_000);
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = from + Math.floor(Math.random() * (low - from));
    if (await canListen(port)) return port;
  }
  throw new Error(`no free port found in ${from}-${low - 1}`);
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

const children = new Set<ChildProcess>();
// If the parent dies without its orderly shutdown, take the services with it.
process.once('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

export async function startServices(opts: { env: NodeJS.ProcessEnv; logDir: string; names?: readonly ServiceName[] }): Promise<ServiceProcess[]> {
  mkdirSync(opts.logDir, { recursive: true });
  const out: ServiceProcess[] = [];
  for (const name of opts.names ?? SERVICE_NAMES) {
    const adminPort = await freePort();
    const logFile = join(opts.logDir, `${name}.log`);
    const log = createWriteStream(logFile, { flags: 'a' });
    const entry = entryOf(name);
    const env = { ...opts.env, [`SLUICE_${entry.settings}_ADMIN_PORT`]: String(adminPort) };
    // detached: a terminal's Ctrl-C reaches only the parent, which stops the services one
    // by one in pipeline order; a service must not get SIGINT and SIGTERM at once.
    const child = spawn(process.execPath, [join(repoRoot(), 'dist', ...entry.path)], { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    children.add(child);
    child.once('exit', () => children.delete(child));
    child.stdout?.pipe(log);
    child.stderr?.pipe(log);
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    out.push({ name, child, adminPort, logFile, exited });
  }
  return out;
}

async function get(url: string): Promise<{ status: number; body: string } | undefined> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
    return { status: res.status, body: await res.text() };
  } catch {
    return undefined;
  }
}

/** The last lines of a service's log, for an error message (CI keeps no files). */
function logTail(file: string, lines = 15): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch (err) {
    return `(unreadable: ${String(err)})`;
  }
}

/** Wait until every service answers /readyz with 200; rejects if one exits or the time runs out. */
export async function waitReady(procs: readonly ServiceProcess[], timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (const p of procs) {
    for (;;) {
      if (p.child.exitCode !== null) throw new Error(`${p.name} exited with ${p.child.exitCode} while starting; see ${p.logFile}; it ends:\n${logTail(p.logFile)}`);
      const r = await get(`http://127.0.0.1:${p.adminPort}/readyz`);
      if (r?.status === 200) break;
      if (Date.now() > deadline) throw new Error(`${p.name} not ready after ${timeoutMs} ms; see ${p.logFile}; it ends:\n${logTail(p.logFile)}`);
      await new Promise((res) => setTimeout(res, 250));
    }
  }
}

/** Prometheus text of one service, parsed into name{labels} -> value. */
export async function scrape(p: ServiceProcess): Promise<Map<string, number>> {
  const r = await get(`http://127.0.0.1:${p.adminPort}/metrics`);
  const m = new Map<string, number>();
  for (const line of (r?.body ?? '').split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    m.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return m;
}

/** Sum of every series of a metric. */
export function metricTotal(m: Map<string, number>, name: string): number {
  let t = 0;
  for (const [k, v] of m) if (k === name || k.startsWith(`${name}{`)) t += v;
  return t;
}

/** SIGTERM in pipeline order (upstream first, so downstream can drain what it produced), waiting for each. */
export async function stopServices(procs: readonly ServiceProcess[], timeoutMs = 45_000): Promise<void> {
  for (const p of procs) {
    if (p.child.exitCode !== null || p.child.signalCode !== null) continue;
    p.child.kill('SIGTERM');
    const t = setTimeout(() => p.child.kill('SIGKILL'), timeoutMs);
    await p.exited;
    clearTimeout(t);
  }
}
