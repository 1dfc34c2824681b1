/**
 * The schema registry behind one small interface, so the rest of Sluice does not care
 * which server implements the Confluent REST API: register a schema, resolve an id.
 * Encoding and decoding (Confluent wire format) live in codec.ts. The implementation
 * uses @kafkajs/confluent-schema-registry.
 */
import registryPkg from '@kafkajs/confluent-schema-registry';
import type avro from 'avsc';
import { RetryableError, ErrorCodes, PermanentError, errorMessage } from './errors.js';
import type { AvroRecordSchema } from './schemas.js';

const { SchemaRegistry, SchemaType, COMPATIBILITY } = registryPkg;

export interface SchemaRegistryPort {
  /** Register (or find) `schema` under `subject`, with BACKWARD compatibility; returns its id. */
  register(subject: string, schema: AvroRecordSchema): Promise<number>;
  /** The avsc type of a schema id (fetched once; unknown ids are a PermanentError). */
  avroType(schemaId: number): Promise<avro.Type>;
}

export interface RegistryOptions {
  url: string;
  username?: string | undefined;
  password?: string | undefined;
}

/**
 * Evolution is BACKWARD compatible (docs/architecture.md, "Topics"). Set it on the subject explicitly
 * before registering: registries differ in what an unset subject reports (Apicurio
 * says NONE where Confluent says 404), and the client refuses a mismatch.
 */
async function setBackward(opts: RegistryOptions, subject: string): Promise<void> {
  const headers: Record<string, string> = { 'content-type': 'application/vnd.schemaregistry.v1+json' };
  if (opts.username) headers['authorization'] = `Basic ${Buffer.from(`${opts.username}:${opts.password ?? ''}`).toString('base64')}`;
  const res = await fetch(`${opts.url.replace(/\/$/, '')}/config/${encodeURIComponent(subject)}`, {
    method: 'PUT',
    headers,
    body: JSON.stringify({ compatibility: 'BACKWARD' }),
    signal: AbortSignal.timeout(10_000),
  });
  // 409: another process set the rule first; `register` below still checks it is BACKWARD.
  if (!res.ok && res.status !== 409) throw new Error(`PUT /config/${subject} answered ${res.status}: ${(await res.text()).slice(0, 200)}`);
}

export function createRegistry(opts: RegistryOptions): SchemaRegistryPort {
  const auth = opts.username ? { username: opts.username, password: opts.password ?? '' } : undefined;
  const client = new SchemaRegistry({ host: opts.url, ...(auth ? { auth } : {}), retry: { retries: 5 } });
  return {
    async register(subject, schema) {
      try {
        await setBackward(opts, subject);
        const { id } = await client.register({ type: SchemaType.AVRO, schema: JSON.stringify(schema) }, { subject, compatibility: COMPATIBILITY.BACKWARD });
        return id;
      } catch (err) {
        throw new RetryableError(ErrorCodes.registryUnavailable, `registering ${subject} at ${opts.url} failed: ${errorMessage(err)}`, err);
      }
    },
    async avroType(schemaId) {
      try {
        return (await client.getSchema(schemaId)) as unknown as avro.Type;
      } catch (err) {
        const msg = errorMessage(err);
        if (/ECONNREFUSED|ETIMEDOUT|ECONNRESET|socket hang up|5\d\d/.test(msg)) {
          throw new RetryableError(ErrorCodes.registryUnavailable, `schema registry unavailable: ${msg}`, err);
        }
        throw new PermanentError(ErrorCodes.decodeAvro, `unknown schema id ${schemaId}: ${msg}`, err);
      }
    },
  };
}
