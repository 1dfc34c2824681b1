#!/usr/bin/env node
// Writes JSON schemas for kubeconform, offline, from sources fetched as Go modules:
//   --swagger <k8s.io/kubernetes module>/api/openapi-spec/swagger.json   (core kinds)
//   --crd <CustomResourceDefinition YAML>                                 (repeatable)
// into <out>/v<version>-standalone-strict/<kind>-<group>-<version>.json, the layout of
// kubeconform's schema registry ({{ .ResourceKind }}{{ .KindSuffix }}.json), so that
//   kubeconform -strict -kubernetes-version <version> -schema-location <out>
// finds every kind here and never goes to the network. What the conversion does, as
// openapi2jsonschema does for the published kubernetes-json-schema:
//   - every $ref inlined ("standalone"); a recursive reference (JSONSchemaProps) becomes {};
//   - "strict": additionalProperties: false on every object with properties, except
//     where the schema keeps unknown fields (x-kubernetes-preserve-unknown-fields);
//   - int-or-string and resource.Quantity accept strings and numbers;
//   - optional fields of the core kinds accept null (as the API server does), CRD
//     fields where they say nullable: true;
//   - apiVersion and kind are pinned to the schema's own (enum).
// Usage: node k8s-schemas.mjs --version 1.37.2 --out DIR --swagger FILE [--crd FILE]... [--require name,...]
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';

function parseArgs(argv) {
  const a = { crd: [], require: [] };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const v = argv[++i];
    if (v === undefined) throw new Error(`${k} needs a value`);
    if (k === '--version') a.version = v;
    else if (k === '--out') a.out = v;
    else if (k === '--swagger') a.swagger = v;
    else if (k === '--crd') a.crd.push(v);
    else if (k === '--require') a.require.push(...v.split(',').filter(Boolean));
    else throw new Error(`unknown option ${k}`);
  }
  if (!a.version || !a.out || !a.swagger) throw new Error('usage: k8s-schemas.mjs --version V --out DIR --swagger FILE [--crd FILE]... [--require name,...]');
  return a;
}

const nullable = (t) => (Array.isArray(t) ? (t.includes('null') ? t : [...t, 'null']) : [t, 'null']);

/** kubeconform's file name: kind, then the first label of the group (if any), then the version. */
function fileName(group, version, kind) {
  const suffix = group ? `-${group.split('.')[0].toLowerCase()}-${version.toLowerCase()}` : `-${version.toLowerCase()}`;
  return `${kind.toLowerCase()}${suffix}.json`;
}

const INT_OR_STRING = 'io.k8s.apimachinery.pkg.util.intstr.IntOrString';
const QUANTITY = 'io.k8s.apimachinery.pkg.api.resource.Quantity';

