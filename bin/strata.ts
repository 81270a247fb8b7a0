import { basename, resolve } from 'node:path';
import { Command, Option } from 'commander';
import { announceGdal } from '../runtime/adapters/gdal/facade.ts';
import { isFile } from '../runtime/archive/archive.ts';
import { checkArchive, isDamage, knownDatasets } from '../runtime/archive/check.ts';
import { NotFoundError, UsageError } from '../runtime/errors.ts';
import { workUntil } from '../runtime/jobs/execute.ts';
import { submit } from '../runtime/jobs/submit.ts';
import { databaseUrlOf, strataHome } from '../runtime/platform/local.ts';
import { listProductVersions } from '../runtime/publish/versions.ts';
import { RunStatus } from '../runtime/runs/schema.ts';
import { announceServe } from '../runtime/serve/discovery.ts';
import { parseWebhookSecrets } from '../runtime/triggers/webhook.ts';
import { registerBuildCommands } from './cli/build-commands.ts';
import { type GlobalOptions, openCatalog, withPlatform } from './cli/context.ts';
import { registerCoreCommands, runCoreServer } from './cli/core-commands.ts';
import { registerCostCommands } from './cli/cost-commands.ts';
import { currentUser, registerDatasetsCommands } from './cli/datasets-commands.ts';
import { registerDbCommands } from './cli/db-commands.ts';
import { registerLineageCommand } from './cli/graph-commands.ts';
import { EXIT, loadProgressBar, printJson, printTable, reportError, say, sayStep } from './cli/output.ts';
import { registerPartnersCommands } from './cli/partners-commands.ts';
import { registerPrepareCommand } from './cli/prepare-command.ts';
import { registerQaCommands } from './cli/qa-commands.ts';
import {
  isProduct,
  printDatasetVersions,
  printProductVersions,
  readDatasetVersions,
  readStore,
  requireKnown,
  withRuns,
} from './cli/reads.ts';
import { registerReceiptsCommands, reportIngest } from './cli/receipts-commands.ts';
import { registerRunsCommands } from './cli/runs-commands.ts';
import { registerSmokeCommand } from './cli/smoke-command.ts';
import { registerSyncCommand } from './cli/sync-command.ts';
import { registerValidateCommand } from './cli/validate-commands.ts';

const program = new Command('strata')
  .description('Strata: versioned geospatial datasets, PostGIS builds and published data products')
  .option('--catalog <dir>', 'catalog directory', './catalog')
  .option(
    '--home <dir>',
    'where local buckets and the embedded database live (STRATA_HOME, default ./.strata)',
  )
  .option('--json', 'machine-readable output on stdout')
  .showHelpAfterError();

const globals = (): GlobalOptions => program.opts<GlobalOptions>();

// Which GDAL a command uses is said once, when it first needs one: the embedded one is slower, and says so.
announceGdal((label) => {
  if (!globals().json) process.stderr.write(`using ${label}\n`);
});

/** Runs a command body, turning any error into a message and an exit code. */
function action<A extends unknown[]>(fn: (...args: A) => Promise<number | undefined>) {
  return async (...args: A) => {
    try {
      process.exitCode = (await fn(...args)) ?? EXIT.ok;
    } catch (e) {
      process.exitCode = reportError(e, Boolean(globals().json));
    }
  };
}

registerValidateCommand(program, globals, action);

program
  .command('ingest')
  .description(
    "archive a file as a new immutable version of a dataset and load it into PostGIS, if it meets the dataset's contract (else it is quarantined, with a receipt); it becomes the current version (the bytes of an older version make that one current again)",
  )
  .argument('<dataset>', 'dataset name, as in catalog/datasets/<name>.yaml')
  .argument('<file>', 'the file to ingest')
  .action(
    action(async (dataset: string, file: string) => {
      const g = globals();
      const path = resolve(file);
      if (!(await isFile(path))) throw new NotFoundError(`file not found: ${file}`);
      return withPlatform({ ...g, needs: { dataset } }, async (p, catalog) => {
        const queued = await submit(
          p,
          { kind: 'ingest', dataset, source: { path }, filename: basename(path) },
          { kind: 'cli', by: currentUser() },
        );
        const bar = loadProgressBar(!g.json);
        const run = await workUntil(p, catalog, queued.id, {
          onLoadProgress: (x) => bar.update(x),
          onStep: (s) => {
            if (s.status === 'done' && !g.json) {
              bar.stop();
              sayStep(p.db.engine, s, `  ${s.name}: ${s.detail ?? ''} (${s.ms} ms)`);
            }
          },
        });
        bar.stop();
        if (g.json) printJson({ ok: run.status === 'succeeded', run });
        else reportIngest(run, dataset);
        return run.status === 'succeeded' ? EXIT.ok : EXIT.failed;
      });
    }),
  );

