// `strata smoke`: a deploy-day check of a real child stack, with the operator's credentials. It finds the
// stack's outputs, makes a temporary partner key, uploads a small file through the partner API (which drops
// it in ingress), follows its run through the queue, the task and the load (and, when a product is named,
// its build and publish), reads the result back with the same key, and revokes the key whatever happened.
import {
  CloudFormationClient,
  DescribeStacksCommand,
  type DescribeStacksCommandOutput,
} from '@aws-sdk/client-cloudformation';
import { ECSClient, ListTasksCommand } from '@aws-sdk/client-ecs';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SecretsPartnerDirectory } from '../adapters/aws/secrets-partner-directory.ts';
import { addPartner, removePartner } from '../partners/admin.ts';
import { STACK_OUTPUT } from './stack-outputs.ts';

export type HopName = 'stack' | 'key' | 'upload' | 'queued' | 'task' | 'load' | 'publish' | 'read' | 'revoke';

export interface Hop {
  readonly hop: HopName;
  /** Milliseconds since the smoke test started. */
  readonly ms: number;
  readonly detail: string;
}

export interface SmokeReport {
  readonly ok: boolean;
  readonly stack: string;
  readonly hops: Hop[];
  /** The hop that did not happen, why, and the log group to read about it. */
  readonly stoppedAt?: HopName;
  readonly reason?: string;
  readonly logGroup?: string;
}

export interface SmokeOptions {
  readonly stack: string;
  readonly dataset: string;
  readonly file: { readonly name: string; readonly bytes: Uint8Array; readonly contentType?: string };
  /** A product built from the dataset: followed through its build and publish, and read back. */
  readonly product?: string;
  /** How long the whole run may take. @default 20 minutes (a cold Aurora and a Fargate start included) */
  readonly timeoutMs?: number;
  /** @default 5 seconds */
  readonly pollMs?: number;
}

export interface SmokeDeps {
  readonly cloudFormation: CloudFormationClient;
  readonly secrets: SecretsManagerClient;
  readonly ecs: ECSClient;
  readonly fetch: typeof fetch;
  readonly now: () => number;
  readonly sleep: (ms: number) => Promise<void>;
}

export const defaultSmokeDeps = (): SmokeDeps => ({
  cloudFormation: new CloudFormationClient({}),
  secrets: new SecretsManagerClient({}),
  ecs: new ECSClient({}),
  fetch: globalThis.fetch,
  now: Date.now,
  sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
});

/** A hop that did not happen: where the run stopped and which log group says why. */
class Stopped extends Error {
  constructor(
    readonly hop: HopName,
    message: string,
    readonly logGroup?: string,
  ) {
    super(message);
  }
}

// Answers of the partner API, read field by field.
// biome-ignore lint/suspicious/noExplicitAny: JSON from the wire, checked where it is used
type Json = any;

interface RunView {
  id: string;
  status: string;
  error?: { code?: string; message?: string } | null;
}

/** The partner directory's cache in the API (60 s), and a margin. */
const KEY_PROPAGATION_MS = 90_000;

const TERMINAL = new Set(['succeeded', 'failed', 'cancelled', 'quarantined']);

