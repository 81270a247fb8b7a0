import { z } from '@hono/zod-openapi';

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

export const Output = z
  .object({
    name: z.string(),
    table: z.string(),
    format: z.string(),
    key: z.string(),
    size: z.number(),
    sha256: z.string(),
    rows: z.number(),
    srid: z.number().nullable(),
  })
  .openapi('Output');

export const Manifest = z
  .object({
    product: z.string(),
    title: z.string().optional(),
    version: z.string(),
    runId: z.string(),
    builtAt: z.string(),
    platform: z.record(z.string(), z.unknown()),
    inputs: z.array(z.record(z.string(), z.unknown())),
    /** Inputs whose datasets this partner may not see are left out and counted here. */
    hiddenInputs: z.number().int(),
    steps: z.array(z.record(z.string(), z.unknown())),
    checks: z.array(z.record(z.string(), z.unknown())),
    outputs: z.array(Output),
    timings: z.record(z.string(), z.number()),
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
  415: "the upload's content type is not one the dataset takes",
  429: 'too many requests; see Retry-After',
  503: 'the database is resuming, or replay protection is unavailable; see Retry-After',
};

/** A JSON answer of `schema`, as a route's response documents it. */
export const json = <T extends z.ZodType>(schema: T, description: string) => ({
  description,
  content: { 'application/json': { schema } },
});
