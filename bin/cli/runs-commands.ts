import type { Command } from 'commander';
import type { Catalog } from '../../runtime/catalog-files/loader.ts';
import { UsageError } from '../../runtime/errors.ts';
import { workUntil } from '../../runtime/jobs/execute.ts';
import type { Platform } from '../../runtime/platform/platform.ts';
import { type RedriveOutcome, redriveRun, replayFailed } from '../../runtime/runs/redrive.ts';
import { type Run, RunKind } from '../../runtime/runs/schema.ts';
import { parseSince } from '../../runtime/runs/since.ts';
import { type GlobalOptions, withPlatform } from './context.ts';
import { EXIT, printJson, printTable, say, sayStep } from './output.ts';

type Action = <A extends unknown[]>(
  fn: (...args: A) => Promise<number | undefined>,
) => (...args: A) => Promise<void>;

const who = () => `strata runs (${process.env.USER ?? 'unknown user'})`;

/** Works the queue until each run has ended, saying how each ended. */
async function workAll(p: Platform, catalog: Catalog, ids: readonly string[], json: boolean): Promise<Run[]> {
  const out: Run[] = [];
  for (const id of ids) {
    if (!json) say(`working run ${id}`);
    const run = await workUntil(p, catalog, id, {
      onStep: (s) => {
        if (!json && s.status === 'done') sayStep(p.db.engine, s);
      },
    });
    if (!json)
      say(
        `run ${run.id} ${run.status}${run.error ? `: ${String(run.error.message)}` : ''} (attempt ${run.attempts})`,
      );
    out.push(run);
  }
  return out;
}

function printOutcomes(outcomes: readonly RedriveOutcome[]): void {
  printTable(
    outcomes.map((o) => ({ ...o, reason: o.reason ?? '' })),
    ['runId', 'kind', 'target', 'status', 'reason'],
  );
}

/**
 * `strata runs show|retry|replay`: a run's attempts and their causes, and sending failed runs again without
 * SQL. Retried runs are worked here unless `--no-wait` leaves them to `strata serve`.
 */
export function registerRunsCommands(program: Command, globals: () => GlobalOptions, action: Action): void {
  const runs = program.commands.find((c) => c.name() === 'runs');
  if (!runs) throw new Error('the runs command must be registered first');

  runs
    .command('retry')
    .description('send a failed or interrupted run again (the same run, a new attempt), and work it')
    .argument('<run>', 'run id')
    .option('--no-wait', 'only queue it (for `strata serve` to work)')
    .action(
      action(async (id: string, o: { wait: boolean }) => {
        const g = globals();
        return withPlatform(g, async (p, catalog) => {
          const outcome = await redriveRun(p, id, who());
          if (outcome.status !== 'queued')
            throw new UsageError(`run ${id} cannot be retried: ${outcome.reason}`);
          if (!g.json) say(`run ${id} (${outcome.kind} ${outcome.target}) queued again`);
          const [run] = o.wait ? await workAll(p, catalog, [id], Boolean(g.json)) : [await p.runs.get(id)];
          if (g.json)
            printJson({
              ok: !o.wait || run!.status === 'succeeded',
              run,
              attempts: await p.runs.attempts(id),
            });
          return !o.wait || run!.status === 'succeeded' ? EXIT.ok : EXIT.failed;
        });
      }),
    );

  runs
    .command('replay')
    .description(
      'send again every run that failed since a time (builds and fetches once per target); `strata runs --target <name> replay ...` narrows it to one dataset or product',
    )
    .option('--failed', 'replay failed runs (the only selection there is; say it to be sure)')
    .requiredOption(
      '--since <when>',
      'a duration back from now (90m, 2h, 3d, 1w) or a time (2026-11-22T10:00Z)',
    )
    .option('--kind <kind>', `only runs of this kind (${RunKind.options.join(', ')})`)
    .option('--dry-run', 'say what would be sent, send nothing')
    .option('--no-wait', 'only queue them (for `strata serve` to work)')
    .action(
      action(
        async (o: { failed?: boolean; since: string; kind?: string; dryRun?: boolean; wait: boolean }) => {
          const g = globals();
          if (!o.failed) throw new UsageError('say which runs to replay: --failed');
          const kind = o.kind === undefined ? undefined : RunKind.safeParse(o.kind);
          if (kind && !kind.success)
            throw new UsageError(`--kind "${o.kind}" is not one of ${RunKind.options.join(', ')}`);
          const since = parseSince(o.since);
          return withPlatform(g, async (p, catalog) => {
            const outcomes = await replayFailed(
              p,
              // `--target` belongs to `strata runs` (it filters the listing too): read it there.
              { since, kind: kind?.data, target: runs.opts<{ target?: string }>().target, dryRun: o.dryRun },
              who(),
            );
            const queued = outcomes.filter((x) => x.status === 'queued').map((x) => x.runId);
            if (!g.json) {
              say(
                `${o.dryRun ? 'would send' : 'sent'} ${queued.length} run(s) failed since ${since.toISOString()} again; ${outcomes.length - queued.length} skipped`,
              );
              if (outcomes.length > 0) printOutcomes(outcomes);
            }
            const worked = o.wait && !o.dryRun ? await workAll(p, catalog, queued, Boolean(g.json)) : [];
            const ok = worked.every((r) => r.status === 'succeeded');
            if (g.json) printJson({ ok, since: since.toISOString(), outcomes, runs: worked });
            return ok ? EXIT.ok : EXIT.failed;
          });
        },
      ),
    );
}
