// Where issue 22 (products read products' kept tables) meets issue 24 (the database rebuilt from the buckets):
// a rebuild restores every published version's registration but not the tables a build kept for readers, so it
// says so, a reader's build then names what is missing and what to do, and building upstream again mends it.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FsObjectStore } from '../../runtime/adapters/local/fs-object-store.ts';
import type { Catalog } from '../../runtime/catalog-files/loader.ts';
import { buildGraph } from '../../runtime/jobs/build-graph.ts';
import { workUntil } from '../../runtime/jobs/execute.ts';
import { runIngest } from '../../runtime/jobs/ingest.ts';
import { submit } from '../../runtime/jobs/submit.ts';
import { localQueueAndRuns } from '../../runtime/platform/local.ts';
import { readLatest } from '../../runtime/publish/versions.ts';
import { rebuildDatabase } from '../../runtime/rebuild/rebuild.ts';
import { writeCatalog } from '../helpers/catalog.ts';
import { type Engine, engines, type TestPlatform } from '../helpers/engines.ts';
import { GRAPH } from '../helpers/product-graph.ts';

async function platformOver(engine: Engine, dir: string): Promise<TestPlatform> {
  const db = await engine.open();
  return {
    dir,
    db,
    store: new FsObjectStore(join(dir, 'buckets')),
    ...localQueueAndRuns(db),
    close: () => db.close(),
  };
}

describe.each(engines())(
  'faults: the database is lost under products that read products, on $name',
  (engine) => {
    let dir: string;
    let first: TestPlatform;
    let rebuilt: TestPlatform;
    let catalog: Catalog;

    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'strata-lost-graph-'));
      catalog = await writeCatalog(join(dir, 'catalog'), GRAPH);
      first = await platformOver(engine, dir);
      const path = join(dir, 'counts.csv');
      await writeFile(path, 'k,n\na,1\nb,2\n');
      await runIngest(first, catalog, {
        dataset: 'counts',
        path,
        filename: 'counts.csv',
        origin: { kind: 'file', from: path },
      });
      const steps = await buildGraph(first, catalog, 'base', {
        direction: 'downstream',
        trigger: { kind: 'cli' },
      });
      expect(steps.every((s) => s.status === 'built')).toBe(true);
      await first.close();
      // Lost: a new, empty database over the same buckets.
      rebuilt = await platformOver(engine, dir);
    }, 600_000);
    afterAll(async () => {
      await rebuilt?.close();
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    it('says what it could not restore, a reader names the missing tables, and building upstream mends it', async () => {
      // Act
      const report = await rebuildDatabase(rebuilt, catalog);
      const left = await workUntil(
        rebuilt,
        catalog,
        (await submit(rebuilt, { kind: 'build', product: 'left' }, { kind: 'cli' })).id,
      );
      const baseBefore = (await readLatest(rebuilt.store, 'base'))!.version;
      const mended = await buildGraph(rebuilt, catalog, 'base', {
        direction: 'downstream',
        trigger: { kind: 'cli' },
      });

      // Assess: the report names the products whose versions' kept tables are gone, and what to do.
      expect(report.notRestored.join('\n')).toMatch(
        /kept tables of published versions of base, left, right, .*build those products again \(strata build <product> --downstream\)/,
      );
      expect(left.status).toBe('failed');
      expect(String(left.error?.message)).toContain(
        `the tables of version ${baseBefore} of product "base" are not in this database`,
      );
      expect(String(left.error?.message)).toContain('build base again');
      expect(mended.map((s) => [s.product, s.status])).toEqual([
        ['base', 'built'],
        ['left', 'built'],
        ['reader', 'built'],
        ['right', 'built'],
        ['top', 'built'],
      ]);
    });
  },
);