program
  .command('runs')
  .description('recent runs, newest first')
  .addOption(new Option('--status <status>', 'only runs with this status').choices(RunStatus.options))
  .option('--target <name>', 'only runs of this dataset or product')
  .option('--limit <n>', 'how many', '20')
  .action(
    action(async (o: { status?: RunStatus; target?: string; limit: string }) => {
      const g = globals();
      return withRuns(g, async (list) => {
        const runs = await list({ status: o.status, target: o.target, limit: Number(o.limit) });
        if (g.json) printJson(runs);
        else
          printTable(
            runs.map((r) => ({
              id: r.id,
              kind: r.kind,
              target: r.target,
              status: r.status,
              attempts: r.attempts,
              trigger: r.trigger.kind,
              started: r.startedAt?.replace('T', ' ').slice(0, 19),
              seconds:
                r.startedAt && r.finishedAt
                  ? ((Date.parse(r.finishedAt) - Date.parse(r.startedAt)) / 1000).toFixed(1)
                  : '',
              detail:
                r.status === 'failed' || r.status === 'interrupted'
                  ? String(r.error?.message ?? '').slice(0, 100)
                  : String(r.result?.version ?? ''),
            })),
            ['id', 'kind', 'target', 'status', 'attempts', 'trigger', 'started', 'seconds', 'detail'],
          );
        return EXIT.ok;
      });
    }),
  );

program
  .command('versions')
  .description('the versions of a dataset (archived) or of a product (published), newest first')
  .argument('<name>', 'dataset or product name')
  .action(
    action(async (name: string) => {
      const g = globals();
      const catalog = await openCatalog(g);
      if (isProduct(catalog, name) && !catalog.datasets.has(name)) {
        printProductVersions(await listProductVersions(readStore(g), name), Boolean(g.json));
        return EXIT.ok;
      }
      requireKnown(catalog, 'dataset', name);
      printDatasetVersions(await readDatasetVersions(g, name), Boolean(g.json));
      return EXIT.ok;
    }),
  );

program
  .command('archive')
  .description('look after the archive')
  .command('check')
  .description(
    "compare the archive with the database: versions missing from it, incomplete ingests, versions the database does not know; --verify re-hashes every version's bytes",
  )
  .argument('[datasets...]', 'datasets to check (default: every dataset in the catalog or the database)')
  .option('--verify', "read every version's bytes and compare them with its recorded size and sha256")
  .action(
    action(async (names: string[], o: { verify?: boolean }) => {
      const g = globals();
      return withPlatform(g, async (p, catalog) => {
        const datasets = names.length > 0 ? names : await knownDatasets(p.db, catalog.datasets.keys());
        const report = await checkArchive(p.db, p.store, datasets, {
          verify: o.verify,
          onVersion: o.verify && !g.json ? (d, v) => say(`  verifying ${d}@${v}`) : undefined,
        });
        const damaged = report.findings.filter(isDamage).length;
        if (g.json) printJson({ datasets, ...report, ok: damaged === 0 });
        else {
          if (report.findings.length > 0)
            printTable(
              report.findings.map((f) => ({ ...f })),
              ['dataset', 'version', 'kind', 'detail'],
            );
          say(
            `checked ${report.versions} version(s) of ${datasets.length} dataset(s)${o.verify ? ', bytes verified' : ''}: ${damaged === 0 ? 'nothing missing or changed' : `${damaged} missing or changed`}${report.findings.length > damaged ? `; ${report.findings.length - damaged} note(s)` : ''}`,
          );
        }
        return damaged === 0 ? EXIT.ok : EXIT.checkFailed;
      });
    }),
  );

registerBuildCommands(program, globals, action);
registerLineageCommand(program, globals, action);
registerCoreCommands(program, globals, action);
registerCostCommands(program, globals, action);
registerSmokeCommand(program, globals, action);
registerSyncCommand(program, globals, action);
registerPrepareCommand(program, globals, action);
registerPartnersCommands(program, globals, action);
registerRunsCommands(program, globals, action);
registerQaCommands(program, globals, action);
registerDatasetsCommands(program, globals, action);
registerReceiptsCommands(program, globals, action);
registerDbCommands(program, globals, action);

