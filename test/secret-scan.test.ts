/**
 * No configured secret leaves a service (issue #13 item 4). All four services run against
 * the real local stack with every kind of credential configured, each used:
 * - Kafka over SASL_SSL with SCRAM-SHA-512 (password from SLUICE_KAFKA_SASL_PASSWORD_FILE);
 * - the registry over mutual TLS with an encrypted client key (SLUICE_REGISTRY_KEY_PASSWORD)
 *   and a bearer token (SLUICE_REGISTRY_TOKEN_FILE; the local Apicurio has no auth and
 *   ignores it, but every request carries it);
 * - Elasticsearch with basic auth (SLUICE_ES_PASSWORD; the local server has security off and
 *   ignores it, but every request carries it);
 * - S3 with its secret key (SLUICE_S3_SECRET_KEY, checked by the S3 server's SigV4).
 * Lines flow to Elasticsearch and Parquet, and poison input makes dead letters at two
 * stages. Then every service log line, every dead letter on the DLQ topic (raw and
 * decoded) and /metrics, /healthz and /readyz of each service are searched for each
 * secret, as is and in the encodings a header or URL would carry it; any hit fails.
 * Failure paths too: a collector with a wrong SCRAM password and a sink with a wrong S3
 * secret key log their refusals, and those logs must not hold the wrong secrets either.
 */
import { createPrivateKey, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import kafkajs from 'kafkajs';
import { repoRoot } from '../shared/schemas.js';
import { startServices, stopServices, waitReady, type ServiceProcess } from '../scripts/lib/services.js';
import { esCount, listObjects } from '../scripts/lib/probes.js';
import { codecsFor, endpoints, isolatedEnv, readAll, testLogDir, testRun, topicName, waitFor } from './helpers.js';

const { Partitioners } = kafkajs;
const N = 20;
let procs: ServiceProcess[] = [];
const { runId, c } = testRun('scan', () => procs);
const tenant = runId;
const tls = join(process.env['SLUICE_STACK_DIR'] || join(repoRoot(), '.stack'), 'kafka', 'tls');
const mtlsUrl = `https://127.0.0.1:${process.env['SLUICE_REGISTRY_MTLS_PORT'] || '8444'}/apis/ccompat/v7`;
const saslSslPort = process.env['SLUICE_KAFKA_SASL_SSL_PORT'] || '9095';

/** A value no log line would contain by chance. */
const unique = (what: string) => `${what}-${randomBytes(12).toString('hex')}`;
const secrets = {
  'Kafka SCRAM password': process.env['SLUICE_KAFKA_SCRAM_PASSWORD'] || 'sluice-local-scram',
  'S3 secret key': endpoints.s3SecretKey,
  'Elasticsearch password': unique('es-password'),
  'registry token': unique('registry-token'),
  'registry client key passphrase': unique('key-passphrase'),
};
const esUser = 'sluice-scan';

/** Wrong credentials of the failure-path test (each refused by its server). */
const wrong = { 'wrong Kafka SCRAM password': unique('wrong-scram'), 'wrong S3 secret key': unique('wrong-s3-secret') };

/** Each secret in the forms it could leak in: as is, base64 (alone and in a basic-auth pair), URL-encoded, JSON-escaped. */
function needles(): Array<{ what: string; form: string; value: string }> {
  const out: Array<{ what: string; form: string; value: string }> = [];
  for (const [what, v] of Object.entries({ ...secrets, ...wrong })) {
    out.push({ what, form: 'plain', value: v }, { what, form: 'base64', value: Buffer.from(v).toString('base64') });
    if (encodeURIComponent(v) !== v) out.push({ what, form: 'url-encoded', value: encodeURIComponent(v) });
    if (JSON.stringify(v).slice(1, -1) !== v) out.push({ what, form: 'JSON-escaped', value: JSON.stringify(v).slice(1, -1) });
  }
  out.push({ what: 'Elasticsearch password', form: 'basic-auth header', value: Buffer.from(`${esUser}:${secrets['Elasticsearch password']}`).toString('base64') });
  return out;
}

/** Every hit of any needle in `text`, as "<where>:<line>: <secret> (<form>)". */
function scan(where: string, text: string): string[] {
  const hits: string[] = [];
  const lines = text.split('\n');
  for (const n of needles()) {
    lines.forEach((line, i) => {
      if (line.includes(n.value)) hits.push(`${where}:${i + 1}: ${n.what} (${n.form})`);
    });
  }
  return hits;
}

async function get(url: string): Promise<string> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  return `HTTP ${res.status}\n${await res.text()}`;
}

