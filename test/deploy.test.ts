/**
 * The deployment files (docs/deployment.md). Runs `scripts/k8s-check`, which lints the
 * Helm chart, validates its rendered manifests with kubeconform against the Kubernetes
 * and CRD (KEDA, Prometheus Operator) schemas and validates docker-compose.yml, then
 * reads what it rendered and checks what the chart promises: a Deployment per service
 * with probes on /healthz and /readyz of its admin port, PodDisruptionBudgets, KEDA
 * ScaledObjects capped at the partition count, no credential in a ConfigMap, settings
 * every service accepts; and a compose file at scripts/stack's versions.
 *
 * Needs Go: the script builds helm and kubeconform from the Go module proxy on its first
 * run (about 5 minutes on 2 cores) and caches them (then it takes seconds). Without Go
 * this test FAILS, saying so; it never skips.
 * No server is needed; it runs in the integration project because unit roots hold no
 * repository-level files.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { repoRoot } from '../shared/schemas.js';
import { loadConfig, type Schema } from '../shared/config.js';
import { stackVariables } from '../shared/common-config.js';
import * as collectorConfig from '../services/collector/config.js';
import * as normalizerConfig from '../services/normalizer/config.js';
import * as enricherConfig from '../services/enricher/config.js';
import * as sinkConfig from '../services/sink/config.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Obj = Record<string, any>;

const root = repoRoot();
const out = mkdtempSync(join(tmpdir(), 'sluice-k8s-check-'));
const SERVICES = ['collector', 'normalizer', 'enricher', 'sink'] as const;
type Service = (typeof SERVICES)[number];
const serviceConfig: Record<Service, { schema: Schema; strictPrefixes: readonly string[] }> = {
  collector: collectorConfig,
  normalizer: normalizerConfig,
  enricher: enricherConfig,
  sink: sinkConfig,
};
const CREDENTIALS = [
  'SLUICE_KAFKA_SASL_USERNAME', 'SLUICE_KAFKA_SASL_PASSWORD', 'SLUICE_KAFKA_KEY_PASSWORD',
  'SLUICE_REGISTRY_USERNAME', 'SLUICE_REGISTRY_PASSWORD', 'SLUICE_REGISTRY_TOKEN', 'SLUICE_REGISTRY_KEY_PASSWORD',
  'SLUICE_ES_USERNAME', 'SLUICE_ES_PASSWORD', 'SLUICE_ES_API_KEY', 'SLUICE_S3_ACCESS_KEY', 'SLUICE_S3_SECRET_KEY',
];

let run: { status: number | null; stderr: string; seconds: number } | undefined;

beforeAll(() => {
  const go = spawnSync('go', ['version'], { encoding: 'utf8' });
  if (go.error || go.status !== 0) {
    run = { status: null, stderr: "'go' is not installed or not on PATH: scripts/k8s-check builds helm and kubeconform with `go install` (Go 1.26+). Install Go and run the tests again.", seconds: 0 };
    return;
  }
  const started = Date.now();
  // The project's node first on PATH, as under npm: the script runs its schema converter on it.
  const r = spawnSync('bash', [join(root, 'scripts', 'k8s-check'), '--out', out], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, PATH: `${dirname(process.execPath)}:${process.env['PATH'] ?? ''}` },
    timeout: 25 * 60_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  run = { status: r.status, stderr: `${r.stderr ?? ''}${r.error ? `\n${String(r.error)}` : ''}`, seconds: (Date.now() - started) / 1000 };
  console.log(`scripts/k8s-check: exit ${String(r.status)} in ${run.seconds.toFixed(1)} s`);
}, 26 * 60_000);

afterAll(() => rmSync(out, { recursive: true, force: true }));

/** The script's result, or a failure naming why (the end of its output). */
function checked(): void {
  if (!run) throw new Error('scripts/k8s-check did not run');
  if (run.status !== 0) throw new Error(`scripts/k8s-check failed (exit ${String(run.status)}):\n${run.stderr.split('\n').slice(-40).join('\n')}`);
}

