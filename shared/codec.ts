/**
 * Typed Avro codecs per topic: every Sluice-owned topic's schema is registered under
 * `<topic>-value` at start, and values are encoded with the id the registry returned.
 *
 * Wire format (Confluent): magic byte 0, 4-byte big-endian schema id, Avro body.
 * Encoding and decoding run synchronously with avsc types held here; only a schema id
 * never seen before costs one registry round trip (then it is cached). The registry
 * client's own per-message encode/decode is several times slower (it is async and
 * re-validates every value), which matters at tens of thousands of records a second.
 */
import avro from 'avsc';
import type { SchemaRegistryPort } from './registry.js';
import { loadSchema, topicRecords, type TopicNames } from './schemas.js';
import type { RecordName } from './records.js';
import { PermanentError, ErrorCodes, errorMessage } from './errors.js';

interface TopicCodec {
  id: number;
  record: RecordName;
  type: avro.Type;
  header: Buffer;
}

function headerFor(id: number): Buffer {
  const h = Buffer.alloc(5);
  h.writeUInt8(0, 0);
  h.writeInt32BE(id, 1);
  return h;
}

/** Why `value` does not fit `type`, as dotted field paths. */
function invalidPaths(type: avro.Type, value: unknown): string {
  const paths: string[] = [];
  type.isValid(value, { errorHook: (path) => paths.push(path.join('.') || '(root)') });
  return paths.length > 0 ? paths.slice(0, 5).join(', ') : 'unknown';
}

export class TopicCodecs {
  /** Reader types by schema id, for decoding (ours and any the registry knows). */
  private readonly byId = new Map<number, avro.Type>();

  private constructor(
    private readonly registry: SchemaRegistryPort,
    private readonly topics: ReadonlyMap<string, TopicCodec>,
  ) {
    for (const c of topics.values()) this.byId.set(c.id, c.type);
  }

  /** Register every topic's schema (idempotent on the registry side). */
  static async register(registry: SchemaRegistryPort, names: TopicNames): Promise<TopicCodecs> {
    const topics = new Map<string, TopicCodec>();
    for (const { topic, record } of topicRecords(names)) {
      const schema = loadSchema(record);
      const id = await registry.register(`${topic}-value`, schema);
      topics.set(topic, { id, record, type: avro.Type.forSchema(schema as unknown as avro.Schema), header: headerFor(id) });
    }
    return new TopicCodecs(registry, topics);
  }

  recordOf(topic: string): RecordName | undefined {
    return this.topics.get(topic)?.record;
  }

  encode(topic: string, value: unknown): Buffer {
    const c = this.topics.get(topic);
    if (!c) throw new PermanentError(ErrorCodes.encodeAvro, `no schema registered for topic ${topic}`);
    try {
      return Buffer.concat([c.header, c.type.toBuffer(value)]);
    } catch (err) {
      throw new PermanentError(ErrorCodes.encodeAvro, `value does not fit ${c.record} (schema ${c.id}) at ${invalidPaths(c.type, value)}: ${errorMessage(err)}`, err);
    }
  }

  /** Decode a Confluent-framed Avro message; synchronous once its schema id is known. */
  decode(payload: Buffer): unknown {
    if (payload.length < 5 || payload[0] !== 0) {
      throw new PermanentError(ErrorCodes.decodeAvro, 'not a Confluent-framed Avro message (missing magic byte 0)');
    }
    const id = payload.readInt32BE(1);
    const type = this.byId.get(id);
    if (!type) return this.decodeSlow(id, payload);
    return this.decodeWith(type, id, payload);
  }

  private decodeWith(type: avro.Type, id: number, payload: Buffer): unknown {
    try {
      return type.fromBuffer(payload.subarray(5));
    } catch (err) {
      throw new PermanentError(ErrorCodes.decodeAvro, `Avro decode with schema ${id} failed: ${errorMessage(err)}`, err);
    }
  }

  private async decodeSlow(id: number, payload: Buffer): Promise<unknown> {
    const type = await this.registry.avroType(id);
    this.byId.set(id, type);
    return this.decodeWith(type, id, payload);
  }
}
