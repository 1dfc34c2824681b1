/**
 * The schema registry behind one small interface, so the rest of Sluice does not care
 * which server implements the Confluent REST API: register a schema, resolve an id.
 * Encoding and decoding (Confluent wire format) live in codec.ts. The implementation
 * uses @kafkajs/confluent-schema-registry.
 */
import registryPkg from '@kafkajs/confluent-schema-registry';
import type avro from 'avsc';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { RetryableError, ErrorCodes, PermanentError, ConfigError, SluiceError, errorMessage } from './errors.js';
import type { AvroRecordSchema } from './schemas.js';

const { SchemaRegistry, SchemaType, COMPATIBILITY } = registryPkg;
/** A mappersmith middleware, as the client's constructor types it. */
type Middleware = NonNullable<ConstructorParameters<typeof SchemaRegistry>[0]['middlewares']>[number];

export interface SchemaRegistryPort {
  /**
   * Register (or find) `schema` under `subject`, with BACKWARD compatibility; returns its id.
   * Throws RetryableError (registry down) or PermanentError SLUICE_ERR_REGISTRY_TLS /
   * SLUICE_ERR_REGISTRY_AUTH (certificate or credentials refused: a retry will not help).
   */
  register(subject: string, schema: AvroRecordSchema): Promise<number>;
  /**
   * The avsc type of a schema id (fetched once; unknown ids are a PermanentError). A
   * refused certificate or credential is a RetryableError with the TLS/auth code: an
   * environment problem, never a reason to dead-letter a record.
   */
  avroType(schemaId: number): Promise<avro.Type>;
}

export interface RegistryOptions {
  url: string;
  username?: string | undefined;
  password?: string | undefined;
  /** Sent as `Authorization: Bearer <token>`; not together with username. */
  token?: string | undefined;
  /** PEM CA file(s) for an https:// registry (else the system CAs). */
  caFile?: string | undefined;
  /** PEM client certificate and key for mutual TLS; both or neither. */
  certFile?: string | undefined;
  keyFile?: string | undefined;
  keyPassword?: string | undefined;
}

/** The registry settings of a service's configuration (shared/common-config.ts) as RegistryOptions. */
export function registryOptions(c: {
  registryUrl: string;
  registryUsername?: string | undefined;
  registryPassword?: string | undefined;
  registryToken?: string | undefined;
  registryCaFile?: string | undefined;
  registryCertFile?: string | undefined;
  registryKeyFile?: string | undefined;
  registryKeyPassword?: string | undefined;
}): RegistryOptions {
  return { url: c.registryUrl, username: c.registryUsername, password: c.registryPassword, token: c.registryToken, caFile: c.registryCaFile, certFile: c.registryCertFile, keyFile: c.registryKeyFile, keyPassword: c.registryKeyPassword };
}

/**
 * Problems of a combination of registry settings that each look fine alone (empty:
 * fine). Used at start (createRegistry throws them as a ConfigError) and by `sluice
 * validate`. Never includes a secret's value.
 */
export function registryOptionProblems(o: RegistryOptions): string[] {
  const problems: string[] = [];
  if (Boolean(o.certFile) !== Boolean(o.keyFile)) problems.push('SLUICE_REGISTRY_CERT_FILE and SLUICE_REGISTRY_KEY_FILE go together: set both or neither');
  if (o.token && o.username) problems.push('SLUICE_REGISTRY_TOKEN and SLUICE_REGISTRY_USERNAME are both set: set one (a bearer token or basic auth)');
  const tlsFiles = Boolean(o.caFile || o.certFile || o.keyFile);
  if (tlsFiles && !/^https:/i.test(o.url)) problems.push('SLUICE_REGISTRY_CA_FILE/_CERT_FILE/_KEY_FILE are set but SLUICE_REGISTRY_URL is not https://');
  return problems;
}

