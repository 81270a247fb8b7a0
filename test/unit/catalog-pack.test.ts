import { createHash } from 'node:crypto';
import { cp, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { deployedCatalogLocation, readDeployedCatalog } from '../../runtime/aws/deployed-catalog.ts';
import {
  CatalogHashError,
  openCatalog,
  packCatalog,
  unpackCatalog,
} from '../../runtime/catalog-files/bundle.ts';
import { CatalogError } from '../../runtime/errors.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const CHILD_B = join(ROOT, 'examples', 'child-b', 'catalog');

describe('a catalog pack', () => {
  it('is the same bytes for the same files, and another hash for any change', async () => {
    // Prepare: a copy of child-b's catalog.
    const dir = await mkdtemp(join(tmpdir(), 'strata-pack-'));
    await cp(CHILD_B, dir, { recursive: true });

    // Act
    const a = packCatalog(CHILD_B);
    const b = packCatalog(dir);
    await writeFile(join(dir, 'products', 'stops_per_locality', '010_stops_per_locality.sql'), 'SELECT 1;\n');
    const c = packCatalog(dir);

    // Assess
    expect(b.sha256).toBe(a.sha256);
    expect(b.bytes.equals(a.bytes)).toBe(true);
    expect(a.sha256).toBe(createHash('sha256').update(a.bytes).digest('hex'));
    expect(c.sha256).not.toBe(a.sha256);
    expect(a.files).toBe(3);
  });

  it('unpacks to the same catalog, with its hash, and refuses bytes that do not hash to what was recorded', async () => {
    const { bytes, sha256 } = packCatalog(CHILD_B);
    const catalog = await unpackCatalog(bytes, sha256, 'test');
    expect(catalog.sha256).toBe(sha256);
    expect([...catalog.datasets.keys()]).toEqual(['bus_stops']);
    expect(catalog.products.get('stops_per_locality')?.product.schedule).toBe('0 4 * * *');
    expect((await openCatalog(CHILD_B)).sha256).toBe(sha256);
    const tampered = Buffer.from(bytes.toString('utf8').replace('bus_stops', 'bus_stopz'));
    await expect(unpackCatalog(tampered, sha256, 's3://b/k')).rejects.toThrow(CatalogHashError);
    await expect(unpackCatalog(tampered, sha256, 's3://b/k')).rejects.toThrow(
      /s3:\/\/b\/k has sha256 [0-9a-f]{64}, not the/,
    );
  });

  it('refuses a pack whose file names would leave its directory', async () => {
    const bytes = Buffer.from(
      JSON.stringify({ format: 'strata-catalog/1', files: { '../escape.yaml': 'x' } }),
    );
    const sha = createHash('sha256').update(bytes).digest('hex');
    await expect(unpackCatalog(bytes, sha, 'test')).rejects.toThrow(/bad file name: \.\.\/escape\.yaml/);
  });

  it('names a missing directory and a file that is not text', async () => {
    expect(() => packCatalog(join(tmpdir(), 'no-such-catalog'))).toThrow(CatalogError);
    const dir = await mkdtemp(join(tmpdir(), 'strata-pack-'));
    await writeFile(join(dir, 'logo.png'), Buffer.from([0xff, 0xfe, 0x00, 0x81]));
    expect(() => packCatalog(dir)).toThrow(/logo\.png: is not UTF-8 text/);
  });
});

describe('the deployed catalog', () => {
  const s3 = mockClient(S3Client);
  beforeEach(() => s3.reset());
  // What the SDK's GetObject body offers: a stream that can also be read whole.
  const body = (bytes: Buffer) =>
    Object.assign(Readable.from([bytes]), {
      transformToByteArray: async () => new Uint8Array(bytes),
    }) as never;

  it('is read from where the stack put it, and checked against the hash the stack recorded', async () => {
    // Prepare
    const { bytes, sha256 } = packCatalog(CHILD_B);
    s3.on(GetObjectCommand, { Bucket: 'assets', Key: 'k.json' }).resolves({ Body: body(bytes) });
    const location = deployedCatalogLocation({
      STRATA_CATALOG_BUCKET: 'assets',
      STRATA_CATALOG_KEY: 'k.json',
      STRATA_CATALOG_SHA256: sha256,
    });

    // Act
    const catalog = await readDeployedCatalog(location, new S3Client({}));

    // Assess
    expect(catalog.sha256).toBe(sha256);
    expect(catalog.products.has('stops_per_locality')).toBe(true);
    s3.on(GetObjectCommand).resolves({ Body: body(Buffer.concat([bytes, Buffer.from(' ')])) });
    await expect(readDeployedCatalog(location, new S3Client({}))).rejects.toThrow(CatalogHashError);
  });

  it('says which variables are missing', () => {
    expect(() => deployedCatalogLocation({ STRATA_CATALOG_BUCKET: 'b' })).toThrow(
      /STRATA_CATALOG_BUCKET, STRATA_CATALOG_KEY and STRATA_CATALOG_SHA256 must be set/,
    );
  });
});
