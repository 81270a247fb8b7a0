import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listVersions } from '../../runtime/archive/archive.ts';
import type { Catalog } from '../../runtime/catalog-files/loader.ts';
import { LoadError } from '../../runtime/errors.ts';
import { runFetch } from '../../runtime/jobs/fetch.ts';
import { writeCatalog } from '../helpers/catalog.ts';
import { engines, type TestPlatform, testPlatform } from '../helpers/engines.ts';

/** A source on loopback whose content, and misbehaviour, the test sets. */
class Source {
  body = 'id,name\n1,a\n';
  mode: 'ok' | 'partial' | 'error' | 'slow' = 'ok';
  requests: Record<string, string | undefined>[] = [];
  server: Server = createServer((req, res) => {
    this.requests.push({ 'if-none-match': req.headers['if-none-match'] as string | undefined });
    const etag = `"${createHash('sha256').update(this.body).digest('hex').slice(0, 16)}"`;
    if (this.mode === 'error') {
      res.writeHead(503).end('down for maintenance');
      return;
    }
    if (this.mode === 'slow') return; // never answers
    if (req.headers['if-none-match'] === etag) {
      res.writeHead(304).end();
      return;
    }
    if (this.mode === 'partial') {
      res.writeHead(200, { 'content-length': String(this.body.length + 100), etag });
      res.flushHeaders();
      // The connection drops once part of the body has gone out.
      res.write(this.body, () => res.destroy());
      return;
    }
    res.writeHead(200, {
      'content-type': 'text/csv',
      'content-length': String(Buffer.byteLength(this.body)),
      etag,
    });
    res.end(this.body);
  });
  url = '';
  async start() {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/data/feed.csv`;
  }
}

describe.each(engines())('HTTP sources on $name', (engine) => {
  let p: TestPlatform;
  let catalog: Catalog;
  const source = new Source();

  beforeAll(async () => {
    await source.start();
    p = await testPlatform(engine);
    const dataset = (maxBytes: number, timeoutSeconds: number) => ({
      format: 'csv',
      source: { kind: 'http', url: source.url, maxBytes, timeoutSeconds },
      schedule: '0 3 * * *',
      columns: [
        { name: 'id', type: 'integer' },
        { name: 'name', type: 'text' },
      ],
      geometry: { kind: 'none' },
    });
    catalog = await writeCatalog(join(p.dir, 'catalog'), {
      datasets: { feed: dataset(1000, 5), tiny: dataset(20, 1) },
    });
  });
  afterAll(async () => {
    source.server.closeAllConnections();
    source.server.close();
    await p?.close();
  });

  it('makes a version only of new content, asking with the last ETag', async () => {
    source.mode = 'ok';
    const first = await runFetch(p, catalog, 'feed');
    expect(first.result).toMatchObject({ created: true, rows: 1 });
    const again = await runFetch(p, catalog, 'feed');
    expect(again.result).toMatchObject({ notModified: true });
    expect(source.requests.at(-1)!['if-none-match']).toMatch(/^"[0-9a-f]{16}"$/);
    source.body = 'id,name\n1,a\n2,b\n';
    const changed = await runFetch(p, catalog, 'feed');
    expect(changed.result).toMatchObject({ created: true, rows: 2 });
    const versions = await listVersions(p.db, 'feed');
    expect(versions).toHaveLength(2);
    expect(versions[0]!.origin).toMatchObject({ kind: 'http', from: source.url, etag: expect.any(String) });
  });

  it('fails a partial download, an error answer, a source over its size limit and a timeout, archiving nothing', async () => {
    const before = (await listVersions(p.db, 'feed')).length;
    source.body = 'id,name\n1,a\n2,b\n3,c\n';
    source.mode = 'partial';
    const partial = await runFetch(p, catalog, 'feed').then(
      (r) => r.result,
      (e: unknown) => (e as Error).message,
    );
    expect(partial).toMatch(/download (is partial|failed)/);
    source.mode = 'error';
    await expect(runFetch(p, catalog, 'feed')).rejects.toThrow('the server answered 503');
    source.mode = 'ok';
    source.body = 'id,name\n1,a\n2,b\n3,c\n4,d\n';
    await expect(runFetch(p, catalog, 'tiny')).rejects.toThrow(/over the limit of 20/);
    source.mode = 'slow';
    const slow = await runFetch(p, catalog, 'tiny').catch((e: unknown) => e);
    expect(slow).toBeInstanceOf(LoadError);
    expect((slow as LoadError).message).toMatch(/the request failed/);
    expect((await listVersions(p.db, 'feed')).length).toBe(before);
    expect(await listVersions(p.db, 'tiny')).toEqual([]);
  });
});
