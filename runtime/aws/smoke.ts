// `strata smoke`: a deploy-day check of a real child stack, with the operator's credentials. It finds the
// stack's outputs, makes a temporary partner key, uploads a small file through the partner API (which drops
// it in ingress), follows its run through the queue, the task and the load (and, when a product is named,
// its build and publish), reads the result back with the same key, and revokes the key whatever happened.
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { ECSClient, ListTasksCommand } from '@aws-sdk/client-ecs';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SecretsPartnerDirectory } from '../adapters/aws/secrets-partner-directory.ts';
import { addPartner, removePartner } from '../partners/admin.ts';
import { readStackOutputs, STACK_OUTPUT } from './stack-outputs.ts';

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

/** What every hop shares: what was asked, the clock and the deadline, and where each hop is told. */
interface Trip {
  readonly options: SmokeOptions;
  readonly deps: SmokeDeps;
  readonly start: number;
  readonly deadline: number;
  readonly pollMs: number;
  hop(name: HopName, detail: string): void;
}

/** A call to the partner API with the temporary key: its status and its body (JSON when it is JSON). */
type PartnerCall = (method: string, path: string, body?: unknown) => Promise<{ status: number; json: Json }>;

/** The stack's outputs and the partner API they name, or a stop at `stack`. */
async function findStack(
  trip: Trip,
): Promise<{ outputs: Record<string, string>; need: (key: string) => string; api: string }> {
  const outputs = await stackOutputs(trip.options.stack, trip.deps.cloudFormation);
  const need = (key: string) => {
    const v = outputs[key];
    if (!v)
      throw new Stopped(
        'stack',
        `stack ${trip.options.stack} has no output ${key}: is it a Strata child stack?`,
      );
    return v;
  };
  const api = need(STACK_OUTPUT.partnerApiUrl);
  trip.hop('stack', `${trip.options.stack}: partner API ${api}`);
  return { outputs, need, api };
}

/**
 * A partner of its own, with only what the smoke test needs; the caller revokes it in `finally` whatever
 * happens, so `revoke` is returned before anything else can fail.
 */
async function issueKey(
  trip: Trip,
  directorySecretArn: string,
): Promise<{ key: string; revoke: () => Promise<void> }> {
  const { options, deps } = trip;
  const directory = new SecretsPartnerDirectory(directorySecretArn, deps.secrets);
  const partner = `smoke_${new Date(trip.start).toISOString().replace(/\D/g, '').slice(0, 14)}`;
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
  const revoke = async () => {
    await directory.update((doc) => removePartner(doc, partner));
    trip.hop('revoke', `partner ${partner} and its key removed from the directory`);
  };
  trip.hop('key', `temporary partner ${partner}`);
  return { key, revoke };
}

function partnerCall(deps: SmokeDeps, api: string, key: string): PartnerCall {
  return async (method, path, body) => {
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
}

/** The partner API caches its directory for a minute: a warm instance answers 401 to a new key until then. */
async function awaitKeyKnown(trip: Trip, call: PartnerCall, apiLogs: string | undefined): Promise<void> {
  const knownBy = trip.deps.now() + KEY_PROPAGATION_MS;
  for (;;) {
    const probe = await call('GET', `/datasets/${trip.options.dataset}/versions`);
    if (probe.status !== 401) return;
    if (trip.deps.now() >= knownBy)
      throw new Stopped(
        'key',
        `the partner API still refuses the temporary key ${Math.round(KEY_PROPAGATION_MS / 1000)} s after it was issued: ${detailOf(probe.json)}`,
        apiLogs,
      );
    await trip.deps.sleep(trip.pollMs);
  }
}

/** A product's latest version; 404 is "never published", anything else a fault, not a "none" that would let any version pass as new. */
async function latestOf(call: PartnerCall, product: string, apiLogs: string | undefined) {
  const r = await call('GET', `/products/${product}/latest`);
  if (r.status === 200) return String(r.json.version);
  if (r.status === 404) return undefined;
  throw new Stopped(
    'read',
    `GET /products/${product}/latest answered ${r.status}: ${detailOf(r.json)}`,
    apiLogs,
  );
}

/** The partner API signs a PUT into ingress; the file goes straight to S3. Returns the upload's status path. */
async function upload(trip: Trip, call: PartnerCall, apiLogs: string | undefined): Promise<string> {
  const { options, deps } = trip;
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
  trip.hop('upload', `s3 key ${ticket.json.key}`);
  return `/datasets/${options.dataset}/uploads/${ticket.json.uploadId}`;
}

/** Asks `fn` every `pollMs` until it answers, or stops at `hopName` when the deadline passes. */
async function pollUntil<T>(
  trip: Trip,
  hopName: HopName,
  logGroup: string | undefined,
  what: string,
  fn: () => Promise<T | undefined>,
): Promise<T> {
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (trip.deps.now() >= trip.deadline)
      throw new Stopped(
        hopName,
        `no ${what} after ${Math.round((trip.deps.now() - trip.start) / 1000)} s`,
        logGroup,
      );
    await trip.deps.sleep(trip.pollMs);
  }
}

