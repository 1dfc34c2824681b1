/**
 * The schema registry over TLS, against the local stack's real Apicurio Registry
 * (scripts/stack.d/registry.sh):
 * - SLUICE_REGISTRY_TLS_PORT (8443): Apicurio's own HTTPS, certificate signed by the stack's CA;
 * - SLUICE_REGISTRY_MTLS_PORT (8444): the same registry behind a front that requires a client
 *   certificate signed by that CA (Apicurio 3.0.9 cannot require one by configuration: Quarkus
 *   fixes quarkus.http.ssl.client-auth at build time).
 * With the CA, client certificate and key, shared/registry.ts registers and decodes and a
 * collector runs and produces records; without the client certificate, or without the CA,
 * the failure is a classified SLUICE_ERR_REGISTRY_TLS (permanent at start-up: the
 * service exits with it, it does not retry for minutes).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import kafkajs from 'kafkajs';
import type avro from 'avsc';
import { createRegistry, registrySubjectCount, type RegistryOptions } from '../shared/registry.js';
import { loadSchema, repoRoot } from '../shared/schemas.js';
import { SluiceError } from '../shared/errors.js';
import { startServices, waitReady, type ServiceProcess } from '../scripts/lib/services.js';
import { isolatedEnv, readTopic, testLogDir, testRun, topicName } from './helpers.js';

const { Partitioners } = kafkajs;
let procs: ServiceProcess[] = [];
const { runId, c } = testRun('regtls', () => procs);
const tls = join(process.env['SLUICE_STACK_DIR'] || join(repoRoot(), '.stack'), 'kafka', 'tls');
const httpsUrl = `https://127.0.0.1:${process.env['SLUICE_REGISTRY_TLS_PORT'] || '8443'}/apis/ccompat/v7`;
const mtlsUrl = `https://127.0.0.1:${process.env['SLUICE_REGISTRY_MTLS_PORT'] || '8444'}/apis/ccompat/v7`;
const ca = join(tls, 'ca.pem');
const mutual: RegistryOptions = { url: mtlsUrl, caFile: ca, certFile: join(tls, 'client.pem'), keyFile: join(tls, 'client.key') };
const schema = loadSchema('RawEvent');

/** The classified error `p` rejects with (fails the test when it resolves). */
async function failure(p: Promise<unknown>): Promise<SluiceError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof SluiceError) return err;
    throw new Error(`expected a classified SluiceError, got ${String(err)}`);
  }
  throw new Error('expected a failure, it succeeded');
}

test('with the CA and a client certificate the registry client registers and decodes; without them TLS fails, classified', async () => {
  // Apicurio's own HTTPS port: the CA is enough, no client certificate is asked.
  const viaHttps = await createRegistry({ url: httpsUrl, caFile: ca }).register(`${runId}.https-value`, schema);
  expect(viaHttps).toBeGreaterThan(0);

  // Mutual TLS: register, then a fresh client (nothing cached) resolves the id and decodes.
  const id = await createRegistry(mutual).register(`${runId}.mtls-value`, schema);
  expect(id).toBeGreaterThan(0);
  const type = (await createRegistry(mutual).avroType(id)) as avro.Type;
  const event = { event_id: 'e1', tenant: 'default', observed_at: 1, kafka_timestamp: 1, origin: { topic: 't', partition: 0, offset: 0, index: 0 }, format: null, shipper: null, service: null, host: null, file: null, envelope_time: null, body: 'over mutual TLS', flags: [], labels: {} };
  expect((type.fromBuffer(type.toBuffer(event)) as { body: string }).body).toBe('over mutual TLS');
  expect(await registrySubjectCount(mutual)).toBeGreaterThan(0);

  // No client certificate: the mutual-TLS port refuses the handshake. Permanent at start-up,
  // retryable while decoding (a record is never dead-lettered for it).
  const noCert = { url: mtlsUrl, caFile: ca };
  const reg = await failure(createRegistry(noCert).register(`${runId}.mtls-value`, schema));
  expect(reg.code).toBe('SLUICE_ERR_REGISTRY_TLS');
  expect(reg.retryable).toBe(false);
  expect(reg.message).toMatch(/SLUICE_REGISTRY_CERT_FILE/);
  const dec = await failure(createRegistry(noCert).avroType(id));
  expect(dec.code).toBe('SLUICE_ERR_REGISTRY_TLS');
  expect(dec.retryable).toBe(true);
  expect((await failure(registrySubjectCount(noCert))).code).toBe('SLUICE_ERR_REGISTRY_TLS');

  // No CA: the registry's certificate (signed by the local CA) is not trusted.
  const untrusted = await failure(createRegistry({ url: httpsUrl }).register(`${runId}.https-value`, schema));
  expect(untrusted.code).toBe('SLUICE_ERR_REGISTRY_TLS');
  expect(untrusted.message).toMatch(/self.signed|unable to (verify|get)|certificate/i);
}, 120_000);

