import type { Command } from 'commander';
import { costSince } from '../../runtime/cost/summary.ts';
import { parseSince } from '../../runtime/runs/since.ts';
import { type GlobalOptions, withPlatform } from './context.ts';
import { EXIT, humanBytes, printJson, printTable, say } from './output.ts';

type Action = <A extends unknown[]>(
  fn: (...args: A) => Promise<number | undefined>,
) => (...args: A) => Promise<void>;

export function registerCostCommands(program: Command, globals: () => GlobalOptions, action: Action): void {
  program
    .command('cost')
    .description("what runs cost, summed by dataset and product, from each run's cost ledger")
    .option('--since <when>', 'runs created since: 30d, 12h, 45m or a date', '30d')
    .action(
      action(async (o: { since: string }) => {
        const g = globals();
        const since = parseSince(o.since);
        return withPlatform(g, async (p) => {
          const summary = await costSince(p.runs, since);
          if (g.json) {
            printJson(summary);
            return EXIT.ok;
          }
          printTable(
            summary.lines.map((l) => ({
              kind: l.kind,
              name: l.name,
              runs: l.runs,
              'task s': l.taskSeconds.toFixed(0),
              'vcpu s': l.vcpuSeconds.toFixed(0),
              'acu s': l.acuSeconds.toFixed(0),
              wakes: l.wakeUps,
              's3 req': l.s3Requests,
              written: humanBytes(l.s3BytesWritten),
              usd: l.usd.toFixed(4),
            })),
            ['kind', 'name', 'runs', 'task s', 'vcpu s', 'acu s', 'wakes', 's3 req', 'written', 'usd'],
          );
          say(
            `${summary.total.runs} run(s) since ${summary.since}: $${summary.total.usd.toFixed(4)}${summary.prices ? ` at ${summary.prices.region} list prices of ${summary.prices.date}` : ''}${summary.runsWithoutLedger ? ` (${summary.runsWithoutLedger} finished run(s) without a ledger)` : ''}`,
          );
          return EXIT.ok;
        });
      }),
    );
}
