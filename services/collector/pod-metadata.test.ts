/**
 * The service-name precedence and labels of pod-metadata.ts, and how envelopes.ts ranks
 * them against explicit service fields. Whole-envelope cases live in testdata/ (golden).
 */
import { podMetadata } from './pod-metadata.js';
import { unwrapLine } from './envelopes.js';
import { streamKeyOf } from './split.js';
import type { JsonObject } from './json-fields.js';

const fluentBit = (kubernetes: JsonObject, extra: JsonObject = {}): string => JSON.stringify({ date: 1732183200.5, log: 'hello\n', stream: 'stdout', kubernetes, ...extra });

describe('podMetadata: service name', () => {
  const base = { pod_name: 'cart-5f6585d649-fnmft', namespace_name: 'shop', container_name: 'server' };

  test('the OpenTelemetry service annotation beats every label', () => {
    const m = podMetadata({ kubernetes: { ...base, annotations: { 'resource.opentelemetry.io/service.name': 'cart-api' }, labels: { 'app.kubernetes.io/name': 'cart' } } });
    expect(m?.service).toBe('cart-api');
  });

  test.each([
    [{ 'app.kubernetes.io/name': 'cart', app: 'legacy-cart', 'k8s-app': 'x', 'app.kubernetes.io/instance': 'shop-prod' }, 'cart'],
    [{ app: 'legacy-cart', 'k8s-app': 'x', 'app.kubernetes.io/instance': 'shop-prod' }, 'legacy-cart'],
    [{ 'k8s-app': 'kube-dns', 'app.kubernetes.io/instance': 'shop-prod' }, 'kube-dns'],
    [{ 'app.kubernetes.io/instance': 'shop-prod', 'pod-template-hash': '5f6585d649' }, 'shop-prod'],
    // Filebeat's default de-dotted keys.
    [{ 'app_kubernetes_io/name': 'cart' }, 'cart'],
    // No app label: the workload.
    [{ 'pod-template-hash': '5f6585d649', tier: 'backend' }, 'cart'],
  ])('labels %j -> %s', (labels, service) => {
    expect(podMetadata({ kubernetes: { ...base, labels } })?.service).toBe(service);
  });

  test('without labels: the pod name without controller suffixes, the container name only without a pod', () => {
    expect(podMetadata({ kubernetes: { ...base, pod_name: 'frontend-579b9bff58-t2dbm' } })?.service).toBe('frontend');
    expect(podMetadata({ kubernetes: { ...base, pod_name: 'kafka-0', container_name: 'broker' } })?.service).toBe('kafka');
    expect(podMetadata({ kubernetes: { namespace_name: 'shop', container_name: 'server' } })?.service).toBe('server');
  });

  test('a controller the shipper names is the workload (Filebeat, Vector pod_owner)', () => {
    const filebeat = (k: JsonObject) => podMetadata({ kubernetes: { pod: { name: 'payments-6d5f7c8b9-x7k2p' }, namespace: 'shop', container: { name: 'server' }, ...k } });
    expect(filebeat({ deployment: { name: 'payments-v2' }, replicaset: { name: 'payments-v2-6d5f7c8b9' } })?.labels['k8s.workload']).toBe('payments-v2');
    // Filebeat 8 adds the Deployment only with add_resource_metadata.deployment; the ReplicaSet names it too.
    expect(filebeat({ replicaset: { name: 'payments-v2-6d5f7c8b9' } })?.service).toBe('payments-v2');
    expect(filebeat({ statefulset: { name: 'ledger' } })?.service).toBe('ledger');
    expect(filebeat({ cronjob: { name: 'nightly' }, job: { name: 'nightly-28472640' } })?.service).toBe('nightly');
    expect(filebeat({ job: { name: 'nightly-28472640' } })?.service).toBe('nightly');

    const vector = (owner: string) => podMetadata({ kubernetes: { pod_name: 'etcd-node-1', pod_namespace: 'kube-system', container_name: 'etcd', pod_owner: owner } });
    expect(vector('ReplicaSet/email-686bdfd59b')?.service).toBe('email');
    expect(vector('StatefulSet/etcd')?.service).toBe('etcd');
    // A static pod is owned by its Node, which is no workload: the pod name decides.
    expect(vector('Node/node-1')?.service).toBe('etcd-node');
  });
});

