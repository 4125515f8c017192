-- A job submitted without an idempotency key answers to its id alone. It used to store
-- its id again as its key (one more entry in a unique index per admission) and a hash
-- of the request nothing could ever compare with; now both are NULL and reads give the
-- id and an empty hash. The unique index leaves NULL keys out. Rows written before keep
-- what they have. Built inside the migration's transaction, like 0006.
ALTER TABLE jobs ALTER COLUMN idempotency_key DROP NOT NULL;
ALTER TABLE jobs ALTER COLUMN request_hash DROP NOT NULL;
CREATE UNIQUE INDEX jobs_key_only_idx ON jobs (idempotency_key) WHERE idempotency_key IS NOT NULL;
ALTER TABLE jobs DROP CONSTRAINT jobs_idempotency_key_key;
