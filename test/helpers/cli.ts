import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { processEngines } from './engines.ts';

import { until } from './wait.ts';

export { freePort, until } from './wait.ts';

const ROOT = join(import.meta.dirname, '..', '..');

/**
 * For a test that runs the command line several times on the embedded database: each process starts
 * PGlite (3–4 s; a new home is a copy of the prepared image the global setup made, in the user's cache,
 * which the spawned processes find as they inherit the environment; several times that on a machine
 * shared with other work).
 */
export const LONG = { timeout: 900_000 };

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * How a spawned command line finds its database: the embedded one in its home (PGlite), or, when
 * DATABASE_URL is set for the tests, a fresh database of its own on that server.
 */
export interface CliEngine {
  readonly name: 'pglite' | 'postgres';
  /** A new home (and database) for one test; `close` removes them. */
  setup(): Promise<CliHome>;
}

export interface CliHome {
  readonly home: string;
  readonly env: NodeJS.ProcessEnv;
  /** Runs `strata <args>` as a user would (`node bin/strata.mjs`), with `--home` set, and waits for it. */
  run(args: readonly string[], options?: { env?: NodeJS.ProcessEnv }): Promise<CliResult>;
  close(): Promise<void>;
}

/** Starts `strata <args>` and leaves it running (serve), with its stderr gathered in `log()`. */
export function startCli(
  args: readonly string[],
  env: NodeJS.ProcessEnv,
): { child: ChildProcess; log(): string } {
  const child = spawn('node', ['bin/strata.mjs', ...args], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  child.stderr!.on('data', (d) => {
    log += d;
  });
  return { child, log: () => log };
}
/** `strata serve`'s arguments as the tests start it: one worker, a quick look at ingress, then `extra`. */
export const serveArgs = (catalog: string, home: string, port: number, ...extra: string[]): string[] => [
  '--catalog',
  catalog,
  '--home',
  home,
  'serve',
  '--port',
  String(port),
  '--poll-ms',
  '100',
  '--workers',
  '1',
  ...extra,
];

/**
 * Starts `strata serve` (its args name `--port port`) and waits until it says where it listens; when it ends
 * first, or never says so, it is killed and its stderr is the error.
 */
export async function startServe(
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  port: number,
  timeoutMs = 300_000,
): Promise<{ child: ChildProcess; log(): string }> {
  const started = startCli(args, env);
  try {
    await until(
      'serve to start',
      () =>
        started.log().includes(`http://127.0.0.1:${port}`)
          ? true
          : started.child.exitCode !== null
            ? Promise.reject(new Error(started.log()))
            : undefined,
      timeoutMs,
    );
  } catch (e) {
    started.child.kill('SIGKILL');
    throw e;
  }
  return started;
}

export function runCli(args: readonly string[], env: NodeJS.ProcessEnv): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('node', ['bin/strata.mjs', ...args], {
      cwd: ROOT,
      env,
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
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

export function cliEngines(): CliEngine[] {
  const make =
    (name: CliEngine['name'], url: () => Promise<string | undefined>) => async (): Promise<CliHome> => {
      const home = await mkdtemp(join(tmpdir(), `strata-cli-${name}-`));
      const env: NodeJS.ProcessEnv = { ...process.env };
      delete env.DATABASE_URL;
      const databaseUrl = await url();
      if (databaseUrl) env.DATABASE_URL = databaseUrl;
      return {
        home,
        env,
        run: (args, options) => runCli(['--home', home, ...args], { ...env, ...options?.env }),
        close: async () => {
          await rm(home, { recursive: true, force: true });
          if (databaseUrl) await dropDatabase(databaseUrl);
        },
      };
    };
  return processEngines().map((e) => ({ name: e.name, setup: make(e.name, () => e.url()) }));
}

async function dropDatabase(url: string): Promise<void> {
  const admin = new pg.Client({ connectionString: process.env.DATABASE_URL });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${new URL(url).pathname.slice(1)} WITH (FORCE)`);
  } finally {
    await admin.end();
  }
}

/** A dataset's versions as `strata versions --json` prints them, without when this database loaded them. */
export const versionsOf = (stdout: string) =>
  (JSON.parse(stdout) as { loadedAt?: string }[]).map(({ loadedAt: _, ...v }) => v);
