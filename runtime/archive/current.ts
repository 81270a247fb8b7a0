import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { currentKey, eventIdOf, eventKey, eventsPrefix } from '../layout/buckets.ts';
import type { Database, Queryable } from '../ports/database.ts';
import { type ObjectStore, readJson } from '../ports/object-store.ts';
import type { Trigger } from '../runs/schema.ts';
import { timestamp } from '../util/ids.ts';
import { currentVersion } from './archive.ts';

/**
 * A dataset's current version: what `latest` reads. It follows what was sent (a file's version becomes
 * current, and sending an older version's bytes again makes that version current again), and operators move
 * it back with a promotion. Each move is an event, written once to the archive
 * (`datasets/<name>/events/<id>.json`) beside a pointer that is replaced (`datasets/<name>/current.json`); the
 * database indexes both and is filled again from them when it is rebuilt. The one module that writes SQL on
 * `strata.dataset_events`; the view of the current version made from it is read in runtime/archive/archive.ts.
 */

/** Who moved it: the trigger of the run, and the user or partner where one is known. */
export const Actor = z.object({
  trigger: z.string(),
  user: z.string().optional(),
  partner: z.string().optional(),
});
export type Actor = z.infer<typeof Actor>;

export function actorOf(trigger: Trigger): Actor {
  if (!trigger.by) return { trigger: trigger.kind };
  const partnerSent = trigger.kind === 'upload' || trigger.kind === 'api';
  return { trigger: trigger.kind, ...(partnerSent ? { partner: trigger.by } : { user: trigger.by }) };
}

export const EVENT_KINDS = ['sent', 'resent', 'promoted', 'released'] as const;

export const DatasetEvent = z.object({
  dataset: z.string(),
  id: z.string(),
  version: z.string(),
  previous: z.string().nullable(),
  kind: z.enum(EVENT_KINDS),
  at: z.string(),
  actor: Actor,
  run: z.string().optional(),
  reason: z.string().optional(),
});
export type DatasetEvent = z.infer<typeof DatasetEvent>;

/** `datasets/<name>/current.json`: the one object of a dataset's archive that is replaced. */
export interface CurrentPointer {
  readonly dataset: string;
  readonly version: string;
  readonly event: string;
  readonly since: string;
}

const ISO = (column: string) => `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

interface EventRow {
  dataset: string;
  id: string;
  version: string;
  previous: string | null;
  kind: DatasetEvent['kind'];
  at: string;
  actor: Actor | string;
  run_id: string | null;
  reason: string | null;
}

function toEvent(r: EventRow): DatasetEvent {
  return {
    dataset: r.dataset,
    id: r.id,
    version: r.version,
    previous: r.previous,
    kind: r.kind,
    at: r.at,
    actor: typeof r.actor === 'string' ? (JSON.parse(r.actor) as Actor) : r.actor,
    ...(r.run_id ? { run: r.run_id } : {}),
    ...(r.reason ? { reason: r.reason } : {}),
  };
}

const EVENT_COLUMNS = `dataset, id, version, previous, kind, ${ISO('at')} AS at, actor, run_id, reason`;

async function insertEvent(db: Queryable, e: DatasetEvent): Promise<void> {
  await db.query(
    `INSERT INTO strata.dataset_events (dataset, id, version, previous, kind, at, actor, run_id, reason)
     VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9) ON CONFLICT DO NOTHING`,
    [
      e.dataset,
      e.id,
      e.version,
      e.previous,
      e.kind,
      e.at,
      JSON.stringify(e.actor),
      e.run ?? null,
      e.reason ?? null,
    ],
  );
}

/** Every move of a dataset's current version, oldest first. */
export async function history(db: Queryable, dataset: string): Promise<DatasetEvent[]> {
  const rows = await db.query<EventRow>(
    `SELECT ${EVENT_COLUMNS} FROM strata.dataset_events WHERE dataset = $1 ORDER BY id`,
    [dataset],
  );
  return rows.map(toEvent);
}

/**
 * Serialises moves of one dataset's current version until the transaction ends, so that checks against the
 * current version and the move itself see the same current version.
 */
export async function lockDataset(db: Queryable, dataset: string): Promise<void> {
  await db.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`strata.current.${dataset}`]);
}

/**
 * Makes `version` the dataset's current version, unless it already is: records the event (in the archive,
 * once, and in the database) and replaces the pointer. Runs in a transaction of its own or the caller's,
 * holding the dataset's lock. The `datasets.<name>` view follows in runtime/load/load.ts (`makeCurrent`).
 */
export async function moveCurrent(
  db: Database,
  store: ObjectStore,
  move: {
    dataset: string;
    version: string;
    kind: DatasetEvent['kind'];
    actor: Actor;
    run?: string;
    reason?: string;
  },
): Promise<{ version: string; previous: string | null; changed: boolean; event?: string }> {
  return db.transaction(async () => {
    await lockDataset(db, move.dataset);
    const current = await currentVersion(db, move.dataset);
    if (current?.version === move.version)
      return { version: move.version, previous: move.version, changed: false };
    // Event ids sort in time order: each is later than the dataset's last, even within one millisecond.
    const [last] = await db.query<{ at: string | null }>(
      `SELECT ${ISO('max(at)')} AS at FROM strata.dataset_events WHERE dataset = $1`,
      [move.dataset],
    );
    const at = new Date(Math.max(Date.now(), last?.at ? Date.parse(last.at) + 1 : 0));
    const event: DatasetEvent = {
      dataset: move.dataset,
      id: `${timestamp(at)}-${randomBytes(2).toString('hex')}`,
      version: move.version,
      previous: current?.version ?? null,
      kind: move.kind,
      at: at.toISOString(),
      actor: move.actor,
      ...(move.run ? { run: move.run } : {}),
      ...(move.reason ? { reason: move.reason } : {}),
    };
    await insertEvent(db, event);
    await store.put('archive', eventKey(move.dataset, event.id), json(event), {
      contentType: 'application/json',
    });
    const pointer: CurrentPointer = {
      dataset: move.dataset,
      version: move.version,
      event: event.id,
      since: event.at,
    };
    await store.put('archive', currentKey(move.dataset), json(pointer), {
      contentType: 'application/json',
      replace: true,
    });
    return { version: move.version, previous: event.previous, changed: true, event: event.id };
  });
}

const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;

/**
 * Brings the database's index of a dataset's events up to the archive's: after a rebuild (or a restore from
 * an older snapshot) it knows again which version is current. When the database knows the event the
 * pointer names, that one read is all; otherwise one listing, and only unknown events are read.
 */
export async function syncEvents(db: Queryable, store: ObjectStore, dataset: string): Promise<number> {
  if (await store.exists('archive', currentKey(dataset))) {
    const pointer = await readJson<CurrentPointer>(store, 'archive', currentKey(dataset));
    const [known] = await db.query('SELECT 1 FROM strata.dataset_events WHERE dataset = $1 AND id = $2', [
      dataset,
      pointer.event,
    ]);
    if (known) return 0;
  }
  const objects = await store.list('archive', eventsPrefix(dataset));
  if (objects.length === 0) return 0;
  const known = new Set(
    (
      await db.query<{ id: string }>('SELECT id FROM strata.dataset_events WHERE dataset = $1', [dataset])
    ).map((r) => r.id),
  );
  let added = 0;
  for (const o of objects) {
    const id = eventIdOf(dataset, o.key);
    if (id === undefined || known.has(id)) continue;
    const event = DatasetEvent.parse(await readJson(store, 'archive', o.key));
    await insertEvent(db, event);
    added++;
  }
  return added;
}
