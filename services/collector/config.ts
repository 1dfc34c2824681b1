/** Collector settings (prefix SLUICE_COLLECTOR_), on top of the common ones. */
import type { Schema } from '../../shared/config.js';
import { commonSchema } from '../../shared/common-config.js';

export const collectorSchema = {
  groupId: { type: 'string', env: 'SLUICE_COLLECTOR_GROUP', default: 'sluice-collector', doc: 'Consumer group.' },
  adminPort: { type: 'int', env: 'SLUICE_COLLECTOR_ADMIN_PORT', default: 9701, min: 0, max: 65535, doc: 'Admin port (/metrics, /healthz, /readyz); 0 picks a free one.' },
  defaultTenant: { type: 'string', env: 'SLUICE_COLLECTOR_DEFAULT_TENANT', default: 'default', doc: "Tenant when the message has no 'tenant' header." },
  maxEventBytes: { type: 'int', env: 'SLUICE_COLLECTOR_MAX_EVENT_BYTES', default: 1_048_576, min: 1024, unit: 'bytes', doc: 'Longer events are truncated and flagged `truncated`.' },
} as const satisfies Schema;

export const schema = { ...commonSchema, ...collectorSchema } as const;
export const strictPrefixes = ['SLUICE_COLLECTOR_'] as const;
