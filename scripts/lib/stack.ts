/**
 * Drives `scripts/stack` from Node: is the local stack up, bring it up, take it down.
 * The stack is only managed when no external endpoint is configured.
 */
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from '../../shared/schemas.js';

const ENDPOINT_VARS = ['SLUICE_KAFKA_BROKERS', 'SLUICE_REGISTRY_URL', 'SLUICE_ES_URL', 'SLUICE_S3_ENDPOINT'];

/** True when the user pointed Sluice at servers of their own. */
export function externalEndpointsConfigured(env: NodeJS.ProcessEnv = process.env): boolean {
  return ENDPOINT_VARS.some((v) => (env[v] ?? '') !== '');
}

const script = () => join(repoRoot(), 'scripts', 'stack');

export function stackIsUp(): boolean {
  return spawnSync('bash', [script(), 'status'], { stdio: 'ignore' }).status === 0;
}

/** Run `scripts/stack <cmd>`, streaming its output; rejects on a non-zero exit. */
export function stack(cmd: 'up' | 'down' | 'status'): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [script(), cmd], { stdio: ['ignore', 'inherit', 'inherit'] });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`scripts/stack ${cmd} exited with ${code}`))));
  });
}
