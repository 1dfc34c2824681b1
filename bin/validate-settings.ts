/**
 * What `sluice validate` checks beyond the formats: every service's settings, from
 * sluice.yaml's sections under the environment, exactly as each service loads them at
 * start (shared/config-file.ts loadServiceConfig), and with --connect whether each
 * endpoint answers. Pure except for `connectChecks`, which talks to the servers.
 */
import { HeadBucketCommand } from '@aws-sdk/client-s3';
import { loadConfig, settingsFromFile, type ConfigOf, type Schema } from '../shared/config.js';
import { stackVariables, type commonSchema } from '../shared/common-config.js';
import { ConfigError, errorMessage } from '../shared/errors.js';
import { createKafka } from '../shared/kafka.js';
import { createLogger } from '../shared/logger.js';
import { registryOptionProblems, registryOptions, registrySubjectCount } from '../shared/registry.js';
import * as collector from '../services/collector/config.js';
import * as normalizer from '../services/normalizer/config.js';
import * as enricher from '../services/enricher/config.js';
import * as sink from '../services/sink/config.js';
import { createEsClient } from '../services/sink/es-writer.js';
import { chooseWriteMode, detectEsCapabilities, type EsWriteModeSetting } from '../services/sink/es-capabilities.js';
import { builtinOverlaps } from '../services/sink/es-templates.js';
import { createS3Client } from '../services/sink/object-store.js';

interface ServiceSettings {
  name: string;
  schema: Schema;
  strictPrefixes: readonly string[];
  alsoKnown: readonly string[];
}

export const SERVICE_SETTINGS: readonly ServiceSettings[] = [
  { name: 'collector', schema: collector.schema, strictPrefixes: collector.strictPrefixes, alsoKnown: [] },
  { name: 'normalizer', schema: normalizer.schema, strictPrefixes: normalizer.strictPrefixes, alsoKnown: [] },
  { name: 'enricher', schema: enricher.schema, strictPrefixes: enricher.strictPrefixes, alsoKnown: [] },
  { name: 'sink', schema: sink.schema, strictPrefixes: sink.strictPrefixes, alsoKnown: stackVariables },
];

/** Problem lines of every service's settings (deduplicated: the shared settings are every service's), and how many settings the file sets. */
export function settingsProblems(file: Readonly<Record<string, unknown>>, env: NodeJS.ProcessEnv): { problems: string[]; fromFile: number } {
  const problems = new Set<string>();
  const set = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const fromFile = new Set<string>();
  // A variable under some service's prefix that none knows is a typo; each service alone knows only its own.
  const known = new Set(SERVICE_SETTINGS.flatMap((s) => [...Object.values(s.schema).flatMap((f) => (f.secret ? [f.env, `${f.env}_FILE`] : [f.env])), ...s.alsoKnown]));
  for (const s of SERVICE_SETTINGS) {
    const fileEnv = settingsFromFile(s.schema, file);
    for (const k of Object.keys(fileEnv)) fromFile.add(k);
    try {
      loadConfig(s.schema, { ...fileEnv, ...set }, [], []);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      for (const line of err.message.split('\n').slice(1)) problems.add(line.replace(/^\s*- /, ''));
    }
  }
  // Settings that are each fine but do not fit together (the registry's TLS files, token and basic auth).
  try {
    const common = loadConfig(sink.schema, { ...settingsFromFile(sink.schema, file), ...set }, [], []) as ConfigOf<typeof commonSchema>;
    for (const p of registryOptionProblems(registryOptions(common))) problems.add(p);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err; // already listed above
  }
  const prefixes = SERVICE_SETTINGS.flatMap((s) => s.strictPrefixes);
  for (const name of Object.keys(set)) {
    if (prefixes.some((p) => name.startsWith(p)) && !known.has(name)) problems.add(`${name} is not a known setting (sluice config lists them)`);
  }
  return { problems: [...problems], fromFile: fromFile.size };
}

