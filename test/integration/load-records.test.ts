import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PgliteDatabase } from '../../runtime/adapters/local/pglite-database.ts';
import { listVersions } from '../../runtime/archive/archive.ts';
import { archivedVersionRows, type LoadRecord } from '../../runtime/archive/loads.ts';
import type { Catalog } from '../../runtime/catalog-files/loader.ts';
import { databaseIdentity, dataDirSystemIdentifier } from '../../runtime/db/identity.ts';
import { runIngest } from '../../runtime/jobs/ingest.ts';
import { loadRecordKey } from '../../runtime/layout/buckets.ts';
import { readJson } from '../../runtime/ports/object-store.ts';
import { writeCatalog } from '../helpers/catalog.ts';
import { engines, type TestPlatform, testPlatform } from '../helpers/engines.ts';

describe.each(engines())('load records in the archive on $name', (engine) => {
  let p: TestPlatform;
  let catalog: Catalog;
  beforeAll(async () => {
    p = await testPlatform(engine);
    catalog = await writeCatalog(join(p.dir, 'catalog'), {
      datasets: {
        notes: { format: 'csv', columns: [{ name: 'id', type: 'integer' }], geometry: { kind: 'none' } },
      },
    });
  });
  afterAll(async () => {
    await p.close();
  });
  const ingest = async (name: string, body: string) => {
    const path = join(p.dir, name);
    await writeFile(path, body);
    return runIngest(p, catalog, {
      dataset: 'notes',
      path,
      filename: name,
      origin: { kind: 'file', from: path },
    });
  };

  it('let the archive list versions as the database does, and only while every version has one', async () => {
    // Prepare: two loaded versions.
    await ingest('a.csv', 'id\n1\n');
    const b = await ingest('b.csv', 'id\n1\n2\n');
    const { systemIdentifier } = await databaseIdentity(p.db);

    // Act
    const fromArchive = await archivedVersionRows(p.store, 'notes', systemIdentifier);
    const fromDatabase = await listVersions(p.db, 'notes');
    const record = await readJson<LoadRecord>(
      p.store,
      'archive',
      loadRecordKey('notes', String(b.result.version), await databaseIdentity(p.db)),
    );

    // Assess: the same rows, in the same order; the record is the database's own account of the load.
    expect(fromArchive).toEqual(fromDatabase);
    expect(fromDatabase.map((v) => v.rowCount)).toEqual([2, 1]);
    expect(record).toMatchObject({ dataset: 'notes', rows: 2, loadedAt: fromDatabase[0]!.loadedAt });
    // Another database's records say nothing about this one.
    expect(await archivedVersionRows(p.store, 'notes', '42')).toBeUndefined();

    // Act + assess: a file refused by the contract is quarantined, not a version: both still agree.
    await expect(ingest('c.csv', 'id\nnot a number\n')).rejects.toThrow(/invalid input syntax/);
    expect(await archivedVersionRows(p.store, 'notes', systemIdentifier)).toEqual(
      await listVersions(p.db, 'notes'),
    );

    // Act + assess: a version with no record of its load (archived before records were kept, or its
    // record lost): the archive can no longer answer for the dataset, only the database can.
    await rm(
      p.store.locate(
        'archive',
        loadRecordKey('notes', String(b.result.version), await databaseIdentity(p.db)),
      ),
    );
    expect(await archivedVersionRows(p.store, 'notes', systemIdentifier)).toBeUndefined();
    expect((await listVersions(p.db, 'notes')).map((v) => v.rowCount)).toEqual([2, 1]);
  });
});

describe('the embedded database’s identity', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('is read from its control file, without starting it, as the database itself reports it', async () => {
    // Prepare
    const dir = await mkdtemp(join(tmpdir(), 'strata-identity-'));
    dirs.push(dir);
    expect(await dataDirSystemIdentifier(join(dir, 'pglite'))).toBeUndefined();
    const db = await PgliteDatabase.open(join(dir, 'pglite'));

    // Act
    const reported = await databaseIdentity(db);
    await db.close();
    const read = await dataDirSystemIdentifier(join(dir, 'pglite'));

    // Assess
    expect(read).toBe(reported.systemIdentifier);
    expect(reported.name).toBe('postgres');
  });
});
