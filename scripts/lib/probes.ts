/**
 * Read-only looks at what the pipeline produced: documents in Elasticsearch, Parquet
 * objects in S3, messages in a topic. Used by `npm start`'s summary and by tests.
 */
import { ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import type { Client } from '@elastic/elasticsearch';
import { connect } from 'node:net';
import type { KafkaClient } from '../../shared/kafka.js';

export async function esCount(client: Client, index: string): Promise<number> {
  try {
    await client.indices.refresh({ index, allow_no_indices: true, ignore_unavailable: true });
    const r = await client.count({ index, allow_no_indices: true, ignore_unavailable: true });
    return r.count;
  } catch {
    return 0;
  }
}

export async function listObjects(s3: S3Client, bucket: string, prefix: string): Promise<Array<{ key: string; size: number }>> {
  const out: Array<{ key: string; size: number }> = [];
  let token: string | undefined;
  do {
    const r = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
    for (const o of r.Contents ?? []) if (o.Key) out.push({ key: o.Key, size: o.Size ?? 0 });
    token = r.IsTruncated ? r.NextContinuationToken : undefined;
  } while (token);
  return out;
}

/** Messages currently in a topic (high watermark minus low, over all partitions). */
export async function topicMessageCount(kafka: KafkaClient, topic: string): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    return offsets.reduce((n, p) => n + (Number(p.high) - Number(p.low)), 0);
  } catch {
    return 0;
  } finally {
    await admin.disconnect();
  }
}

/** Delete the topics `<runId>.*` and consumer groups `<runId>-*` of one test or benchmark run. */
export async function deleteKafkaRun(kafka: KafkaClient, runId: string): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const mine = (await admin.listTopics()).filter((t) => t.startsWith(`${runId}.`));
    if (mine.length > 0) await admin.deleteTopics({ topics: mine });
    const groups = (await admin.listGroups()).groups.map((g) => g.groupId).filter((g) => g.startsWith(`${runId}-`));
    if (groups.length > 0) await admin.deleteGroups(groups).catch(() => undefined);
  } finally {
    await admin.disconnect();
  }
}

/** Whether something accepts TCP connections on 127.0.0.1:`port`. */
export function reachable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({ host: '127.0.0.1', port }, () => {
      sock.end();
      resolve(true);
    });
    sock.once('error', () => resolve(false));
    sock.setTimeout(2000, () => {
      sock.destroy();
      resolve(false);
    });
  });
}