/** The HTTP agent for the registry: an https.Agent with the CA, client certificate and key read from their files when the URL is https. */
function agentFor(o: RegistryOptions): http.Agent {
  if (!/^https:/i.test(o.url)) return new http.Agent({ keepAlive: true });
  const tls: https.AgentOptions = { keepAlive: true };
  const read = (variable: string, file: string) => {
    try {
      return readFileSync(file, 'utf8');
    } catch (err) {
      throw new ConfigError(`${variable}=${JSON.stringify(file)}: cannot read it (${(err as NodeJS.ErrnoException).code ?? errorMessage(err)})`);
    }
  };
  if (o.caFile) tls.ca = [read('SLUICE_REGISTRY_CA_FILE', o.caFile)];
  if (o.certFile) tls.cert = read('SLUICE_REGISTRY_CERT_FILE', o.certFile);
  if (o.keyFile) tls.key = read('SLUICE_REGISTRY_KEY_FILE', o.keyFile);
  if (o.keyPassword) tls.passphrase = o.keyPassword;
  return new https.Agent(tls);
}

/** The Authorization header value, if any (never logged). */
function authorization(o: RegistryOptions): string | undefined {
  if (o.token) return `Bearer ${o.token}`;
  if (o.username) return `Basic ${Buffer.from(`${o.username}:${o.password ?? ''}`).toString('base64')}`;
  return undefined;
}

/**
 * What kind of failure an error from talking to the registry is, from its message
 * (mappersmith keeps only the message of a socket error): `tls` (the server's
 * certificate is not trusted, the hostname does not match, or the server refused our
 * certificate or its absence), `auth` (HTTP 401/403), `unavailable` (refused, reset,
 * timed out, 5xx), else `other`.
 */
export function registryFailureKind(message: string, status?: number): 'tls' | 'auth' | 'unavailable' | 'other' {
  if (/certificate|self[- ]signed|unable to verify|unable to get (local )?issuer|altnames|\balert\b|handshake|\bssl\b|\btls\b|wrong version number|EPROTO|ERR_SSL|ERR_TLS/i.test(message)) return 'tls';
  if (status === 401 || status === 403 || /(status|HTTP) 40[13]\b|unauthori[sz]ed|forbidden/i.test(message)) return 'auth';
  if ((status !== undefined && status >= 500) || /ECONNREFUSED|ETIMEDOUT|ECONNRESET|EHOSTUNREACH|ENOTFOUND|EAI_AGAIN|socket hang up|timeout|(status|HTTP) 5\d\d\b/i.test(message)) return 'unavailable';
  return 'other';
}

const statusOf = (err: unknown): number | undefined => (typeof (err as { status?: unknown })?.status === 'number' ? (err as { status: number }).status : undefined);

/**
 * A classified error for a failed registry call. TLS and auth failures carry their own
 * codes and a hint; `retryable` says whether they should be retried (at start: no, the
 * service stops; while decoding: yes, records are never dead-lettered for them).
 */
function registryError(err: unknown, what: string, url: string, tlsAndAuthRetryable: boolean): SluiceError {
  const msg = errorMessage(err);
  const kind = registryFailureKind(msg, statusOf(err));
  if (kind === 'tls') {
    const text = `${what} at ${url}: TLS failed (${msg}); check SLUICE_REGISTRY_CA_FILE (the CA of the registry's certificate) and, for mutual TLS, SLUICE_REGISTRY_CERT_FILE/_KEY_FILE`;
    return tlsAndAuthRetryable ? new RetryableError(ErrorCodes.registryTls, text, err) : new PermanentError(ErrorCodes.registryTls, text, err);
  }
  if (kind === 'auth') {
    const text = `${what} at ${url}: the registry refused the credentials (${msg}); check SLUICE_REGISTRY_USERNAME/_PASSWORD or SLUICE_REGISTRY_TOKEN`;
    return tlsAndAuthRetryable ? new RetryableError(ErrorCodes.registryAuth, text, err) : new PermanentError(ErrorCodes.registryAuth, text, err);
  }
  return new RetryableError(ErrorCodes.registryUnavailable, `${what} at ${url} failed: ${msg}`, err);
}

