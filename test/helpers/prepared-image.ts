import { preparedImage } from '../../runtime/adapters/local/pglite-image.ts';

/**
 * Vitest's global setup: makes the embedded database's prepared image (once per installed version, in the
 * user's cache) before any test file starts, so files running side by side, and the command lines they
 * spawn, all copy it instead of racing to make it.
 */
export async function setup(): Promise<void> {
  await preparedImage();
}
