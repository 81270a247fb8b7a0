-- A dataset's current version, and files its contract refused. The archive bucket stays the source of truth
-- (datasets/<name>/current.json, datasets/<name>/events/<id>.json, quarantine/<name>/<id>/): these tables are
-- its index, filled again from it when the database is rebuilt.

-- Every change of a dataset's current version: a file sent (or sent again), a promotion, a release.
CREATE TABLE strata.dataset_events (
  dataset  text NOT NULL,
  id       text NOT NULL,
  version  text NOT NULL,
  previous text,
  kind     text NOT NULL CHECK (kind IN ('sent', 'resent', 'promoted', 'released')),
  at       timestamptz NOT NULL,
  -- who: { trigger, user?, partner? }
  actor    jsonb NOT NULL,
  run_id   text,
  reason   text,
  PRIMARY KEY (dataset, id)
);
CREATE INDEX dataset_events_at ON strata.dataset_events (dataset, at DESC, id DESC);

-- The current version of each dataset: its newest event (event ids sort in time order); for a dataset with
-- none (loaded before this migration), its newest loaded version, as `latest` meant then.
CREATE VIEW strata.dataset_current AS
SELECT DISTINCT ON (dataset) dataset, version, event_id, since
FROM (
  SELECT dataset, version, id AS event_id, at AS since, 0 AS fallback, id AS ord
  FROM strata.dataset_events
  UNION ALL
  SELECT dataset, version, NULL, loaded_at, 1, version
  FROM strata.dataset_versions
  WHERE loaded_table IS NOT NULL
) c
ORDER BY dataset, fallback, ord DESC;

-- Files kept for good but not dataset versions: their contract refused them. Released ones say when, by
-- whom and why; they are versions from then on.
CREATE TABLE strata.quarantine (
  dataset        text NOT NULL,
  id             text NOT NULL,
  sha256         text NOT NULL,
  size           bigint NOT NULL,
  filename       text NOT NULL,
  origin         jsonb NOT NULL,
  archive_key    text NOT NULL,
  received_at    timestamptz NOT NULL,
  quarantined_at timestamptz NOT NULL,
  run_id         text,
  actor          jsonb NOT NULL,
  receipt        jsonb NOT NULL,
  released_at    timestamptz,
  released_by    jsonb,
  release_reason text,
  release_run    text,
  PRIMARY KEY (dataset, id)
);
CREATE INDEX quarantine_sha ON strata.quarantine (dataset, sha256);
CREATE INDEX quarantine_open ON strata.quarantine (quarantined_at DESC) WHERE released_at IS NULL;

-- Whether `value` reads as `type`, without failing: what a receipt counts rows by. PostgreSQL 16 and later
-- have pg_input_is_valid for the scalar types; this is for PostgreSQL 15 and for geometry, whose input
-- function raises rather than reports. Each call that fails costs a subtransaction, so only files that
-- broke their contract are read this way.
CREATE FUNCTION strata.input_is_valid(value text, type text) RETURNS boolean
LANGUAGE plpgsql STABLE AS $$
BEGIN
  IF value IS NULL THEN
    RETURN true;
  END IF;
  CASE type
    WHEN 'integer' THEN PERFORM value::integer;
    WHEN 'bigint' THEN PERFORM value::bigint;
    WHEN 'numeric' THEN PERFORM value::numeric;
    WHEN 'double precision' THEN PERFORM value::double precision;
    WHEN 'boolean' THEN PERFORM value::boolean;
    WHEN 'date' THEN PERFORM value::date;
    WHEN 'timestamptz' THEN PERFORM value::timestamptz;
    WHEN 'jsonb' THEN PERFORM value::jsonb;
    WHEN 'wkt' THEN PERFORM ST_GeomFromText(value);
    WHEN 'ewkb' THEN PERFORM value::geometry;
    ELSE NULL;
  END CASE;
  RETURN true;
EXCEPTION WHEN others THEN
  RETURN false;
END
$$;