describe('podMetadata: labels', () => {
  test('Fluent Bit, Vector and Filebeat shapes give the same labels', () => {
    const want = { 'k8s.namespace': 'shop', 'k8s.pod': 'api-7c9d8f6b5-x2kqp', 'k8s.container': 'server', 'k8s.node': 'node-1', 'k8s.workload': 'api' };
    expect(podMetadata({ kubernetes: { pod_name: 'api-7c9d8f6b5-x2kqp', namespace_name: 'shop', container_name: 'server', host: 'node-1' } })?.labels).toEqual(want);
    expect(podMetadata({ kubernetes: { pod_name: 'api-7c9d8f6b5-x2kqp', pod_namespace: 'shop', container_name: 'server', pod_node_name: 'node-1' } })?.labels).toEqual(want);
    expect(podMetadata({ kubernetes: { pod: { name: 'api-7c9d8f6b5-x2kqp' }, namespace: 'shop', container: { name: 'server' }, node: { name: 'node-1' } } })?.labels).toEqual(want);
  });

  test('only stated coordinates become labels; no kubernetes object, no metadata', () => {
    expect(podMetadata({ kubernetes: { container_name: 'server' } })?.labels).toEqual({ 'k8s.container': 'server' });
    expect(podMetadata({ kubernetes: { labels: { app: 'x' } } })).toBeNull();
    expect(podMetadata({ kubernetes: 'yes' })).toBeNull();
    expect(podMetadata({ log: 'x' })).toBeNull();
  });
});

describe('envelopes: service precedence and labels', () => {
  test('an explicit service field beats Kubernetes names; Kubernetes names beat a container name', () => {
    const k = { pod_name: 'frontend-579b9bff58-t2dbm', namespace_name: 'boutique', container_name: 'server', labels: { app: 'frontend' } };
    expect(unwrapLine(fluentBit(k, { service: 'storefront' })).service).toBe('storefront');
    expect(unwrapLine(fluentBit(k, { container_name: '/web' })).service).toBe('frontend');
    expect(unwrapLine(JSON.stringify({ date: 1, log: 'x', container_name: '/web' })).service).toBe('/web');
    const filebeat = { '@timestamp': '2024-11-21T10:00:05.120Z', message: 'x', input: { type: 'container' }, container: { name: 'k8s_server_frontend' }, kubernetes: { pod: { name: 'frontend-579b9bff58-t2dbm' }, namespace: 'boutique', container: { name: 'server' } } };
    expect(unwrapLine(JSON.stringify(filebeat)).service).toBe('frontend');
    expect(unwrapLine(JSON.stringify({ ...filebeat, service: { name: 'storefront' } })).service).toBe('storefront');
    const vector = { message: 'x', source_type: 'kubernetes_logs', kubernetes: { pod_name: 'kafka-0', pod_namespace: 'data', container_name: 'broker' } };
    expect(unwrapLine(JSON.stringify(vector)).service).toBe('kafka');
  });

  test('envelopes without Kubernetes metadata carry no labels', () => {
    expect(unwrapLine('plain line').labels).toEqual({});
    expect(unwrapLine(JSON.stringify({ file: '/var/log/app.log', host: 'h', message: 'x', source_type: 'file' })).labels).toEqual({});
  });

  test('two containers of one pod (an app and its sidecar) are two streams', () => {
    const k = { pod_name: 'frontend-579b9bff58-t2dbm', namespace_name: 'boutique', host: 'node-2' };
    const app = unwrapLine(fluentBit({ ...k, container_name: 'server' }));
    const sidecar = unwrapLine(fluentBit({ ...k, container_name: 'istio-proxy' }));
    expect(app.service).toBe(sidecar.service);
    expect(streamKeyOf(app)).not.toBe(streamKeyOf(sidecar));
    // Lines without Kubernetes metadata keep their stream keys (checkpoints stay valid).
    expect(streamKeyOf(unwrapLine(JSON.stringify({ date: 1, log: 'x', file: '/var/log/a.log' })))).toBe('fluent-bit||||/var/log/a.log');
  });
});
