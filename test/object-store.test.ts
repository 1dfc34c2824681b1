/**
 * The object-store port against the real S3 server (S3Proxy): single PUT, multipart
 * upload (a body larger than the part size), get, delete, and a missing key.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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

describe('credentials from the AWS default chain (SLUICE_S3_CREDENTIALS=chain)', () => {
  const saved = { ...process.env };
  afterEach(() => {
    for (const k of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_PROFILE', 'AWS_SHARED_CREDENTIALS_FILE', 'AWS_CONFIG_FILE']) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
  });
  // Static keys that the server refuses: only the chain's keys can make these work.
  const chainStore = () => createObjectStore({ endpoint: endpoints.s3, region: 'us-east-1', bucket: endpoints.bucket, accessKey: 'wrong', secretKey: 'wrong', credentials: 'chain', forcePathStyle: true });
  const roundTrip = async (key: string) => {
    const s = chainStore();
    try {
      await s.put(key, Buffer.from('chain'), 'text/plain');
      const back = (await s.get(key))?.toString();
      await s.delete(key);
      return back;
    } finally {
      s.close();
    }
  };

  test('from the environment (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY)', async () => {
    process.env['AWS_ACCESS_KEY_ID'] = endpoints.s3AccessKey;
    process.env['AWS_SECRET_ACCESS_KEY'] = endpoints.s3SecretKey;
    expect(await roundTrip(`${runId}/chain-env.txt`)).toBe('chain');
  }, 60_000);

  test('from a profile of the shared credentials file (AWS_PROFILE)', async () => {
    delete process.env['AWS_ACCESS_KEY_ID'];
    delete process.env['AWS_SECRET_ACCESS_KEY'];
    const dir = mkdtempSync(join(tmpdir(), 'sluice-aws-'));
    writeFileSync(join(dir, 'credentials'), `[default]\naws_access_key_id = nobody\naws_secret_access_key = nothing\n\n[sluice-test]\naws_access_key_id = ${endpoints.s3AccessKey}\naws_secret_access_key = ${endpoints.s3SecretKey}\n`);
    writeFileSync(join(dir, 'config'), '');
    process.env['AWS_SHARED_CREDENTIALS_FILE'] = join(dir, 'credentials');
    process.env['AWS_CONFIG_FILE'] = join(dir, 'config');
    process.env['AWS_PROFILE'] = 'sluice-test';
    try {
      expect(await roundTrip(`${runId}/chain-profile.txt`)).toBe('chain');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  test('wrong keys in the chain are refused (the chain, not the static keys, signs)', async () => {
    process.env['AWS_ACCESS_KEY_ID'] = 'nobody';
    process.env['AWS_SECRET_ACCESS_KEY'] = 'nothing';
    await expect(roundTrip(`${runId}/chain-wrong.txt`)).rejects.toThrow(/S3 put .* failed/);
  }, 60_000);
});
