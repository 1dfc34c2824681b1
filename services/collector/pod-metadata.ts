/**
 * Kubernetes pod metadata that shippers put in their envelope's `kubernetes` object, read
 * with one table for every shape (the shapes' field names do not collide):
 *
 * | coordinate  | Fluent Bit / Fluentd filter | Vector `kubernetes_logs` | Filebeat / Elastic Agent `add_kubernetes_metadata` |
 * | ----------- | --------------------------- | ------------------------ | -------------------------------------------------- |
 * | pod         | `pod_name`                  | `pod_name`               | `pod.name`                                         |
 * | namespace   | `namespace_name`            | `pod_namespace`          | `namespace` (or `namespace.name`)                  |
 * | container   | `container_name`            | `container_name`         | `container.name`                                   |
 * | node        | `host`                      | `pod_node_name`          | `node.name`                                        |
 * | labels      | `labels`                    | `pod_labels`             | `labels` (dots in keys become `_` by default)      |
 * | annotations | `annotations`               | `pod_annotations`        | `annotations` (likewise)                           |
 * | controller  | -                           | `pod_owner` (`Kind/name`)| `deployment.name`, `statefulset.name`, `daemonset.name`, `cronjob.name`, `replicaset.name`, `job.name` |
 *
 * The service a pod's lines belong to is the first of (OpenTelemetry's k8s service.name
 * rules, with Promtail's label order, which ranks `app.kubernetes.io/instance`, often a
 * Helm release name, after the other app labels):
 * 1. annotation `resource.opentelemetry.io/service.name`;
 * 2. label `app.kubernetes.io/name`, `app`, `k8s-app`, `app.kubernetes.io/instance`;
 * 3. the workload: the controller the shipper names (a ReplicaSet or Job name without
 *    its generated suffix, `ownerWorkloadOf`), else the pod name without the suffixes
 *    controllers add (`workloadOf`: `frontend-579b9bff58-t2dbm` -> `frontend`,
 *    `kafka-0` -> `kafka`);
 * 4. the container name.
 * An explicit service field of the envelope wins over all of these (envelopes.ts).
 */
import { K8S_LABELS, ownerWorkloadOf, workloadOf } from '../../shared/kubernetes.js';
import { at, first, isObject, text, type JsonObject } from './json-fields.js';

/** What an envelope says about the pod a line came from. */
export interface PodMetadata {
  /** The service name by the rules above; null only when no pod, workload or container is named. */
  service: string | null;
  /** The coordinates stated, under `K8S_LABELS` names (namespace, pod, container, node, workload). */
  labels: Record<string, string>;
}

/** Paths under `kubernetes` for each coordinate, covering every shape in the table above. */
const FIELDS = {
  pod: ['pod_name', 'pod.name'],
  namespace: ['namespace_name', 'pod_namespace', 'namespace', 'namespace.name'],
  container: ['container_name', 'container.name'],
  node: ['host', 'pod_node_name', 'node.name'],
  labels: ['labels', 'pod_labels'],
  annotations: ['annotations', 'pod_annotations'],
} as const;

/** Filebeat's controller names, best first; their names are the workload as they are. */
const CONTROLLERS = ['deployment.name', 'statefulset.name', 'daemonset.name', 'cronjob.name'] as const;
/** Filebeat's owners whose names carry a generated suffix (pod-template-hash, schedule time). */
const OWNERS = ['replicaset.name', 'job.name'] as const;
/** Vector `pod_owner` kinds that are workloads; others (a static pod's `Node`) are not. */
const OWNER_KINDS = new Set(['ReplicaSet', 'Job', 'Deployment', 'StatefulSet', 'DaemonSet', 'CronJob']);

const SERVICE_ANNOTATION = 'resource.opentelemetry.io/service.name';
const SERVICE_LABELS = ['app.kubernetes.io/name', 'app', 'k8s-app', 'app.kubernetes.io/instance'] as const;

function firstObject(k: JsonObject, paths: readonly string[]): JsonObject | null {
  for (const p of paths) {
    const v = at(k, p);
    if (isObject(v)) return v;
  }
  return null;
}

/** A label or annotation by its Kubernetes key, also in Filebeat's de-dotted spelling (`app_kubernetes_io/name`). */
function keyed(map: JsonObject | null, key: string): string | null {
  if (map === null) return null;
  return text(map[key]) ?? (key.includes('.') ? text(map[key.replaceAll('.', '_')]) : null);
}

function controllerOf(k: JsonObject): string | null {
  const named = first(k, CONTROLLERS);
  if (named !== null) return named;
  const owner = first(k, OWNERS);
  if (owner !== null) return ownerWorkloadOf(owner);
  const ref = text(k['pod_owner']);
  const slash = ref === null ? -1 : ref.indexOf('/');
  if (ref === null || slash <= 0 || slash === ref.length - 1) return null;
  const kind = ref.slice(0, slash);
  if (!OWNER_KINDS.has(kind)) return null;
  const name = ref.slice(slash + 1);
  return kind === 'ReplicaSet' || kind === 'Job' ? ownerWorkloadOf(name) : name;
}

/** The pod metadata of a JSON envelope, or null when it has no `kubernetes` object naming a pod, namespace or container. */
export function podMetadata(envelope: JsonObject): PodMetadata | null {
  const k = envelope['kubernetes'];
  if (!isObject(k)) return null;
  const pod = first(k, FIELDS.pod);
  const namespace = first(k, FIELDS.namespace);
  const container = first(k, FIELDS.container);
  if (pod === null && namespace === null && container === null) return null;
  const node = first(k, FIELDS.node);
  const workload = controllerOf(k) ?? (pod === null ? null : workloadOf(pod));

  let service = keyed(firstObject(k, FIELDS.annotations), SERVICE_ANNOTATION);
  if (service === null) {
    const labels = firstObject(k, FIELDS.labels);
    for (const key of SERVICE_LABELS) {
      service = keyed(labels, key);
      if (service !== null) break;
    }
  }
  service ??= workload ?? container;

  const labels: Record<string, string> = {};
  if (namespace !== null) labels[K8S_LABELS.namespace] = namespace;
  if (pod !== null) labels[K8S_LABELS.pod] = pod;
  if (container !== null) labels[K8S_LABELS.container] = container;
  if (node !== null) labels[K8S_LABELS.node] = node;
  if (workload !== null) labels[K8S_LABELS.workload] = workload;
  return { service, labels };
}
