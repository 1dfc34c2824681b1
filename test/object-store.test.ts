/**
 * The object-store port against the real S3 server (S3Proxy): single PUT, multipart
 * upload (a body larger than the part size), get, delete, and a missing key.
 */
import { randomBytes } from 'node:crypto';
import { createObjectStore } from '../services/sink/object-store.js';
import { endpoints, newRunId } from './helpers.js';

const runId = newRunId('objstore');
const store = createObjectStore({ endpoint: endpoints.s3, region: 'us-east-1', bucket: endpoints.bucket, accessKey: endpoints.s3AccessKey, secretKey: endpoints.s3SecretKey, forcePathStyle: true, multipartBytes: 5 * 1024 * 1024 });

afterAll(() => store.close());

test('a body above the part size goes up in parts and comes back whole; delete removes it', async () => {
  const big = randomBytes(12 * 1024 * 1024 + 12345); // 3 parts of 5 MiB
  const small = Buffer.from('{"ok":true}');
  await store.put(`${runId}/big.bin`, big, 'application/octet-stream');
  await store.put(`${runId}/small.json`, small, 'application/json');
  expect((await store.get(`${runId}/big.bin`))?.equals(big)).toBe(true);
  expect((await store.get(`${runId}/small.json`))?.toString()).toBe('{"ok":true}');
  expect(await store.get(`${runId}/missing`)).toBeNull();
  await store.delete(`${runId}/big.bin`);
  await store.delete(`${runId}/small.json`);
  await store.delete(`${runId}/missing`); // deleting a missing key succeeds
  expect(await store.get(`${runId}/big.bin`)).toBeNull();
}, 120_000);
