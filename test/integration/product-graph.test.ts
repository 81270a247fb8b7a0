import { writeFile } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { parse as parseCsv } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Catalog } from '../../runtime/catalog-files/loader.ts';
import { buildGraph } from '../../runtime/jobs/build-graph.ts';
import { executeJob, rebuildDependents } from '../../runtime/jobs/execute.ts';
import { runIngest } from '../../runtime/jobs/ingest.ts';
import { submit } from '../../runtime/jobs/submit.ts';
import type { JobMessage } from '../../runtime/ports/job-queue.ts';
import { readText } from '../../runtime/ports/object-store.ts';
import { buildProduct } from '../../runtime/products/build.ts';
import { collectKeptVersions } from '../../runtime/products/gc.ts';
import { checkProductSql } from '../../runtime/products/sql-check.ts';
import { isLockedUpstream, type LockedInput } from '../../runtime/publish/manifest.ts';
import { listKeptVersions, productVersionSchema } from '../../runtime/publish/tables.ts';
import { readLatest, readManifest } from '../../runtime/publish/versions.ts';
import type { Run } from '../../runtime/runs/schema.ts';
import { writeCatalog } from '../helpers/catalog.ts';
import { engines, type TestPlatform, testPlatform } from '../helpers/engines.ts';
import { GRAPH } from '../helpers/product-graph.ts';

