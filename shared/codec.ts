/**
 * Typed Avro codecs per topic: every Sluice-owned topic's schema is registered under
 * `<topic>-value` at start, and values are encoded with the id the registry returned.
 */
import type { SchemaRegistryPort } from './registry.js';
import { loadSchema, topicRecords, type TopicNames } from './schemas.js';
import type { RecordName } from './records.js';
import { PermanentError, ErrorCodes } from './errors.js';

export class TopicCodecs {
  private constructor(
    private readonly registry: SchemaRegistryPort,
    private readonly ids: ReadonlyMap<string, number>,
    private readonly records: ReadonlyMap<string, RecordName>,
  ) {}

  /** Register every topic's schema (idempotent on the registry side). */
  static async register(registry: SchemaRegistryPort, topics: TopicNames): Promise<TopicCodecs> {
    const ids = new Map<string, number>();
    const records = new Map<string, RecordName>();
    for (const { topic, record } of topicRecords(topics)) {
      ids.set(topic, await registry.register(`${topic}-value`, loadSchema(record)));
      records.set(topic, record);
    }
    return new TopicCodecs(registry, ids, records);
  }

  recordOf(topic: string): RecordName | undefined {
    return this.records.get(topic);
  }

  async encode(topic: string, value: unknown): Promise<Buffer> {
    const id = this.ids.get(topic);
    if (id === undefined) throw new PermanentError(ErrorCodes.encodeAvro, `no schema registered for topic ${topic}`);
    return this.registry.encode(id, value);
  }

  decode(payload: Buffer): Promise<unknown> {
    return this.registry.decode(payload);
  }
}
