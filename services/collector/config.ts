/** Collector settings (prefix SLUICE_COLLECTOR_), on top of the common ones. */
import type { Schema } from '../../shared/config.js';
import { commonSchema } from '../../shared/common-config.js';

export const collectorSchema = {
  groupId: { type: 'string', env: 'SLUICE_COLLECTOR_GROUP', default: 'sluice-collector', doc: 'Consumer group.' },
  adminPort: { type: 'int', env: 'SLUICE_COLLECTOR_ADMIN_PORT', default: 9701, min: 0, max: 65535, doc: 'Admin port (/metrics, /healthz, /readyz); 0 picks a free one.' },
  defaultTenant: { type: 'string', env: 'SLUICE_COLLECTOR_DEFAULT_TENANT', default: 'default', doc: "Tenant when the message has no 'tenant' header." },
  maxEventBytes: { type: 'int', env: 'SLUICE_COLLECTOR_MAX_EVENT_BYTES', default: 1_048_576, min: 1024, unit: 'bytes', doc: 'Longer events are truncated and flagged `truncated`.' },
  multilineTimeoutMs: { type: 'int', env: 'SLUICE_COLLECTOR_MULTILINE_TIMEOUT_MS', default: 2000, min: 10, unit: 'ms', doc: 'A multi-line event is emitted once its stream has been quiet this long (or when the next event of the stream starts).' },
  maxEventLines: { type: 'int', env: 'SLUICE_COLLECTOR_MAX_EVENT_LINES', default: 1000, min: 1, doc: 'Most lines merged into one event; a longer trace continues in a new event.' },
  maxHeldStreams: { type: 'int', env: 'SLUICE_COLLECTOR_MAX_HELD_STREAMS', default: 128, min: 1, max: 256, doc: 'Most streams per partition holding an unfinished multi-line event; beyond it the oldest is emitted early. Bounds memory and the checkpoint committed with the offsets.' },
} as const satisfies Schema;

export const schema = { ...commonSchema, ...collectorSchema } as const;
export const strictPrefixes = ['SLUICE_COLLECTOR_'] as const;
