import type { Command } from 'commander';
import { UsageError } from '../../runtime/errors.ts';
import { moveDatabase } from '../../runtime/rebuild/move.ts';
import { type RebuildReport, rebuildDatabase } from '../../runtime/rebuild/rebuild.ts';
import type { Action, GlobalOptions } from './context.ts';
import { openCatalog, withPlatform } from './context.ts';
import { EXIT, printJson, say } from './output.ts';

/** `strata db …`: the database as a whole, made again from the buckets that are the platform's record. */
export function registerDbCommands(program: Command, globals: () => GlobalOptions, action: Action): void {
  const db = program.command('db').description("the platform's database as a whole");
  registerMove(db, globals, action);
  db.command('rebuild')
    .description(
      'make the database again from the archive and egress buckets alone: every dataset version, the current versions and their history, the quarantine, published product versions and their lineage; then load the current version of each dataset. Runs on an empty database, or one behind the buckets (an older snapshot)',
    )
    .option('--all', 'load every version of each dataset, not only the current one')
    .option('--dry-run', 'say what would be added, and change nothing')
    .option(
      '--aws <stack>',
      "on AWS: run the rebuild as a Fargate task of the child stack named (your AWS credentials; AWS_REGION), and follow it until it stops; its report is in the task's log group",
    )
    .option('--no-wait', 'with --aws: return once the task is started')
    .action(
      action(async (o: { all?: boolean; dryRun?: boolean; aws?: string; wait: boolean }) => {
        const g = globals();
        if (o.aws) return rebuildOnAwsCommand(o.aws, o, g.json);
        return withPlatform(g, async (p, catalog) => {
          const report = await rebuildDatabase(p, catalog, {
            all: o.all,
            dryRun: o.dryRun,
            onProgress: g.json ? undefined : (m) => say(`  ${m}`),
          });
          if (g.json) printJson({ ok: report.notLoaded.length === 0, ...report });
          else printReport(report);
          return report.notLoaded.length === 0 ? EXIT.ok : EXIT.failed;
        });
      }),
    );
}

async function rebuildOnAwsCommand(
  stack: string,
  o: { all?: boolean; dryRun?: boolean; wait: boolean },
  json: boolean | undefined,
): Promise<number> {
  // The AWS clients load only for this: the command line's start stays light.
  const [{ rebuildOnAws }, { CloudFormationClient }, { ECSClient }] = await Promise.all([
    import('../../runtime/aws/rebuild-task.ts'),
    import('@aws-sdk/client-cloudformation'),
    import('@aws-sdk/client-ecs'),
  ]);
  const { task, end } = await rebuildOnAws(
    { stack, all: o.all, dryRun: o.dryRun, wait: o.wait },
    { cfn: new CloudFormationClient({}), ecs: new ECSClient({}) },
    json ? undefined : (s) => say(`  ${s}`),
  );
  const ok = end === undefined || end.exitCode === 0;
  if (json) printJson({ ok, ...task, ...end });
  else if (!end) say(`the rebuild runs as ${task.taskArn}; follow it in ${task.logGroup}`);
  else
    say(
      ok
        ? `the rebuild finished; its report is in ${task.logGroup}`
        : `the rebuild stopped with exit code ${end.exitCode ?? 'none'} (${end.stoppedReason ?? 'no reason given'}); read ${task.logGroup}`,
    );
  return ok ? EXIT.ok : EXIT.failed;
}

function printReport(r: RebuildReport): void {
  const a = r.added;
  const what = [
    `${a.versions.length} dataset version(s)`,
    `${a.events.length} move(s) of current versions`,
    `${a.quarantined.length} file(s) in quarantine (${a.releases.length} release(s))`,
    `${a.productVersions.length} published product version(s)`,
  ].join(', ');
  const from = r.empty ? 'an empty database' : 'a database behind the buckets';
  say(`${r.dryRun ? 'would restore' : 'restored'} into ${from}: ${what}`);
  if (!r.empty) for (const v of [...a.versions, ...a.productVersions].slice(0, 20)) say(`  + ${v}`);
  if (!r.dryRun) {
    const rows = r.loaded.reduce((n, l) => n + l.rows, 0);
    say(`loaded ${r.loaded.length} version(s), ${rows} row(s)`);
  }
  for (const n of r.notLoaded) say(`not loaded: ${n.dataset}@${n.version}: ${n.reason}`);
  say('not restored (the buckets do not record it):');
  for (const line of r.notRestored) say(`  - ${line}`);
}

function registerMove(db: Command, globals: () => GlobalOptions, action: Action): void {
  db.command('move')
    .description(
      "move the home's database to a PostgreSQL + PostGIS server, or back to the embedded one: rebuilt there from the buckets, compared with the database it replaces, and only then the home switched (<home>/database.json); the database left behind is kept",
    )
    .requiredOption('--to <where>', 'postgres://user:password@host:port/database, or "embedded"')
    .option('--all', 'load every version of each dataset there, not only the current one')
    .action(
      action(async (o: { to: string; all?: boolean }) => {
        const g = globals();
        if (o.to !== 'embedded' && !/^postgres(ql)?:\/\//.test(o.to))
          throw new UsageError(`--to: a postgres:// URL or "embedded", got "${o.to}"`);
        const report = await moveDatabase({
          home: g.home,
          to: o.to === 'embedded' ? undefined : o.to,
          catalog: await openCatalog(g),
          all: o.all,
          onProgress: g.json ? undefined : (m) => say(`  ${m}`),
        });
        if (g.json) printJson({ ok: true, ...report });
        else {
          const v = report.verified;
          say(
            `moved to ${report.to}: the same ${v.versions} version(s) of ${v.datasets} dataset(s), ${v.events} move(s), ${v.quarantine} file(s) in quarantine and the published versions of ${v.products} product(s) as ${report.from}`,
          );
          if (report.embeddedKeptAt) say(`the embedded database is kept at ${report.embeddedKeptAt}`);
        }
        return EXIT.ok;
      }),
    );
}