test('the scanner finds a planted secret in each form it looks for', () => {
  expect(scan('planted', `x\nauthorization: Basic ${Buffer.from(`${esUser}:${secrets['Elasticsearch password']}`).toString('base64')}`)).toContain('planted:2: Elasticsearch password (basic-auth header)');
  expect(scan('planted', `token=${secrets['registry token']}`)).toEqual(['planted:1: registry token (plain)']);
  expect(scan('planted', Buffer.from(secrets['Kafka SCRAM password']).toString('base64'))).toEqual(['planted:1: Kafka SCRAM password (base64)']);
  expect(scan('clean', 'nothing here')).toEqual([]);
});

test('no configured secret is in any service log line, dead letter, /metrics, /healthz or /readyz', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-scan-'));
  const file = (name: string, text: string) => {
    writeFileSync(join(dir, name), text, { mode: 0o600 });
    return join(dir, name);
  };
  // The stack's client key, encrypted with a passphrase that is one of the secrets.
  const encryptedKey = createPrivateKey(readFileSync(join(tls, 'client.key'))).export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: secrets['registry client key passphrase'] });
  const env = isolatedEnv(runId, {
    SLUICE_KAFKA_BROKERS: `127.0.0.1:${saslSslPort}`,
    SLUICE_KAFKA_CA_FILE: join(tls, 'ca.pem'),
    SLUICE_KAFKA_SASL_MECHANISM: 'scram-sha-512',
    SLUICE_KAFKA_SASL_USERNAME: 'sluice',
    SLUICE_KAFKA_SASL_PASSWORD_FILE: file('scram', `${secrets['Kafka SCRAM password']}\n`),
    SLUICE_REGISTRY_URL: mtlsUrl,
    SLUICE_REGISTRY_CA_FILE: join(tls, 'ca.pem'),
    SLUICE_REGISTRY_CERT_FILE: join(tls, 'client.pem'),
    SLUICE_REGISTRY_KEY_FILE: file('client.key', encryptedKey.toString()),
    SLUICE_REGISTRY_KEY_PASSWORD: secrets['registry client key passphrase'],
    SLUICE_REGISTRY_TOKEN_FILE: file('token', secrets['registry token']),
    SLUICE_ES_USERNAME: esUser,
    SLUICE_ES_PASSWORD: secrets['Elasticsearch password'],
    SLUICE_S3_SECRET_KEY: secrets['S3 secret key'],
    SLUICE_SINK_PARQUET_MAX_AGE_MS: '3000',
    SLUICE_LOG_LEVEL: 'debug',
  });
  procs = await startServices({ env, logDir: testLogDir(runId), names: ['collector', 'normalizer', 'enricher', 'sink'] });
  await waitReady(procs);

  const producer = c.kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  const lines = Array.from({ length: N }, (_, i) => ({ key: `k${i % 3}`, value: JSON.stringify({ level: i % 5 === 0 ? 'error' : 'info', service: 'checkout', msg: `order ${i} paid` }), headers: { tenant } }));
  await producer.send({ topic: topicName(runId, 'logs.raw'), acks: -1, messages: [...lines, { key: 'k0', value: '', headers: { tenant } }] });
  // Bytes that are not registry-framed Avro: a dead letter of the normalizer.
  await producer.send({ topic: topicName(runId, 'logs.collected'), acks: -1, messages: [{ key: 'k0', value: Buffer.from([0xde, 0xad, 0xbe, 0xef]) }] });
  await producer.disconnect();

  // The sink used its credentials: the lines are in Elasticsearch and in Parquet on S3.
  await waitFor('documents in Elasticsearch', () => esCount(c.es, `*${tenant}*`), (n) => n >= N, 180_000);
  await waitFor('Parquet objects', async () => (await listObjects(c.s3, endpoints.bucket, `${runId}/`)).length, (n) => n > 0, 120_000);

  const hits: string[] = [];
  let scanned = 0;
  const scanOne = (where: string, text: string) => {
    scanned += text.length;
    hits.push(...scan(where, text));
  };
  for (const p of procs) {
    for (const path of ['/metrics', '/healthz', '/readyz']) {
      const body = await get(`http://127.0.0.1:${p.adminPort}${path}`);
      expect(`${p.name}${path} ${body.split('\n')[0]}`).toBe(`${p.name}${path} HTTP 200`);
      scanOne(`${p.name} ${path}`, body);
    }
  }

  // Dead letters: the raw record bytes and the decoded record (original bytes as text).
  const dlq = await readAll(c.kafka, topicName(runId, 'logs.dlq'), { expected: 2 });
  const codecs = await codecsFor(runId);
  const codes: string[] = [];
  for (const [i, raw] of dlq.entries()) {
    scanOne(`dead letter ${i} (raw)`, raw.toString('latin1'));
    const letter = (await codecs.decode(raw)) as Record<string, unknown>;
    codes.push(String(letter['error_code']));
    scanOne(`dead letter ${i} (decoded)`, JSON.stringify(letter, (_k, v: unknown) => (Buffer.isBuffer(v) ? v.toString('utf8') : v), 2));
  }
  expect(codes).toEqual(expect.arrayContaining(['SLUICE_ERR_INPUT_EMPTY', 'SLUICE_ERR_CODEC_DECODE']));

  // Every log line, shutdown included.
  await stopServices(procs);
  for (const p of procs) {
    const log = readFileSync(p.logFile, 'utf8');
    expect(log.split('\n').length).toBeGreaterThan(5);
    expect(log).toContain('"***"'); // the start-up line shows the secrets masked
    expect(log).not.toContain('not only loopback'); // admin endpoints on loopback: no warning
    scanOne(p.logFile, log);
  }
  expect(scanned).toBeGreaterThan(10_000);
  expect(hits).toEqual([]);
}, 420_000);