test('a collector registers over mutual TLS and collects; without the client certificate it stops with SLUICE_ERR_REGISTRY_TLS', async () => {
  const registryEnv = { SLUICE_REGISTRY_URL: mtlsUrl, SLUICE_REGISTRY_CA_FILE: ca, SLUICE_REGISTRY_CERT_FILE: mutual.certFile!, SLUICE_REGISTRY_KEY_FILE: mutual.keyFile! };
  procs = await startServices({ env: isolatedEnv(runId, registryEnv), logDir: testLogDir(runId), names: ['collector'] });
  await waitReady(procs);
  const producer = c.kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  await producer.send({ topic: topicName(runId, 'logs.raw'), acks: -1, messages: [{ value: '{"msg":"registry over mutual TLS","level":"info"}' }] });
  await producer.disconnect();
  const [msg] = await readTopic(c.kafka, topicName(runId, 'logs.collected'), 1);
  // Decoded with the schema the collector registered, fetched over mutual TLS.
  const type = (await createRegistry(mutual).avroType(msg!.value.readInt32BE(1))) as avro.Type;
  expect((type.fromBuffer(msg!.value.subarray(5)) as { body: string }).body).toContain('registry over mutual TLS');

  const { SLUICE_REGISTRY_CERT_FILE: _c, SLUICE_REGISTRY_KEY_FILE: _k, ...noCert } = registryEnv;

  // sluice tap decodes over mutual TLS too; without the client certificate it stops at once with the reason.
  const sluice = (extra: Record<string, string>) => spawnSync(process.execPath, [join(repoRoot(), 'dist', 'bin', 'sluice.js'), 'tap', 'collected', '--from-beginning', '--limit', '1', '--timeout', '60'], { encoding: 'utf8', env: isolatedEnv(runId, extra), timeout: 90_000 });
  const tapped = sluice(registryEnv);
  expect([tapped.status, tapped.stderr.trim().split('\n').pop()]).toEqual([0, `sluice tap: 1 matched of 1 read from ${topicName(runId, 'logs.collected')}`]);
  expect(tapped.stdout).toContain('registry over mutual TLS');
  const refused = sluice(noCert);
  expect(refused.status).toBe(1);
  expect(refused.stderr).toMatch(/sluice tap: fetching schema id \d+ at https:\/\/127\.0\.0\.1:\d+\/apis\/ccompat\/v7: TLS failed \(.*certificate required/);
  const [bad] = await startServices({ env: isolatedEnv(`${runId}x`, noCert), logDir: testLogDir(`${runId}x`), names: ['collector'] });
  procs.push(bad!);
  const started = Date.now();
  expect(await bad!.exited).toBe(1);
  expect(Date.now() - started).toBeLessThan(60_000); // not 30 attempts of backoff
  const log = readFileSync(bad!.logFile, 'utf8');
  expect(log).toMatch(/start-up failed \(SLUICE_ERR_REGISTRY_TLS\)/);
  expect(log).toMatch(/certificate required|alert/i);
}, 240_000);
