import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FsObjectStore } from '../../runtime/adapters/local/fs-object-store.ts';
import * as S from '../../runtime/http/schemas.ts';
import { type Manifest, manifestJson, PublishedObjectError } from '../../runtime/publish/manifest.ts';
import { PublishedReader } from '../../runtime/publish/reader.ts';
import { readManifest } from '../../runtime/publish/versions.ts';

const key = 'products/places/20261120T040000000Z-aaaaaaaa/manifest.json';

/** A manifest with its keys in the order a build writes them, every optional part present. */
function manifest(): Manifest {
  return {
    product: 'places',
    title: 'Places',
    version: '20261120T040000000Z-aaaaaaaa',
    runId: '20261120T035900000Z-aaaaaaaa',
    builtAt: '2026-11-20T04:00:00.000Z',
    platform: { name: 'strata', version: '0.1.0', engine: 'pglite' },
    inputs: [
      {
        alias: 'src',
        dataset: 'geonames',
        requested: 'latest',
        version: 'v1',
        sha256: 'a'.repeat(64),
        table: 'geonames__v1',
        rows: 3,
      },
    ],
    steps: [{ file: '01_places.sql', ms: 12 }],
    checks: [
      {
        name: 'places.not_null(id)',
        type: 'not_null',
        table: 'places',
        severity: 'error',
        passed: false,
        count: 1,
        message: '1 offending row(s)',
        sample: [{ id: null, name: 'x' }],
      },
    ],
    outputs: [
      {
        name: 'places',
        table: 'places',
        format: 'shapefile',
        key: 'products/places/20261120T040000000Z-aaaaaaaa/places.shp.zip',
        size: 100,
        sha256: 'b'.repeat(64),
        rows: 3,
        srid: 4326,
        fields: [{ column: 'population_total', field: 'population' }],
      },
    ],
    qa: {
      bucket: 'egress',
      html: 'products/places/20261120T040000000Z-aaaaaaaa/qa.html',
      json: 'products/places/20261120T040000000Z-aaaaaaaa/qa.json',
      previous: null,
      checks: { passed: 0, warned: 0, failed: 1 },
      outputs: [{ name: 'places', rows: 3, previousRows: null, added: null, removed: null, changed: null }],
    },
    timings: { stepsMs: 12, checksMs: 3, exportMs: 40, qaMs: 20, totalMs: 80 },
  };
}

async function storeWith(json: string) {
  const store = new FsObjectStore(await mkdtemp(join(tmpdir(), 'strata-manifest-')));
  await store.put('egress', key, json, { contentType: 'application/json' });
  return store;
}

describe('the manifest schema', () => {
  it('writes a manifest as the build made it, key for key, and reads back the same bytes', async () => {
    // Prepare
    const m = manifest();
    // Act
    const written = manifestJson(m);
    const read = await new PublishedReader(await storeWith(written)).manifest(
      'places',
      '20261120T040000000Z-aaaaaaaa',
    );
    // Assess
    expect(written).toBe(`${JSON.stringify(m, null, 2)}\n`);
    expect(`${JSON.stringify(read, null, 2)}\n`).toBe(written);
  });

  it('reads a manifest published before QA reports, with no title and no shapefile fields', async () => {
    // Prepare
    const { qa: _qa, title: _title, ...old } = manifest();
    const outputs = old.outputs.map(({ fields: _fields, ...o }) => ({ ...o, format: 'csv' as const }));
    const store = await storeWith(JSON.stringify({ ...old, outputs }));
    // Act
    const read = await readManifest(store, 'places', '20261120T040000000Z-aaaaaaaa');
    // Assess
    expect(read.qa).toBeUndefined();
    expect(read.outputs[0]?.format).toBe('csv');
  });

  it('refuses a manifest that is not one, naming its key and the field', async () => {
    // Prepare
    const m = manifest();
    const broken = { ...m, outputs: [{ ...m.outputs[0], sha256: 42 }] };
    const store = await storeWith(JSON.stringify(broken));
    // Act
    const reading = readManifest(store, 'places', '20261120T040000000Z-aaaaaaaa');
    // Assess
    await expect(reading).rejects.toThrow(PublishedObjectError);
    await expect(reading).rejects.toThrow(`egress ${key}: outputs.0.sha256:`);
  });

  it('refuses to write a manifest that is not one, before anything is written', () => {
    // Prepare
    const m = { ...manifest(), platform: { name: 'other', version: '1', engine: 'pglite' } };
    // Act
    const writing = () => manifestJson(m as unknown as Manifest);
    // Assess
    expect(writing).toThrow(/platform\.name|strata/);
  });

  it('is the shape partners are served, with what a partner is told besides', () => {
    // Prepare
    const m = manifest();
    const served = { ...m, hiddenInputs: 0, links: [{ href: '/products/places/versions/v', rel: 'self' }] };
    // Act
    const parsed = S.Manifest.safeParse(served);
    const withoutLinks = S.Manifest.safeParse({ ...m, hiddenInputs: 0 });
    // Assess
    expect(parsed.data).toEqual(served);
    expect(withoutLinks.success).toBe(false);
  });
});
