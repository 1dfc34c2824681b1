/**
 * Shipper envelopes: take ONE physical line as a shipper wrote it and return the inner
 * log line plus what the envelope says about it. Pure; no I/O, no clock.
 *
 * Recognised (first match wins; detection keys are chosen so that an application's own
 * JSON log, e.g. pino or ECS logging, is NOT mistaken for an envelope):
 * - CRI (containerd / CRI-O files): `<RFC3339Nano> <stdout|stderr> <P|F> <msg>`;
 *   `P` marks a partial line that continues in the next line of the same stream.
 * - Docker json-file: `{"log": "...\n", "stream": "stdout", "time": "..."}` (nothing else
 *   but optional `attrs`).
 * - Fluent Bit: a string `log` plus `date` (its default time key) or a `kubernetes`
 *   object, or `log` + `time` without `stream`.
 * - Filebeat / Elastic Agent: `@timestamp` + `message` + one of `agent.type`,
 *   `log.file.path`, `input.type` (an application's own ECS log has none of them).
 * - Vector: `message` + `source_type`.
 * - rsyslog JSON templates: `msg`/`message`/`rawmsg` + one of `programname`,
 *   `syslogtag`, `timereported`, `fromhost`, `fromhost-ip`.
 * - syslog-ng `format-json`: upper-case `MESSAGE`/`MSG` + `HOST`, `PROGRAM` or `ISODATE`.
 * - anything else is a bare line (`shipper` null), returned unchanged.
 * A format hint is set only from an explicit envelope field (`format`, Filebeat
 * `fields.format` / `labels.format`). A shipper that forwards a CRI line inside its own
 * envelope (tailing containerd files without a CRI parser) is unwrapped twice.
 *
 * The service of a Fluent Bit, Vector or Filebeat / Elastic Agent envelope is the first of:
 * an explicit field (`service.name`, `service`; Vector's syslog `appname`), the pod's
 * Kubernetes metadata (pod-metadata.ts: service annotation, app labels, workload,
 * container), a container name outside Kubernetes (Docker `container_name`,
 * `container.name`). A Kafka `service` header wins over the envelope (collect.ts).
 * The pod's coordinates become `labels` (`k8s.namespace`, `k8s.pod`, `k8s.container`,
 * `k8s.node`, `k8s.workload`).
 *
 * The inner body loses one trailing newline. A body that is not a string (a shipper that
 * already decoded JSON) is re-serialised as JSON text, so the normalizer reads it as JSON.
 * Other fields of the envelope that RawEvent has no place for (shipper labels, severity,
 * offsets) are not kept.
 */
import { at, first, isObject, text, type Json, type JsonObject } from './json-fields.js';
import { podMetadata } from './pod-metadata.js';

export interface Unwrapped {
  shipper: string | null;
  body: string;
  host: string | null;
  service: string | null;
  file: string | null;
  /** The envelope's own time stamp, verbatim (numbers as their decimal text). */
  envelopeTime: string | null;
  /** A format hint, only when the envelope states one. */
  format: string | null;
  /** Stream within a source (stdout/stderr) when the envelope names it; lines merge only within one stream. */
  stream: string | null;
  /** CRI `P`: this line is continued by the next line of the same stream. */
  partial: boolean;
  /** Labels the envelope states (Kubernetes coordinates); `NO_LABELS` when none. Never mutated. */
  labels: Readonly<Record<string, string>>;
}

/** The labels of an envelope that states none, shared. */
export const NO_LABELS: Readonly<Record<string, string>> = Object.freeze({});

const CRI = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})) (stdout|stderr) ([PF])(?: (.*))?$/s;

function bare(line: string): Unwrapped {
  return { shipper: null, body: line, host: null, service: null, file: null, envelopeTime: null, format: null, stream: null, partial: false, labels: NO_LABELS };
}

function bodyOf(v: Json | undefined): string {
  if (v === undefined || v === null) return '';
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  return s.replace(/\r?\n$/, '');
}

function parseObject(line: string): JsonObject | null {
  const t = line.trim();
  if (!t.startsWith('{') || !t.endsWith('}')) return null;
  try {
    const v = JSON.parse(t) as Json;
    return isObject(v) ? v : null;
  } catch {
    return null;
  }
}

function envelope(shipper: string, obj: JsonObject, body: Json | undefined, f: Partial<Omit<Unwrapped, 'shipper' | 'body'>>): Unwrapped {
  return {
    shipper,
    body: bodyOf(body),
    host: f.host ?? null,
    service: f.service ?? null,
    file: f.file ?? null,
    envelopeTime: f.envelopeTime ?? null,
    format: f.format ?? text(obj['format']),
    stream: f.stream ?? null,
    partial: false,
    labels: f.labels ?? NO_LABELS,
  };
}

/** Explicit service fields, which win over Kubernetes-derived names. */
const SERVICE_FIELDS = ['service.name', 'service'] as const;

/** The service by the precedence in the module comment, and the pod's labels. */
function serviceAndLabels(o: JsonObject, explicit: readonly string[], containers: readonly string[]): Pick<Unwrapped, 'service' | 'labels'> {
  const pod = podMetadata(o);
  return {
    service: first(o, explicit) ?? pod?.service ?? first(o, containers),
    labels: pod === null ? NO_LABELS : pod.labels,
  };
}

