import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { databaseUrlOf, homeDatabaseFile } from '../../runtime/platform/local.ts';
import { shownUrl } from '../../runtime/rebuild/move.ts';

describe("the home's database: embedded, or the server it moved to", () => {
  let home: string;
  const saved = process.env.DATABASE_URL;
  beforeEach(async () => {
    home = await mkdtemp(join(tmpdir(), 'strata-home-'));
    delete process.env.DATABASE_URL;
  });
  afterEach(async () => {
    if (saved === undefined) delete process.env.DATABASE_URL;
    else process.env.DATABASE_URL = saved;
    await rm(home, { recursive: true, force: true });
  });

  it('is the embedded one without database.json, the server it names with one, and DATABASE_URL over both', async () => {
    expect(databaseUrlOf(home)).toBeUndefined();
    await writeFile(homeDatabaseFile(home), JSON.stringify({ url: 'postgres://a@h:5432/x' }));
    expect(databaseUrlOf(home)).toBe('postgres://a@h:5432/x');
    process.env.DATABASE_URL = 'postgres://b@h:5432/y';
    expect(databaseUrlOf(home)).toBe('postgres://b@h:5432/y');
  });

  it('names the file and field of a database.json that names no server', async () => {
    await writeFile(homeDatabaseFile(home), JSON.stringify({ url: 'mysql://h/x' }));
    expect(() => databaseUrlOf(home)).toThrow(
      /database\.json: url: must be a postgres:\/\/ URL, got "mysql:\/\/h\/x"/,
    );
  });

  it('never shows a password in what it says', () => {
    expect(shownUrl('postgres://strata:s3cret@db:5432/strata')).toBe('postgres://strata:***@db:5432/strata');
    expect(shownUrl(undefined)).toBe('the embedded database');
  });
});
