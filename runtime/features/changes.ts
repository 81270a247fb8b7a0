import { z } from 'zod';

/**
 * Change feeds: what changed in a keyed output from one published version to the next, kept as files beside
 * the version so the partner API composes and pages them by range reads, never asking the database.
 *
 * A feed is three objects: the lines (`.jsonl`: one added or changed feature in full a line, then one
 * removed key a line), the keys (`.keys`: each line's key fingerprint and change, to tell across versions
 * which line is a key's last state), and the header (`.json`, written last), which names the version the
 * feed starts from, so a chain of headers leads from the current version back to any earlier one.
 */

export const CHANGES_FORMAT = 'strata.changes/1';

/**
 * How many versions back a `since` may be: the feeds are kept for good, but composing walks one header and
 * one key list per version, so a client further behind than this takes a full copy instead.
 */
export const CHANGES_RETENTION_VERSIONS = 100;

export const ChangeFeedHeader = z.object({
  format: z.literal(CHANGES_FORMAT),
  product: z.string(),
  output: z.string(),
  /** The previous published version: the feed holds every change from it to `to`. */
  from: z.string(),
  to: z.string(),
  /** The output's key columns, in order: a removed key is their value (one column) or an array of them. */
  key: z.array(z.string()),
  counts: z.object({ added: z.number(), changed: z.number(), removed: z.number() }),
  lines: z.object({ key: z.string(), size: z.number(), sha256: z.string() }),
  keys: z.object({ key: z.string(), size: z.number() }),
});
export type ChangeFeedHeader = z.infer<typeof ChangeFeedHeader>;

export type Change = 'added' | 'changed' | 'removed';

/** One line of a feed's `.jsonl`. */
export type ChangeLine =
  | { k: string; s: 'added' | 'changed'; f: Record<string, unknown> }
  | { k: string; s: 'removed'; key: unknown };

/** A feed's `.keys`: fingerprint and change of each line, one a line. */
export function parseKeys(text: string): Map<string, Change> {
  const keys = new Map<string, Change>();
  for (const line of text.split('\n')) {
    const tab = line.indexOf('\t');
    if (tab > 0) keys.set(line.slice(0, tab), line.slice(tab + 1) as Change);
  }
  return keys;
}

/** What a composer reads: feeds' headers by version, their key lists, and byte ranges of their lines. */
export interface FeedSource {
  /** The feed of `version`, or undefined when that version has none. */
  header(version: string): Promise<ChangeFeedHeader | undefined>;
  keys(feed: ChangeFeedHeader): Promise<Map<string, Change>>;
  /** Bytes [start, end) of the feed's lines. */
  range(feed: ChangeFeedHeader, start: number, end: number): Promise<Uint8Array>;
}

export type Chain = { feeds: ChangeFeedHeader[] } | { notCovered: string };

/** The feeds from `to` back to `since`, newest first; or why they do not lead there. */
export async function feedChain(source: FeedSource, since: string, to: string): Promise<Chain> {
  const feeds: ChangeFeedHeader[] = [];
  for (let v = to; v !== since; ) {
    if (feeds.length >= CHANGES_RETENTION_VERSIONS)
      return {
        notCovered: `version ${since} is more than ${CHANGES_RETENTION_VERSIONS} versions behind ${to}, the most the feed composes`,
      };
    const feed = await source.header(v);
    if (!feed)
      return {
        notCovered:
          feeds.length === 0
            ? `version ${v} has no change feed (the output has no key, its key or columns changed, or it is the first version)`
            : `the feed stops at version ${v}, which has no change feed of its own; ${since} is not a version it reaches`,
      };
    feeds.push(feed);
    v = feed.from;
  }
  return { feeds };
}

/** Per key: the newest feed that holds it (its last state), and its change in the oldest (was it there at `since`?). */
export interface Composition {
  readonly owner: (k: string, at: number) => boolean;
  readonly origin: (k: string, own: Change) => Change;
  /** Features and removed keys the whole composition holds. */
  readonly matched: number;
}

/** How feeds compose; one feed composes with nothing, so its keys are not read. */
export async function compose(source: FeedSource, feeds: readonly ChangeFeedHeader[]): Promise<Composition> {
  if (feeds.length <= 1) {
    const c = feeds[0]?.counts;
    return {
      owner: () => true,
      origin: (_k, own) => own,
      matched: c ? c.added + c.changed + c.removed : 0,
    };
  }
  const lists = await Promise.all(feeds.map((f) => source.keys(f)));
  const owner = new Map<string, number>();
  const origin = new Map<string, Change>();
  lists.forEach((keys, i) => {
    for (const [k, s] of keys) {
      if (!owner.has(k)) owner.set(k, i);
      origin.set(k, s);
    }
  });
  let matched = 0;
  for (const [k, i] of owner) {
    const last = lists[i]!.get(k)!;
    if (!(last === 'removed' && origin.get(k) === 'added')) matched++;
  }
  return {
    owner: (k, at) => owner.get(k) === at,
    origin: (k, own) => origin.get(k) ?? own,
    matched,
  };
}

/** Where a page starts: the feed (0 the newest) and the byte of its lines. */
export interface FeedPosition {
  readonly i: number;
  readonly o: number;
}

export interface ChangePage {
  readonly features: Record<string, unknown>[];
  readonly removed: unknown[];
  readonly next: FeedPosition | undefined;
}

const CHUNK = 256 * 1024;

/**
 * One page of the composition: the newest feed's lines first, each key's last state once; a feature is
 * `added` when its key was not there at `since`, and a key added then removed since is left out. A page ends
 * at `limit` items or `maxBytes` of lines, whichever comes first.
 */
export async function changePage(
  source: FeedSource,
  feeds: readonly ChangeFeedHeader[],
  c: Composition,
  from: FeedPosition,
  limit: number,
  maxBytes: number,
): Promise<ChangePage> {
  const features: Record<string, unknown>[] = [];
  const removed: unknown[] = [];
  let bytes = 0;
  for (let i = from.i; i < feeds.length; i++) {
    const feed = feeds[i]!;
    let o = i === from.i ? from.o : 0;
    while (o < feed.lines.size) {
      if (features.length + removed.length >= limit || bytes >= maxBytes)
        return { features, removed, next: { i, o } };
      const { lines, end } = await linesAt(source, feed, o);
      for (const [line, after] of lines) {
        if (features.length + removed.length >= limit || bytes >= maxBytes) break;
        o = after;
        const entry = JSON.parse(line) as ChangeLine;
        if (!c.owner(entry.k, i)) continue;
        const change = c.origin(entry.k, entry.s);
        if (entry.s === 'removed') {
          if (change !== 'added') removed.push(entry.key);
        } else features.push({ ...entry.f, change: change === 'added' ? 'added' : 'changed' });
        bytes += line.length;
      }
      if (lines.length === 0) o = end;
    }
  }
  return { features, removed, next: undefined };
}

/** The whole lines from byte `o` on, each with the byte after it; a line longer than a chunk is read whole. */
async function linesAt(source: FeedSource, feed: ChangeFeedHeader, o: number) {
  const size = feed.lines.size;
  for (let want = CHUNK; ; want *= 2) {
    const end = Math.min(size, o + want);
    const buf = Buffer.from(await source.range(feed, o, end));
    const lines: [string, number][] = [];
    let start = 0;
    for (let nl = buf.indexOf(10, start); nl >= 0; nl = buf.indexOf(10, start)) {
      lines.push([buf.toString('utf8', start, nl), o + nl + 1]);
      start = nl + 1;
    }
    if (lines.length > 0 || end >= size) return { lines, end };
  }
}
