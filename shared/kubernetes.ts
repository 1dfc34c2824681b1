/**
 * Kubernetes naming rules shared by the collector (shipper metadata) and the enricher
 * (log paths, attributes). Pure; imports nothing from services/.
 */

/**
 * Label names (LogRecord.labels, RawEvent.labels) for a record's Kubernetes coordinates.
 * Sluice's own short names, one vocabulary for the collector (shipper metadata) and the
 * enricher (log paths); `container.id` is ECS/OTel's.
 */
export const K8S_LABELS = {
  namespace: 'k8s.namespace',
  pod: 'k8s.pod',
  container: 'k8s.container',
  /** The node the pod runs on. */
  node: 'k8s.node',
  /** The controller's name (`workloadOf(pod)` unless the shipper names the owner). */
  workload: 'k8s.workload',
  containerId: 'container.id',
} as const;

// Kubernetes' rand.SafeEncodeString alphabet (no vowels, no 0/1/3), used for the
// pod-template-hash and the 5-character pod suffix.
const SAFE = /^[bcdfghjklmnpqrstvwxz2456789]+$/;

function safe(s: string, min: number, max: number): boolean {
  return s.length >= min && s.length <= max && SAFE.test(s);
}

/**
 * The workload (Deployment, StatefulSet, DaemonSet, Job, CronJob) a pod belongs to,
 * from its generated name:
 * - Deployment `<name>-<pod-template-hash, 6..10>-<5>`: `ts-order-service-5d8f7b9c4-xk2lp` -> `ts-order-service`;
 * - CronJob `<name>-<scheduled minutes, 8..10 digits>-<5>`: `backup-28472640-x7k2p` -> `backup`;
 * - DaemonSet, Job, bare ReplicaSet `<name>-<5>`: `fluent-bit-x7k2p` -> `fluent-bit`;
 * - StatefulSet `<name>-<ordinal>`: `kafka-0` -> `kafka`.
 * A name without a controller suffix is its own workload (a bare pod).
 */
export function workloadOf(pod: string): string {
  const last = pod.lastIndexOf('-');
  if (last <= 0) return pod;
  const suffix = pod.slice(last + 1);
  if (suffix.length === 5 && SAFE.test(suffix)) {
    const prev = pod.lastIndexOf('-', last - 1);
    if (prev > 0) {
      const hash = pod.slice(prev + 1, last);
      if (safe(hash, 6, 10) || /^\d{8,10}$/.test(hash)) return pod.slice(0, prev);
    }
    return pod.slice(0, last);
  }
  if (/^(?:0|[1-9]\d{0,4})$/.test(suffix)) return pod.slice(0, last);
  return pod;
}

/**
 * The Deployment a ReplicaSet belongs to, or the CronJob a Job belongs to, from the
 * controller's generated name (`<deployment>-<pod-template-hash>`,
 * `<cronjob>-<scheduled minutes>`); any other name is returned unchanged. For shippers
 * that name the pod's owner (Filebeat `kubernetes.replicaset.name`, `kubernetes.job.name`).
 */
export function ownerWorkloadOf(controller: string): string {
  const last = controller.lastIndexOf('-');
  if (last <= 0) return controller;
  const suffix = controller.slice(last + 1);
  return safe(suffix, 6, 10) || /^\d{8,10}$/.test(suffix) ? controller.slice(0, last) : controller;
}
