-- Dispatch bookkeeping: which task runs a run, and the key that makes a trigger's duplicate events one run.
ALTER TABLE strata.runs ADD COLUMN task text;
ALTER TABLE strata.runs ADD COLUMN dedupe_key text;
CREATE UNIQUE INDEX runs_dedupe_key ON strata.runs (dedupe_key) WHERE dedupe_key IS NOT NULL;
