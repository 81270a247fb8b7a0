import { randomBytes } from 'node:crypto';
import { access, mkdir, rename, unlink, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** Where Strata keeps what it can make again: `$XDG_CACHE_HOME/strata`, else `~/.cache/strata`. */
export function userCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_CACHE_HOME;
  return join(xdg ? xdg : join(homedir(), '.cache'), 'strata');
}

/** Errors that mean the cache cannot be written here (a read-only home, a container): work on without it. */
const UNWRITABLE = new Set(['EACCES', 'EPERM', 'EROFS', 'ENOSPC', 'ENOTDIR']);

/**
 * The file `name` in the cache, made by `make` when it is not there: its path, and the bytes when this call
 * made them. It is written under a name of its own and renamed into place, so a process never reads half a
 * file, and two processes making it at once both end with a whole one (the last rename wins; both made the
 * same thing). Where the cache cannot be written there is no path, only the bytes made.
 */
export async function cachedFile(
  dir: string,
  name: string,
  make: () => Promise<Uint8Array>,
): Promise<{ path?: string; made?: Uint8Array }> {
  const path = join(dir, name);
  try {
    await access(path);
    return { path };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    // Not there, or not ours to read (a cache owned by another user): make it, and write it if we may.
    if (code !== 'ENOENT' && code !== 'ENOTDIR' && code !== 'EACCES' && code !== 'EPERM') throw e;
  }
  const made = await make();
  const temp = `${path}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`;
  try {
    await mkdir(dir, { recursive: true });
    await writeFile(temp, made);
    await rename(temp, path);
    return { path, made };
  } catch (e) {
    await unlink(temp).catch(() => {});
    if (!UNWRITABLE.has((e as NodeJS.ErrnoException).code ?? '')) throw e;
    return { made };
  }
}
