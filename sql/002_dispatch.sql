-- Dispatch bookkeeping: the task that runs a run, the job it was given (for retries), and the key that makes
-- a trigger's duplicate events one run.
ALTER TABLE strata.runs ADD COLUMN task text;
ALTER TABLE strata.runs ADD COLUMN job jsonb;
ALTER TABLE strata.runs ADD COLUMN dedupe_key text;
CREATE UNIQUE INDEX runs_dedupe_key ON strata.runs (dedupe_key) WHERE dedupe_key IS NOT NULL;
CREATE INDEX runs_task ON strata.runs (task) WHERE task IS NOT NULL;
