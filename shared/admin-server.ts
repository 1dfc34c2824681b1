/**
 * Admin endpoints: GET /metrics (Prometheus text format, from the service's prom-client
 * registry), /healthz (the process is alive), /readyz (connected and consuming). Bound
 * to 127.0.0.1 unless configured otherwise.
 */
import { createServer, type Server } from 'node:http';
import type { Registry } from './metrics.js';
import { errorMessage } from './errors.js';

/**
 * Whether `host` is a loopback address: `localhost`, 127.0.0.0/8 (also IPv4-mapped,
 * `::ffff:127.x.y.z`) or `::1`. Anything else (0.0.0.0, ::, a LAN address, a name)
 * makes /metrics, /healthz and /readyz reachable from other machines.
 */
export function isLoopback(host: string): boolean {
  const h = host.trim().toLowerCase().replace(/^\[(.*)\]$/, '$1');
  if (h === 'localhost' || h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  const v4 = h.startsWith('::ffff:') ? h.slice(7) : h;
  return /^127(\.\d{1,3}){3}$/.test(v4);
}

/**
 * The start-up warning for admin endpoints bound wider than loopback (undefined when
 * bound to loopback). The endpoints have no authentication: the text says what is exposed.
 */
export function adminExposureWarning(host: string, port: number): string | undefined {
  if (isLoopback(host)) return undefined;
  const where = host === '0.0.0.0' || host === '::' || host === '' ? 'every network interface' : host;
  return `admin endpoints (/metrics, /healthz, /readyz; no authentication) are bound to ${host || '(all)'}:${port}, reachable on ${where}, not only loopback: SLUICE_ADMIN_HOST=${host}. Keep it so only behind a network policy (a Kubernetes pod's probes); the default is 127.0.0.1`;
}

export interface AdminServer {
  readonly port: number;
  close(): Promise<void>;
}

export async function startAdminServer(opts: {
  host: string;
  port: number;
  registry: Registry;
  ready: () => boolean;
  /** /healthz: false once a runner stopped for good (default: always alive). */
  alive?: () => boolean;
}): Promise<AdminServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET') {
      res.writeHead(405).end();
      return;
    }
    if (path === '/metrics') {
      opts.registry.metrics().then(
        (body) => res.writeHead(200, { 'content-type': opts.registry.contentType }).end(body),
        (err: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${errorMessage(err)}\n`),
      );
    } else if (path === '/healthz') {
      const ok = opts.alive?.() ?? true;
      res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain' }).end(ok ? 'ok\n' : 'failed\n');
    } else if (path === '/readyz') {
      const ok = opts.ready();
      res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain' }).end(ok ? 'ready\n' : 'not ready\n');
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : opts.port;
  return {
    port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/**
 * startAdminServer, then the start-up log lines: where it listens (info) and, when bound
 * wider than loopback, adminExposureWarning (warn). What every service calls.
 */
export async function startAdminEndpoints(
  opts: Parameters<typeof startAdminServer>[0] & { log: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void } },
): Promise<AdminServer> {
  const { log, ...serverOpts } = opts;
  const admin = await startAdminServer(serverOpts);
  log.info({ admin: `http://${opts.host}:${admin.port}` }, 'admin endpoints listening');
  const exposed = adminExposureWarning(opts.host, admin.port);
  if (exposed) log.warn({ adminHost: opts.host, adminPort: admin.port }, exposed);
  return admin;
}
