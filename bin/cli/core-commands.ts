import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import { z } from 'zod';
import { FileFreshnessStore } from '../../runtime/adapters/local/file-freshness-store.ts';
import { defaultKeyFile, LOCAL_FEDERATION_ENV } from '../../runtime/adapters/local/http-federation.ts';
import { getJson } from '../../runtime/aws/signed-fetch.ts';
import { serveCore } from '../../runtime/federation/core-server.ts';
import { CoreChild, type CoreStatus } from '../../runtime/federation/intake.ts';
import { strataHome } from '../../runtime/platform/local.ts';
import { newFederationSecret, publicKeyOf } from '../../runtime/ports/federation-keys.ts';
import type { GlobalOptions } from './context.ts';
import { EXIT, printJson, printTable, say } from './output.ts';

type Action = <A extends unknown[]>(
  fn: (...args: A) => Promise<number | undefined>,
) => (...args: A) => Promise<void>;

/** `<home>/core-children.json`: the children `strata serve --core` takes summaries from. */
export const defaultChildrenFile = (home: string) => join(home, 'core-children.json');

async function readChildren(file: string): Promise<CoreChild[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    throw new Error(
      `no children file at ${file}: write a JSON array of { "name", "publicKey" } (see strata core pubkey)`,
    );
  }
  const parsed = z.array(CoreChild).safeParse(JSON.parse(text));
  if (!parsed.success)
    throw new Error(
      `${file}: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`,
    );
  return parsed.data;
}

/** `strata serve --core`: plays the core for children in other homes, until Ctrl-C. */
export async function runCoreServer(
  g: GlobalOptions,
  o: { port: string; children?: string },
): Promise<number> {
  const home = strataHome(g.home);
  const childrenFile = o.children ?? defaultChildrenFile(home);
  const children = await readChildren(childrenFile);
  const serving = await serveCore({
    port: Number(o.port),
    children,
    store: new FileFreshnessStore(join(home, 'core')),
    log: (m) => say(`${new Date().toISOString()} ${m}`),
  });
  say(
    `strata serve --core: http://127.0.0.1:${serving.port} (POST /summaries, GET /status) for ${children.map((c) => c.name).join(', ') || 'no children'} (${childrenFile}); Ctrl-C stops`,
  );
  await new Promise<void>((resolve) => {
    const stop = () => {
      serving.stop().then(resolve, resolve);
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  return EXIT.ok;
}

function age(seconds: number): string {
  if (seconds < 120) return `${seconds} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172_800) return `${(seconds / 3600).toFixed(1)} h`;
  return `${(seconds / 86_400).toFixed(1)} d`;
}

function printStatus(status: CoreStatus): void {
  const out = (s: string) => process.stdout.write(`${s}\n`);
  for (const c of status.children) {
    out(
      `${c.name}${c.account ? ` (${c.account})` : ''}${c.keyConfigured ? '' : '  [no public key configured]'}`,
    );
    printTable(
      c.products.map((p) => ({
        product: p.product,
        version: p.version,
        published: p.publishedAt.replace('T', ' ').slice(0, 19),
        age: age(p.ageSeconds),
        schedule: p.schedule ?? '',
        late: p.overdue
          ? `LATE${p.lateUpstream.length > 0 ? ` (reads ${p.lateUpstream.join(', ')})` : ''}`
          : '',
        rows: Object.values(p.rows).reduce((n, r) => n + r, 0),
        failed: p.failedChecks.map((f) => `${f.name} (${f.severity})`).join('; '),
      })),
      ['product', 'version', 'published', 'age', 'schedule', 'late', 'rows', 'failed'],
    );
    for (const r of c.refused) out(`  refused ${r.receivedAt}: ${r.reason}`);
    out('');
  }
  for (const r of status.refusedUnknown)
    out(`refused ${r.receivedAt} (claimed ${r.child ?? 'no child'}): ${r.reason}`);
}

export function registerCoreCommands(program: Command, globals: () => GlobalOptions, action: Action): void {
  const core = program
    .command('core')
    .description('federation: a child reports each publish to its core; the core keeps their freshness');

  core
    .command('status')
    .description('what each child publishes, how fresh it is, and what failed (checks, refused summaries)')
    .option(
      '--url <url>',
      `the core: strata serve --core, or its function URL on AWS (${LOCAL_FEDERATION_ENV.coreUrl})`,
    )
    .action(
      action(async (o: { url?: string }) => {
        const g = globals();
        const base = o.url ?? process.env[LOCAL_FEDERATION_ENV.coreUrl];
        if (!base) throw new Error(`no core: pass --url or set ${LOCAL_FEDERATION_ENV.coreUrl}`);
        const url = new URL('status', base.endsWith('/') ? base : `${base}/`);
        const res = await getJson(url);
        if (res.status !== 200)
          throw new Error(
            `the core at ${url} answered ${res.status}: ${JSON.stringify(res.body).slice(0, 500)}`,
          );
        const status = res.body as CoreStatus;
        if (g.json) printJson(status);
        else printStatus(status);
        return EXIT.ok;
      }),
    );

  core
    .command('keygen')
    .description(
      "make a child's signing key for a local federation, and print its public key for the core's config",
    )
    .option(
      '--out <file>',
      `where to write the key (default <home>/federation.key, ${LOCAL_FEDERATION_ENV.keyFile})`,
    )
    .option('--force', 'replace a key that is there already')
    .action(
      action(async (o: { out?: string; force?: boolean }) => {
        const g = globals();
        const file = o.out ?? process.env[LOCAL_FEDERATION_ENV.keyFile] ?? defaultKeyFile(strataHome(g.home));
        const secret = newFederationSecret();
        try {
          await writeFile(file, `${secret}\n`, { mode: 0o600, flag: o.force ? 'w' : 'wx' });
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code === 'EEXIST')
            throw new Error(
              `${file} exists; keep it, or pass --force to replace it (the core must then get the new public key)`,
            );
          throw e;
        }
        const publicKey = publicKeyOf(secret);
        if (g.json) printJson({ keyFile: file, publicKey });
        else {
          say(`wrote the signing key to ${file} (keep it secret); its public key, for the core's children:`);
          process.stdout.write(`${publicKey}\n`);
        }
        return EXIT.ok;
      }),
    );

  core
    .command('pubkey')
    .description(
      "the public key of a child's signing key: from a key file, or from stdin (e.g. the child stack's FederationKeySecret)",
    )
    .argument('[file]', 'the key file; stdin when omitted')
    .action(
      action(async (file?: string) => {
        const g = globals();
        let text = '';
        if (file) text = await readFile(file, 'utf8');
        else for await (const c of process.stdin) text += String(c);
        const publicKey = publicKeyOf(text);
        if (g.json) printJson({ publicKey });
        else process.stdout.write(`${publicKey}\n`);
        return EXIT.ok;
      }),
    );
}