function manifests(set: string): Obj[] {
  checked();
  const file = join(out, `${set}.yaml`);
  if (!existsSync(file)) throw new Error(`scripts/k8s-check rendered no ${set}.yaml`);
  return parseAllDocuments(readFileSync(file, 'utf8')).map((d) => d.toJS() as Obj).filter((d) => d && typeof d === 'object');
}
const ofKind = (docs: Obj[], kind: string) => docs.filter((d) => d['kind'] === kind);
const component = (d: Obj): Service => d['metadata']['labels']['app.kubernetes.io/component'] as Service;
const valuesOf = (file: string) => parseYaml(readFileSync(join(root, 'deploy', 'helm', 'sluice', file), 'utf8')) as Obj;

function deploymentParts(docs: Obj[], name: Service): { deployment: Obj; container: Obj; env: Record<string, string> } {
  const deployment = ofKind(docs, 'Deployment').find((d) => component(d) === name);
  if (!deployment) throw new Error(`no Deployment for ${name}`);
  const container = deployment['spec']['template']['spec']['containers'][0] as Obj;
  const cmName = container['envFrom'][0]['configMapRef']['name'] as string;
  const cm = ofKind(docs, 'ConfigMap').find((c) => c['metadata']['name'] === cmName);
  if (!cm) throw new Error(`no ConfigMap ${cmName} for ${name}`);
  return { deployment, container, env: cm['data'] as Record<string, string> };
}

test('scripts/k8s-check passes: helm lint, kubeconform -strict on every value set, docker-compose.yml', () => {
  checked();
  const sets = readFileSync(join(out, 'sets.txt'), 'utf8').trim().split('\n');
  expect(sets).toEqual(expect.arrayContaining(['default', 'features', 'credentials', 'existing-secret']));
  // The image tag defaults to the chart's appVersion: the release in package.json.
  const chart = parseYaml(readFileSync(join(root, 'deploy', 'helm', 'sluice', 'Chart.yaml'), 'utf8')) as Obj;
  expect(chart['appVersion']).toBe((JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as Obj)['version']);
});

