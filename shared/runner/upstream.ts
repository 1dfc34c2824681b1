/**
 * "A restart or a backlog is not idleness" (issue #11). A stateful stage that closes its
 * last windows once its partition has been quiet (the enricher's idle watermark advance)
 * must not take an upstream stage that is down, restarting or behind for a quiet source:
 * the records it has not passed on yet would all arrive late.
 *
 * `UpstreamWatch` asks Kafka, every `intervalMs`, whether each upstream consumer group has
 * read its input topic to the end: for every partition, end offset − committed offset ≤
 * `unreadMarkers` (a topic written in Kafka transactions ends in a commit marker the
 * group's committed offset stops before; 1 for those, 0 for a topic shippers write). A
 * group that has committed nothing on a topic holding records is behind, unless it has
 * never committed anything at all: then it is unknown (a misnamed group), reported once
 * and left out, as is a topic that does not exist, so a wrong setting cannot stop windows
 * from closing for ever.
 * `quiet` is false until the first answer and whenever an answer fails.
 */
import type { Admin } from 'kafkajs';
import type { KafkaClient } from '../kafka.js';
import type { Logger } from '../logger.js';
import { errorMessage } from '../errors.js';

export interface Upstream {
  groupId: string;
  topic: string;
  /** Records at a partition's end a caught-up group leaves unread: 1 for a transactional topic (its last commit marker), else 0. */
  unreadMarkers: number;
}

/** Partitions of one upstream: its end offsets, and the group's committed offsets (-1: none). */
export interface UpstreamOffsets {
  ends: ReadonlyArray<{ partition: number; high: string; low: string }>;
  committed: ReadonlyArray<{ partition: number; offset: string }>;
}

/** 'behind', 'caught-up', or 'unknown' (the group never committed on any partition). Pure. */
export function upstreamState(o: UpstreamOffsets, unreadMarkers: number): 'behind' | 'caught-up' | 'unknown' {
  const committed = new Map(o.committed.map((c) => [c.partition, BigInt(c.offset)]));
  if (o.ends.some((e) => BigInt(e.high) > BigInt(e.low)) && [...committed.values()].every((c) => c < 0n)) return 'unknown';
  for (const e of o.ends) {
    const low = BigInt(e.low);
    const c = committed.get(e.partition) ?? -1n;
    const at = c < low ? low : c;
    if (BigInt(e.high) - at > BigInt(unreadMarkers)) return 'behind';
  }
  return 'caught-up';
}

export class UpstreamWatch {
  private admin: Admin | undefined;
  private timer: NodeJS.Timeout | undefined;
  private answer = false;
  private stopped = false;
  private readonly warned = new Set<string>();

  constructor(
    private readonly kafka: KafkaClient,
    private readonly upstream: readonly Upstream[],
    private readonly log: Logger,
    private readonly intervalMs = 2000,
  ) {}

  /** Whether every upstream group has read its topic to the end, at the last look. */
  get quiet(): boolean {
    return this.upstream.length === 0 || this.answer;
  }

  async start(): Promise<void> {
    if (this.upstream.length === 0) return;
    this.admin = this.kafka.admin();
    await this.admin.connect();
    await this.poll();
    this.schedule();
  }

  /**
   * The next look `intervalMs` after this one ended, never two at once: a look slower than
   * the interval (a loaded broker) would otherwise run beside the next, and the older
   * answer, landing last, would stand for the newer one.
   */
  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.poll().finally(() => this.schedule()), this.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.admin?.disconnect().catch(() => undefined);
  }

  private unknown(u: Upstream, why: string): void {
    if (!this.warned.has(`${u.groupId}@${u.topic}`)) this.log.warn({ group: u.groupId, topic: u.topic }, `upstream left out of the idle check: ${why} (is it configured right?)`);
    this.warned.add(`${u.groupId}@${u.topic}`);
  }

  private async poll(): Promise<void> {
    const admin = this.admin;
    if (!admin) return;
    try {
      let quiet = true;
      const topics = new Set(await admin.listTopics());
      for (const u of this.upstream) {
        if (!topics.has(u.topic)) {
          // No such topic here (the enricher fed directly, a renamed topic): nothing to wait for.
          this.unknown(u, 'its topic does not exist');
          continue;
        }
        const [ends, groups] = await Promise.all([admin.fetchTopicOffsets(u.topic), admin.fetchOffsets({ groupId: u.groupId, topics: [u.topic] })]);
        const state = upstreamState({ ends, committed: groups.find((g) => g.topic === u.topic)?.partitions ?? [] }, u.unreadMarkers);
        if (state === 'unknown') this.unknown(u, 'the group has never committed on its topic');
        else if (state === 'behind') quiet = false;
      }
      this.answer = quiet;
    } catch (err) {
      this.answer = false;
      this.log.warn({ err: errorMessage(err) }, 'upstream lag check failed; partitions are not treated as idle until it works');
    }
  }
}
