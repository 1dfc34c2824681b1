#!/usr/bin/env node
// Adds lock entries for platform-specific optional packages that this machine's npm
// registry does not serve (it answers 404 for, e.g., @duckdb/node-bindings-darwin-arm64).
// `npm install` then silently leaves them out of package-lock.json, and `npm ci` refuses
// the lock as "out of sync". Each added entry carries the package's os/cpu, so npm
// skips it on other platforms without fetching anything; on the platform it is for,
// npm fetches it from the registry as usual.
// Run after changing dependencies: `npm install && npm run lock:platforms`.
import { readFileSync, writeFileSync } from 'node:fs';

const lockPath = new URL('../package-lock.json', import.meta.url);
const lock = JSON.parse(readFileSync(lockPath, 'utf8'));
const pkgs = lock.packages;

const OS = ['darwin', 'linux', 'win32', 'android', 'freebsd', 'openharmony', 'sunos', 'aix'];
const CPU = { 'arm-eabi': 'arm', arm: 'arm', arm64: 'arm64', x64: 'x64', ia32: 'ia32', loong64: 'loong64', ppc64: 'ppc64', riscv64: 'riscv64', s390x: 's390x', wasm32: 'wasm32' };

function platformOf(name) {
  const parts = name.split('/').pop().split('-');
  const os = parts.find((p) => OS.includes(p));
  const cpuIdx = parts.findIndex((p, i) => i > 0 && CPU[p]);
  if (!os || cpuIdx < 0) return undefined;
  const out = { os: [os], cpu: [CPU[parts[cpuIdx]]] };
  if (parts.includes('musl') || parts.includes('musleabihf')) out.libc = ['musl'];
  else if (os === 'linux' && (parts.includes('gnu') || parts.includes('gnueabihf'))) out.libc = ['glibc'];
  return out;
}

let added = 0;
for (const [path, meta] of Object.entries(pkgs)) {
  for (const [dep, range] of Object.entries(meta.optionalDependencies ?? {})) {
    const at = `node_modules/${dep}`;
    if (pkgs[at] || pkgs[`${path}/node_modules/${dep}`]) continue;
    const platform = platformOf(dep);
    if (!platform) {
      console.warn(`skipping ${dep}: cannot tell its platform from its name`);
      continue;
    }
    pkgs[at] = { version: range, dev: meta.dev || undefined, optional: true, ...platform };
    added++;
  }
}
writeFileSync(lockPath, JSON.stringify(lock, null, 2) + '\n');
console.log(`lockfile-platforms: added ${added} platform-specific optional entries`);
