import { z } from 'zod';
import { Name } from '../catalog/schema.ts';

/**
 * What a partner may do, as `<action>:<kind>/<name>` (`*` for every name) or `operator`:
 * - `read:datasets/<name>`: the dataset's description and versions;
 * - `read:products/<name>`: the product's versions, manifests, downloads and OGC API collections;
 * - `upload:datasets/<name>`: presigned uploads into it (when it takes uploads from that partner);
 * - `build:products/<name>`: queue a build;
 * - `operator`: the operators' routes (every run; the console will add more).
 */
export const SCOPE_PATTERN =
  /^(?:operator|(read):(datasets|products)\/(\*|[a-z][a-z0-9_]*)|(upload):(datasets)\/(\*|[a-z][a-z0-9_]*)|(build):(products)\/(\*|[a-z][a-z0-9_]*))$/;

export const Scope = z
  .string()
  .regex(
    SCOPE_PATTERN,
    'must be read:datasets/<name>, read:products/<name>, upload:datasets/<name>, build:products/<name> (a name or *) or operator',
  );
export type Scope = z.infer<typeof Scope>;

const HAWK_ID = /^[a-z][a-z0-9_]*\.[0-9a-f]{8}$/;
const API_KEY_ID = /^[0-9a-f]{12}$/;

export const HawkKey = z.object({
  /** Hawk's credentials id, sent by the client in every Authorization header. */
  id: z.string().regex(HAWK_ID, 'must be <partner>.<8 hex digits>'),
  /** The shared secret Hawk computes MACs with (the server needs it in clear; it never leaves the secret store). */
  key: z.string().min(32),
  createdAt: z.string(),
});
export type HawkKey = z.infer<typeof HawkKey>;

export const ApiKeyRecord = z.object({
  id: z.string().regex(API_KEY_ID, 'must be 12 hex digits'),
  /** sha256 of the whole key, hex: the key itself is shown once, when made, and never stored. */
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  createdAt: z.string(),
  label: z.string().optional(),
});
export type ApiKeyRecord = z.infer<typeof ApiKeyRecord>;

export const Partner = z.object({
  title: z.string().optional(),
  scopes: z.array(Scope).default([]),
  hawk: z.array(HawkKey).default([]),
  apiKeys: z.array(ApiKeyRecord).default([]),
  /** Requests a second this partner may make, sustained; beyond the burst, more are answered 429. */
  requestsPerSecond: z.number().int().positive().default(25),
  /**
   * Requests it may make at once above that rate.
   * @default requestsPerSecond × BURST_SECONDS (runtime/partners/credentials.ts)
   */
  burst: z.number().int().positive().optional(),
});
export type Partner = z.infer<typeof Partner>;

/**
 * Everything the API knows about partners, as one document: a Secrets Manager secret on AWS, a file (or
 * STRATA_PARTNERS) locally. Edited by `strata partners ...` and read by the API at most a minute stale, so
 * adding a partner, rotating or revoking a key needs no deploy.
 */
export const PartnerDirectoryDoc = z.object({
  version: z.literal(1).default(1),
  /** Signs pagination cursors and, locally, upload and download URLs (32 random bytes, base64url). */
  signingKey: z.string().min(43),
  partners: z.record(Name, Partner).default({}),
});
export type PartnerDirectoryDoc = z.infer<typeof PartnerDirectoryDoc>;

/**
 * Where partners, their keys and scopes live: Secrets Manager on AWS, a file locally. The API reads it on
 * every request through a short cache; the command line changes it.
 */
export interface PartnerDirectory {
  read(): Promise<PartnerDirectoryDoc>;
  /** Reads the document, applies `change`, writes the result back and returns it. */
  update(change: (doc: PartnerDirectoryDoc) => PartnerDirectoryDoc): Promise<PartnerDirectoryDoc>;
  /** Where it is kept, for messages. */
  readonly where: string;
}