describe.each(['default', 'features', 'credentials', 'existing-secret'])('rendered with %s values', (set) => {
  test('a Deployment per service: its command, probes on /healthz and /readyz of its admin port, non-root, read-only root', () => {
    const docs = manifests(set);
    expect(ofKind(docs, 'Deployment').map(component).sort()).toEqual([...SERVICES].sort());
    for (const name of SERVICES) {
      const { deployment, container, env } = deploymentParts(docs, name);
      const pod = deployment['spec']['template']['spec'] as Obj;
      expect(container['command']).toEqual(['node', `dist/services/${name}/main.js`]);
      const port = Number(env[`SLUICE_${name.toUpperCase()}_ADMIN_PORT`]);
      expect(port).toBeGreaterThan(0);
      expect(container['ports']).toEqual([{ name: 'admin', containerPort: port, protocol: 'TCP' }]);
      expect(container['livenessProbe']['httpGet']).toEqual({ path: '/healthz', port: 'admin' });
      expect(container['readinessProbe']['httpGet']).toEqual({ path: '/readyz', port: 'admin' });
      // Probes and Prometheus reach the admin server only when it binds beyond loopback.
      expect(env['SLUICE_ADMIN_HOST']).toBe('0.0.0.0');
      expect(env['SLUICE_CONFIG']).toBe('/etc/sluice/sluice.yaml');
      expect(container['volumeMounts']).toEqual(expect.arrayContaining([{ name: 'files', mountPath: '/etc/sluice', readOnly: true }]));
      // Service links would add SLUICE_SINK_PORT & co., unknown settings the services refuse.
      expect(pod['enableServiceLinks']).toBe(false);
      expect(pod['securityContext']['runAsNonRoot']).toBe(true);
      expect(container['securityContext']).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
      expect(container['resources']['requests']).toBeDefined();
      expect(pod['terminationGracePeriodSeconds'] * 1000).toBeGreaterThan(Number(env['SLUICE_SHUTDOWN_TIMEOUT_MS']));
    }
  });

  test('a PodDisruptionBudget per service (unless turned off) selecting its pods', () => {
    const docs = manifests(set);
    const pdbs = ofKind(docs, 'PodDisruptionBudget');
    const expected = set === 'existing-secret' ? SERVICES.filter((s) => s !== 'collector') : [...SERVICES];
    expect(pdbs.map(component).sort()).toEqual([...expected].sort());
    for (const pdb of pdbs) {
      const { deployment } = deploymentParts(docs, component(pdb));
      expect(pdb['spec']['selector']['matchLabels']).toEqual(deployment['spec']['selector']['matchLabels']);
      expect(pdb['spec']['maxUnavailable'] ?? pdb['spec']['minAvailable']).toBeDefined();
    }
  });

  test('no credential in a ConfigMap; credentials come from the Secret, the Elasticsearch and S3 ones to the sink only', () => {
    const docs = manifests(set);
    const secretValues = Object.entries(valuesOf(set === 'default' ? 'values.yaml' : `ci/${set}-values.yaml`)['secrets'] ?? {})
      .filter(([k, v]) => k !== 'existingSecret' && typeof v === 'string' && v !== '')
      .map(([, v]) => v as string);
    for (const cm of ofKind(docs, 'ConfigMap')) {
      const data = (cm['data'] ?? {}) as Record<string, string>;
      for (const key of Object.keys(data)) expect(CREDENTIALS).not.toContain(key);
      const text = JSON.stringify(data);
      for (const v of secretValues) expect(text).not.toContain(v);
    }
    for (const name of SERVICES) {
      const { container } = deploymentParts(docs, name);
      const refs = ((container['env'] ?? []) as Obj[]).filter((e) => e['valueFrom']?.['secretKeyRef']).map((e) => e['name'] as string);
      for (const r of refs) expect(CREDENTIALS).toContain(r);
      if (name !== 'sink') expect(refs.filter((r) => /^SLUICE_(ES|S3)_/.test(r))).toEqual([]);
      for (const e of (container['env'] ?? []) as Obj[]) if (CREDENTIALS.includes(e['name'] as string)) expect(e['value']).toBeUndefined();
    }
    if (set === 'credentials') {
      const secret = ofKind(docs, 'Secret')[0];
      if (!secret) throw new Error('no Secret rendered for the credentials values');
      const decoded = Object.values(secret['data'] as Record<string, string>).map((b) => Buffer.from(b, 'base64').toString('utf8'));
      expect(decoded.sort()).toEqual([...secretValues].sort());
      const { container } = deploymentParts(docs, 'sink');
      expect((container['env'] as Obj[]).map((e) => e['name'])).toEqual(expect.arrayContaining(['SLUICE_ES_API_KEY', 'SLUICE_S3_ACCESS_KEY', 'SLUICE_S3_SECRET_KEY', 'SLUICE_KAFKA_SASL_PASSWORD']));
    }
    if (set === 'existing-secret') {
      expect(ofKind(docs, 'Secret')).toEqual([]);
      const { container } = deploymentParts(docs, 'sink');
      const refs = (container['env'] as Obj[]).map((e) => e['valueFrom']['secretKeyRef'] as Obj);
      expect(refs.map((r) => r['key']).sort()).toEqual([...CREDENTIALS].sort());
      for (const r of refs) expect(r).toMatchObject({ name: 'sluice-credentials-managed', optional: true });
    }
  });

  test('every service accepts the settings the chart gives it (as at start: no exit 78)', () => {
    const docs = manifests(set);
    const files = mkdtempSync(join(tmpdir(), 'sluice-k8s-files-'));
    try {
      const filesCm = ofKind(docs, 'ConfigMap').find((c) => (c['metadata']['name'] as string).endsWith('-files'));
      if (!filesCm) throw new Error('no -files ConfigMap');
      for (const [k, v] of Object.entries(filesCm['data'] as Record<string, string>)) writeFileSync(join(files, k), v);
      mkdirSync(join(files, 'tls'));
      for (const f of ['ca.crt', 'tls.crt', 'tls.key']) writeFileSync(join(files, 'tls', f), '-----BEGIN PLACEHOLDER-----\n-----END PLACEHOLDER-----\n');
      for (const name of SERVICES) {
        const { container, env } = deploymentParts(docs, name);
        const podEnv: Record<string, string> = {};
        // Files mounted in the pod, here from the rendered ConfigMap.
        for (const [k, v] of Object.entries(env)) podEnv[k] = v.replace(/^\/etc\/sluice\//, `${files}/`).replace(/^\/etc\/sluice-tls\/[a-z]+\//, `${files}/tls/`);
        for (const e of (container['env'] ?? []) as Obj[]) podEnv[e['name'] as string] = e['valueFrom'] ? 'placeholder' : String(e['value']);
        const { schema, strictPrefixes } = serviceConfig[name];
        expect(() => loadConfig(schema, podEnv, strictPrefixes, stackVariables)).not.toThrow();
      }
      // Why enableServiceLinks is off: the variables Kubernetes would add for the Service sluice-sink.
      const { env } = deploymentParts(docs, 'sink');
      const linked: Record<string, string> = { ...env, SLUICE_CONFIG: join(files, 'sluice.yaml'), SLUICE_SINK_PORT: 'tcp://10.0.0.1:9704', SLUICE_SINK_SERVICE_HOST: '10.0.0.1' };
      delete linked['SLUICE_ES_CA_FILE'];
      expect(() => loadConfig(sinkConfig.schema, linked, sinkConfig.strictPrefixes, stackVariables)).toThrow(/SLUICE_SINK_PORT is not a known setting/);
    } finally {
      rmSync(files, { recursive: true, force: true });
    }
  });

  test('TLS files: the Kafka and registry Secrets mounted read-only in every service, where their variables point', () => {
    const docs = manifests(set);
    for (const name of SERVICES) {
      const { deployment, container, env } = deploymentParts(docs, name);
      const volumes = (deployment['spec']['template']['spec']['volumes'] ?? []) as Obj[];
      const mounts = (container['volumeMounts'] ?? []) as Obj[];
      const tlsVars = Object.keys(env).filter((k) => /^SLUICE_(KAFKA|REGISTRY)_(CA|CERT|KEY)_FILE$/.test(k)).sort();
      if (set !== 'credentials') {
        expect(tlsVars).toEqual([]);
        expect(volumes.map((v) => v['name'])).not.toEqual(expect.arrayContaining(['kafka-tls']));
        continue;
      }
      expect(tlsVars).toEqual(['SLUICE_KAFKA_CA_FILE', 'SLUICE_KAFKA_CERT_FILE', 'SLUICE_KAFKA_KEY_FILE', 'SLUICE_REGISTRY_CA_FILE']);
      for (const [kind, secretName, keys] of [['kafka', 'kafka-client-tls', ['ca.crt', 'tls.crt', 'tls.key']], ['registry', 'registry-ca', ['ca.crt']]] as const) {
        const volume = volumes.find((v) => v['name'] === `${kind}-tls`);
        expect(volume?.['secret']).toMatchObject({ secretName, items: keys.map((k) => ({ key: k, path: k })) });
        expect(mounts.find((m) => m['name'] === `${kind}-tls`)).toEqual({ name: `${kind}-tls`, mountPath: `/etc/sluice-tls/${kind}`, readOnly: true });
      }
      expect(env['SLUICE_KAFKA_CERT_FILE']).toBe('/etc/sluice-tls/kafka/tls.crt');
      expect(env['SLUICE_REGISTRY_CA_FILE']).toBe('/etc/sluice-tls/registry/ca.crt');
      // The key's passphrase comes from the Secret, never the ConfigMap.
      expect(((container['env'] ?? []) as Obj[]).find((e) => e['name'] === 'SLUICE_KAFKA_KEY_PASSWORD')?.['valueFrom']?.['secretKeyRef']).toBeDefined();
    }
  });

  test('KEDA: a ScaledObject per service on its consumer groups and topics, at most one replica per partition', () => {
    const docs = manifests(set);
    const scaled = ofKind(docs, 'ScaledObject');
    if (set === 'default') {
      expect(scaled).toEqual([]);
      expect(ofKind(docs, 'ServiceMonitor')).toEqual([]);
      for (const d of ofKind(docs, 'Deployment')) expect(d['spec']['replicas']).toBe(1);
      return;
    }
    expect(scaled.map(component).sort()).toEqual([...SERVICES].sort());
    for (const so of scaled) {
      const name = component(so);
      const { deployment, env } = deploymentParts(docs, name);
      const partitions = Number(env['SLUICE_TOPIC_PARTITIONS']);
      expect(so['spec']['scaleTargetRef']).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: deployment['metadata']['name'] });
      expect(so['spec']['maxReplicaCount']).toBeLessThanOrEqual(partitions);
      expect(so['spec']['minReplicaCount']).toBeLessThanOrEqual(so['spec']['maxReplicaCount']);
      expect(deployment['spec']['replicas']).toBeUndefined(); // KEDA's HPA owns it
      const pairs = (so['spec']['triggers'] as Obj[]).map((t) => {
        expect(t['type']).toBe('kafka');
        expect(t['metadata']['bootstrapServers']).toBe(env['SLUICE_KAFKA_BROKERS']);
        expect(Number(t['metadata']['lagThreshold'])).toBeGreaterThan(0);
        return `${t['metadata']['consumerGroup']} ${t['metadata']['topic']}`;
      });
      const expected: Record<Service, string[]> = {
        collector: [`${env['SLUICE_COLLECTOR_GROUP']} ${env['SLUICE_TOPIC_RAW']}`],
        normalizer: [`${env['SLUICE_NORMALIZER_GROUP']} ${env['SLUICE_TOPIC_COLLECTED']}`],
        enricher: [`${env['SLUICE_ENRICHER_GROUP']} ${env['SLUICE_TOPIC_NORMALIZED']}`, `${env['SLUICE_ENRICHER_TRACES_GROUP']} ${env['SLUICE_TOPIC_SPANS']}`],
        // The sink scales on its first writer of its first dataset: logs into Elasticsearch
        // when it writes there, else logs into Parquet.
        sink: [env['SLUICE_SINK_WRITERS']?.split(',').includes('es') ? `${env['SLUICE_SINK_ES_GROUP']} ${env['SLUICE_TOPIC_ENRICHED']}` : `${env['SLUICE_SINK_PARQUET_GROUP']} ${env['SLUICE_TOPIC_ENRICHED']}`],
      };
      expect(pairs).toEqual(expected[name]);
    }
    if (set === 'credentials') {
      expect(scaled.find((s) => component(s) === 'sink')?.['spec']['maxReplicaCount']).toBe(4);
      expect(scaled.find((s) => component(s) === 'collector')?.['spec']['maxReplicaCount']).toBe(6);
      const auth = ofKind(docs, 'TriggerAuthentication');
      expect(auth).toHaveLength(1);
      for (const so of scaled) for (const t of so['spec']['triggers'] as Obj[]) {
        expect(t['metadata']).toMatchObject({ sasl: 'scram_sha512', tls: 'enable' });
        expect(t['authenticationRef']).toEqual({ name: auth[0]?.['metadata']['name'] });
      }
    }
  });

  test('ServiceMonitor scrapes /metrics on every service\'s admin port', () => {
    const docs = manifests(set);
    const monitors = ofKind(docs, 'ServiceMonitor');
    if (set === 'default' || set === 'existing-secret') {
      expect(monitors).toEqual([]);
      return;
    }
    expect(monitors).toHaveLength(1);
    const sm = monitors[0] as Obj;
    expect(sm['spec']['endpoints']).toEqual([expect.objectContaining({ port: 'admin', path: '/metrics' })]);
    const services = ofKind(docs, 'Service');
    expect(services.map(component).sort()).toEqual([...SERVICES].sort());
    for (const svc of services) {
      for (const [k, v] of Object.entries(sm['spec']['selector']['matchLabels'] as Record<string, string>)) expect(svc['metadata']['labels'][k]).toBe(v);
      expect(svc['spec']['ports']).toEqual([expect.objectContaining({ name: 'admin', targetPort: 'admin' })]);
    }
  });
});