test('refused credentials are logged as refusals, without the credential', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-scan-wrong-'));
  writeFileSync(join(dir, 'scram'), wrong['wrong Kafka SCRAM password'], { mode: 0o600 });
  const kafkaEnv = { SLUICE_KAFKA_BROKERS: `127.0.0.1:${saslSslPort}`, SLUICE_KAFKA_CA_FILE: join(tls, 'ca.pem'), SLUICE_KAFKA_SASL_MECHANISM: 'scram-sha-512', SLUICE_KAFKA_SASL_USERNAME: 'sluice' };
  const collector = await startServices({ env: isolatedEnv(`${runId}w`, { ...kafkaEnv, SLUICE_KAFKA_SASL_PASSWORD_FILE: join(dir, 'scram') }), logDir: testLogDir(`${runId}w`), names: ['collector'] });
  // The sink's retention lists the bucket at start: signed with the wrong secret key, S3 refuses it.
  const sink = await startServices({ env: isolatedEnv(`${runId}w`, { SLUICE_SINK_WRITERS: 'parquet', SLUICE_SINK_PARQUET_RETENTION_DAYS: '1', SLUICE_S3_SECRET_KEY: wrong['wrong S3 secret key'] }), logDir: testLogDir(`${runId}w`), names: ['sink'] });
  procs.push(...collector, ...sink);
  const refused = (file: string, re: RegExp) => () => Promise.resolve(re.test(readFileSync(file, 'utf8')));
  await waitFor('the collector logging the refused SCRAM login', refused(collector[0]!.logFile, /authentication failed|invalid credentials/i), Boolean, 120_000);
  await waitFor('the sink logging the refused S3 signature', refused(sink[0]!.logFile, /signature we calculated does not match|SignatureDoesNotMatch|AccessDenied|InvalidAccessKeyId/), Boolean, 120_000);
  await stopServices([...collector, ...sink]);
  const hits = [...collector, ...sink].flatMap((p) => scan(p.logFile, readFileSync(p.logFile, 'utf8')));
  expect(hits).toEqual([]);
}, 300_000);
