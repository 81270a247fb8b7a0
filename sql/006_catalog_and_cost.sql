-- Each run records the catalog it worked with (the sha256 of its packed files, the hash the child stack
-- deploys) and, once it has finished, its cost ledger: what it used and what that cost at list prices.
ALTER TABLE strata.runs ADD COLUMN catalog_sha256 text;
ALTER TABLE strata.runs ADD COLUMN cost jsonb;
CREATE INDEX runs_created ON strata.runs (created_at);
