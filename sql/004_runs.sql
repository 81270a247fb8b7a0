-- Runs that tell the truth under faults: every attempt of a run with its cause, dispatch claims that can be
-- recovered when a dispatcher dies, a dead-letter for the local job queue, and the role product SQL runs as.

-- One row per attempt: opened when a worker starts the run, closed with its outcome and cause. An attempt
-- that never started (a task that could not start, a job that went to the dead-letter queue) is recorded
-- closed, with no start time.
CREATE TABLE strata.run_attempts (
  run_id     text NOT NULL REFERENCES strata.runs (id),
  attempt    integer NOT NULL,
  started_at timestamptz,
  ended_at   timestamptz,
  status     text CHECK (status IN ('succeeded', 'failed', 'interrupted', 'redriven')),
  cause      jsonb,
  -- The worker (`strata serve`) or ECS task that ran it.
  worker     text,
  PRIMARY KEY (run_id, attempt)
);

-- When a dispatcher claimed the run: a claim older than a few minutes belongs to a dispatcher that died.
ALTER TABLE strata.runs ADD COLUMN claimed_at timestamptz;
CREATE INDEX runs_claimed ON strata.runs (claimed_at) WHERE claimed_at IS NOT NULL;

-- The local queue's dead-letter: a job that cannot be read, or that came back too often, is kept here
-- (never received again) with the reason, as SQS keeps it in the dead-letter queue.
ALTER TABLE strata.jobs ADD COLUMN dead_at timestamptz;
ALTER TABLE strata.jobs ADD COLUMN dead_reason text;
CREATE INDEX jobs_live ON strata.jobs (visible_at, id) WHERE dead_at IS NULL;

-- Product SQL runs as this role: it reads `datasets` and writes only in its own build schema, so a catalog
-- step cannot drop a dataset table or touch `strata.*`. Roles belong to the whole server, so another
-- database on it may have made it already.
DO $$
BEGIN
  CREATE ROLE strata_product NOLOGIN;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
  NULL;
END
$$;
-- The platform's own user hands build schemas to it and reads what it made.
DO $$
BEGIN
  EXECUTE format('GRANT strata_product TO %I', current_user);
END
$$;
GRANT USAGE ON SCHEMA datasets TO strata_product;
GRANT SELECT ON ALL TABLES IN SCHEMA datasets TO strata_product;
ALTER DEFAULT PRIVILEGES IN SCHEMA datasets GRANT SELECT ON TABLES TO strata_product;
-- Nothing of a product's may sit on the platform's search path (PostgreSQL 15 and later revoke it already).
REVOKE CREATE ON SCHEMA public FROM PUBLIC;

-- SET ROLE is not a boundary: the SQL it guards can RESET ROLE. Inside a SECURITY DEFINER function the role
-- cannot be changed at all (PostgreSQL refuses SET ROLE, RESET ROLE and SET SESSION AUTHORIZATION there),
-- so product SQL runs through these two, owned by the product role.
CREATE FUNCTION strata.run_product_sql(script text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER AS $$
BEGIN
  EXECUTE script;
END
$$;
-- A query's rows as jsonb, for checks written in SQL.
CREATE FUNCTION strata.query_as_product(query text) RETURNS SETOF jsonb
LANGUAGE plpgsql SECURITY DEFINER AS $$
BEGIN
  RETURN QUERY EXECUTE 'SELECT to_jsonb(q) FROM (' || query || ') q';
END
$$;
ALTER FUNCTION strata.run_product_sql(text) OWNER TO strata_product;
ALTER FUNCTION strata.query_as_product(text) OWNER TO strata_product;
REVOKE ALL ON FUNCTION strata.run_product_sql(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION strata.query_as_product(text) FROM PUBLIC;
