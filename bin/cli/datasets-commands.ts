import { userInfo } from 'node:os';
import type { Command } from 'commander';
import { currentVersion } from '../../runtime/archive/archive.ts';
import type { Actor, DatasetEvent } from '../../runtime/archive/current.ts';
import { history, syncEvents } from '../../runtime/archive/current.ts';
import { promote } from '../../runtime/contracts/promote.ts';
import { requireDataset } from '../../runtime/jobs/ingest.ts';
import { type GlobalOptions, withPlatform } from './context.ts';
import { EXIT, printJson, printTable, say } from './output.ts';

export type Action = <A extends unknown[]>(
  fn: (...args: A) => Promise<number | undefined>,
) => (...args: A) => Promise<void>;

/** The user running the command line: $USER, or the account's name where the environment has none. */
export function currentUser(): string | undefined {
  if (process.env.USER) return process.env.USER;
  try {
    return userInfo().username;
  } catch {
    return undefined;
  }
}

/** Who runs this command, as an event records it. */
export function cliActor(): Actor {
  const user = currentUser();
  return { trigger: 'cli', ...(user ? { user } : {}) };
}

/** "partner acme (upload)", "user ann (cli)", "schedule". */
export function describeActor(a: Actor): string {
  if (a.partner) return `partner ${a.partner} (${a.trigger})`;
  if (a.user) return `user ${a.user} (${a.trigger})`;
  return a.trigger;
}

/** `strata datasets history|promote`: which version `latest` reads, how it got there, and moving it back. */
export function registerDatasetsCommands(
  program: Command,
  globals: () => GlobalOptions,
  action: Action,
): void {
  const datasets = program
    .command('datasets')
    .description("a dataset's current version (what `latest` reads): its history, and promoting another");

  datasets
    .command('history')
    .description(
      'every move of the current version: files sent (or sent again), promotions, releases; who and when',
    )
    .argument('<dataset>')
    .action(
      action(async (name: string) => {
        const g = globals();
        return withPlatform(g, async (p, catalog) => {
          requireDataset(catalog, name);
          await syncEvents(p.db, p.store, name);
          const events = await history(p.db, name);
          const current = (await currentVersion(p.db, name))?.version ?? null;
          if (g.json) {
            printJson({ dataset: name, current, events });
            return EXIT.ok;
          }
          printTable(
            events.map((e: DatasetEvent) => ({
              at: e.at.replace('T', ' ').slice(0, 19),
              event: e.kind,
              version: e.version,
              previous: e.previous ?? '',
              by: describeActor(e.actor),
              run: e.run ?? '',
              reason: e.reason ?? '',
            })),
            ['at', 'event', 'version', 'previous', 'by', 'run', 'reason'],
          );
          say(current ? `current: ${current}` : `dataset ${name} has no current version yet`);
          return EXIT.ok;
        });
      }),
    );

  datasets
    .command('promote')
    .description(
      'make a version the current one without sending anything (a rollback), with a reason; recorded in the history',
    )
    .argument('<dataset>')
    .argument('<version>', 'a version id, as `strata versions <dataset>` lists them')
    .requiredOption('--reason <text>', 'why: kept in the history with who and when')
    .action(
      action(async (name: string, version: string, o: { reason: string }) => {
        const g = globals();
        return withPlatform(g, async (p, catalog) => {
          const dataset = requireDataset(catalog, name);
          const { current, loaded } = await promote(p, dataset, version, {
            reason: o.reason,
            actor: cliActor(),
          });
          if (g.json) printJson({ ok: true, dataset: name, current, loaded });
          else
            say(
              current.changed
                ? `dataset ${name}: ${version} is now current${current.previous ? ` (was ${current.previous})` : ''}${loaded ? ', loaded first' : ''}; products reading it at latest read it from their next build`
                : `dataset ${name}: ${version} is current already; nothing changed`,
            );
          return EXIT.ok;
        });
      }),
    );
}
