-- The partner API finds an upload's ingest run by the ingress key it was sent to
-- (`GET /datasets/<name>/uploads/<id>`): an index on that key, for ingest runs only.
CREATE INDEX IF NOT EXISTS runs_upload_key ON strata.runs ((trigger -> 'detail' ->> 'key')) WHERE kind = 'ingest';
