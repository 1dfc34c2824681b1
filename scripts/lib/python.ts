/**
 * A python3 that can import a given module, for the scripts that need one (pyarrow for
 * the Parquet reader checks of `npm test`, matplotlib for `npm run soak`'s plot):
 * $SLUICE_PYTHON or the system python3 when it has the module, else the project-local
 * `.venv`, created on first use, with the module installed into it from PyPI. Nothing
 * is installed system-wide.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../../shared/schemas.js';

function run(cmd: string, args: string[]): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: 'inherit', cwd: repoRoot() });
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

/** The interpreter; `module` is imported to check, `pipPackage` installed when missing; `tag` prefixes the messages. */
export async function pythonWith(module: string, pipPackage: string, tag: string): Promise<string> {
  const has = (python: string) => spawnSync(python, ['-c', `import ${module}`], { stdio: 'ignore' }).status === 0;
  if (process.env['SLUICE_PYTHON'] && has(process.env['SLUICE_PYTHON'])) return process.env['SLUICE_PYTHON'];
  if (has('python3')) return 'python3';
  const venv = join(repoRoot(), '.venv');
  const venvPython = join(venv, 'bin', 'python');
  if (!existsSync(venvPython)) {
    console.log(`[${tag}] creating .venv for ${pipPackage}`);
    if ((await run('python3', ['-m', 'venv', venv])) !== 0) throw new Error(`python3 -m venv failed: install python3-venv (Debian) or set SLUICE_PYTHON to a python with ${pipPackage}`);
  }
  if (!has(venvPython)) {
    console.log(`[${tag}] installing ${pipPackage} into .venv (PyPI)`);
    if ((await run(venvPython, ['-m', 'pip', 'install', '--quiet', pipPackage])) !== 0) throw new Error(`pip install ${pipPackage} into .venv failed`);
  }
  return venvPython;
}
