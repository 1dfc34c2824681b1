/** Enricher settings (prefix SLUICE_ENRICHER_), on top of the common ones. */
import type { Schema } from '../../shared/config.js';
import { commonSchema } from '../../shared/common-config.js';

export const enricherSchema = {
  groupId: { type: 'string', env: 'SLUICE_ENRICHER_GROUP', default: 'sluice-enricher', doc: 'Consumer group.' },
  adminPort: { type: 'int', env: 'SLUICE_ENRICHER_ADMIN_PORT', default: 9703, min: 0, max: 65535, doc: 'Admin port; 0 picks a free one.' },
} as const satisfies Schema;

export const schema = { ...commonSchema, ...enricherSchema } as const;
export const strictPrefixes = ['SLUICE_ENRICHER_'] as const;