export async function smoke(
  options: SmokeOptions,
  deps: SmokeDeps = defaultSmokeDeps(),
  onHop: (hop: Hop) => void = () => {},
): Promise<SmokeReport> {
  const start = deps.now();
  const deadline = start + (options.timeoutMs ?? 20 * 60_000);
  const pollMs = options.pollMs ?? 5000;
  const hops: Hop[] = [];
  const hop = (name: HopName, detail: string) => {
    const h = { hop: name, ms: deps.now() - start, detail };
    hops.push(h);
    onHop(h);
  };
  let outputs: Record<string, string> = {};
  let revoke: (() => Promise<void>) | undefined;
  let failure: Stopped | undefined;
  try {
    outputs = await stackOutputs(options.stack, deps.cloudFormation);
    const need = (key: string) => {
      const v = outputs[key];
      if (!v)
        throw new Stopped(
          'stack',
          `stack ${options.stack} has no output ${key}: is it a Strata child stack?`,
        );
      return v;
    };
    const api = need(STACK_OUTPUT.partnerApiUrl);
    const apiLogs = outputs[STACK_OUTPUT.partnerApiLogGroup];
    hop('stack', `${options.stack}: partner API ${api}`);

    // A partner of its own, with only what the smoke test needs, removed in `finally` whatever happens.
    const directory = new SecretsPartnerDirectory(need(STACK_OUTPUT.partnerDirectorySecretArn), deps.secrets);
    const partner = `smoke_${new Date(start).toISOString().replace(/\D/g, '').slice(0, 14)}`;
    let key = '';
    await directory.update((doc) => {
      const { doc: next, issued } = addPartner(doc, partner, {
        scopes: [
          `upload:datasets/${options.dataset}`,
          `read:datasets/${options.dataset}`,
          ...(options.product ? [`read:products/${options.product}`] : []),
        ],
      });
      key = issued.apiKey!.key;
      return next;
    });
    revoke = async () => {
      await directory.update((doc) => removePartner(doc, partner));
      hop('revoke', `partner ${partner} and its key removed from the directory`);
    };
    hop('key', `temporary partner ${partner}`);

    const call = async (
      method: string,
      path: string,
      body?: unknown,
    ): Promise<{ status: number; json: Json }> => {
      const res = await deps.fetch(new URL(path.replace(/^\//, ''), api.endsWith('/') ? api : `${api}/`), {
        method,
        headers: { 'x-api-key': key, ...(body ? { 'content-type': 'application/json' } : {}) },
        body: body ? JSON.stringify(body) : undefined,
      });
      const text = await res.text();
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        json = text;
      }
      return { status: res.status, json };
    };
    // The partner API caches its directory for a minute: a warm instance answers 401 to a new key until then.
    const knownBy = deps.now() + KEY_PROPAGATION_MS;
    for (;;) {
      const probe = await call('GET', `/datasets/${options.dataset}/versions`);
      if (probe.status !== 401) break;
      if (deps.now() >= knownBy)
        throw new Stopped(
          'key',
          `the partner API still refuses the temporary key ${Math.round(KEY_PROPAGATION_MS / 1000)} s after it was issued: ${detailOf(probe.json)}`,
          apiLogs,
        );
      await deps.sleep(pollMs);
    }
    // 404 is "never published"; anything else is a fault, not a "none" that would let any version pass as new.
    const latestOf = async (product: string) => {
      const r = await call('GET', `/products/${product}/latest`);
      if (r.status === 200) return String(r.json.version);
      if (r.status === 404) return undefined;
      throw new Stopped(
        'read',
        `GET /products/${product}/latest answered ${r.status}: ${detailOf(r.json)}`,
        apiLogs,
      );
    };
    const before = options.product ? await latestOf(options.product) : undefined;

    // Upload: the partner API signs a PUT into ingress; the file goes straight to S3.
    const ticket = await call('POST', `/datasets/${options.dataset}/uploads`, {
      filename: options.file.name,
      size: options.file.bytes.byteLength,
      ...(options.file.contentType ? { contentType: options.file.contentType } : {}),
    });
    if (ticket.status !== 201)
      throw new Stopped(
        'upload',
        `POST /datasets/${options.dataset}/uploads answered ${ticket.status}: ${detailOf(ticket.json)}`,
        apiLogs,
      );
    const put = await deps.fetch(ticket.json.url, {
      method: 'PUT',
      headers: ticket.json.headers,
      body: options.file.bytes,
    });
    if (!put.ok) throw new Stopped('upload', `the signed PUT to ingress answered ${put.status}`, apiLogs);
    hop('upload', `s3 key ${ticket.json.key}`);

    // Follow the upload's run: queued (the ingress function recorded it), a task, then its end.
    const status = `/datasets/${options.dataset}/uploads/${ticket.json.uploadId}`;
    const poll = async <T>(
      hopName: HopName,
      logGroup: string | undefined,
      what: string,
      fn: () => Promise<T | undefined>,
    ) => {
      for (;;) {
        const v = await fn();
        if (v !== undefined) return v;
        if (deps.now() >= deadline)
          throw new Stopped(
            hopName,
            `no ${what} after ${Math.round((deps.now() - start) / 1000)} s`,
            logGroup,
          );
        await deps.sleep(pollMs);
      }
    };
    const runOf = async (): Promise<RunView | undefined> => {
      const r = await call('GET', status);
      if (r.status !== 200)
        throw new Stopped('queued', `GET ${status} answered ${r.status}: ${detailOf(r.json)}`, apiLogs);
      return r.json.run ?? undefined;
    };
    const run = await poll('queued', outputs[STACK_OUTPUT.ingressLogGroup], 'run for the upload', runOf);
    hop('queued', `run ${run.id}`);

    const cluster = outputs[STACK_OUTPUT.taskClusterArn];
    const taskLogs = outputs[STACK_OUTPUT.taskLogGroup];
    if (cluster) {
      const task = await poll(
        'task',
        outputs[STACK_OUTPUT.dispatcherLogGroup],
        'task started for the run',
        async () => {
          for (const desiredStatus of ['RUNNING', 'STOPPED'] as const) {
            const out = await deps.ecs.send(
              new ListTasksCommand({ cluster, startedBy: `strata-${run.id}`.slice(0, 36), desiredStatus }),
            );
            if (out.taskArns?.[0]) return out.taskArns[0];
          }
          const now = await runOf();
          if (now && TERMINAL.has(now.status) && now.status !== 'succeeded')
            throw new Stopped(
              'task',
              `the run ended ${now.status} before a task was seen: ${now.error?.message ?? ''}`,
              outputs[STACK_OUTPUT.dispatcherLogGroup],
            );
          return undefined;
        },
      );
      hop('task', task);
    }

    const ended = await poll('load', taskLogs, 'end of the run', async () => {
      const r = await runOf();
      return r && TERMINAL.has(r.status) ? r : undefined;
    });
    if (ended.status !== 'succeeded')
      throw new Stopped(
        'load',
        `run ${ended.id} ended ${ended.status}: ${ended.error?.message ?? 'no reason given'}`,
        taskLogs,
      );
    hop('load', `run ${ended.id} succeeded`);

    if (options.product) {
      const product = options.product;
      const version = await poll('publish', taskLogs, `new published version of ${product}`, async () => {
        const v = await latestOf(product);
        return v && v !== before ? v : undefined;
      });
      hop('publish', `${product} ${version} (was ${before ?? 'none'})`);
      const read = await call('GET', `/products/${product}/latest`);
      if (read.status !== 200)
        throw new Stopped('read', `GET /products/${product}/latest answered ${read.status}`, apiLogs);
      hop('read', `${product} ${read.json.version}: ${(read.json.outputs ?? []).length} output(s)`);
    } else {
      const read = await call('GET', `/datasets/${options.dataset}/versions`);
      if (read.status !== 200)
        throw new Stopped(
          'read',
          `GET /datasets/${options.dataset}/versions answered ${read.status}`,
          apiLogs,
        );
      const versions = (read.json.versions ?? read.json) as unknown[];
      hop('read', `${options.dataset}: ${Array.isArray(versions) ? versions.length : '?'} version(s) listed`);
    }
  } catch (e) {
    failure = e instanceof Stopped ? e : new Stopped(nextHop(hops), (e as Error).message);
  } finally {
    if (revoke) {
      try {
        await revoke();
      } catch (e) {
        // A key left behind is the one failure worth more than any other: say so.
        failure ??= new Stopped('revoke', `the temporary key was NOT revoked: ${(e as Error).message}`);
      }
    }
  }
  return failure
    ? {
        ok: false,
        stack: options.stack,
        hops,
        stoppedAt: failure.hop,
        reason: failure.message,
        ...(failure.logGroup ? { logGroup: failure.logGroup } : {}),
      }
    : { ok: true, stack: options.stack, hops };
}

const ORDER: HopName[] = ['stack', 'key', 'upload', 'queued', 'task', 'load', 'publish', 'read', 'revoke'];
const nextHop = (hops: Hop[]): HopName =>
  ORDER[ORDER.indexOf(hops.at(-1)?.hop ?? 'stack') + (hops.length ? 1 : 0)]!;

const detailOf = (json: unknown) =>
  typeof json === 'object' && json && 'detail' in json
    ? String((json as { detail: unknown }).detail)
    : String(json).slice(0, 200);

async function stackOutputs(stack: string, cfn: CloudFormationClient): Promise<Record<string, string>> {
  let out: DescribeStacksCommandOutput;
  try {
    out = await cfn.send(new DescribeStacksCommand({ StackName: stack }));
  } catch (e) {
    throw new Stopped('stack', `CloudFormation DescribeStacks ${stack}: ${(e as Error).message}`);
  }
  const s = out.Stacks?.[0];
  if (!s) throw new Stopped('stack', `no stack ${stack}`);
  return Object.fromEntries((s.Outputs ?? []).map((o) => [o.OutputKey ?? '', o.OutputValue ?? '']));
}
