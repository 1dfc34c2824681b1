/** The collector's tenant gate (shared/tenants.ts) with its metric: refusals per tenant and code. */
import type { Registry } from '../../shared/metrics.js';
import { TenantPolicy, type TenantsConfig } from '../../shared/tenants.js';
import type { TenantGate } from './stages.js';

export function tenantGate(config: TenantsConfig, registry: Registry): TenantGate {
  const refused = registry.counter('sluice_tenant_refused_total', 'Raw lines refused by sluice.yaml tenants (allow-list, rate limits) and dead-lettered, by tenant and code.', ['tenant', 'code']);
  return { policy: new TenantPolicy(config), onRefused: (tenant, code) => refused.inc({ tenant, code }) };
}
