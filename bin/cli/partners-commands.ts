import type { Command } from 'commander';
import { localPartnerDirectory } from '../../runtime/adapters/local/partner-file.ts';
import {
  addKey,
  addPartner,
  describePartners,
  type IssuedCredentials,
  removePartner,
  revokeKey,
  setScopes,
} from '../../runtime/partners/admin.ts';
import { listSubscriptions, recentDeliveries } from '../../runtime/partners/subscriptions.ts';
import { strataHome } from '../../runtime/platform/local.ts';
import {
  type PartnerDirectory,
  type PartnerDirectoryDoc,
  Scope,
} from '../../runtime/ports/partner-directory.ts';
import { type GlobalOptions, withPlatform } from './context.ts';
import { EXIT, printJson, printTable, say } from './output.ts';

type Action = <A extends unknown[]>(
  fn: (...args: A) => Promise<number | undefined>,
) => (...args: A) => Promise<void>;

const collect = (value: string, previous: string[] = []) => [...previous, value];

function parseScopes(scopes: string[]): string[] {
  for (const s of scopes) {
    const ok = Scope.safeParse(s);
    if (!ok.success) throw new Error(`--scope "${s}": ${ok.error.issues[0]!.message}`);
  }
  return scopes;
}

/** Prints newly made secrets, once: they are stored only as hashes (API keys) or inside the directory. */
function printIssued(issued: IssuedCredentials, json: boolean, where: string): void {
  if (json) {
    printJson(issued);
    return;
  }
  say(`credentials for partner ${issued.partner} (shown once; kept in ${where}):`);
  if (issued.hawk)
    process.stdout.write(
      `  Hawk      id: ${issued.hawk.id}\n            key: ${issued.hawk.key}\n            algorithm: sha256\n`,
    );
  if (issued.apiKey)
    process.stdout.write(`  API key   ${issued.apiKey.key}\n            (key id ${issued.apiKey.id})\n`);
}

/** Applies a change that issues credentials, and prints them once it is stored. */
async function issue(
  dir: PartnerDirectory,
  change: (doc: PartnerDirectoryDoc) => { doc: PartnerDirectoryDoc; issued: IssuedCredentials },
  json: boolean,
): Promise<number> {
  let issued: IssuedCredentials | undefined;
  await dir.update((doc) => {
    const out = change(doc);
    issued = out.issued;
    return out.doc;
  });
  printIssued(issued!, json, dir.where);
  return EXIT.ok;
}

/**
 * `strata partners ...`: partners of the partner API, their keys and scopes. Locally in `<home>/partners.json`;
 * with `--secret-id`, in the Secrets Manager secret the deployed API reads (a change takes effect within a
 * minute, no deploy).
 */