test('docker-compose.yml: scripts/stack\'s versions, healthchecks, service_healthy, Kafka for host and containers, admin ports on 127.0.0.1', () => {
  checked();
  const project = JSON.parse(readFileSync(join(out, 'compose.json'), 'utf8')) as Obj;
  const services = project['services'] as Record<string, Obj>;
  const stackDefault = (file: string, re: RegExp): string => {
    const m = re.exec(readFileSync(join(root, 'scripts', 'stack.d', file), 'utf8'));
    if (!m?.[1]) throw new Error(`no version found in scripts/stack.d/${file} by ${String(re)}`);
    return m[1];
  };
  expect(services['kafka']?.['image']).toBe(`apache/kafka:${stackDefault('kafka.sh', /KAFKA_VERSION=\$\{SLUICE_KAFKA_VERSION:-([^}]+)\}/)}`);
  expect(services['registry']?.['image']).toBe(`apicurio/apicurio-registry:${stackDefault('registry.sh', /REGISTRY_VERSION=\$\{SLUICE_REGISTRY_VERSION:-([^}]+)\}/)}`);
  expect(services['elasticsearch']?.['image']).toBe(`docker.elastic.co/elasticsearch/elasticsearch:${stackDefault('elasticsearch.sh', /^ES_V9=(\S+)/m)}`);
  expect(services['s3']?.['image']).toBe(`andrewgaul/s3proxy:${stackDefault('s3.sh', /S3_VERSION=\$\{SLUICE_S3PROXY_VERSION:-([^}]+)\}/)}`);
  for (const [name, s] of Object.entries(services)) {
    expect([name, s['healthcheck']?.['test']?.length > 0]).toEqual([name, true]);
    for (const [dep, d] of Object.entries((s['depends_on'] ?? {}) as Record<string, Obj>)) expect([name, dep, d['condition']]).toEqual([name, dep, 'service_healthy']);
    for (const p of (s['ports'] ?? []) as Obj[]) expect([name, p['host_ip']]).toEqual([name, '127.0.0.1']);
  }
  const kafkaEnv = services['kafka']?.['environment'] as Record<string, string>;
  expect(kafkaEnv['KAFKA_ADVERTISED_LISTENERS']).toMatch(/EXTERNAL:\/\/127\.0\.0\.1:9092/);
  expect(kafkaEnv['KAFKA_ADVERTISED_LISTENERS']).toMatch(/INTERNAL:\/\/kafka:29092/);
  expect(services['kafka']?.['ports']).toEqual([expect.objectContaining({ host_ip: '127.0.0.1', published: '9092', target: 9092 })]);
  SERVICES.forEach((name, i) => {
    const s = services[name] as Obj;
    expect(s['command']).toEqual(['node', `dist/services/${name}/main.js`]);
    expect(s['environment']['SLUICE_KAFKA_BROKERS']).toBe('kafka:29092');
    expect(s['ports']).toEqual([expect.objectContaining({ host_ip: '127.0.0.1', published: String(9701 + i), target: 9701 + i })]);
  });
  const ignored = readFileSync(join(root, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim().replace(/\/$/, ''));
  expect(ignored).toEqual(expect.arrayContaining(['node_modules', 'dist', '.stack', '.venv', '.git', 'coverage']));
});
