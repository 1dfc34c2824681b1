/**
 * `npm test`: type-check the tests, bring the local stack up when no external
 * endpoints are configured (and it is not already running), run every jest project,
 * and take the stack down again if this run started it. Exit code is jest's.
 *
 * The Parquet reader checks need pyarrow (PyPI): when the system python3 has none, a
 * project-local `.venv` is created and pyarrow installed into it on first use, and the
 * tests run that interpreter ($SLUICE_PYTHON). Nothing is installed system-wide.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from '../shared/schemas.js';
import { pythonWith } from './lib/python.js';
import { externalEndpointsConfigured, stack, stackIsUp } from './lib/stack.js';

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: 'inherit', env, cwd: repoRoot() });
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

async function main(): Promise<number> {
  const root = repoRoot();
  const python = await pythonWith('pyarrow', 'pyarrow', 'test');
  const tsc = await run(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.test.json']);
  if (tsc !== 0) return tsc;

  let started = false;
  if (!externalEndpointsConfigured() && !stackIsUp()) {
    console.log('[test] starting the local stack (scripts/stack up)');
    await stack('up');
    started = true;
  }
  const stop = async () => {
    if (started) {
      started = false;
      console.log('[test] stopping the local stack this run started');
      await stack('down').catch((err: unknown) => console.error(String(err)));
    }
  };
  process.on('SIGINT', () => void stop().then(() => process.exit(130)));
  process.on('SIGTERM', () => void stop().then(() => process.exit(143)));
  try {
    // --forceExit: a handle some test leaks (a client left open after a failure) must not
    // keep CI waiting after the last test; the results are printed before it exits.
    const args = [join(root, 'node_modules', 'jest', 'bin', 'jest.js'), '--runInBand', '--forceExit', ...process.argv.slice(2)];
    const env = { ...process.env, SLUICE_PYTHON: python, NODE_OPTIONS: `${process.env['NODE_OPTIONS'] ?? ''} --experimental-vm-modules`.trim() };
    return await run(process.execPath, args, env);
  } finally {
    await stop();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : String(err));
    process.exit(1);
  },
);