const DOCKER_KEYS = new Set(['log', 'stream', 'time', 'attrs']);

function fromObject(o: JsonObject): Unwrapped | null {
  // Docker json-file: exactly its own keys.
  if (typeof o['log'] === 'string' && typeof o['stream'] === 'string' && typeof o['time'] === 'string' && Object.keys(o).every((k) => DOCKER_KEYS.has(k))) {
    return envelope('docker', o, o['log'], { envelopeTime: o['time'], stream: o['stream'], service: first(o, ['attrs.tag', 'attrs.name']), format: null });
  }
  // Fluent Bit: `date` is its default time key; the kubernetes filter adds `kubernetes`.
  if (typeof o['log'] === 'string' && ('date' in o || isObject(o['kubernetes']) || ('time' in o && !('stream' in o)))) {
    return envelope('fluent-bit', o, o['log'], {
      envelopeTime: text(o['date']) ?? text(o['time']),
      host: first(o, ['kubernetes.host', 'host', 'hostname']),
      ...serviceAndLabels(o, SERVICE_FIELDS, ['container_name']),
      file: first(o, ['file', 'path', 'filename']),
      stream: text(o['stream']),
    });
  }
  // Filebeat / Elastic Agent.
  if ('@timestamp' in o && 'message' in o && (text(at(o, 'agent.type')) !== null || text(at(o, 'log.file.path')) !== null || text(at(o, 'input.type')) !== null)) {
    const agent = text(at(o, 'agent.type'));
    return envelope(agent === 'elastic-agent' || text(at(o, 'elastic_agent.id')) !== null ? 'elastic-agent' : 'filebeat', o, o['message'], {
      envelopeTime: text(o['@timestamp']),
      host: first(o, ['host.name', 'host.hostname', 'host']),
      ...serviceAndLabels(o, SERVICE_FIELDS, ['container.name']),
      file: first(o, ['log.file.path']),
      stream: first(o, ['stream']),
      format: first(o, ['fields.format', 'labels.format', 'format']),
    });
  }
  // Vector.
  if ('message' in o && typeof o['source_type'] === 'string') {
    return envelope('vector', o, o['message'], {
      envelopeTime: text(o['timestamp']),
      host: first(o, ['host', 'hostname', 'kubernetes.pod_node_name']),
      ...serviceAndLabels(o, [...SERVICE_FIELDS, 'appname'], ['container_name']),
      file: first(o, ['file', 'kubernetes.file']),
      stream: text(o['stream']),
    });
  }
  // rsyslog JSON template (property names, possibly renamed by the template).
  const rsMsg = ['msg', 'message', 'rawmsg'].find((k) => k in o);
  if (rsMsg !== undefined && ['programname', 'syslogtag', 'timereported', 'fromhost', 'fromhost-ip'].some((k) => k in o)) {
    // rsyslog's %msg% keeps the space that separates it from the syslog header.
    const msg = o[rsMsg];
    return envelope('rsyslog', o, typeof msg === 'string' ? msg.replace(/^ /, '') : msg, {
      envelopeTime: first(o, ['timereported', 'timegenerated', '@timestamp', 'timestamp']),
      host: first(o, ['hostname', 'host', 'fromhost']),
      service: first(o, ['programname', 'app-name', 'appname']),
    });
  }
  // syslog-ng format-json (macro names are upper case).
  const ngMsg = ['MESSAGE', 'MSG'].find((k) => k in o);
  if (ngMsg !== undefined && ['HOST', 'PROGRAM', 'ISODATE'].some((k) => k in o)) {
    return envelope('syslog-ng', o, o[ngMsg], {
      envelopeTime: first(o, ['ISODATE', 'DATE', 'R_ISODATE']),
      host: first(o, ['HOST', 'HOST_FROM']),
      service: first(o, ['PROGRAM']),
      file: first(o, ['FILE_NAME']),
    });
  }
  return null;
}

/** Unwrap one physical line (without its newline). */
export function unwrapLine(line: string): Unwrapped {
  const c = CRI.exec(line);
  if (c) {
    return { shipper: 'cri', body: c[4] ?? '', host: null, service: null, file: null, envelopeTime: c[1] as string, format: null, stream: c[2] as string, partial: c[3] === 'P', labels: NO_LABELS };
  }
  const obj = parseObject(line);
  let env: Unwrapped | null = null;
  try {
    env = obj && fromObject(obj);
  } catch (err) {
    // A non-string body nested ~10,000 deep overflows JSON.stringify (bodyOf); such a line
    // is kept whole as a bare line rather than thrown out of the collector.
    if (!(err instanceof Error && err.name === 'RangeError')) throw err;
  }
  if (!env) return bare(line);
  // A shipper tailing containerd files without a CRI parser forwards the CRI line whole.
  const inner = CRI.exec(env.body);
  if (inner) return { ...env, body: inner[4] ?? '', stream: inner[2] as string, partial: inner[3] === 'P' };
  return env;
}
