/**
 * The collector's tenant gate (services/collector/stages.ts): the allow-list on raw
 * lines, the rate limit on emitted events (within: logs.collected; over: the delay
 * topic with a reserved slot, or a dead letter), and the release stage that lets a
 * delayed event go at its slot and not before.
 */
import { loadConfig } from '../../shared/config.js';
import { DeferredError, PermanentError } from '../../shared/errors.js';
import { Registry } from '../../shared/metrics.js';
import type { RawEvent } from '../../shared/records.js';
import { isStateful, type PartitionStage, type StageInput, type StageOutput } from '../../shared/stage.js';
import { schema, strictPrefixes } from './config.js';
import { collectorStages, createReleaseStage, NOT_BEFORE_HEADER } from './stages.js';
import { tenantGate } from './tenants.js';

const config = loadConfig(schema, {}, strictPrefixes);
const T0 = Date.UTC(2026, 11, 3, 1, 0, 0);

function input(i: number, tenant: string): StageInput<Buffer> {
  const value = Buffer.from(`{"level":"info","msg":"line ${i}"}`);
  return { topic: 'logs.raw', partition: 0, offset: String(i), timestampMs: T0, key: null, headers: { tenant }, value, raw: value };
}

function collectStage(tenants: Parameters<typeof tenantGate>[0], registry = new Registry()) {
  const [collect, ...rest] = collectorStages(config, [], false, tenantGate(tenants, registry));
  const part: PartitionStage<Buffer> = isStateful(collect.stage) ? collect.stage.open('logs.raw', 0, null) : { process: (i, c) => (collect.stage as { process: PartitionStage<Buffer>['process'] }).process(i, c), flush: () => [], checkpoint: (n) => ({ offset: n, metadata: null }), held: 0 };
  return { collect, rest, part, registry };
}

function run(part: PartitionStage<Buffer>, tenant: string, n: number, now: number): Array<StageOutput | Error> {
  const out: Array<StageOutput | Error> = [];
  for (let i = 0; i < n; i++) {
    try {
      out.push(...part.process(input(i, tenant), { now: () => now }));
    } catch (err) {
      out.push(err as Error);
    }
  }
  return out;
}

test('without limits there is no delay topic and no release binding', () => {
  const { collect, rest } = collectStage({ allow: ['acme'] });
  expect(collect.outputTopics).toEqual([config.topicCollected]);
  expect(rest).toEqual([]);
});

test('the allow-list refuses raw lines of other tenants with a dead-letter error, counted', async () => {
  const { part, registry } = collectStage({ allow: ['acme'] });
  const out = run(part, 'globex', 2, T0);
  expect(out).toHaveLength(2);
  expect(out.every((o) => o instanceof PermanentError && o.code === 'SLUICE_ERR_TENANT_NOT_ALLOWED')).toBe(true);
  expect(run(part, 'acme', 1, T0)).toMatchObject([{ topic: config.topicCollected }]);
  expect(await registry.metrics()).toMatch(/sluice_tenant_refused_total\{code="SLUICE_ERR_TENANT_NOT_ALLOWED",tenant="globex"\} 2/);
});

test('over the limit: events go to the delay topic with consecutive slots; other tenants flow', async () => {
  const { collect, rest, part, registry } = collectStage({ limits: { default: { records_per_second: 5 } } });
  expect(collect.outputTopics).toEqual([config.topicCollected, config.topicDelayed]);
  expect(rest.map((b) => [b.name, b.groupId, b.inputTopic, b.outputTopics])).toEqual([['collector-release', `${config.groupId}.delayed`, config.topicDelayed, [config.topicCollected]]]);
  const out = run(part, 'noisy', 15, T0) as StageOutput[];
  expect(out.filter((o) => o.topic === config.topicCollected)).toHaveLength(5);
  const delayed = out.filter((o) => o.topic === config.topicDelayed);
  expect(delayed.map((o) => Number(o.headers?.[NOT_BEFORE_HEADER]) - T0)).toEqual([200, 400, 600, 800, 1000, 1200, 1400, 1600, 1800, 2000]);
  // The delayed record is the event itself, unchanged.
  expect((delayed[0]!.value as RawEvent).body).toBe('{"level":"info","msg":"line 5"}');
  expect(run(part, 'quiet', 3, T0).every((o) => (o as StageOutput).topic === config.topicCollected)).toBe(true);
  expect(await registry.metrics()).toMatch(/sluice_tenant_delayed_total\{tenant="noisy"\} 10/);
});

test('over_limit dead-letter, and a slot beyond max_delay_seconds, dead-letter the event with its reason', () => {
  const dl = collectStage({ limits: { default: { records_per_second: 1, over_limit: 'dead-letter' } } });
  const out = run(dl.part, 't', 3, T0) as StageOutput[];
  expect(out.map((o) => o.deadLetter?.code ?? o.topic)).toEqual([config.topicCollected, 'SLUICE_ERR_TENANT_RATE_LIMITED', 'SLUICE_ERR_TENANT_RATE_LIMITED']);
  const capped = collectStage({ limits: { default: { records_per_second: 1, max_delay_seconds: 2 } } });
  const out2 = run(capped.part, 't', 5, T0) as StageOutput[];
  expect(out2.map((o) => o.deadLetter?.code ?? o.topic)).toEqual([config.topicCollected, config.topicDelayed, config.topicDelayed, 'SLUICE_ERR_TENANT_RATE_LIMITED', 'SLUICE_ERR_TENANT_RATE_LIMITED']);
  expect(out2[4]!.deadLetter?.message).toMatch(/max_delay_seconds 2/);
});

test('a daily quota dead-letters what is beyond it with its own code, counted', async () => {
  const { part, registry } = collectStage({ limits: { default: { records_per_day: 2 } } });
  const out = run(part, 't', 4, T0) as StageOutput[];
  expect(out.map((o) => o.deadLetter?.code ?? o.topic)).toEqual([config.topicCollected, config.topicCollected, 'SLUICE_ERR_TENANT_QUOTA_EXCEEDED', 'SLUICE_ERR_TENANT_QUOTA_EXCEEDED']);
  expect(await registry.metrics()).toMatch(/sluice_tenant_refused_total\{code="SLUICE_ERR_TENANT_QUOTA_EXCEEDED",tenant="t"\} 2/);
});

test('the release stage defers an event until its slot, then passes it on unchanged', () => {
  const release = createReleaseStage('logs.collected');
  const event = { event_id: 'e1', tenant: 'noisy', body: 'x' } as RawEvent;
  const delayed = (headers: Record<string, string>): StageInput<RawEvent> => ({ topic: 'logs.collected.delayed', partition: 0, offset: '0', timestampMs: T0, key: Buffer.from('k'), headers, value: event, raw: Buffer.alloc(0) });
  let thrown: unknown;
  try {
    release.process(delayed({ [NOT_BEFORE_HEADER]: String(T0 + 500) }), { now: () => T0 });
  } catch (err) {
    thrown = err;
  }
  expect(thrown).toBeInstanceOf(DeferredError);
  expect((thrown as DeferredError).untilMs).toBe(T0 + 500);
  expect(release.process(delayed({ [NOT_BEFORE_HEADER]: String(T0 + 500) }), { now: () => T0 + 500 })).toEqual([{ topic: 'logs.collected', key: 'k', value: event }]);
  expect(release.process(delayed({}), { now: () => T0 })).toHaveLength(1);
});
