import { execFileSync } from 'node:child_process';
import { chownSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../helpers/wait.ts';

const PGBIN = '/usr/lib/postgresql/15/bin';

/** Runs a PostgreSQL program as the cluster's owner: `postgres` when we are root (initdb refuses root). */
function asOwner(program: string, args: string[]): void {
  const isRoot = process.getuid?.() === 0;
  const [cmd, argv] = isRoot
    ? ['runuser', ['-u', 'postgres', '--', join(PGBIN, program), ...args]]
    : [join(PGBIN, program), args];
  execFileSync(cmd, argv, { stdio: 'ignore', timeout: 120_000 });
}

export interface OwnCluster {
  readonly url: string;
  /** A fast shutdown: every connection is ended, as in a restart or failover. */
  stop(): void;
  start(): void;
  destroy(): void;
}

/**
 * A throwaway PostgreSQL 15 cluster of the test's own, on a free port, so it can be stopped and started
 * without touching the server other tests share.
 */
export async function ownCluster(): Promise<OwnCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'strata-own-pg-'));
  if (process.getuid?.() === 0)
    chownSync(
      dir,
      Number(execFileSync('id', ['-u', 'postgres']).toString()),
      Number(execFileSync('id', ['-g', 'postgres']).toString()),
    );
  const port = await freePort();
  asOwner('initdb', ['-D', join(dir, 'data'), '-A', 'trust', '-U', 'postgres', '-E', 'UTF8']);
  const pgCtl = (...args: string[]) =>
    asOwner('pg_ctl', ['-D', join(dir, 'data'), '-l', join(dir, 'log'), '-w', ...args]);
  const start = () =>
    pgCtl(
      '-o',
      `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off`,
      'start',
    );
  start();
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    stop: () => pgCtl('-m', 'fast', 'stop'),
    start,
    destroy: () => {
      try {
        pgCtl('-m', 'immediate', 'stop');
      } catch {
        // already stopped
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
