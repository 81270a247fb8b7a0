import { readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { isAlive } from '../util/process.ts';

/**
 * `<home>/serve.json`: where a running `strata serve` answers on localhost, so read commands can ask it
 * rather than open the database it holds. Written once it listens, removed when it stops; a file left by
 * a process that died is recognised by its pid.
 */
export const ServeAnnouncement = z.object({
  pid: z.number().int().positive(),
  url: z.string(),
  /** The database it holds, as `databaseKey` names it: a reader only asks a serve of its own database. */
  database: z.string(),
  startedAt: z.string(),
});
export type ServeAnnouncement = z.infer<typeof ServeAnnouncement>;

export const serveFile = (home: string) => join(home, 'serve.json');

/**
 * The database a process would open: the server's URL without credentials, or the embedded database's
 * folder. Two processes with the same key read the same data.
 */
export function databaseKey(home: string, databaseUrl: string | undefined): string {
  if (!databaseUrl) return `pglite:${join(home, 'pglite')}`;
  const u = new URL(databaseUrl);
  return `postgres://${u.hostname}:${u.port || '5432'}${u.pathname}`;
}

/**
 * Says in the home that this process serves on `port` with the database of `databaseUrl` (or the embedded
 * one); `withdraw` removes the file if it is still this process's (another serve may have taken the home).
 */
export async function announceServe(
  home: string,
  port: number,
  databaseUrl: string | undefined,
): Promise<{ withdraw(): Promise<void> }> {
  const a: ServeAnnouncement = {
    pid: process.pid,
    url: `http://127.0.0.1:${port}`,
    database: databaseKey(home, databaseUrl),
    startedAt: new Date().toISOString(),
  };
  const tmp = `${serveFile(home)}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(a, null, 2)}\n`);
  await rename(tmp, serveFile(home));
  return {
    async withdraw() {
      if ((await readAnnouncement(home))?.pid === a.pid) await unlink(serveFile(home)).catch(() => {});
    },
  };
}

async function readAnnouncement(home: string): Promise<ServeAnnouncement | undefined> {
  try {
    const parsed = ServeAnnouncement.safeParse(JSON.parse(await readFile(serveFile(home), 'utf8')));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** The running serve of this home and database, if there is one. */
export async function findServe(home: string, database: string): Promise<ServeAnnouncement | undefined> {
  const a = await readAnnouncement(home);
  return a && a.database === database && isAlive(a.pid) ? a : undefined;
}
