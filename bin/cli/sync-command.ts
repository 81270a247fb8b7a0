import type { Command } from 'commander';
import type { Auth } from '../../runtime/sync/client.ts';
import type { SyncProgress, SyncResult } from '../../runtime/sync/sync.ts';
import type { Action, GlobalOptions } from './context.ts';
import { EXIT, humanBytes, printJson, say } from './output.ts';

interface SyncFlags {
  into: string;
  table?: string;
  hawkId?: string;
  hawkKey?: string;
  apiKey?: string;
  pageSize: string;
  listen?: string;
  secret?: string;
}

/** Hawk when an id and key are given (flags, or STRATA_HAWK_ID/KEY), else an API key (STRATA_API_KEY). */
function authOf(o: SyncFlags): Auth {
  const id = o.hawkId ?? process.env.STRATA_HAWK_ID;
  const key = o.hawkKey ?? process.env.STRATA_HAWK_KEY;
  if (id && key) return { hawk: { id, key } };
  const apiKey = o.apiKey ?? process.env.STRATA_API_KEY;
  if (apiKey) return { apiKey };
  throw new Error(
    'strata sync needs credentials: --hawk-id and --hawk-key (or STRATA_HAWK_ID, STRATA_HAWK_KEY), or --api-key (or STRATA_API_KEY)',
  );
}

export function registerSyncCommand(program: Command, globals: () => GlobalOptions, action: Action): void {
  program
    .command('sync')
    .description(
      "a partner's copy of a collection kept current: the first run takes a full copy (its items), each later run applies only the changes since the version it reached, in one transaction, and records the version in the target's strata_sync table",
    )
    .argument('<api-url>', 'the partner API, e.g. http://127.0.0.1:8787 or https://api.example.org/v1')
    .argument('<collection>', 'a collection id, <product>.<output>')
    .requiredOption('--into <target>', 'a GeoPackage file (places.gpkg) or a PostGIS database (postgres://…)')
    .option('--table <name>', "the layer or table (default: the collection's output name)")
    .option('--hawk-id <id>', 'Hawk credential id (or STRATA_HAWK_ID)')
    .option('--hawk-key <key>', 'Hawk credential key (or STRATA_HAWK_KEY)')
    .option('--api-key <key>', 'an API key (or STRATA_API_KEY), when not using Hawk')
    .option('--page-size <n>', 'features per request', '10000')
    .option(
      '--listen <port>',
      "after this sync, wait for Strata's signed publish notifications on 127.0.0.1:<port> and sync on each (Standard Webhooks signatures)",
    )
    .option('--secret <whsec>', "the notifications' signing secret, whsec_… (or STRATA_WEBHOOK_SECRET)")
    .action(
      action(async (api: string, collection: string, o: SyncFlags) => {
        const json = Boolean(globals().json);
        const pageSize = Number(o.pageSize);
        if (!Number.isInteger(pageSize) || pageSize < 1)
          throw new Error(`--page-size must be a whole number above 0, got: ${o.pageSize}`);
        const { sync } = await import('../../runtime/sync/sync.ts');
        let last = 0;
        const progress = (p: SyncProgress) => {
          if (Date.now() - last < 1000 && p.phase !== 'writing') return;
          last = Date.now();
          process.stderr.write(`  ${p.phase}: ${p.features} features, ${humanBytes(p.bytes)}\n`);
        };
        const once = async () => {
          const r = await sync({
            api,
            collection,
            into: o.into,
            table: o.table,
            auth: authOf(o),
            pageSize,
            onProgress: json ? undefined : progress,
          });
          report(r, json);
        };
        const port = Number(o.listen ?? 0);
        const secret = o.secret ?? process.env.STRATA_WEBHOOK_SECRET ?? '';
        if (o.listen !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535))
          throw new Error(`--listen must be a port number, got: ${o.listen}`);
        if (o.listen !== undefined && !secret)
          throw new Error(
            "--listen needs the notifications' secret: --secret whsec_… or STRATA_WEBHOOK_SECRET",
          );
        await once();
        if (o.listen === undefined) return EXIT.ok;
        const { listenForNotifications } = await import('../../runtime/sync/listen.ts');
        const { server } = await listenForNotifications({
          port,
          secret,
          sync: () => once().catch((e) => say(`sync failed: ${(e as Error).message}`)),
          onRefused: (why) => say(`notification refused: ${why}`),
        });
        const address = server.address();
        say(
          `listening for notifications on http://127.0.0.1:${typeof address === 'object' && address ? address.port : port}`,
        );
        await new Promise(() => {});
        return EXIT.ok;
      }),
    );
}

/** What a sync did, for people or as one JSON document (one each sync, when listening). */
function report(r: SyncResult, json: boolean): void {
  if (json) printJson(r);
  else {
    const moved = `${r.requests} requests, ${humanBytes(r.bytes)}, ${(r.ms / 1000).toFixed(1)} s`;
    if (r.mode === 'current') say(`${r.target} is current at ${r.version} (${moved})`);
    else if (r.mode === 'changes')
      say(
        `${r.target}: ${r.from} → ${r.version}, ${r.features} features written, ${r.removed} removed (${moved})`,
      );
    else
      say(
        `${r.target}: full copy of ${r.version}, ${r.features} features (${moved})${r.reason ? `; taken because ${r.reason}` : ''}`,
      );
  }
}
