/**
 * Every object key Strata writes or reads in its three buckets, in one place: the code elsewhere asks here
 * and never spells a key itself (`npm run check:structure` holds it to that).
 *
 * ingress — what arrives, taken once and never changed:
 *   datasets/<dataset>/<file>                       a file dropped for a dataset (an operator, a sync)
 *   partners/<partner>/<dataset>/<upload id>        a partner's upload, always under its own prefix
 *
 * archive — kept for good, internal (never served to partners as it is):
 *   datasets/<dataset>/<version>/<file>             the bytes received
 *   datasets/<dataset>/<version>/metadata.json      written last: with it, the bytes are a version
 *   datasets/<dataset>/<version>/loads/<db>.json    a database's record of having loaded the version
 *   datasets/<dataset>/received/<sha256>.json       bytes received, by hash, before they became anything
 *   datasets/<dataset>/events/<id>.json             each move of the current version, written once
 *   datasets/<dataset>/current.json                 the current version: the one object that is replaced
 *   quarantine/<dataset>/<id>/metadata.json         a refused file (its bytes stay under datasets/)
 *   quarantine/<dataset>/<id>/receipt.json          every problem that refused it
 *   quarantine/<dataset>/<id>/judged/<time>.json    the receipt of each refusal under a changed contract
 *   quarantine/<dataset>/<id>/release.json          an operator's release, written once
 *   runs/<run id>/qa.html, qa.json                  the QA report of a build that failed its checks
 *   published/<product>/<version>.json              a product version's registration and the run that made
 *                                                   it, written once as it is published: what a rebuilt
 *                                                   database registers it again from (the manifest alone
 *                                                   serves for versions published before these were kept)
 *
 * egress — what is published, read by partners:
 *   products/<product>/<version>/<output>.<ext>     the outputs of a product version
 *   products/<product>/<version>/manifest.json      what was built, from what, how it was checked
 *   products/<product>/<version>/qa.html, qa.json   the version's QA report
 *   products/<product>/<version>/qa-rows/<out>.tsv  the output's row keys, for the next version's diff
 *   products/<product>/<version>/changes/<out>.json   the output's change feed since the previous version:
 *                                                   from which version, counts, and the two files below
 *                                                   (written last: with it, the feed exists)
 *   products/<product>/<version>/changes/<out>.jsonl  added and changed features in full, then removed keys
 *   products/<product>/<version>/changes/<out>.keys   each line's key fingerprint and change, for composing
 *   products/<product>/latest.json                  written last, once every object of the version is in place
 *
 * Together the archive and egress are the platform's record: `strata db rebuild` makes a database again from
 * them alone (versions, current pointers and their history, quarantine, product versions and their runs).
 *
 * A version id never contains a slash, and `events`, `received` are not version ids, so every folder of
 * `datasets/<dataset>/` is told apart by its name alone.
 */

// ingress

/** What a key in the ingress bucket asks for: `datasets/<dataset>/<file>` or `partners/<partner>/<dataset>/<file>`. */
export type IngressTarget = { dataset: string; filename: string; partner?: string } | { rejected: string };

const SEGMENT = /^[a-z][a-z0-9_]*$/;

/** What an ingress key asks for, or why it asks for nothing (the inverse of the ingress layout above). */
export function parseIngressKey(key: string): IngressTarget {
  const parts = key.split('/');
  if (parts[0] === 'datasets' && parts.length === 3) {
    const [, dataset, filename] = parts as [string, string, string];
    if (!SEGMENT.test(dataset)) return { rejected: `"${dataset}" is not a dataset name` };
    if (!filename) return { rejected: 'the key names no file' };
    return { dataset, filename };
  }
  if (parts[0] === 'partners' && parts.length === 4) {
    const [, partner, dataset, filename] = parts as [string, string, string, string];
    if (!SEGMENT.test(partner) || !SEGMENT.test(dataset))
      return { rejected: `"${partner}/${dataset}" is not a partner and dataset` };
    if (!filename) return { rejected: 'the key names no file' };
    return { dataset, filename, partner };
  }
  return { rejected: 'keys must be datasets/<dataset>/<file> or partners/<partner>/<dataset>/<file>' };
}

