import type { ChildProcess } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Run } from '../../runtime/runs/schema.ts';
import { serveArgs, startServe } from '../helpers/cli.ts';
import { processEngines } from '../helpers/engines.ts';
import { notesCatalog } from '../helpers/notes.ts';
import { freePort, until } from '../helpers/wait.ts';

const SECRET = 'local-s3cret';

describe.each(processEngines())('strata serve on $name', (mode) => {
  const children: ChildProcess[] = [];
  afterAll(() => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  });

  it('turns a dropped file into a version and a rebuilt product, takes signed webhooks, and retries a killed load', async () => {
    // Prepare: a catalog, a home, a port.
    const home = await mkdtemp(join(tmpdir(), 'strata-serve-'));
    const catalogDir = join(home, 'catalog');
    await notesCatalog(catalogDir);
    const port = await freePort();
    const databaseUrl = await mode.url();
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      STRATA_WEBHOOK_SECRETS: JSON.stringify({ copy: SECRET }),
    };
    if (databaseUrl) env.DATABASE_URL = databaseUrl;
    else delete env.DATABASE_URL;
    const start = async () => {
      // With a server, a killed worker's run is taken as orphaned once its heartbeat is older than this.
      // Opening the embedded database (and recovering it after a kill) takes minutes on a loaded machine.
      const { child } = await startServe(
        serveArgs(catalogDir, home, port, '--stale-seconds', '3'),
        env,
        port,
      );
      children.push(child);
      return child;
    };
    const api = async (path: string, init?: RequestInit) => fetch(`http://127.0.0.1:${port}${path}`, init);
    const runs = async (): Promise<Run[]> => (await (await api('/runs')).json()) as Run[];
    const latest = async () => {
      const path = join(home, 'buckets', 'egress', 'products', 'copy', 'latest.json');
      return existsSync(path)
        ? (JSON.parse(await readFile(path, 'utf8')) as { version: string }).version
        : undefined;
    };
    const drop = async (name: string, rows: number) => {
      const dir = join(home, 'buckets', 'ingress', 'datasets', 'notes');
      await mkdir(dir, { recursive: true });
      const lines = ['id,note'];
      for (let i = 1; i <= rows; i++) lines.push(`${i},note ${i} with some words to make it longer`);
      await writeFile(join(home, `${name}.tmp`), `${lines.join('\n')}\n`);
      await rename(join(home, `${name}.tmp`), join(dir, name));
    };

    // Act + assess 1: a dropped file becomes a version, and the product that reads it is rebuilt.
    let serveProcess = await start();
    await drop('a.csv', 3);
    const v1 = await until('the product to be published', latest);
    const afterDrop = await runs();
    expect(afterDrop.find((r) => r.kind === 'ingest')).toMatchObject({
      status: 'succeeded',
      trigger: { kind: 'upload' },
      result: { rows: 3 },
    });
    expect(afterDrop.find((r) => r.kind === 'build')).toMatchObject({
      status: 'succeeded',
      trigger: { kind: 'input' },
    });

    // 2: a webhook with a bad signature changes nothing; a good one builds.
    const body = JSON.stringify({ ref: 'main' });
    const sign = (secret: string) => `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
    const bad = await api('/webhooks/copy', {
      method: 'POST',
      body,
      headers: { 'x-hub-signature-256': sign('nope'), 'x-github-delivery': 'd-1' },
    });
    expect(bad.status).toBe(401);
    expect((await runs()).length).toBe(afterDrop.length);
    const good = await api('/webhooks/copy', {
      method: 'POST',
      body,
      headers: { 'x-hub-signature-256': sign(SECRET), 'x-github-delivery': 'd-1' },
    });
    expect(good.status).toBe(202);
    const v2 = await until('the webhook build', async () => ((await latest()) !== v1 ? latest() : undefined));
    expect(v2).not.toBe(v1);

    // 3: killed while it loads a file: nothing partial stays, and after a restart the load ends in success
    // and the product is rebuilt from it, wherever the kill landed: mid-load (the run is retried, and
    // archives nothing twice) or after the load succeeded (its job comes back and queues the rebuild). The
    // fault suite kills a worker at a point it chooses (test/faults/worker-killed.test.ts).
    await drop('big.csv', 400_000);
    const loading = await until('the big load to start', async () =>
      (await runs()).find((r) => r.kind === 'ingest' && r.status === 'running'),
    );
    serveProcess.kill('SIGKILL');
    await until('the worker to die', () =>
      serveProcess.exitCode !== null || serveProcess.signalCode !== null ? true : undefined,
    );
    serveProcess = await start();
    const loaded = await until(
      'the killed run to end in success',
      async () => (await runs()).find((r) => r.id === loading.id && r.status === 'succeeded'),
      180_000,
    );
    expect([1, 2]).toContain(loaded.attempts);
    expect(loaded.result).toMatchObject({ rows: 400_000 });
    // Two complete versions (metadata written last). A kill between the bytes and the metadata leaves an
    // incomplete folder that no listing counts and nothing deletes: the archive is never deleted from.
    const archive = join(home, 'buckets', 'archive', 'datasets', 'notes');
    const complete = (await readdir(archive)).filter((d) => existsSync(join(archive, d, 'metadata.json')));
    expect(complete).toHaveLength(2);
    const rebuilt = await until('the rebuild from the big load', async () => {
      const v = await latest();
      if (!v || v === v2) return undefined;
      const manifest = JSON.parse(
        await readFile(join(home, 'buckets', 'egress', 'products', 'copy', v, 'manifest.json'), 'utf8'),
      ) as { inputs: { version: string }[] };
      return manifest.inputs[0]?.version === loaded.result?.version ? manifest : undefined;
    });
    expect(rebuilt.inputs).toHaveLength(1);

    // Ctrl-C stops cleanly.
    serveProcess.kill('SIGINT');
    const code = await until('serve to exit', () => serveProcess.exitCode ?? undefined);
    expect(code).toBe(0);
  }, 900_000);
});