/** One JSON request to the registry with the same agent and credentials as the client; rejects on a non-2xx answer with `HTTP <status>: <body start>`. */
function request(o: RegistryOptions, agent: http.Agent, method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  const url = new URL(`${o.url.replace(/\/$/, '')}${path}`);
  const headers: Record<string, string> = { accept: 'application/vnd.schemaregistry.v1+json, application/json' };
  const auth = authorization(o);
  if (auth) headers['authorization'] = auth;
  const payload = body === undefined ? undefined : JSON.stringify(body);
  if (payload !== undefined) headers['content-type'] = 'application/vnd.schemaregistry.v1+json';
  const mod = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = mod.request(url, { method, headers, agent, timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        const status = res.statusCode ?? 0;
        if (status < 200 || status > 299) {
          reject(Object.assign(new Error(`${method} ${path}: HTTP ${status}: ${text.slice(0, 200)}`), { status }));
          return;
        }
        try {
          resolve({ status, json: text === '' ? null : JSON.parse(text) });
        } catch {
          resolve({ status, json: text });
        }
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: timeout after 10 s`)));
    req.on('error', reject);
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}

/**
 * Evolution is BACKWARD compatible (docs/architecture.md, "Topics"). Set it on the subject explicitly
 * before registering: registries differ in what an unset subject reports (Apicurio
 * says NONE where Confluent says 404), and the client refuses a mismatch.
 */
async function setBackward(opts: RegistryOptions, agent: http.Agent, subject: string): Promise<void> {
  try {
    await request(opts, agent, 'PUT', `/config/${encodeURIComponent(subject)}`, { compatibility: 'BACKWARD' });
  } catch (err) {
    // 409: another process set the rule first; `register` below still checks it is BACKWARD.
    if ((err as { status?: number }).status !== 409) throw err;
  }
}

/**
 * Whether the registry answers with these settings (for `sluice validate --connect`):
 * the number of subjects, or a classified error (TLS, auth, unavailable).
 */
export async function registrySubjectCount(opts: RegistryOptions): Promise<number> {
  const problems = registryOptionProblems(opts);
  if (problems.length > 0) throw new ConfigError(problems.join('; '));
  const agent = agentFor(opts);
  try {
    const { json } = await request(opts, agent, 'GET', '/subjects');
    return Array.isArray(json) ? json.length : 0;
  } catch (err) {
    throw registryError(err, 'GET /subjects', opts.url, false);
  } finally {
    agent.destroy();
  }
}

export function createRegistry(opts: RegistryOptions): SchemaRegistryPort {
  const problems = registryOptionProblems(opts);
  if (problems.length > 0) throw new ConfigError(problems.join('; '));
  const agent = agentFor(opts);
  const auth = !opts.token && opts.username ? { username: opts.username, password: opts.password ?? '' } : undefined;
  // A bearer token goes in as a mappersmith middleware (the client's `auth` is basic only).
  const bearer: Middleware[] = opts.token ? [() => ({ prepareRequest: (next) => next().then((req) => req.enhance({ headers: { authorization: `Bearer ${opts.token}` } })) })] : [];
  const client = new SchemaRegistry({ host: opts.url, ...(auth ? { auth } : {}), agent, middlewares: bearer, retry: { retries: 5 } });
  return {
    async register(subject, schema) {
      try {
        await setBackward(opts, agent, subject);
        const { id } = await client.register({ type: SchemaType.AVRO, schema: JSON.stringify(schema) }, { subject, compatibility: COMPATIBILITY.BACKWARD });
        return id;
      } catch (err) {
        throw registryError(err, `registering ${subject}`, opts.url, false);
      }
    },
    async avroType(schemaId) {
      try {
        return (await client.getSchema(schemaId)) as unknown as avro.Type;
      } catch (err) {
        const kind = registryFailureKind(errorMessage(err), statusOf(err));
        if (kind !== 'other') throw registryError(err, `fetching schema id ${schemaId}`, opts.url, true);
        throw new PermanentError(ErrorCodes.decodeAvro, `unknown schema id ${schemaId}: ${errorMessage(err)}`, err);
      }
    },
  };
}
