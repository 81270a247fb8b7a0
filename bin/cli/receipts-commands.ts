import type { Command } from 'commander';
import {
  getQuarantined,
  listQuarantine,
  type QuarantineEntry,
  syncQuarantine,
} from '../../runtime/archive/quarantine.ts';
import { type Receipt, receiptLines } from '../../runtime/archive/receipt.ts';
import { releaseFromQuarantine } from '../../runtime/jobs/release.ts';
import type { Run, RunAttempt } from '../../runtime/runs/schema.ts';
import { type GlobalOptions, withPlatform } from './context.ts';
import { type Action, cliActor, describeActor } from './datasets-commands.ts';
import { EXIT, exitCodeFor, humanBytes, loadProgressBar, printJson, printTable, say } from './output.ts';

/** The receipt a run carries: at `result.receipt` when accepted, at `error.receipt` when refused. */
export function receiptOf(run: Run): Receipt | undefined {
  return (run.result?.receipt ?? run.error?.receipt) as Receipt | undefined;
}

/** What became of an ingest, in a line or two: which version is current now, or why it was refused. */
export function reportIngest(run: Run, dataset: string): void {
  const receipt = receiptOf(run);
  if (run.status !== 'succeeded') {
    say(`error: ingest failed (run ${run.id}): ${String(run.error?.message ?? 'unknown error')}`);
    if (receipt) for (const line of receiptLines(receipt).slice(1)) say(line);
    if (receipt?.status === 'quarantined') say(`  the receipt: strata runs show ${run.id}`);
    return;
  }
  const r = run.result as {
    version: string;
    created: boolean;
    rows: number;
    size: number;
    sha256: string;
    current?: { changed: boolean; previous: string | null };
  };
  const was = r.current?.previous && r.current.changed ? ` (was ${r.current.previous})` : '';
  say(
    r.created
      ? `dataset ${dataset}: new version ${r.version} is current${was} (${r.rows} rows, ${humanBytes(r.size)}, sha256 ${r.sha256.slice(0, 12)})`
      : r.current?.changed === false
        ? `dataset ${dataset}: same bytes as version ${r.version}, which is current already; nothing changed (run ${run.id})`
        : `dataset ${dataset}: same bytes as version ${r.version}: ${r.version} is current again${was} (run ${run.id})`,
  );
  for (const w of receipt?.warnings ?? []) say(`  warning: ${w}`);
}

function printRun(run: Run, attempts: readonly RunAttempt[]): void {
  const out = (s: string) => process.stdout.write(`${s}\n`);
  out(`run ${run.id}: ${run.kind} ${run.target}, ${run.status}`);
  out(
    `  trigger ${run.trigger.kind}${run.trigger.by ? ` by ${run.trigger.by}` : ''}; created ${run.createdAt}; started ${run.startedAt ?? '-'}; finished ${run.finishedAt ?? '-'}; attempts ${run.attempts}`,
  );
  if (run.error) out(`  error: ${String(run.error.message ?? run.error.code ?? '')}`);
  const receipt = receiptOf(run);
  if (receipt) for (const line of receiptLines(receipt)) out(line);
  const result = run.result as { version?: string; outputs?: { key: string; rows: number }[] } | null;
  if (!receipt && result?.version) out(`  version ${result.version}`);
  for (const o of result?.outputs ?? []) out(`    ${o.key}  ${o.rows} rows`);
  if (attempts.length === 0) return;
  out('');
  printTable(
    attempts.map((a) => ({
      attempt: a.attempt,
      started: a.startedAt?.replace('T', ' ').slice(0, 19) ?? 'never',
      ended: a.endedAt?.replace('T', ' ').slice(0, 19) ?? '',
      status: a.status ?? 'running',
      worker: a.worker ?? '',
      cause: String(a.cause?.message ?? '').slice(0, 120),
    })),
    ['attempt', 'started', 'ended', 'status', 'worker', 'cause'],
  );
}

function quarantineRow(e: QuarantineEntry) {
  const first = e.receipt.problems[0]?.message ?? '';
  return {
    id: `${e.dataset}/${e.id}`,
    file: e.file.filename,
    size: humanBytes(e.file.size),
    quarantined: e.quarantinedAt.replace('T', ' ').slice(0, 19),
    by: describeActor(e.actor),
    problems: e.receipt.problems.length,
    first: first.length > 90 ? `${first.slice(0, 87)}...` : first,
    released: e.release ? `${e.release.releasedAt.slice(0, 10)} by ${describeActor(e.release.actor)}` : '',
  };
}

