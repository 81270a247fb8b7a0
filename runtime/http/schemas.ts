import { z } from '@hono/zod-openapi';
import { PublishedFile, Manifest as PublishedManifest } from '../publish/manifest.ts';

/** Response and request shapes of the partner API. The OpenAPI document is generated from these. */

export const Link = z
  .object({
    href: z.string(),
    rel: z.string(),
    type: z.string().optional(),
    title: z.string().optional(),
  })
  .openapi('Link');

export const Problem = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    instance: z.string().optional(),
  })
  .openapi('Problem', { description: 'RFC 9457 problem details' });

export const DatasetSummary = z
  .object({
    name: z.string(),
    title: z.string().optional(),
    description: z.string().optional(),
    format: z.string(),
    links: z.array(Link),
  })
  .openapi('DatasetSummary');

export const Dataset = DatasetSummary.extend({
  columns: z.array(
    z.object({
      name: z.string(),
      type: z.string(),
      description: z.string().optional(),
      required: z.boolean(),
    }),
  ),
  geometry: z.object({ kind: z.string(), srid: z.number().int().optional() }),
  /** Whether this partner may upload to it (its scopes and the dataset's source both allow). */
  uploads: z.boolean(),
  maxUploadBytes: z.number().int().optional(),
}).openapi('Dataset');

export const DatasetVersion = z
  .object({
    version: z.string(),
    receivedAt: z.string(),
    size: z.number().int(),
    sha256: z.string(),
  })
  .openapi('DatasetVersion');

export const ProductSummary = z
  .object({
    name: z.string(),
    title: z.string().optional(),
    description: z.string().optional(),
    latest: z.object({ version: z.string(), publishedAt: z.string() }).nullable(),
    links: z.array(Link),
  })
  .openapi('ProductSummary');

export const ProductVersion = z
  .object({
    version: z.string(),
    builtAt: z.string(),
    runId: z.string(),
    outputs: z.number().int(),
    latest: z.boolean(),
    links: z.array(Link),
  })
  .openapi('ProductVersion');

/*
 * The manifest's own schemas were made with plain zod, perhaps before @hono/zod-openapi extended it, so they
 * may lack `.openapi()`: the wire schemas are new objects over the same shapes.
 */
export const Output = z.object(PublishedFile.shape).openapi('Output');

/**
 * A published manifest (runtime/publish/manifest.ts, the one shape of it) as a partner sees it: inputs from
 * datasets it may not see are left out and counted in `hiddenInputs`, and links are added.
 */
export const Manifest = z
  .object({
    ...PublishedManifest.shape,
    outputs: z.array(Output),
    /** Inputs whose datasets this partner may not see are left out and counted here. */
    hiddenInputs: z.number().int(),
    links: z.array(Link),
  })
  .openapi('Manifest');

export const Download = z
  .object({
    url: z.string(),
    expiresAt: z.string(),
    size: z.number(),
    sha256: z.string(),
    format: z.string(),
  })
  .openapi('Download');

export const UploadRequest = z
  .object({
    filename: z.string().min(1).max(200),
    size: z.number().int().positive(),
    contentType: z.string().min(1).max(100).optional(),
  })
  .openapi('UploadRequest');

export const Upload = z
  .object({
    uploadId: z.string(),
    dataset: z.string(),
    key: z.string(),
    method: z.literal('PUT'),
    url: z.string(),
    headers: z.record(z.string(), z.string()),
    expiresAt: z.string(),
    links: z.array(Link),
  })
  .openapi('Upload');

export const Run = z
  .object({
    id: z.string(),
    kind: z.string(),
    target: z.string(),
    status: z.string(),
    trigger: z.object({ kind: z.string(), by: z.string().optional() }),
    attempts: z.number().int(),
    createdAt: z.string(),
    startedAt: z.string().nullable(),
    finishedAt: z.string().nullable(),
    error: z.record(z.string(), z.unknown()).nullable(),
    lineage: z.record(z.string(), z.unknown()).nullable(),
    result: z.record(z.string(), z.unknown()).nullable(),
    /** An ingest's receipt: `result.receipt` when accepted, `error.receipt` when refused. */
    receipt: z.record(z.string(), z.unknown()).nullable(),
    links: z.array(Link),
  })
  .openapi('Run');

