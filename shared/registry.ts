/**
 * The schema registry behind one small interface, so the rest of Sluice does not care
 * which server implements the Confluent REST API. The implementation uses
 * @kafkajs/confluent-schema-registry (Confluent wire format: magic byte 0, 4-byte
 * schema id, Avro body).
 */
import registryPkg from '@kafkajs/confluent-schema-registry';
import { RetryableError, ErrorCodes, PermanentError, errorMessage } from './errors.js';
import type { AvroRecordSchema } from './schemas.js';

const { SchemaRegistry, SchemaType, COMPATIBILITY } = registryPkg;

export interface SchemaRegistryPort {
  /** Register (or find) `schema` under `subject`, with BACKWARD compatibility; returns its id. */
  register(subject: string, schema: AvroRecordSchema): Promise<number>;
  encode(schemaId: number, value: unknown): Promise<Buffer>;
  decode(payload: Buffer): Promise<unknown>;
}

export interface RegistryOptions {
  url: string;
  username?: string | undefined;
  password?: string | undefined;
}

export function createRegistry(opts: RegistryOptions): SchemaRegistryPort {
  const auth = opts.username ? { username: opts.username, password: opts.password ?? '' } : undefined;
  const client = new SchemaRegistry({ host: opts.url, ...(auth ? { auth } : {}), retry: { retries: 5 } });
  return {
    async register(subject, schema) {
      try {
        const { id } = await client.register(
          { type: SchemaType.AVRO, schema: JSON.stringify(schema) },
          { subject, compatibility: COMPATIBILITY.BACKWARD, updateConfig: true },
        );
        return id;
      } catch (err) {
        throw new RetryableError(ErrorCodes.registryUnavailable, `registering ${subject} at ${opts.url} failed: ${errorMessage(err)}`, err);
      }
    },
    async encode(schemaId, value) {
      try {
        return await client.encode(schemaId, value);
      } catch (err) {
        throw new PermanentError(ErrorCodes.encodeAvro, `Avro encode with schema ${schemaId} failed: ${errorMessage(err)}`, err);
      }
    },
    async decode(payload) {
      if (payload.length < 5 || payload[0] !== 0) {
        throw new PermanentError(ErrorCodes.decodeAvro, 'not a Confluent-framed Avro message (missing magic byte 0)');
      }
      try {
        return await client.decode(payload);
      } catch (err) {
        const msg = errorMessage(err);
        // A registry that cannot be reached is the environment's fault, not the message's.
        if (/ECONNREFUSED|ETIMEDOUT|ECONNRESET|socket hang up|5\d\d/.test(msg)) {
          throw new RetryableError(ErrorCodes.registryUnavailable, `schema registry unavailable: ${msg}`, err);
        }
        throw new PermanentError(ErrorCodes.decodeAvro, `Avro decode failed: ${msg}`, err);
      }
    },
  };
}
