import { createHmac } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Catalog, loadCatalog } from '../../runtime/catalog-files/loader.ts';
import { onObjectCreated } from '../../runtime/triggers/ingress.ts';
import { onSchedule } from '../../runtime/triggers/schedule.ts';
import { onWebhook } from '../../runtime/triggers/webhook.ts';
import { engines, type TestPlatform, testPlatform } from '../helpers/engines.ts';

const FILES: Record<string, string> = {
  'datasets/good.yaml': 'name: good\nformat: csv\ncolumns: [{ name: id }]\ngeometry: { kind: none }\n',
  'datasets/typo.yaml':
    'name: typo\nformat: csv\ncolumns: [{ name: id, tpye: text }]\ngeometry: { kind: none }\n',
  'products/fine/product.yaml': 'name: fine\ninputs: { g: good }\noutputs: [{ table: out }]\n',
  'products/fine/010_out.sql': 'CREATE TABLE out AS SELECT * FROM g;',
  'products/over_typo/product.yaml': 'name: over_typo\ninputs: { t: typo }\noutputs: [{ table: out }]\n',
  'products/over_typo/010_out.sql': 'CREATE TABLE out AS SELECT * FROM t;',
};

describe.each(engines())('triggers with a partly broken catalog, on $name', (engine) => {
  let p: TestPlatform;
  let catalog: Catalog;
  beforeAll(async () => {
    p = await testPlatform(engine);
    for (const [path, text] of Object.entries(FILES)) {
      await mkdir(join(p.dir, 'catalog', path, '..'), { recursive: true });
      await writeFile(join(p.dir, 'catalog', path), text);
    }
    catalog = (await loadCatalog(join(p.dir, 'catalog'))).catalog;
  });
  afterAll(async () => {
    await p.close();
  });

  it('take work for what is sound, and refuse what a problem touches, saying which', async () => {
    // Prepare
    const deps = { catalog, runs: p.runs, queue: p.queue, maxBytes: 1 << 20 };
    const object = { bucket: 'ingress', size: 10, etag: 'e', versionId: 'v1' };
    const body = Buffer.from('{}');
    const signature = `sha256=${createHmac('sha256', 's').update(body).digest('hex')}`;
    const hook = (name: string) =>
      onWebhook(
        { hook: name, body, signature, deliveryId: `d-${name}` },
        { ...deps, secrets: new Map([['default', ['s']]]) },
      );

    // Act
    const goodFile = await onObjectCreated({ ...object, key: 'datasets/good/a.csv' }, deps);
    const typoFile = await onObjectCreated({ ...object, key: 'datasets/typo/a.csv' }, deps);
    const fineSchedule = await onSchedule({ kind: 'product', name: 'fine', time: 't1' }, deps);
    const blockedSchedule = await onSchedule({ kind: 'product', name: 'over_typo', time: 't1' }, deps);
    const fineHook = await hook('fine');
    const blockedHook = await hook('over_typo');

    // Assess: the sound parts queue work; the rest is refused with the problem's file, line and column.
    expect(goodFile.status).toBe('queued');
    expect(typoFile).toEqual({
      status: 'rejected',
      reason:
        'datasets/typo/a.csv: dataset "typo" has problems in the catalog: datasets/typo.yaml:3:23: columns[0].tpye: unknown key "tpye"; did you mean "type"?',
    });
    expect(fineSchedule.status).toBe('queued');
    expect(blockedSchedule).toEqual({
      status: 'rejected',
      reason: expect.stringMatching(
        /^product "over_typo" reads dataset "typo", which has problems in the catalog: datasets\/typo\.yaml:3:23: /,
      ),
    });
    expect(fineHook.statusCode).toBe(202);
    expect(blockedHook.statusCode).toBe(422);
    expect(blockedHook.body).toEqual({ error: expect.stringContaining('datasets/typo.yaml:3:23') });
    const queued = await p.queue.receive(10, 60);
    expect(queued.map((q) => q.job.kind).sort()).toEqual(['build', 'build', 'ingest']);
  });
});
