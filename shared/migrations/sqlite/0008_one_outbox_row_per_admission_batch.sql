-- An admission batch writes one outbox row for all its jobs instead of one per job:
-- `job_ids` lists them (comma-separated; `job_id` is the first). Rows with `job_ids`
-- NULL name one job, as before. A heap insert, two index entries and a delete per job
-- become one of each per batch.
ALTER TABLE outbox ADD COLUMN job_ids TEXT;