/** Where a partner's upload lands: its own prefix, whatever it asks for. */
export const uploadKey = (partner: string, dataset: string, uploadId: string) =>
  `partners/${partner}/${dataset}/${uploadId}`;

// archive: dataset versions

/** The name that makes bytes a version, written last. */
export const METADATA = 'metadata.json';

export const DATASETS = 'datasets/';
export const datasetPrefix = (dataset: string) => `${DATASETS}${dataset}/`;
/** The dataset a key of the archive's `datasets/` or `quarantine/` folders belongs to; undefined for others. */
export const datasetOfKey = (key: string) => /^(?:datasets|quarantine)\/([^/]+)\//.exec(key)?.[1];
export const versionPrefix = (dataset: string, version: string) => `${datasetPrefix(dataset)}${version}/`;
export const versionFileKey = (dataset: string, version: string, filename: string) =>
  `${versionPrefix(dataset, version)}${filename}`;
export const metadataKey = (dataset: string, version: string) =>
  `${versionPrefix(dataset, version)}${METADATA}`;

/** Whether `key` is the metadata of a complete version of `dataset`. */
export const isVersionMetadataKey = (dataset: string, key: string) => {
  const rest = key.startsWith(datasetPrefix(dataset)) ? key.slice(datasetPrefix(dataset).length) : '';
  const [version, file, more] = rest.split('/');
  return file === METADATA && more === undefined && !!version && !NOT_VERSIONS.has(version);
};

/**
 * The archive's keys of one dataset split as `<version>/<rest>`: what listings of a dataset's folders read.
 * Keys directly under the dataset (current.json) give no version.
 */
export function versionFolderOf(dataset: string, key: string): { version: string; file: string } | undefined {
  const prefix = datasetPrefix(dataset);
  if (!key.startsWith(prefix)) return undefined;
  const [version, ...rest] = key.slice(prefix.length).split('/');
  if (!version || rest.length === 0) return undefined;
  return { version, file: rest.join('/') };
}

/** The bytes received, by hash, so that a retry finds them with one read instead of a listing. */
export const receivedKey = (dataset: string, sha256: string) =>
  `${datasetPrefix(dataset)}received/${sha256}.json`;

/** A version's metadata, found among a dataset's keys by the short hash its id ends with. */
export const metadataSuffix = (sha256?: string) =>
  sha256 ? `-${sha256.slice(0, 8)}/${METADATA}` : `/${METADATA}`;

/** The folder of a version's load records; one file per database that loaded it. */
export const LOADS = 'loads/';
export const loadRecordKey = (
  dataset: string,
  version: string,
  database: { systemIdentifier: string; name: string },
) => `${versionPrefix(dataset, version)}${LOADS}${database.systemIdentifier}-${database.name}.json`;
/** The start of the load record of the database with that system identifier, within a version's folder. */
export const loadRecordStart = (systemIdentifier: string) => `${LOADS}${systemIdentifier}-`;

// archive: the current version and its history

export const currentKey = (dataset: string) => `${datasetPrefix(dataset)}current.json`;
export const eventsPrefix = (dataset: string) => `${datasetPrefix(dataset)}events/`;
export const eventKey = (dataset: string, id: string) => `${eventsPrefix(dataset)}${id}.json`;
/** The event id of a key under `eventsPrefix`, or undefined for anything else there. */
export const eventIdOf = (dataset: string, key: string) => {
  const id = key.slice(eventsPrefix(dataset).length).replace(/\.json$/, '');
  return id.includes('/') ? undefined : id;
};

/** Whether `key` is an event of `dataset`. */
export const isEventKey = (dataset: string, key: string) =>
  key.startsWith(eventsPrefix(dataset)) && key.endsWith('.json') && eventIdOf(dataset, key) !== undefined;

/** Folders under `datasets/<name>/` that are not versions: the events, and received bytes by hash. */
export const NOT_VERSIONS: ReadonlySet<string> = new Set(['events', 'received']);