export function registerPartnersCommands(
  program: Command,
  globals: () => GlobalOptions,
  action: Action,
): void {
  const partners = program
    .command('partners')
    .description("the partner API's partners: their Hawk credentials, API keys and scopes")
    .option(
      '--secret-id <arn>',
      "the deployed API's partner secret (Secrets Manager) instead of the local file",
    );
  const directory = async (): Promise<PartnerDirectory> => {
    const secretId = partners.opts<{ secretId?: string }>().secretId;
    if (!secretId) return localPartnerDirectory(strataHome(globals().home));
    // Loaded only when asked for, so the local commands do not pay for the AWS SDK at start.
    const { SecretsPartnerDirectory } = await import(
      '../../runtime/adapters/aws/secrets-partner-directory.ts'
    );
    return new SecretsPartnerDirectory(secretId);
  };

  partners
    .command('add')
    .description('add a partner with one Hawk credential and one API key, printed once')
    .argument('<id>', 'partner id (a-z, 0-9, _), also its prefix in the ingress bucket')
    .requiredOption(
      '--scope <scope>',
      'read:datasets/<name>, read:products/<name>, upload:datasets/<name>, build:products/<name> (name or *), operator; repeat for more',
      collect,
    )
    .option('--title <title>', 'the organisation, for people')
    .option('--rate <n>', 'requests a second it may make, sustained', '25')
    .option('--burst <n>', 'requests it may make at once above the rate (default: two minutes of the rate)')
    .action(
      action(async (id: string, o: { scope: string[]; title?: string; rate: string; burst?: string }) => {
        const scopes = parseScopes(o.scope);
        const burst = o.burst === undefined ? undefined : Number(o.burst);
        return issue(
          await directory(),
          (doc) => addPartner(doc, id, { scopes, title: o.title, requestsPerSecond: Number(o.rate), burst }),
          Boolean(globals().json),
        );
      }),
    );

  partners
    .command('list')
    .description('partners, their scopes and key ids (never the keys)')
    .action(
      action(async () => {
        const list = describePartners(await (await directory()).read());
        if (globals().json) printJson(list);
        else
          printTable(
            list.map((p) => ({
              id: p.id,
              title: p.title,
              scopes: p.scopes.join(' '),
              rate: p.requestsPerSecond,
              burst: p.burst,
              keys: p.keys.map((k) => `${k.kind}:${k.id}`).join(' '),
            })),
            ['id', 'title', 'scopes', 'rate', 'burst', 'keys'],
          );
        return EXIT.ok;
      }),
    );

  partners
    .command('scopes')
    .description("replace a partner's scopes")
    .argument('<id>')
    .requiredOption('--scope <scope>', 'as for add; repeat for more', collect)
    .action(
      action(async (id: string, o: { scope: string[] }) => {
        const scopes = parseScopes(o.scope);
        await (await directory()).update((doc) => setScopes(doc, id, scopes));
        say(`partner ${id} now has: ${scopes.join(' ')}`);
        return EXIT.ok;
      }),
    );

  partners
    .command('add-key')
    .description('another key for a partner (to rotate: add, hand over, then revoke the old one)')
    .argument('<id>')
    .option('--hawk', 'a Hawk credential (default: an API key)')
    .option('--label <label>', "what the API key is for (e.g. 'QGIS at the depot')")
    .action(
      action(async (id: string, o: { hawk?: boolean; label?: string }) => {
        return issue(
          await directory(),
          (doc) => addKey(doc, id, o.hawk ? 'hawk' : 'api', o.label),
          Boolean(globals().json),
        );
      }),
    );

  partners
    .command('revoke-key')
    .description('revoke one key (a Hawk id or an API key id); requests with it are refused from then on')
    .argument('<id>')
    .argument('<key-id>')
    .action(
      action(async (id: string, keyId: string) => {
        await (await directory()).update((doc) => revokeKey(doc, id, keyId));
        say(`revoked key ${keyId} of partner ${id}`);
        return EXIT.ok;
      }),
    );

  registerSubscriptionsCommand(partners, globals, action);

  partners
    .command('remove')
    .description('remove a partner and every key it holds')
    .argument('<id>')
    .action(
      action(async (id: string) => {
        await (await directory()).update((doc) => removePartner(doc, id));
        say(`removed partner ${id}`);
        return EXIT.ok;
      }),
    );
}

/** `strata partners subscriptions [id]`: publish notifications' subscriptions and their latest deliveries. */
function registerSubscriptionsCommand(partners: Command, globals: () => GlobalOptions, action: Action): void {
  partners
    .command('subscriptions')
    .description(
      "partners' subscriptions to publish notifications (never their secrets) and their latest deliveries",
    )
    .argument('[id]', 'one partner (default: every partner)')
    .option('--deliveries <n>', 'how many of the latest delivery attempts to show', '20')
    .action(
      action(async (id: string | undefined, o: { deliveries: string }) => {
        const g = globals();
        return withPlatform(g, async (p) => {
          const subscriptions = await listSubscriptions(p.db, id);
          const deliveries = await recentDeliveries(p.db, { partner: id, limit: Number(o.deliveries) });
          if (g.json) {
            printJson({ subscriptions, deliveries });
            return EXIT.ok;
          }
          printTable(
            subscriptions.map((s) => ({
              id: s.id,
              partner: s.partner,
              url: s.url,
              products: s.products.join(' '),
              status: s.disabledAt ? `disabled: ${s.disabledReason}` : 'active',
              failures: s.consecutiveFailures,
            })),
            ['id', 'partner', 'url', 'products', 'status', 'failures'],
          );
          say(`latest deliveries (${deliveries.length}):`);
          printTable(
            deliveries.map((d) => ({
              at: d.at,
              partner: d.partner,
              subscription: d.subscriptionId,
              version: `${d.product}@${d.version}`,
              attempt: d.attempt,
              result: d.statusCode ?? d.error ?? '',
              status: d.status,
            })),
            ['at', 'partner', 'subscription', 'version', 'attempt', 'result', 'status'],
          );
          return EXIT.ok;
        });
      }),
    );
}
