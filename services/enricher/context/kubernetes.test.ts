import { createPathResolver, k8sFromAttributes, k8sFromPath } from './kubernetes.js';

const ID = '0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef';

describe('k8sFromPath', () => {
  test('CRI/Docker symlink under /var/log/containers', () => {
    expect(k8sFromPath(`/var/log/containers/ts-order-service-5d8f7b9c4-xk2lp_train-ticket_server-${ID}.log`)).toEqual({
      pod: 'ts-order-service-5d8f7b9c4-xk2lp', namespace: 'train-ticket', container: 'server', containerId: ID, workload: 'ts-order-service',
    });
  });

  test('any directory prefix (host mounts) works', () => {
    expect(k8sFromPath(`/host/var/log/containers/kafka-0_data_broker-${ID}.log`)?.workload).toBe('kafka');
  });

  test('kubelet pod directory /var/log/pods/<ns>_<pod>_<uid>/<container>/N.log, also rotated', () => {
    const want = { namespace: 'kube-system', pod: 'coredns-76f75df574-8xk2p', container: 'coredns', containerId: null, workload: 'coredns' };
    expect(k8sFromPath('/var/log/pods/kube-system_coredns-76f75df574-8xk2p_8a6b1f2e-3c4d-4e5f-8a9b-0c1d2e3f4a5b/coredns/0.log')).toEqual(want);
    expect(k8sFromPath('/var/log/pods/kube-system_coredns-76f75df574-8xk2p_8a6b1f2e-3c4d-4e5f-8a9b-0c1d2e3f4a5b/coredns/3.log.20240517-101500.gz')).toEqual(want);
    // Static pods have a 32-hex config hash as uid.
    expect(k8sFromPath('/var/log/pods/kube-system_etcd-node-1_0123456789abcdef0123456789abcdef/etcd/0.log')?.pod).toBe('etcd-node-1');
  });

  test('Docker json-file path gives the container id only', () => {
    expect(k8sFromPath(`/var/lib/docker/containers/${ID}/${ID}-json.log`)).toEqual({ namespace: null, pod: null, container: null, containerId: ID, workload: null });
  });

  test('other paths give nothing', () => {
    for (const p of ['/var/log/nginx/access.log', '/var/log/containers/readme.txt', '/var/log/pods/x/y.log', '', `/var/log/containers/UPPER_ns_c-${ID}.log`]) {
      expect(k8sFromPath(p)).toBeNull();
    }
  });

  test('the cached resolver returns the same answers', () => {
    const resolve = createPathResolver(2);
    const p = `/var/log/containers/web-0_shop_nginx-${ID}.log`;
    expect(resolve(p)).toEqual(k8sFromPath(p));
    expect(resolve(p)).toEqual(k8sFromPath(p));
    expect(resolve('/tmp/x.log')).toBeNull();
  });
});

describe('k8sFromAttributes', () => {
  test('Fluent Bit kubernetes filter fields', () => {
    expect(k8sFromAttributes({ 'kubernetes.pod_name': 'frontend-579b9bff58-t2dbm', 'kubernetes.namespace_name': 'boutique', 'kubernetes.container_name': 'server' })).toEqual({
      pod: 'frontend-579b9bff58-t2dbm', namespace: 'boutique', container: 'server', containerId: null, workload: 'frontend',
    });
  });
  test('OpenTelemetry resource attributes', () => {
    expect(k8sFromAttributes({ 'k8s.pod.name': 'api-7c9d8f6b5-abcde', 'k8s.namespace.name': 'prod' })?.namespace).toBe('prod');
  });
  test('none', () => expect(k8sFromAttributes({ thread: 'main' })).toBeNull());
});
