import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import type { Command } from 'commander';
// The AWS clients load only for this command: a read command's start stays light.
import type { Hop, SmokeReport } from '../../runtime/aws/smoke.ts';
import type { Action, GlobalOptions } from './context.ts';
import { EXIT, printJson, say } from './output.ts';

const seconds = (ms: number) => `${(ms / 1000).toFixed(1).padStart(7)} s`;

export function registerSmokeCommand(program: Command, globals: () => GlobalOptions, action: Action): void {
  program
    .command('smoke')
    .description(
      'deploy-day check of a deployed child stack, with your AWS credentials: upload a small file through the partner API with a temporary key, follow its run through queue, task and load (and a product through build and publish), read it back, revoke the key; prints each hop with its time, and where it stopped with the log group to read',
    )
    .requiredOption('--stack <name>', 'the CloudFormation stack, e.g. strata-child-a')
    .requiredOption('--dataset <name>', 'a dataset that takes uploads')
    .requiredOption('--file <path>', "a small file that meets the dataset's contract")
    .option('--product <name>', 'a product built from the dataset: followed to its new published version')
    .option('--timeout <minutes>', 'how long the whole run may take', '20')
    .option('--poll <seconds>', 'how often to look at the run', '5')
    .action(
      action(
        async (o: {
          stack: string;
          dataset: string;
          file: string;
          product?: string;
          timeout: string;
          poll: string;
        }) => {
          const json = Boolean(globals().json);
          const minutes = Number(o.timeout);
          if (!Number.isFinite(minutes) || minutes <= 0)
            throw new Error(`--timeout must be a number of minutes above 0, got: ${o.timeout}`);
          const poll = Number(o.poll);
          if (!Number.isFinite(poll) || poll < 0)
            throw new Error(`--poll must be a number of seconds, 0 or more, got: ${o.poll}`);
          const { smoke } = await import('../../runtime/aws/smoke.ts');
          const report: SmokeReport = await smoke(
            {
              stack: o.stack,
              dataset: o.dataset,
              file: { name: basename(o.file), bytes: await readFile(o.file) },
              product: o.product,
              timeoutMs: minutes * 60_000,
              pollMs: poll * 1000,
            },
            undefined,
            json ? undefined : (h: Hop) => say(`${seconds(h.ms)}  ${h.hop.padEnd(8)} ${h.detail}`),
          );
          if (json) printJson(report);
          else if (report.ok) say(`smoke test of ${report.stack} passed`);
          else
            say(
              `smoke test of ${report.stack} stopped at ${report.stoppedAt}: ${report.reason}${
                report.logGroup ? `\nread the log group ${report.logGroup}` : ''
              }`,
            );
          return report.ok ? EXIT.ok : EXIT.failed;
        },
      ),
    );
}