/** `strata runs show <run>` (a run with its receipt), `strata quarantine list|show|release`. */
export function registerReceiptsCommands(
  program: Command,
  globals: () => GlobalOptions,
  action: Action,
): void {
  // `runs` lists runs; `runs show` is one run with its receipt, in a file of its own.
  const runs = program.commands.find((c) => c.name() === 'runs') ?? program.command('runs');
  runs
    .command('show')
    .description(
      "one run: its status, trigger and error, an ingest's receipt (every problem of a refused file), and every attempt with how it ended and why",
    )
    .argument('<run>', 'a run id, as `strata runs` lists them')
    .action(
      action(async (id: string) => {
        const g = globals();
        return withPlatform(g, async (p) => {
          const run = await p.runs.get(id);
          const attempts = await p.runs.attempts(id);
          if (g.json) printJson({ ...run, attemptLog: attempts });
          else printRun(run, attempts);
          return EXIT.ok;
        });
      }),
    );

  const quarantine = program
    .command('quarantine')
    .description('files their dataset’s contract refused: kept for good, never a version until released');

  quarantine
    .command('list')
    .description('files in quarantine, newest first, with their first problem')
    .option('--dataset <name>', 'only files of this dataset')
    .option('--all', 'released ones too')
    .action(
      action(async (o: { dataset?: string; all?: boolean }) => {
        const g = globals();
        return withPlatform(g, async (p) => {
          await syncQuarantine(p.db, p.store, o.dataset);
          const entries = await listQuarantine(p.db, {
            dataset: o.dataset,
            ...(o.all ? {} : { released: false }),
          });
          if (g.json) printJson(entries);
          else
            printTable(entries.map(quarantineRow), [
              'id',
              'file',
              'size',
              'quarantined',
              'by',
              'problems',
              'first',
              ...(o.all ? ['released'] : []),
            ]);
          return EXIT.ok;
        });
      }),
    );

  quarantine
    .command('show')
    .description("a quarantined file's receipt: every problem, counted, with the first lines or features")
    .argument('<id>', '<dataset>/<id> or <id>, as `strata quarantine list` shows it')
    .action(
      action(async (ref: string) => {
        const g = globals();
        return withPlatform(g, async (p) => {
          await syncQuarantine(p.db, p.store);
          const entry = await getQuarantined(p.db, ref);
          if (g.json) printJson(entry);
          else {
            for (const line of receiptLines(entry.receipt)) process.stdout.write(`${line}\n`);
            say(`bytes: ${p.store.locate('archive', entry.file.key)}`);
          }
          return EXIT.ok;
        });
      }),
    );

  quarantine
    .command('release')
    .description(
      'accept a quarantined file: it becomes a version, loaded and current as if sent (row-count, change, bbox and geometry rules waived; column rules still hold)',
    )
    .argument('<id>', '<dataset>/<id> or <id>, as `strata quarantine list` shows it')
    .requiredOption('--reason <text>', 'why: recorded with who and when')
    .action(
      action(async (ref: string, o: { reason: string }) => {
        const g = globals();
        return withPlatform(g, async (p, catalog) => {
          const bar = loadProgressBar(!g.json);
          const actor = cliActor();
          const run = await releaseFromQuarantine(
            p,
            catalog,
            ref,
            { reason: o.reason, actor, trigger: { kind: 'cli', ...(actor.user ? { by: actor.user } : {}) } },
            { onLoadProgress: (x) => bar.update(x) },
          );
          bar.stop();
          if (g.json) printJson({ ok: run.status === 'succeeded', run });
          else if (run.status === 'succeeded') {
            const r = run.result as {
              released: string;
              version: string;
              rows: number;
              current: { previous: string | null };
            };
            say(
              `released ${r.released}: version ${r.version} is current${r.current.previous ? ` (was ${r.current.previous})` : ''} (${r.rows} rows, run ${run.id})`,
            );
            for (const w of receiptOf(run)?.warnings ?? []) say(`  ${w}`);
          } else {
            say(`error: release failed (run ${run.id}): ${String(run.error?.message ?? 'unknown error')}`);
            const receipt = receiptOf(run);
            if (receipt) for (const line of receiptLines(receipt).slice(1)) say(line);
          }
          return run.status === 'succeeded' ? EXIT.ok : exitCodeFor(String(run.error?.code ?? ''));
        });
      }),
    );
}
