import { randomUUID } from 'node:crypto';
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { emptyDirectory, parseDirectory } from '../../partners/credentials.ts';
import { type PartnerDirectory, PartnerDirectoryDoc } from '../../ports/partner-directory.ts';

/**
 * The partner directory in a JSON file (`<home>/partners.json`, mode 0600), re-read whenever it changes, so
 * `strata partners ...` takes effect on a running `strata serve`. With no file yet there are no partners,
 * and cursors are signed with a key of this process's own.
 */
export class PartnerFile implements PartnerDirectory {
  private cached: { stamp: string; doc: PartnerDirectoryDoc } | undefined;
  private fallback: PartnerDirectoryDoc | undefined;

  constructor(readonly path: string) {}

  get where(): string {
    return this.path;
  }

  static inHome(home: string): PartnerFile {
    return new PartnerFile(process.env.STRATA_PARTNERS_FILE ?? join(home, 'partners.json'));
  }

  async read(): Promise<PartnerDirectoryDoc> {
    let stamp: string;
    try {
      const s = await stat(this.path);
      stamp = `${s.mtimeMs}:${s.size}`;
    } catch {
      this.fallback ??= emptyDirectory();
      return this.fallback;
    }
    if (this.cached?.stamp !== stamp)
      this.cached = { stamp, doc: parseDirectory(await readFile(this.path, 'utf8'), this.path) };
    return this.cached.doc;
  }

  async update(change: (doc: PartnerDirectoryDoc) => PartnerDirectoryDoc): Promise<PartnerDirectoryDoc> {
    let current: PartnerDirectoryDoc;
    try {
      current = parseDirectory(await readFile(this.path, 'utf8'), this.path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      current = emptyDirectory();
    }
    const next = PartnerDirectoryDoc.parse(change(current));
    await mkdir(dirname(this.path), { recursive: true });
    // Written whole and renamed into place: a reader never sees half a file.
    const tmp = `${this.path}.${randomUUID()}.tmp`;
    await writeFile(tmp, `${JSON.stringify(next, null, 2)}\n`, { mode: 0o600 });
    await rename(tmp, this.path);
    return next;
  }
}

/** STRATA_PARTNERS: the whole directory as JSON in the environment (read-only; for CI and containers). */
export class PartnerEnv implements PartnerDirectory {
  readonly where = 'the STRATA_PARTNERS environment variable';
  private readonly doc: PartnerDirectoryDoc;

  constructor(json: string) {
    this.doc = parseDirectory(json, 'STRATA_PARTNERS');
  }

  async read(): Promise<PartnerDirectoryDoc> {
    return this.doc;
  }

  async update(): Promise<PartnerDirectoryDoc> {
    throw new Error('partners come from STRATA_PARTNERS here; change that variable instead');
  }
}

/** STRATA_PARTNERS when set, else the file in the home. */
export function localPartnerDirectory(home: string): PartnerDirectory {
  const json = process.env.STRATA_PARTNERS;
  return json ? new PartnerEnv(json) : PartnerFile.inHome(home);
}
