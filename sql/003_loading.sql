-- Where a large CSV is loaded by several COPY statements at once before it is moved into `datasets`: the
-- table must be committed for other connections to fill it, and nothing in `datasets` may be half loaded.
CREATE SCHEMA IF NOT EXISTS strata_loading;
