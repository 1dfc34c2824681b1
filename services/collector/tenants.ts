/** The collector's tenant gate (shared/tenants.ts) with its metrics: refusals per tenant and code, delays per tenant. */
import type { Registry } from '../../shared/metrics.js';
import { TenantPolicy, type TenantsConfig } from '../../shared/tenants.js';
import type { TenantGate } from './stages.js';

export function tenantGate(config: TenantsConfig, registry: Registry): TenantGate {
  const refused = registry.counter('sluice_tenant_refused_total', 'Raw lines or events refused by sluice.yaml tenants (allow-list, rate limits) and dead-lettered, by tenant and code.', ['tenant', 'code']);
  const delayed = registry.counter('sluice_tenant_delayed_total', 'Events over their tenant\'s rate limit written to the delay topic, released at their reserved slot (sluice.yaml tenants.limits, over_limit: delay), by tenant.', ['tenant']);
  return {
    policy: new TenantPolicy(config),
    onRefused: (tenant, code) => refused.inc({ tenant, code }),
    onDelayed: (tenant) => delayed.inc({ tenant }),
  };
}