describe.each(engines())('products that read products on $name', (engine) => {
  let p: TestPlatform;
  let catalog: Catalog;
  let sent = 0;
  const ingest = async (body: string) => {
    const path = join(p.dir, `${++sent}-counts.csv`);
    await writeFile(path, body);
    return runIngest(p, catalog, {
      dataset: 'counts',
      path,
      filename: `${sent}-counts.csv`,
      origin: { kind: 'file', from: path },
    });
  };
  /** The rows of a product's published CSV output, as `k=n` sorted. */
  const published = async (product: string, version = 'latest') => {
    const m = await readManifest(p.store, product, version);
    const rows = parseCsv(await readText(p.store, 'egress', m.outputs[0]!.key), { columns: true }) as {
      k: string;
      n: string;
    }[];
    return rows.map((r) => `${r.k}=${r.n}`).sort();
  };
  /**
   * Works the queue as a serve worker does (following new versions to what reads them) until it is empty;
   * returns each build run, as `product:status`, in order. A run's job may be sent twice (a queued run's job
   * is sent again when it is asked for again); the second delivery does nothing, and counts once.
   */
  const work = async (rebuildDependents = true) => {
    const taken: string[] = [];
    const seen = new Set<string>();
    for (;;) {
      const [got] = await p.queue.receive(1, 60);
      if (!got) return taken;
      const run = await executeJob(p, catalog, got.job, {}, { rebuildDependents });
      await p.queue.delete(got.receipt);
      if (got.job.kind === 'build' && !seen.has(run.id)) taken.push(`${got.job.product}:${run.status}`);
      seen.add(run.id);
    }
  };
  const sendCounts = async (body: string) => {
    const path = join(p.dir, `${++sent}-counts.csv`);
    await writeFile(path, body);
    await submit(
      p,
      { kind: 'ingest', dataset: 'counts', source: { path }, filename: 'counts.csv' },
      { kind: 'cli' },
    );
  };
  const upstreamOf = (inputs: readonly LockedInput[]) =>
    inputs.filter(isLockedUpstream).map((i) => `${i.alias}=${i.product}/${i.output}@${i.version}`);

  beforeAll(async () => {
    p = await testPlatform(engine);
    catalog = await writeCatalog(join(p.dir, 'catalog'), GRAPH);
  });
  afterAll(async () => p?.close());

  it("validates a product's SQL against what its upstream products' SQL makes, before anything is built", async () => {
    // Sound: top reads the columns left and right make.
    expect(await checkProductSql(p.db, catalog, catalog.products.get('top')!)).toEqual([]);
    // Mistaken: right makes no column `m`.
    const top = catalog.products.get('top')!;
    const mistaken = {
      ...top,
      steps: [
        { file: '010_both.sql', sql: 'CREATE TABLE both_sides AS\nSELECT l.k, r.m FROM l JOIN r USING (k);' },
      ],
    };
    const issues = await checkProductSql(p.db, catalog, mistaken);
    expect(issues.map((i) => `${i.file}:${i.line}: ${i.message}`)).toEqual([
      'products/top/010_both.sql:2: column r.m does not exist',
    ]);
  });

  it('builds a diamond downstream in order, each product once, each reading the versions just published', async () => {
    // Prepare
    await ingest('k,n\na,1\nb,2\n');
    const order: string[] = [];
    // Act
    const steps = await buildGraph(p, catalog, 'base', {
      direction: 'downstream',
      trigger: { kind: 'cli' },
      onBuild: (product) => order.push(product),
    });
    // Assess
    expect(steps.map((s) => [s.product, s.status])).toEqual([
      ['base', 'built'],
      ['left', 'built'],
      ['reader', 'built'],
      ['right', 'built'],
      ['top', 'built'],
    ]);
    expect(order).toEqual(['base', 'left', 'reader', 'right', 'top']);
    expect(await published('top')).toEqual(['a=5', 'b=10']);
    const version = async (product: string) => (await readLatest(p.store, product))!.version;
    const top = await readManifest(p.store, 'top');
    const left = await readManifest(p.store, 'left');
    expect(upstreamOf(top.inputs)).toEqual([
      `l=left/l@${await version('left')}`,
      `r=right/r@${await version('right')}`,
    ]);
    expect(upstreamOf(left.inputs)).toEqual([`t=base/totals@${await version('base')}`]);
    // The QA report names the upstream versions and links their own reports.
    const qa = JSON.parse(await readText(p.store, 'egress', top.qa!.json)) as { inputs: { qa?: string }[] };
    expect(qa.inputs).toEqual([
      {
        alias: 'l',
        kind: 'product',
        name: 'left',
        output: 'l',
        version: await version('left'),
        qa: `../../left/${await version('left')}/qa.html`,
      },
      {
        alias: 'r',
        kind: 'product',
        name: 'right',
        output: 'r',
        version: await version('right'),
        qa: `../../right/${await version('right')}/qa.html`,
      },
    ]);
    const linked = posix.join(posix.dirname(top.qa!.html), qa.inputs[0]!.qa!);
    expect(linked).toBe(left.qa!.html);
    expect(await readText(p.store, 'egress', top.qa!.html)).toContain(`<a href="${qa.inputs[0]!.qa}">`);
    // The lineage names the upstream version's manifest by its hash, as a dataset version by its bytes'.
    expect(left.inputs[0]!.sha256).toMatch(/^[0-9a-f]{64}$/);
    // Each published version's tables stay, readable, in a schema of its own.
    const kept = await p.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM ${`"${productVersionSchema('base', await version('base'))}"`}.totals`,
    );
    expect(kept[0]!.n).toBe(2);
  });

  it('reads the upstream version its lock names, though the upstream publishes again during the build', async () => {
    // Prepare: base is built from counts as they are; counts then moves on, so a build of base now differs.
    await ingest('k,n\na,1\nb,2\nc,3\n');
    const before = (await readLatest(p.store, 'base'))!.version;
    expect((await readManifest(p.store, 'base')).outputs[0]!.rows).toBe(2);
    const again = await submit(p, { kind: 'build', product: 'base' }, { kind: 'cli' });
    let republished: Run | undefined;
    const reader = await submit(p, { kind: 'build', product: 'reader' }, { kind: 'cli' });
    // Act: between the reader's plan and its SQL, base publishes a new version (on a connection of its own
    // where the engine has one).
    await p.runs.start(reader.id);
    const outcome = await buildProduct(p, catalog, 'reader', reader.id, {
      onStep: async (s) => {
        if (s.name !== 'plan' || s.status !== 'done') return;
        republished = await p.db.beside(() =>
          executeJob(p, catalog, { kind: 'build', product: 'base', runId: again.id }),
        );
      },
    });
    await p.runs.succeed(reader.id, outcome.result, outcome.lineage);
    // Assess
    expect(republished?.status).toBe('succeeded');
    const after = (await readLatest(p.store, 'base'))!.version;
    expect(after).not.toBe(before);
    expect(await published('base')).toEqual(['a=1', 'b=2', 'c=3']);
    const m = await readManifest(p.store, 'reader');
    expect(upstreamOf(m.inputs)).toEqual([`t=base/totals@${before}`]);
    expect(await published('reader')).toEqual(['a=1', 'b=2']);
  });

  it('follows a new dataset version down the graph: each product once, in order, the diamond last', async () => {
    // Prepare: nothing left over on the queue from the builds above.
    await work(false);
    await sendCounts('k,n\na,1\nb,2\nc,3\nd,4\n');
    // Act
    const taken = await work();
    // Assess: left, reader and right only once base published; top once, after both of its inputs.
    expect(taken[0]).toBe('base:succeeded');
    expect(taken.slice(1, 4).sort()).toEqual(['left:succeeded', 'reader:succeeded', 'right:succeeded']);
    expect(taken.slice(4)).toEqual(['top:succeeded']);
    expect(await published('top')).toEqual(['a=5', 'b=10', 'c=15', 'd=20']);
  });

  it('queues the product reading two others once when both finish at the same moment', async () => {
    // Prepare: left and right both built from a new base, neither yet followed (as two tasks ending together).
    await work(false);
    await sendCounts('k,n\na,2\nb,3\n');
    await work(false); // the ingest, followed by nothing
    await buildGraph(p, catalog, 'base', { direction: 'upstream', trigger: { kind: 'cli' } });
    const runs: { job: JobMessage; run: Run }[] = [];
    for (const product of ['left', 'right']) {
      const queued = await submit(p, { kind: 'build', product }, { kind: 'cli' });
      const job: JobMessage = { kind: 'build', product, runId: queued.id };
      runs.push({ job, run: await executeJob(p, catalog, job) });
    }
    await work(false); // the two jobs' messages, their runs done already
    // Act: each follows its new version now that both have finished.
    const queued = await Promise.all(runs.map((r) => rebuildDependents(p, catalog, r.job, r.run)));
    // Assess
    const tops = queued.flat().filter((r) => r.target === 'top');
    expect(tops).toHaveLength(2);
    expect(new Set(tops.map((r) => r.id)).size).toBe(1);
    expect(await work()).toEqual(['top:succeeded']);
    expect(await published('top')).toEqual(['a=10', 'b=15']);
  });

  it('queues what waited for an upstream build that turned out to have nothing new', async () => {
    // Prepare: a build of right waits in the queue (asked for by a moved input: it will find nothing new),
    // and left is built again by hand.
    await work(false);
    await submit(p, { kind: 'build', product: 'right' }, { kind: 'input' });
    await submit(p, { kind: 'build', product: 'left' }, { kind: 'cli' });
    const jobs = await p.queue.receive(2, 60);
    const take = async (product: string) => {
      const got = jobs.find((j) => j.job.kind === 'build' && j.job.product === product)!;
      const run = await executeJob(p, catalog, got.job, {}, { rebuildDependents: true });
      await p.queue.delete(got.receipt);
      return run;
    };
    // Act: left publishes; top is stale through it, but waits for right's build.
    expect((await take('left')).status).toBe('succeeded');
    expect(await p.runs.list({ kind: 'build', target: 'top', status: 'queued' })).toEqual([]);
    // right's build publishes nothing.
    expect((await take('right')).result?.upToDate).toBe(true);
    // Assess: top, stale through left, is queued by what it waited for, and built once.
    expect(await work()).toEqual(['top:succeeded']);
  });

  it('leaves what reads a failed build alone, and says so on the failed run', async () => {
    // Prepare
    const topBefore = (await readLatest(p.store, 'top'))!.version;
    await sendCounts('k,n\na,1\nb,99\n');
    // Act
    const taken = await work();
    // Assess
    expect(taken[0]).toBe('base:succeeded');
    expect(taken.slice(1).sort()).toEqual(['left:succeeded', 'reader:succeeded', 'right:failed']);
    expect((await readLatest(p.store, 'top'))!.version).toBe(topBefore);
    const [failed] = await p.runs.list({ kind: 'build', target: 'right', status: 'failed', limit: 1 });
    expect(failed?.error?.dependentsHeld).toEqual({
      products: ['top'],
      reason: 'the build of right failed; not rebuilt, still reading its last published version: top',
    });
  });

  it('queues nothing when an upstream published nothing new', async () => {
    // The same bytes again make no new version of counts: base is not stale, and nothing after it moves.
    await sendCounts('k,n\na,1\nb,99\n');
    expect(await work()).toEqual([]);
  });

  it('gc drops the kept tables of superseded versions nothing reads, keeps the newest, and leaves the files', async () => {
    // Prepare: base has published several versions by now, each with its tables kept.
    const kept = async () =>
      (await listKeptVersions(p.db)).filter((k) => k.product === 'base').map((k) => k.version);
    const newest = (await readLatest(p.store, 'base'))!.version;
    const before = await kept();
    expect(before.length).toBeGreaterThan(2);
    // Act
    const dropped = await collectKeptVersions(p.db, catalog);
    // Assess
    expect(await kept()).toEqual([newest]);
    expect(
      dropped
        .filter((d) => d.product === 'base')
        .map((d) => d.version)
        .sort(),
    ).toEqual(before.filter((v) => v !== newest).sort());
    expect(dropped[0]!.reason).toMatch(/^superseded by \S+; nothing pins or reads it$/);
    // The published files stay: the oldest version's manifest and output are still there to read.
    const oldest = before.sort()[0]!;
    expect((await published('base', oldest)).length).toBe(2);
    // What reads base still builds from the version kept.
    expect(
      (await buildGraph(p, catalog, 'reader', { direction: 'downstream', trigger: { kind: 'cli' } }))[0],
    ).toMatchObject({
      status: 'built',
    });
  });
});