/** Follows the upload's run: queued (the ingress function recorded it), a task (where there is a cluster), its end. */
async function followRun(
  trip: Trip,
  call: PartnerCall,
  outputs: Record<string, string>,
  statusPath: string,
): Promise<void> {
  const apiLogs = outputs[STACK_OUTPUT.partnerApiLogGroup];
  const runOf = async (): Promise<RunView | undefined> => {
    const r = await call('GET', statusPath);
    if (r.status !== 200)
      throw new Stopped('queued', `GET ${statusPath} answered ${r.status}: ${detailOf(r.json)}`, apiLogs);
    return r.json.run ?? undefined;
  };
  const run = await pollUntil(
    trip,
    'queued',
    outputs[STACK_OUTPUT.ingressLogGroup],
    'run for the upload',
    runOf,
  );
  trip.hop('queued', `run ${run.id}`);
  const cluster = outputs[STACK_OUTPUT.taskClusterArn];
  if (cluster)
    trip.hop('task', await taskOf(trip, cluster, run.id, runOf, outputs[STACK_OUTPUT.dispatcherLogGroup]));
  const taskLogs = outputs[STACK_OUTPUT.taskLogGroup];
  const ended = await pollUntil(trip, 'load', taskLogs, 'end of the run', async () => {
    const r = await runOf();
    return r && TERMINAL.has(r.status) ? r : undefined;
  });
  if (ended.status !== 'succeeded')
    throw new Stopped(
      'load',
      `run ${ended.id} ended ${ended.status}: ${ended.error?.message ?? 'no reason given'}`,
      taskLogs,
    );
  trip.hop('load', `run ${ended.id} succeeded`);
}

/** The ECS task the dispatcher started for the run, running or already stopped. */
function taskOf(
  trip: Trip,
  cluster: string,
  runId: string,
  runOf: () => Promise<RunView | undefined>,
  dispatcherLogs: string | undefined,
): Promise<string> {
  return pollUntil(trip, 'task', dispatcherLogs, 'task started for the run', async () => {
    for (const desiredStatus of ['RUNNING', 'STOPPED'] as const) {
      const out = await trip.deps.ecs.send(
        new ListTasksCommand({ cluster, startedBy: `strata-${runId}`.slice(0, 36), desiredStatus }),
      );
      if (out.taskArns?.[0]) return out.taskArns[0];
    }
    const now = await runOf();
    if (now && TERMINAL.has(now.status) && now.status !== 'succeeded')
      throw new Stopped(
        'task',
        `the run ended ${now.status} before a task was seen: ${now.error?.message ?? ''}`,
        dispatcherLogs,
      );
    return undefined;
  });
}

/** Reads the result back with the same key: the product's new version when one is named, else the dataset's versions. */
async function readBack(
  trip: Trip,
  call: PartnerCall,
  apiLogs: string | undefined,
  taskLogs: string | undefined,
  before: string | undefined,
): Promise<void> {
  const { options } = trip;
  if (options.product) {
    const product = options.product;
    const version = await pollUntil(
      trip,
      'publish',
      taskLogs,
      `new published version of ${product}`,
      async () => {
        const v = await latestOf(call, product, apiLogs);
        return v && v !== before ? v : undefined;
      },
    );
    trip.hop('publish', `${product} ${version} (was ${before ?? 'none'})`);
    const read = await call('GET', `/products/${product}/latest`);
    if (read.status !== 200)
      throw new Stopped('read', `GET /products/${product}/latest answered ${read.status}`, apiLogs);
    trip.hop('read', `${product} ${read.json.version}: ${(read.json.outputs ?? []).length} output(s)`);
    return;
  }
  const read = await call('GET', `/datasets/${options.dataset}/versions`);
  if (read.status !== 200)
    throw new Stopped('read', `GET /datasets/${options.dataset}/versions answered ${read.status}`, apiLogs);
  const versions = (read.json.versions ?? read.json) as unknown[];
  trip.hop(
    'read',
    `${options.dataset}: ${Array.isArray(versions) ? versions.length : '?'} version(s) listed`,
  );
}

export async function smoke(
  options: SmokeOptions,
  deps: SmokeDeps = defaultSmokeDeps(),
  onHop: (hop: Hop) => void = () => {},
): Promise<SmokeReport> {
  const start = deps.now();
  const hops: Hop[] = [];
  const trip: Trip = {
    options,
    deps,
    start,
    deadline: start + (options.timeoutMs ?? 20 * 60_000),
    pollMs: options.pollMs ?? 5000,
    hop: (name, detail) => {
      const h = { hop: name, ms: deps.now() - start, detail };
      hops.push(h);
      onHop(h);
    },
  };
  let revoke: (() => Promise<void>) | undefined;
  let failure: Stopped | undefined;
  try {
    const { outputs, need, api } = await findStack(trip);
    const apiLogs = outputs[STACK_OUTPUT.partnerApiLogGroup];
    const issued = await issueKey(trip, need(STACK_OUTPUT.partnerDirectorySecretArn));
    revoke = issued.revoke;
    const call = partnerCall(deps, api, issued.key);
    await awaitKeyKnown(trip, call, apiLogs);
    const before = options.product ? await latestOf(call, options.product, apiLogs) : undefined;
    const statusPath = await upload(trip, call, apiLogs);
    await followRun(trip, call, outputs, statusPath);
    await readBack(trip, call, apiLogs, outputs[STACK_OUTPUT.taskLogGroup], before);
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
  try {
    return await readStackOutputs(cfn, stack);
  } catch (e) {
    throw new Stopped('stack', (e as Error).message);
  }
}