export const UploadStatus = z
  .object({
    uploadId: z.string(),
    dataset: z.string(),
    /** `waiting` until the file has arrived and its ingest run exists; then the run's status. */
    status: z.string(),
    run: Run.nullable(),
    links: z.array(Link),
  })
  .openapi('UploadStatus');

export const BuildQueued = z
  .object({ runId: z.string(), status: z.string(), duplicate: z.boolean(), links: z.array(Link) })
  .openapi('BuildQueued');

export const LandingPage = z
  .object({ title: z.string(), description: z.string(), links: z.array(Link) })
  .openapi('LandingPage');

export const Conformance = z.object({ conformsTo: z.array(z.string()) }).openapi('Conformance');

export const Collection = z
  .object({
    id: z.string(),
    title: z.string(),
    description: z.string().optional(),
    itemType: z.literal('feature'),
    crs: z.array(z.string()),
    extent: z.object({
      spatial: z.object({ bbox: z.array(z.array(z.number())), crs: z.string() }),
    }),
    links: z.array(Link),
  })
  .openapi('Collection');

export const Collections = z
  .object({ collections: z.array(Collection), links: z.array(Link) })
  .openapi('Collections');

const Geometry = z.record(z.string(), z.unknown()).nullable().openapi('Geometry');

export const Feature = z
  .object({
    type: z.literal('Feature'),
    id: z.number().int(),
    geometry: Geometry,
    properties: z.record(z.string(), z.unknown()).nullable(),
    links: z.array(Link).optional(),
  })
  .openapi('Feature');

export const FeatureCollection = z
  .object({
    type: z.literal('FeatureCollection'),
    features: z.array(Feature),
    numberMatched: z.number().int(),
    numberReturned: z.number().int(),
    timeStamp: z.string(),
    links: z.array(Link),
  })
  .openapi('FeatureCollection');

export const ChangeCollection = z
  .object({
    type: z.literal('FeatureCollection'),
    since: z.string().openapi({ description: 'the version the changes start from' }),
    version: z.string().openapi({ description: 'the version the changes lead to: the next `since`' }),
    key: z.array(z.string()).openapi({ description: "the output's key columns" }),
    features: z.array(
      z
        .object({
          type: z.literal('Feature'),
          geometry: Geometry,
          properties: z.record(z.string(), z.unknown()).nullable(),
          change: z.enum(['added', 'changed']).openapi({
            description: '`added` when the key was not there at `since`, else `changed`',
          }),
        })
        .openapi('ChangedFeature', { description: "a key's last state, in full" }),
    ),
    removed: z.array(z.unknown()).openapi({
      description: 'keys no longer there: the value of the one key column, or an array of them',
    }),
    numberMatched: z.number().int(),
    numberReturned: z.number().int(),
    timeStamp: z.string(),
    links: z.array(Link),
  })
  .openapi('ChangeCollection');

export const WebhookAccepted = z.record(z.string(), z.unknown()).openapi('WebhookResult');

/** The standard answers every authenticated route can give besides its own. */
export const problems = (...statuses: number[]) =>
  Object.fromEntries(
    statuses.map((s) => [
      s,
      {
        description: PROBLEM_TEXT[s] ?? 'a problem',
        content: { 'application/problem+json': { schema: Problem } },
      },
    ]),
  );

const PROBLEM_TEXT: Record<number, string> = {
  400: 'the request is malformed (the detail names the parameter)',
  401: 'no valid credentials (Hawk, or an API key)',
  403: "the partner's scopes do not allow this",
  404: 'not found',
  409: 'conflict',
  413: 'the upload is larger than the dataset takes',
  410: 'the change feed does not reach back to `since`: take a full copy from the items, then ask again from its version',
  415: "the upload's content type is not one the dataset takes",
  429: 'too many requests; see Retry-After',
  503: 'the database is resuming, or replay protection is unavailable; see Retry-After',
};

/** A JSON answer of `schema`, as a route's response documents it. */
export const json = <T extends z.ZodType>(schema: T, description: string) => ({
  description,
  content: { 'application/json': { schema } },
});
