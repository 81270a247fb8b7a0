import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Catalog, loadCatalogOrThrow } from '../../runtime/catalog-files/loader.ts';
import { submit } from '../../runtime/jobs/submit.ts';
import { type ObjectStore, readText } from '../../runtime/ports/object-store.ts';
import { type Manifest, manifestJson } from '../../runtime/publish/manifest.ts';
import { publishVersion } from '../../runtime/publish/publish.ts';
import { newestVersion, publishedRecords } from '../../runtime/publish/registry.ts';
import { listProductVersions, readLatest } from '../../runtime/publish/versions.ts';
import { engines, type TestPlatform, testPlatform } from '../helpers/engines.ts';

const SHIPPED = fileURLToPath(new URL('../../catalog', import.meta.url));

function manifest(version: string, runId: string): Manifest {
  return {
    product: 'places',
    version,
    runId,
    builtAt: '2026-11-20T04:00:00.000Z',
    platform: { name: 'strata', version: '0.1.0', engine: 'test' },
    inputs: [],
    steps: [{ file: '01_places.sql', ms: 1 }],
    checks: [],
    outputs: [
      {
        name: 'places',
        table: 'places',
        format: 'csv',
        key: `products/places/${version}/places.csv`,
        size: 3,
        sha256: 'c'.repeat(64),
        rows: 1,
        srid: null,
      },
    ],
    timings: { totalMs: 1 },
  };
}

/** The store, but the manifest cannot be written: as a full disk or a lost connection would have it. */
function manifestRefused(store: ObjectStore): ObjectStore {
  return new Proxy(store, {
    get(target, prop) {
      if (prop === 'put')
        return (...args: Parameters<ObjectStore['put']>) =>
          args[1].endsWith('/manifest.json')
            ? Promise.reject(new Error('the bucket refused the manifest'))
            : target.put(...args);
      const value = Reflect.get(target, prop);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

describe.each(engines())('publishing a version on $name', (engine) => {
  let p: TestPlatform;
  let catalog: Catalog;

  beforeAll(async () => {
    p = await testPlatform(engine);
    catalog = await loadCatalogOrThrow(SHIPPED);
  });
  afterAll(async () => p?.close());

  it('publishes nothing when the manifest cannot be written: no registration, no version, latest untouched', async () => {
    // Prepare
    const run = await submit(p, { kind: 'build', product: 'places' }, { kind: 'cli' });
    const m = manifest('20261120T040000000Z-aaaaaaaa', run.id);
    // Act
    const publishing = publishVersion({ ...p, store: manifestRefused(p.store) }, catalog, m);
    // Assess
    await expect(publishing).rejects.toThrow('the bucket refused the manifest');
    expect(await newestVersion(p.db, 'places')).toBeUndefined();
    expect(await readLatest(p.store, 'places')).toBeUndefined();
    expect(await listProductVersions(p.store, 'places')).toEqual([]);
  });

  it('registers the version, writes its manifest as the schema writes it, then moves latest to it', async () => {
    // Prepare
    const run = await submit(p, { kind: 'build', product: 'places' }, { kind: 'cli' });
    const m = manifest('20261120T050000000Z-bbbbbbbb', run.id);
    // Act
    const published = await publishVersion(p, catalog, m);
    // Assess
    expect(await readText(p.store, 'egress', published.manifestKey)).toBe(manifestJson(m));
    expect(await readLatest(p.store, 'places')).toEqual(published.pointer);
    expect(published.pointer.manifest).toBe(published.manifestKey);
    expect(await newestVersion(p.db, 'places')).toEqual({ version: m.version, runId: run.id });
    expect(published.federation).toEqual({
      status: 'skipped',
      reason: 'this deployment has no core to report to',
    });
    // The registration is in the archive too, written once, for a database made again from the buckets.
    expect(await publishedRecords(p.store, 'places')).toEqual(
      new Map([
        [
          m.version,
          {
            product: 'places',
            version: m.version,
            runId: run.id,
            manifestKey: published.manifestKey,
            publishedAt: published.pointer.publishedAt,
            run: {
              trigger: { kind: 'cli' },
              createdAt: run.createdAt,
              startedAt: null,
              attempts: 0,
              catalogSha256: null,
            },
          },
        ],
      ]),
    );
  });
});
