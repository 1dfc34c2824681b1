/**
 * The service catalog: service -> team, tier, owner, read once at start-up from a JSON
 * file (SLUICE_ENRICHER_CATALOG_FILE) and looked up per record without I/O.
 *
 * File format (see testdata/catalog.json):
 *
 *   { "services": { "<service name>": { "team": "...", "tier": "...", "owner": "..." } } }
 *
 * Every field is optional; values are strings (a number tier such as 1 is read as "1").
 * Unknown keys are errors, so a typo fails at start-up rather than silently labelling
 * nothing. Service names match exactly.
 */
import { ConfigError } from '../../../shared/errors.js';

export interface CatalogEntry {
  team?: string;
  tier?: string;
  owner?: string;
}

export type ServiceCatalog = ReadonlyMap<string, Readonly<CatalogEntry>>;

const FIELDS = ['team', 'tier', 'owner'] as const;

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Parse catalog JSON text; `origin` names the file in error messages. Throws ConfigError. */
export function parseCatalog(text: string, origin = 'catalog'): ServiceCatalog {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`${origin}: not valid JSON (${err instanceof Error ? err.message : String(err)})`);
  }
  if (!isObject(doc) || !isObject(doc['services'])) throw new ConfigError(`${origin}: expected {"services": {"<name>": {...}}}`);
  for (const k of Object.keys(doc)) if (k !== 'services') throw new ConfigError(`${origin}: unknown top-level key "${k}"`);
  const out = new Map<string, CatalogEntry>();
  for (const [name, raw] of Object.entries(doc['services'])) {
    if (!isObject(raw)) throw new ConfigError(`${origin}: services["${name}"] is not an object`);
    const entry: CatalogEntry = {};
    for (const [k, v] of Object.entries(raw)) {
      if (!(FIELDS as readonly string[]).includes(k)) throw new ConfigError(`${origin}: services["${name}"].${k} is not one of ${FIELDS.join(', ')}`);
      if (typeof v !== 'string' && typeof v !== 'number') throw new ConfigError(`${origin}: services["${name}"].${k} must be a string`);
      if (String(v) !== '') entry[k as (typeof FIELDS)[number]] = String(v);
    }
    out.set(name, entry);
  }
  return out;
}

/** Read and parse the catalog at `path` with the caller's file reader (called once). */
export function loadCatalog(path: string, readFile: (path: string) => string): ServiceCatalog {
  let text: string;
  try {
    text = readFile(path);
  } catch (err) {
    throw new ConfigError(`SLUICE_ENRICHER_CATALOG_FILE=${path}: cannot read (${err instanceof Error ? err.message : String(err)})`);
  }
  return parseCatalog(text, path);
}
