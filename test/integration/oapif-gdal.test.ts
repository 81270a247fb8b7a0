import { execFile } from 'node:child_process';
import { mkdtemp, readFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FsObjectStore } from '../../runtime/adapters/local/fs-object-store.ts';
import { nodeServer } from '../../runtime/http/node.ts';
import { writeCatalog } from '../helpers/catalog.ts';
import {
  gridPoints,
  MemoryDirectory,
  noDatabase,
  PARTNER_CATALOG,
  publishVersion,
  testApp,
} from '../helpers/partner-api.ts';

const run = promisify(execFile);
const COUNT = 2345;

describe("GDAL's OAPIF driver reads a published collection through the partner API", () => {
  let server: Server;
  let base: string;
  let dir: string;
  const partners = new MemoryDirectory();
  const reader = partners.add('reader', ['read:products/places'], 10_000);
  const env = () => ({
    ...process.env,
    GDAL_HTTP_HEADERS: `X-API-Key: ${reader.apiKey!.key}`,
    // GDAL keeps a cache of HTTP answers in memory; each command here must read the server.
    CPL_VSIL_CURL_USE_CACHE: 'NO',
  });

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'strata-oapif-'));
    const store = new FsObjectStore(join(dir, 'buckets'));
    const catalog = await writeCatalog(join(dir, 'catalog'), PARTNER_CATALOG);
    await publishVersion(store, 'places', '20261123T000000000Z-abcdef01', { points: gridPoints(COUNT) });
    const app = testApp({
      catalog,
      store,
      partners,
      runs: noDatabase,
      queue: noDatabase,
    });
    server = nodeServer(app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server?.closeAllConnections();
    await new Promise((r) => server?.close(r));
  });

  it('lists the collection with its feature count and extent (ogrinfo)', async () => {
    // Act
    const { stdout } = await run('ogrinfo', ['-ro', '-so', `OAPIF:${base}`, 'places.points'], { env: env() });
    // Assess
    expect(stdout).toMatch(/Layer name: places\.points/);
    expect(stdout).toMatch(new RegExp(`Feature Count: ${COUNT}`));
    expect(stdout).toMatch(/Extent: \(-5\.000000, 40\.000000\) - \(4\.800000, 49\.200000\)/);
  });

  it('copies every feature exactly once, following next links (ogr2ogr), latest and pinned', async () => {
    for (const id of ['places.points', 'places.points.20261123T000000000Z-abcdef01']) {
      // Act
      const out = join(dir, `${id}.geojson`);
      await run('ogr2ogr', ['-f', 'GeoJSON', out, `OAPIF:${base}/collections/${id}`], { env: env() });
      const copied = JSON.parse(await readFile(out, 'utf8')) as {
        features: { properties: { id: number } }[];
      };
      // Assess
      const ids = copied.features.map((f) => f.properties.id);
      expect(ids).toHaveLength(COUNT);
      expect(new Set(ids).size).toBe(COUNT);
      expect(Math.min(...ids)).toBe(1);
      expect(Math.max(...ids)).toBe(COUNT);
    }
  });

  it('reads only the features in a spatial filter (ogr2ogr -spat)', async () => {
    // Act
    const out = join(dir, 'filtered.geojson');
    await run(
      'ogr2ogr',
      ['-f', 'GeoJSON', out, `OAPIF:${base}`, 'places.points', '-spat', '-5', '40', '-3', '41'],
      {
        env: env(),
      },
    );
    const copied = JSON.parse(await readFile(out, 'utf8')) as { features: { properties: { id: number } }[] };
    // Assess
    const expected = gridPoints(COUNT).filter((p) => p.lon <= -3 && p.lat <= 41);
    expect(copied.features.map((f) => f.properties.id).sort((a, b) => a - b)).toEqual(
      expected.map((p) => p.id),
    );
  });

  it('gets nothing without the API key', async () => {
    // Act + Assess
    await expect(
      run('ogrinfo', ['-ro', '-so', `OAPIF:${base}`, 'places.points'], {
        env: { ...process.env, CPL_VSIL_CURL_USE_CACHE: 'NO' },
      }),
    ).rejects.toThrow(/401|Unauthorized|HTTP error/i);
  });
});
