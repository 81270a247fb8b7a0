import { spawn } from 'node:child_process';

/**
 * Runs a program to its end and times it from spawn to exit (as a user would wait for it); rejects with its
 * exit code and stderr when it fails, so a broken tool never reads as a fast one.
 */
export function timed(
  cmd: string,
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string } = {},
): Promise<{ stdout: string; ms: number }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0
        ? resolve({ stdout, ms: performance.now() - started })
        : reject(new Error(`${cmd} ${args.join(' ')}: exit ${code}: ${stderr}`)),
    );
  });
}