/** One core definition, $refs inlined. `seen` holds the definitions on the path (recursion). */
function fromSwagger(schema, defs, seen) {
  if (schema === null || typeof schema !== 'object') return schema;
  if (Array.isArray(schema)) return schema.map((s) => fromSwagger(s, defs, seen));
  if (typeof schema.$ref === 'string') {
    const name = schema.$ref.replace(/^#\/definitions\//, '');
    if (name === INT_OR_STRING) return { oneOf: [{ type: 'string' }, { type: 'integer' }, { type: 'null' }] };
    if (name === QUANTITY) return { oneOf: [{ type: 'string' }, { type: 'number' }, { type: 'null' }] };
    if (seen.includes(name)) return {};
    const target = defs[name];
    if (!target) throw new Error(`swagger: unresolved $ref ${schema.$ref}`);
    const out = fromSwagger(target, defs, [...seen, name]);
    if (schema.description) out.description = schema.description;
    return out;
  }
  const out = {};
  for (const [k, v] of Object.entries(schema)) {
    if (k === 'properties') out.properties = Object.fromEntries(Object.entries(v).map(([p, s]) => [p, fromSwagger(s, defs, seen)]));
    else if (k === 'items' || k === 'additionalProperties' || k === 'not') out[k] = typeof v === 'object' ? fromSwagger(v, defs, seen) : v;
    else if (k === 'allOf' || k === 'anyOf' || k === 'oneOf') out[k] = v.map((s) => fromSwagger(s, defs, seen));
    else if (k === 'x-kubernetes-group-version-kind' || k === 'x-kubernetes-list-map-keys') continue;
    else out[k] = v;
  }
  if (out.format === 'int-or-string') {
    delete out.format;
    delete out.type;
    out.oneOf = [{ type: 'string' }, { type: 'integer' }, { type: 'null' }];
  }
  if (out.type !== undefined) out.type = nullable(out.type);
  strict(out);
  return out;
}

/** A CRD's openAPIV3Schema as JSON Schema (draft 4, which kubeconform compiles with). */
function fromCrd(schema) {
  if (schema === null || typeof schema !== 'object') return schema;
  if (Array.isArray(schema)) return schema.map(fromCrd);
  const out = {};
  for (const [k, v] of Object.entries(schema)) {
    if (k === 'properties') out.properties = Object.fromEntries(Object.entries(v).map(([p, s]) => [p, fromCrd(s)]));
    else if (k === 'items' || k === 'additionalProperties' || k === 'not') out[k] = typeof v === 'object' ? fromCrd(v) : v;
    else if (k === 'allOf' || k === 'anyOf' || k === 'oneOf') out[k] = v.map(fromCrd);
    else if (k === 'nullable') continue;
    else out[k] = v;
  }
  if (schema['x-kubernetes-int-or-string'] === true && !out.anyOf && !out.oneOf) {
    delete out.type;
    out.oneOf = [{ type: 'string' }, { type: 'integer' }];
  }
  if (schema.nullable === true) {
    if (out.type !== undefined) out.type = nullable(out.type);
    else if (out.oneOf) out.oneOf = [...out.oneOf, { type: 'null' }];
  }
  strict(out);
  return out;
}

function strict(s) {
  if (s.properties && s.additionalProperties === undefined && s['x-kubernetes-preserve-unknown-fields'] !== true) {
    s.additionalProperties = false;
  }
}

function pinIdentity(schema, apiVersion, kind) {
  schema.properties ??= {};
  schema.properties.apiVersion = { type: 'string', enum: [apiVersion] };
  schema.properties.kind = { type: 'string', enum: [kind] };
  schema.properties.metadata ??= { type: 'object' };
  schema.required = [...new Set([...(schema.required ?? []), 'apiVersion', 'kind'])];
  schema.type = 'object';
  strict(schema);
  return schema;
}

function main() {
  const args = parseArgs(process.argv.slice(2));
  const dir = join(args.out, `v${args.version.replace(/^v/, '')}-standalone-strict`);
  mkdirSync(dir, { recursive: true });
  const written = new Map();
  const write = (group, version, kind, schema, source) => {
    const name = fileName(group, version, kind);
    if (written.has(name)) return; // the first definition of a name wins (none collide in practice)
    const apiVersion = group ? `${group}/${version}` : version;
    writeFileSync(join(dir, name), JSON.stringify(pinIdentity(schema, apiVersion, kind)));
    written.set(name, source);
  };

  const swagger = JSON.parse(readFileSync(args.swagger, 'utf8'));
  const defs = swagger.definitions;
  let core = 0;
  for (const [name, def] of Object.entries(defs)) {
    for (const gvk of def['x-kubernetes-group-version-kind'] ?? []) {
      write(gvk.group, gvk.version, gvk.kind, fromSwagger(def, defs, [name]), 'swagger');
      core++;
    }
  }

  let crds = 0;
  for (const file of args.crd) {
    for (const doc of parseAllDocuments(readFileSync(file, 'utf8'))) {
      if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors[0].message}`);
      const crd = doc.toJS();
      if (!crd || crd.kind !== 'CustomResourceDefinition') continue;
      for (const v of crd.spec.versions ?? []) {
        const s = v.schema?.openAPIV3Schema;
        if (!s) throw new Error(`${file}: ${crd.spec.names.kind} ${v.name} has no openAPIV3Schema`);
        write(crd.spec.group, v.name, crd.spec.names.kind, fromCrd(s), file);
        crds++;
      }
    }
  }

  const missing = args.require.filter((n) => !existsSync(join(dir, `${n}.json`)));
  if (missing.length > 0) throw new Error(`schemas missing after conversion: ${missing.join(', ')}`);
  process.stdout.write(`k8s-schemas: ${written.size} schemas in ${dir} (${core} core kinds from swagger.json, ${crds} CRD versions)\n`);
}

try {
  main();
} catch (err) {
  process.stderr.write(`k8s-schemas: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}
