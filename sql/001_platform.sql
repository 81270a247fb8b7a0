-- The platform's own schema: runs, dataset versions, product versions and the local job queue.
CREATE EXTENSION IF NOT EXISTS postgis;

CREATE SCHEMA IF NOT EXISTS strata;
CREATE SCHEMA IF NOT EXISTS datasets;

CREATE TABLE strata.runs (
  id           text PRIMARY KEY,
  kind         text NOT NULL CHECK (kind IN ('ingest', 'load', 'build', 'fetch')),
  target       text NOT NULL,
  trigger      jsonb NOT NULL DEFAULT '{}'::jsonb,
  status       text NOT NULL DEFAULT 'queued'
               CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'interrupted')),
  attempts     integer NOT NULL DEFAULT 0,
  created_at   timestamptz NOT NULL DEFAULT now(),
  started_at   timestamptz,
  finished_at  timestamptz,
  heartbeat_at timestamptz,
  error        jsonb,
  lineage      jsonb,
  result       jsonb
);
CREATE INDEX runs_status_created ON strata.runs (status, created_at DESC);
CREATE INDEX runs_target_created ON strata.runs (target, created_at DESC);

-- One row per archived dataset version. The archive bucket stays the source of truth: this is its index,
-- plus where (and whether) the version is loaded.
CREATE TABLE strata.dataset_versions (
  dataset      text NOT NULL,
  version      text NOT NULL,
  sha256       text NOT NULL,
  size         bigint NOT NULL,
  filename     text NOT NULL,
  origin       jsonb NOT NULL,
  received_at  timestamptz NOT NULL,
  archive_key  text NOT NULL,
  loaded_table text,
  loaded_at    timestamptz,
  row_count    bigint,
  PRIMARY KEY (dataset, version),
  UNIQUE (dataset, sha256)
);

CREATE TABLE strata.product_versions (
  product      text NOT NULL,
  version      text NOT NULL,
  run_id       text NOT NULL REFERENCES strata.runs (id),
  published_at timestamptz NOT NULL DEFAULT now(),
  manifest_key text NOT NULL,
  PRIMARY KEY (product, version)
);

-- The local job queue; on AWS, SQS plays this part.
CREATE TABLE strata.jobs (
  id           bigserial PRIMARY KEY,
  run_id       text NOT NULL,
  body         jsonb NOT NULL,
  enqueued_at  timestamptz NOT NULL DEFAULT now(),
  visible_at   timestamptz NOT NULL DEFAULT now(),
  receives     integer NOT NULL DEFAULT 0
);
CREATE INDEX jobs_visible ON strata.jobs (visible_at, id);