export interface ConnectCheck {
  what: string;
  target: string;
  ok: boolean;
  detail: string;
}

const TIMEOUT_MS = 5000;

function within<T>(p: Promise<T>, what: string): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<T>((_, reject) => (t = setTimeout(() => reject(new Error(`no answer from ${what} within ${TIMEOUT_MS / 1000} s`)), TIMEOUT_MS)))]).finally(() => clearTimeout(t));
}

/**
 * Whether Kafka, the schema registry, Elasticsearch and the bucket answer with the
 * settings the services would use (the sink's for Elasticsearch and S3). Each check is
 * bounded by 5 s; credentials are used, never printed.
 */
export async function connectChecks(file: Readonly<Record<string, unknown>>, env: NodeJS.ProcessEnv): Promise<ConnectCheck[]> {
  const set = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const c = loadConfig(sink.schema, { ...settingsFromFile(sink.schema, file), ...set }) as ConfigOf<typeof sink.schema> & ConfigOf<typeof commonSchema>;
  const out: ConnectCheck[] = [];
  const check = async (what: string, target: string, op: () => Promise<string>) => {
    try {
      out.push({ what, target, ok: true, detail: await within(op(), what) });
    } catch (err) {
      out.push({ what, target, ok: false, detail: errorMessage(err) });
    }
  };

  await check('kafka', c.brokers.join(','), async () => {
    const kafka = createKafka({ ...c, brokers: c.brokers }, 'validate', createLogger('validate', 'silent'));
    const admin = kafka.admin({ retry: { retries: 0 } });
    await admin.connect();
    try {
      const cluster = await admin.describeCluster();
      return `${cluster.brokers.length} broker(s), controller ${cluster.controller}`;
    } finally {
      await admin.disconnect();
    }
  });
  await check('schema registry', c.registryUrl, async () => `${await registrySubjectCount(registryOptions(c))} subject(s)`);
  if (c.writers.includes('es')) {
    await check('elasticsearch', c.esUrl, async () => {
      const client = createEsClient({ url: c.esUrl, username: c.esUsername, password: c.esPassword, apiKey: c.esApiKey, caFile: c.esCaFile, indexPrefix: c.esIndexPrefix });
      try {
        const health = await client.cluster.health({ timeout: '5s' });
        // What the sink would do there: its write mode, and whether a prefix falls under Elastic's own templates.
        const mode = chooseWriteMode(c.esWriteMode as EsWriteModeSetting, await detectEsCapabilities(client));
        const legacy = [c.esIndexPrefix, c.esMetricsPrefix, c.esSpansPrefix, c.esTracesPrefix].filter((p) => builtinOverlaps(p).length > 0);
        const overlap = legacy.length > 0 ? `; prefixes ${legacy.join(', ')} overlap Elastic's built-in ${[...new Set(legacy.flatMap(builtinOverlaps))].join(', ')} (their templates outrank Elastic's and capture Elastic Agent's indices of those names)` : '';
        return `cluster ${health.cluster_name}, status ${health.status}; writes ${mode.mode} (${mode.reason})${overlap}`;
      } finally {
        await client.close();
      }
    });
  }
  if (c.writers.includes('parquet')) {
    await check('s3 bucket', `${c.s3Endpoint || 'AWS S3'} ${c.s3Bucket}`, async () => {
      const client = createS3Client({ endpoint: c.s3Endpoint, region: c.s3Region, accessKey: c.s3AccessKey, secretKey: c.s3SecretKey, credentials: c.s3Credentials as 'static' | 'chain', forcePathStyle: c.s3ForcePathStyle });
      try {
        await client.send(new HeadBucketCommand({ Bucket: c.s3Bucket }), { abortSignal: AbortSignal.timeout(TIMEOUT_MS) });
        return 'bucket exists and is reachable';
      } finally {
        client.destroy();
      }
    });
  }
  return out;
}
