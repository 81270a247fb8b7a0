import type { Output, Product } from '../catalog/schema.ts';
import { CHANGES_FORMAT, type ChangeFeedHeader } from '../features/changes.ts';
import { changeFeedKeys } from '../layout/buckets.ts';
import type { Platform } from '../platform/platform.ts';
import { readJson } from '../ports/object-store.ts';
import { publishBytes } from '../publish/output-file.ts';
import { type JobHooks, step } from '../runs/steps.ts';
import { ident, literal, qualified } from '../util/sql.ts';
import { fingerprint, LineSplitter, type Mark, RowListDiff } from './rows.ts';
import { publishedQaLocation, QaReport, type RowList } from './schema.ts';
import { type TableColumn, tableColumns } from './stats.ts';

/**
 * Writes each keyed output's change feed beside the version about to be published: the QA report has just
 * compared its rows with the previous version's by key (row lists of fingerprints, `qa-rows/`); the feed
 * merges the same two lists again to keep every change rather than the report's samples, then reads only
 * the added and changed rows out of the build's table. Written before the manifest, so a failed build
 * leaves no feed a version points at.
 */

/** Why an output gets no feed, when it gets none; undefined when both row lists can be merged. */
function feedable(
  name: string,
  current: QaReport | undefined,
  previous: QaReport | undefined,
): { now: RowList; before: RowList } | undefined {
  const o = current?.outputs.find((x) => x.name === name);
  const b = previous?.outputs.find((x) => x.name === name);
  const c = o?.changes;
  // Compared by key, values told apart (same columns), every key once: only then is a feed exact.
  if (!o?.rowList || !b?.rowList || !c || c.basis !== 'key' || c.changed === null || c.duplicateKeys > 0)
    return undefined;
  return { now: o.rowList, before: b.rowList };
}

/** Every change between the two row lists, in full (the report keeps samples only). */
async function diffLists(p: Platform, lists: { now: RowList; before: RowList }) {
  const diff = new RowListDiff(await p.store.get('egress', lists.before.key), {
    compareValues: true,
    keyed: true,
    maxMarks: Number.POSITIVE_INFINITY,
    maxRemovedKeys: 0,
    keepRemoved: true,
  });
  const splitter = new LineSplitter();
  for await (const chunk of await p.store.get('egress', lists.now.key))
    await diff.push(splitter.push(Buffer.from(chunk)));
  await diff.push(splitter.end());
  return diff.finish();
}

/** A feature as one JSON text, built in SQL like the GeoJSON export, geometry in EPSG:4326 (CRS84 order). */
function featureSql(columns: readonly TableColumn[], output: Output): string {
  const geom = columns.find(
    (c) => c.name === output.geometry && (c.base === 'geometry' || c.base === 'geography'),
  );
  const attrs = columns.filter((c) => c !== geom);
  const properties =
    attrs.length === 0
      ? `'{}'`
      : `'{' || ${attrs.map((c, i) => `${literal(`${i > 0 ? ',' : ''}${JSON.stringify(c.name)}:`)} || coalesce(to_json(t.${ident(c.name)})::text, 'null')`).join(' || ')} || '}'`;
  const g = geom ? `t.${ident(geom.name)}::geometry` : '';
  // Up to 20 decimals: PostGIS writes the shortest text that gives back the double (the default, 9, rounds).
  const geometry = geom
    ? `coalesce(ST_AsGeoJSON(CASE WHEN ST_SRID(${g}) IN (0, 4326) THEN ${g} ELSE ST_Transform(${g}, 4326) END, 20), 'null')`
    : `'null'`;
  return `'{"type":"Feature","properties":' || ${properties} || ',"geometry":' || ${geometry} || '}'`;
}

/** The lines of the feed: added and changed rows out of the build's table, then the removed keys. */
async function* feedLines(
  p: Platform,
  select: string,
  removed: readonly { key: string; value: unknown }[],
): AsyncGenerator<Buffer> {
  for await (const chunk of p.db.copyToLines(select)) yield chunk;
  let batch = '';
  for (const r of removed) {
    batch += `${JSON.stringify({ k: r.key, s: 'removed', key: r.value })}\n`;
    if (batch.length > 1 << 16) {
      yield Buffer.from(batch);
      batch = '';
    }
  }
  if (batch) yield Buffer.from(batch);
}

interface FeedInput {
  readonly p: Platform;
  readonly schema: string;
  readonly product: Product;
  readonly version: string;
  readonly from: string;
  readonly output: Output;
}