program
  .command('serve')
  .description(
    'run the platform by itself on this machine: watch the ingress folder, run catalog schedules, serve the partner API and signed webhooks, work the queue',
  )
  .option('--port <n>', 'HTTP port for the partner API, webhooks and GET /runs (127.0.0.1)', '8787')
  .option('--workers <n>', 'jobs worked at once', '2')
  .option('--poll-ms <n>', 'how often the ingress folder is looked at', '1000')
  .option('--max-upload-bytes <n>', 'largest file taken from the ingress folder', String(5 * 1024 ** 3))
  .option(
    '--quiet-ms <n>',
    'a file in the ingress folder is taken once unchanged this long (write to x.part or .x, then rename)',
    '2000',
  )
  .option(
    '--stale-seconds <n>',
    'with DATABASE_URL: a running run with no heartbeat for this long is retried',
    '120',
  )
  .option(
    '--cors-origin <origin>',
    'an origin (scheme://host[:port], or *) whose web pages may read the partner API; repeat for more (default: $STRATA_CORS_ORIGINS, comma-separated, else none)',
    (value: string, previous: string[] = []) => [...previous, value],
  )
  .option(
    '--core',
    'play the federation core for children in other homes instead (POST /summaries, GET /status)',
  )
  .option(
    '--children <file>',
    'with --core: the children and their public keys (default <home>/core-children.json)',
  )
  .action(
    action(
      async (o: {
        port: string;
        workers: string;
        pollMs: string;
        maxUploadBytes: string;
        quietMs: string;
        staleSeconds: string;
        core?: boolean;
        children?: string;
        corsOrigin?: string[];
      }) => {
        const g = globals();
        if (o.core) return runCoreServer(g, o);
        const { serve, serveConnections } = await import('../runtime/serve/serve.ts');
        const { localPartnerDirectory } = await import('../runtime/adapters/local/partner-file.ts');
        const { CORS_ORIGINS_ENV, parseCorsOrigins } = await import('../runtime/http/cors.ts');
        const { portalSignInFromEnv } = await import('../runtime/portal/oidc.ts');
        const portalSignIn = portalSignInFromEnv(process.env);
        const workers = Number(o.workers);
        if (!Number.isInteger(workers) || workers < 1 || workers > 64)
          throw new UsageError(`--workers must be a whole number from 1 to 64, got: ${o.workers}`);
        return withPlatform({ ...g, connections: serveConnections(workers) }, async (p, catalog) => {
          const secrets = parseWebhookSecrets(process.env.STRATA_WEBHOOK_SECRETS, 'STRATA_WEBHOOK_SECRETS');
          const corsOrigins = o.corsOrigin
            ? parseCorsOrigins(o.corsOrigin, '--cors-origin')
            : parseCorsOrigins(process.env[CORS_ORIGINS_ENV], CORS_ORIGINS_ENV);
          const serving = await serve(p, catalog, {
            port: Number(o.port),
            workers,
            pollMs: Number(o.pollMs),
            maxUploadBytes: Number(o.maxUploadBytes),
            quietMs: Number(o.quietMs),
            webhookSecrets: secrets,
            partners: localPartnerDirectory(strataHome(g.home)),
            corsOrigins,
            portalSignIn,
            staleSeconds: p.db.engine === 'pglite' ? 'all' : Number(o.staleSeconds),
            log: (m) => say(`${new Date().toISOString()} ${m}`),
          });
          // Read commands ask this process rather than wait for the database it holds.
          const announced = await announceServe(strataHome(g.home), serving.port, databaseUrlOf(g.home));
          say(
            `strata serve: http://127.0.0.1:${serving.port} (the partner API, POST /webhooks/<product>, GET /runs; the console at /console, the partner portal at /portal); watching ${p.store.locate('ingress', 'x').replace(/\/x$/, '')}; Ctrl-C stops`,
          );
          await new Promise<void>((resolve) => {
            let signals = 0;
            const stop = () => {
              signals++;
              if (signals > 1) process.exit(130);
              say('stopping: finishing the jobs in hand (Ctrl-C again to leave them for retry)');
              serving.stop().then(resolve, resolve);
            };
            process.on('SIGINT', stop);
            process.on('SIGTERM', stop);
          });
          await announced.withdraw();
          return EXIT.ok;
        });
      },
    ),
  );

await program.parseAsync(process.argv);