// archive: quarantine

export const QUARANTINE = 'quarantine/';
export const quarantineDatasetPrefix = (dataset?: string) =>
  dataset ? `${QUARANTINE}${dataset}/` : QUARANTINE;
export const quarantinePrefix = (dataset: string, id: string) => `${QUARANTINE}${dataset}/${id}/`;
export const quarantineMetadataKey = (dataset: string, id: string) =>
  `${quarantinePrefix(dataset, id)}${METADATA}`;
export const quarantineReceiptKey = (dataset: string, id: string) =>
  `${quarantinePrefix(dataset, id)}receipt.json`;
export const quarantineReleaseKey = (dataset: string, id: string) =>
  `${quarantinePrefix(dataset, id)}release.json`;
/** The receipt of a judgement under a changed contract; `at` (a timestamp) sorts them in time order. */
export const quarantineJudgedKey = (dataset: string, id: string, at: string) =>
  `${quarantinePrefix(dataset, id)}judged/${at}.json`;
/** The latest of an entry's judgements under a changed contract, among `keys`; undefined if there is none. */
export const latestJudgedKey = (dataset: string, id: string, keys: Iterable<string>) =>
  [...keys]
    .filter((k) => k.startsWith(`${quarantinePrefix(dataset, id)}judged/`))
    .sort()
    .at(-1);

/** The dataset and id of a quarantine entry's metadata key; undefined for any other key. */
export function quarantineEntryOf(key: string): { dataset: string; id: string } | undefined {
  const m = /^quarantine\/([^/]+)\/([^/]+)\/metadata\.json$/.exec(key);
  return m ? { dataset: m[1]!, id: m[2]! } : undefined;
}

/** Whether `key` is the release record of a quarantine entry. */
export const isQuarantineReleaseKey = (key: string) => /^quarantine\/[^/]+\/[^/]+\/release\.json$/.test(key);

// archive: reports of builds that published nothing

export const failedQaKeys = (runId: string) => ({
  html: `runs/${runId}/qa.html`,
  json: `runs/${runId}/qa.json`,
});

// archive: product versions' registrations

export const PUBLISHED = 'published/';
export const publishedPrefix = (product?: string) => (product ? `${PUBLISHED}${product}/` : PUBLISHED);
export const publishedRecordKey = (product: string, version: string) =>
  `${publishedPrefix(product)}${version}.json`;

// egress: product versions

export const PRODUCTS = 'products/';
/** The product a key of the egress bucket belongs to; undefined for any other key. */
export const productOfKey = (key: string) => /^products\/([^/]+)\//.exec(key)?.[1];

export const productPrefix = (product: string) => `${PRODUCTS}${product}/`;
export const productVersionPrefix = (product: string, version: string) =>
  `${productPrefix(product)}${version}/`;
export const latestKey = (product: string) => `${productPrefix(product)}latest.json`;
export const manifestKey = (product: string, version: string) =>
  `${productVersionPrefix(product, version)}manifest.json`;
/** Whether `key` is the manifest of a version of `product`. */
export const isManifestKey = (product: string, key: string) =>
  key.startsWith(productPrefix(product)) &&
  /^[^/]+\/manifest\.json$/.test(key.slice(productPrefix(product).length));
/** An output's file, within its version's folder (`prefix` is `productVersionPrefix`). */
export const outputKey = (prefix: string, name: string, ext: string) => `${prefix}${name}.${ext}`;
export const qaKeys = (product: string, version: string) => ({
  html: `${productVersionPrefix(product, version)}qa.html`,
  json: `${productVersionPrefix(product, version)}qa.json`,
});
export const rowListKey = (product: string, version: string, output: string) =>
  `${productVersionPrefix(product, version)}qa-rows/${output}.tsv`;
/** An output's change feed since the previous version: its header (written last) and its two files. */
export const changeFeedKeys = (product: string, version: string, output: string) => {
  const base = `${productVersionPrefix(product, version)}changes/${output}`;
  return { header: `${base}.json`, lines: `${base}.jsonl`, keys: `${base}.keys` };
};
