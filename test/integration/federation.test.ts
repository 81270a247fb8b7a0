import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { packCatalog } from '../../runtime/catalog-files/bundle.ts';
import type { CoreStatus } from '../../runtime/federation/intake.ts';
import type { PublishSummary } from '../../runtime/ports/federation.ts';
import { signingKey, signSummary } from '../../runtime/ports/federation-keys.ts';
import type { Run } from '../../runtime/runs/schema.ts';
import { writeCatalog } from '../helpers/catalog.ts';
import { runCli } from '../helpers/cli.ts';
import { processEngines } from '../helpers/engines.ts';
import { freePort, until } from '../helpers/wait.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const CHILD_B_CATALOG = join(ROOT, 'examples', 'child-b', 'catalog');

/** Runs the command line to its end: exit code, stdout, stderr. */
const strata = runCli;

describe.each(processEngines())('federation on one machine, children on $name', (mode) => {
  const started: ChildProcess[] = [];
  afterAll(() => {
    for (const c of started) if (c.exitCode === null) c.kill('SIGKILL');
  });

  it('two children report each publish to one core, which refuses a forged summary', async () => {
    // Prepare: three homes; each child makes its key and the core is told the public keys.
    const base = { ...process.env };
    delete base.DATABASE_URL;
    delete base.STRATA_CORE_URL;
    const coreHome = await mkdtemp(join(tmpdir(), 'strata-core-'));
    const homes = {
      'child-a': await mkdtemp(join(tmpdir(), 'strata-a-')),
      'child-b': await mkdtemp(join(tmpdir(), 'strata-b-')),
    };
    const publicKeys: Record<string, string> = {};
    for (const [name, home] of Object.entries(homes)) {
      const made = await strata(['--home', home, '--json', 'core', 'keygen'], base);
      expect(made.code, made.stderr).toBe(0);
      publicKeys[name] = JSON.parse(made.stdout).publicKey;
    }
    await writeFile(
      join(coreHome, 'core-children.json'),
      JSON.stringify(Object.entries(publicKeys).map(([name, publicKey]) => ({ name, publicKey }))),
    );
    const port = await freePort();
    let coreLog = '';
    const core = spawn(
      'node',
      ['bin/strata.mjs', '--home', coreHome, 'serve', '--core', '--port', String(port)],
      {
        cwd: ROOT,
        env: base,
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    started.push(core);
    core.stderr!.on('data', (d) => {
      coreLog += d;
    });
    await until('the core to start', () => (coreLog.includes(`127.0.0.1:${port}`) ? true : undefined));
    const coreUrl = `http://127.0.0.1:${port}`;

    // child-a's own small catalog; child-b's is the example the child-b stack deploys.
    const catalogA = join(homes['child-a'], 'catalog');
    await writeCatalog(catalogA, {
      datasets: {
        parks: {
          format: 'csv',
          columns: [
            { name: 'id', type: 'integer' },
            { name: 'ward', type: 'text' },
          ],
          geometry: { kind: 'none' },
        },
      },
      products: {
        parks_per_ward: {
          product: {
            inputs: { parks: 'parks' },
            checks: [{ type: 'row_count', table: 'per_ward', min: 1 }],
            outputs: [{ table: 'per_ward', formats: ['csv'] }],
          },
          sql: {
            '010_per_ward.sql':
              'CREATE TABLE per_ward AS SELECT ward, count(*)::int AS parks FROM parks GROUP BY ward;',
          },
        },
      },
    });
    const children = {
      'child-a': {
        catalog: catalogA,
        dataset: 'parks',
        product: 'parks_per_ward',
        csv: 'id,ward\n1,North\n2,North\n3,South\n',
      },
      'child-b': {
        catalog: CHILD_B_CATALOG,
        dataset: 'bus_stops',
        product: 'stops_per_locality',
        csv: 'stop_id,name,locality,lon,lat\nS1,Station,Leeds,-1.548,53.795\nS2,Market,Leeds,-1.540,53.797\nS3,Minster,York,-1.082,53.962\n',
      },
    };
    const envOf = async (name: string) => {
      const env: NodeJS.ProcessEnv = { ...base, STRATA_CORE_URL: coreUrl, STRATA_CHILD_NAME: name };
      const url = await mode.url();
      if (url) env.DATABASE_URL = url;
      return env;
    };
    const envs = { 'child-a': await envOf('child-a'), 'child-b': await envOf('child-b') };

    // Act 1: each child ingests and builds; each build ends by reporting to the core.
    const published: Record<string, Run> = {};
    for (const [name, c] of Object.entries(children) as [
      keyof typeof children,
      (typeof children)['child-a'],
    ][]) {
      const home = homes[name];
      const file = join(home, `${c.dataset}.csv`);
      await writeFile(file, c.csv);
      const common = ['--home', home, '--catalog', c.catalog, '--json'];
      const ingested = await strata([...common, 'ingest', c.dataset, file], envs[name]);
      expect(ingested.code, ingested.stderr).toBe(0);
      const built = await strata([...common, 'build', c.product], envs[name]);
      expect(built.code, built.stderr).toBe(0);
      published[name] = JSON.parse(built.stdout).run as Run;
    }

    // Assess 1: the runs say they reported; the core's status shows both children, fresh.
    for (const [name, run] of Object.entries(published)) {
      expect(run.result?.federation, name).toMatchObject({ status: 'sent', to: `${coreUrl}/summaries` });
      expect(run.catalogSha256, name).toBe(
        packCatalog(children[name as keyof typeof children].catalog).sha256,
      );
    }
    const status = async (): Promise<CoreStatus> => {
      const out = await strata(['--json', 'core', 'status', '--url', coreUrl], base);
      expect(out.code, out.stderr).toBe(0);
      return JSON.parse(out.stdout) as CoreStatus;
    };
    const first = await status();
    expect(first.children.map((c) => [c.name, c.products.map((p) => [p.product, p.version])])).toEqual([
      ['child-a', [['parks_per_ward', published['child-a']!.result!.version]]],
      ['child-b', [['stops_per_locality', published['child-b']!.result!.version]]],
    ]);
    const stops = first.children[1]!.products[0]!;
    expect(stops).toMatchObject({
      rows: { stops_per_locality: 2 },
      schedule: '0 4 * * *',
      overdue: false,
      failedChecks: [],
      catalogSha256: packCatalog(CHILD_B_CATALOG).sha256,
    });
    const manifestB = await readFile(
      join(homes['child-b'], 'buckets', 'egress', String(published['child-b']!.result!.manifest)),
    );
    expect(stops.manifestSha256).toBe(createHash('sha256').update(manifestB).digest('hex'));

    // Act 2: a forged summary: child-b's key, claiming to be child-a, with a newer version.
    const keyB = await readFile(join(homes['child-b'], 'federation.key'), 'utf8');
    const forged: PublishSummary = {
      child: 'child-a',
      product: 'parks_per_ward',
      version: '29990101T000000000Z-deadbeef',
      runId: 'forged',
      manifest: { key: 'products/parks_per_ward/forged/manifest.json', sha256: 'f'.repeat(64) },
      rows: { per_ward: 1_000_000 },
      checks: [],
      publishedAt: new Date().toISOString(),
      catalogSha256: null,
    };
    const answer = await fetch(`${coreUrl}/summaries`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(signSummary(forged, signingKey(keyB))),
    });

    // Assess 2: refused, logged and recorded; child-a's freshness is what child-a published.
    expect(answer.status).toBe(403);
    expect(await answer.json()).toEqual({
      status: 'refused',
      reason: expect.stringMatching(/does not verify/),
    });
    await until('the refusal in the core log', () =>
      coreLog.includes('summary refused') ? true : undefined,
    );
    const second = await status();
    expect(second.children[0]!.products[0]!.version).toBe(published['child-a']!.result!.version);
    expect(second.children[0]!.refused).toEqual([
      expect.objectContaining({
        child: 'child-a',
        reason: expect.stringMatching(/does not verify/),
        version: forged.version,
      }),
    ]);

    // Act 3: the core goes away; child-a builds again.
    core.kill('SIGTERM');
    await until('the core to stop', () =>
      core.exitCode !== null || core.signalCode !== null ? true : undefined,
    );
    const common = ['--home', homes['child-a'], '--catalog', catalogA, '--json'];
    const again = await strata([...common, 'build', 'parks_per_ward'], envs['child-a']);

    // Assess 3: the version is published all the same; the run records that the report failed.
    expect(again.code, again.stderr).toBe(0);
    const run = JSON.parse(again.stdout).run as Run;
    expect(run.status).toBe('succeeded');
    expect(run.result?.federation).toMatchObject({ status: 'failed', error: expect.any(String) });

    // And the child's ledgers: every run priced, summed by dataset and product.
    const cost = await strata([...common, 'cost', '--since', '1d'], envs['child-a']);
    expect(cost.code, cost.stderr).toBe(0);
    expect(
      JSON.parse(cost.stdout).lines.map((l: { kind: string; name: string; runs: number }) => [
        l.kind,
        l.name,
        l.runs,
      ]),
    ).toEqual([
      ['dataset', 'parks', 1],
      ['product', 'parks_per_ward', 2],
    ]);
  }, 600_000);
});
