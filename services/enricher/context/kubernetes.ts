/**
 * Kubernetes coordinates from what a log carries, with no API server:
 *
 * - CRI/Docker symlinks `/var/log/containers/<pod>_<namespace>_<container>-<64 hex id>.log`
 *   (the names the kubelet gives them; any directory prefix, e.g. a host mount);
 * - kubelet pod logs `/var/log/pods/<namespace>_<pod>_<uid>/<container>/<N>.log`
 *   (also rotated `N.log.<date>` and `.gz`);
 * - Docker json-file logs `/var/lib/docker/containers/<id>/<id>-json.log` (container id only);
 * - flattened attributes written by shippers: Fluent Bit/Fluentd `kubernetes.pod_name`,
 *   `kubernetes.namespace_name`, `kubernetes.container_name`, and OpenTelemetry
 *   `k8s.pod.name`, `k8s.namespace.name`, `k8s.container.name`.
 *
 * The workload is the pod name without the suffixes controllers add (`workloadOf`,
 * shared/kubernetes.ts, the same rule the collector names services by).
 */
import { workloadOf } from '../../../shared/kubernetes.js';
import { memoize } from './memo.js';

export interface K8sInfo {
  namespace: string | null;
  pod: string | null;
  container: string | null;
  containerId: string | null;
  /** `workloadOf(pod)`; null without a pod. */
  workload: string | null;
}

// Names are DNS-1123 labels/subdomains: lower-case alphanumerics, '-' and (pods) '.'.
// Each regex is anchored at the start of what it reads (a base name, or the text after
// "pods/"), so matching is linear.
const CONTAINERS_RE = /^([a-z0-9][a-z0-9.-]*)_([a-z0-9][a-z0-9-]*)_([a-z0-9][a-z0-9-]*)-([0-9a-f]{64})\.log$/;
const PODS_RE = /^([a-z0-9][a-z0-9-]*)_([a-z0-9][a-z0-9.-]*)_([0-9a-f-]{32,36})\/([a-z0-9][a-z0-9-]*)\/\d+\.log(?:\.[0-9A-Za-z.-]+)?$/;
const DOCKER_RE = /^([0-9a-f]{64})\/\1-json\.log(?:\.\d+)?$/;

/** Kubernetes coordinates from a log file path, or null when the path has none (see the module contract). */
export function k8sFromPath(file: string): K8sInfo | null {
  const base = file.slice(file.lastIndexOf('/') + 1);
  if (base.endsWith('.log') && base.length > 69) {
    const m = CONTAINERS_RE.exec(base);
    if (m) return { pod: m[1]!, namespace: m[2]!, container: m[3]!, containerId: m[4]!, workload: workloadOf(m[1]!) };
  }
  const pods = file.lastIndexOf('pods/');
  if (pods >= 0) {
    const m = PODS_RE.exec(file.slice(pods + 5));
    if (m) return { namespace: m[1]!, pod: m[2]!, container: m[4]!, containerId: null, workload: workloadOf(m[2]!) };
  }
  const containers = file.lastIndexOf('containers/');
  if (containers >= 0) {
    const m = DOCKER_RE.exec(file.slice(containers + 11));
    if (m) return { namespace: null, pod: null, container: null, containerId: m[1]!, workload: null };
  }
  return null;
}

/**
 * `k8sFromPath` behind a bounded LRU cache: a node has few log files, each seen for
 * many records.
 */
export function createPathResolver(cacheSize: number): (file: string) => K8sInfo | null {
  return memoize(cacheSize, k8sFromPath);
}

const ATTR_KEYS = {
  pod: ['kubernetes.pod_name', 'k8s.pod.name'],
  namespace: ['kubernetes.namespace_name', 'k8s.namespace.name'],
  container: ['kubernetes.container_name', 'k8s.container.name'],
  containerId: ['kubernetes.docker_id', 'container.id'],
} as const;

function first(attrs: Readonly<Record<string, string>>, keys: readonly string[]): string | null {
  for (const k of keys) {
    const v = attrs[k];
    if (v !== undefined && v !== '') return v;
  }
  return null;
}

/** Kubernetes coordinates from shipper attributes, or null when there are none. */
export function k8sFromAttributes(attrs: Readonly<Record<string, string>>): K8sInfo | null {
  const pod = first(attrs, ATTR_KEYS.pod);
  const namespace = first(attrs, ATTR_KEYS.namespace);
  const container = first(attrs, ATTR_KEYS.container);
  const containerId = first(attrs, ATTR_KEYS.containerId);
  if (pod === null && namespace === null && container === null) return null;
  return { pod, namespace, container, containerId, workload: pod === null ? null : workloadOf(pod) };
}