/** One output's feed: its lines, its keys, then its header. */
async function writeFeed(f: FeedInput, lists: { now: RowList; before: RowList }): Promise<ChangeFeedHeader> {
  const { p, schema, product, version, output } = f;
  const name = output.name ?? output.table;
  const d = await diffLists(p, lists);
  const marks = d.marks.filter((m) => m.key !== 'null');
  const removed = d.removedRows ?? [];
  const keys = changeFeedKeys(product.name, version, name);
  const columns = await tableColumns(p.db, schema, output.table);
  const fp = fingerprint(columns, output.key!);
  const staging = qualified(schema, '_strata_changes');
  await p.db.exec(
    `DROP TABLE IF EXISTS ${staging}; CREATE TABLE ${staging} (kh bigint PRIMARY KEY, s text NOT NULL)`,
  );
  try {
    await stage(p, staging, marks);
    const select = `SELECT '{"k":"' || c.kh::text || '","s":"' || c.s || '","f":' || ${featureSql(columns, output)} || '}' FROM ${qualified(schema, output.table)} t JOIN ${staging} c ON c.kh = ${fp.key} ORDER BY c.kh`;
    const lines = await publishBytes(
      p.store,
      keys.lines,
      feedLines(p, select, removed),
      'application/x-ndjson',
    );
    const keyText = [
      ...marks.map((m) => `${m.key}\t${m.status}\n`),
      ...removed.map((r) => `${r.key}\tremoved\n`),
    ].join('');
    await p.store.put('egress', keys.keys, keyText, { contentType: 'text/tab-separated-values' });
    const header: ChangeFeedHeader = {
      format: CHANGES_FORMAT,
      product: product.name,
      output: name,
      from: f.from,
      to: version,
      key: [...output.key!],
      counts: {
        added: marks.filter((m) => m.status === 'added').length,
        changed: marks.filter((m) => m.status === 'changed').length,
        removed: removed.length,
      },
      lines: { key: keys.lines, ...lines },
      keys: { key: keys.keys, size: Buffer.byteLength(keyText) },
    };
    await p.store.put('egress', keys.header, `${JSON.stringify(header, null, 2)}\n`, {
      contentType: 'application/json',
    });
    return header;
  } finally {
    await p.db.exec(`DROP TABLE IF EXISTS ${staging}`);
  }
}

/** The changed keys, into the staging table a batch at a time (one statement per batch, as arrays). */
async function stage(p: Platform, staging: string, marks: readonly Mark[]): Promise<void> {
  for (let i = 0; i < marks.length; i += 50_000) {
    const batch = marks.slice(i, i + 50_000);
    await p.db.query(`INSERT INTO ${staging} (kh, s) SELECT * FROM unnest($1::bigint[], $2::text[])`, [
      batch.map((m) => m.key),
      batch.map((m) => m.status),
    ]);
  }
}

async function readReport(p: Platform, product: string, version: string): Promise<QaReport | undefined> {
  const { json } = publishedQaLocation(product, version);
  if (!(await p.store.exists('egress', json))) return undefined;
  const parsed = QaReport.safeParse(await readJson(p.store, 'egress', json));
  return parsed.success ? parsed.data : undefined;
}

/**
 * The change feeds of a version about to be published, one per keyed output whose rows the QA report could
 * compare by key with the previous version's. Returns the feeds written.
 */
export async function writeChangeFeeds(
  p: Platform,
  build: { schema: string; product: Product; version: string },
  hooks: JobHooks = {},
): Promise<ChangeFeedHeader[]> {
  const { product, version } = build;
  const keyed = product.outputs.filter((o) => o.key);
  if (keyed.length === 0) return [];
  return step(
    hooks,
    'change feeds',
    async () => {
      const current = await readReport(p, product.name, version);
      const from = current?.previous?.version;
      if (!from) return [];
      const previous = await readReport(p, product.name, from);
      const feeds: ChangeFeedHeader[] = [];
      for (const output of keyed) {
        const lists = feedable(output.name ?? output.table, current, previous);
        if (lists) feeds.push(await writeFeed({ ...build, p, from, output }, lists));
      }
      return feeds;
    },
    (feeds) =>
      feeds
        .map((f) => `${f.output}: +${f.counts.added} ~${f.counts.changed} -${f.counts.removed}`)
        .join(', ') || 'none',
  );
}
