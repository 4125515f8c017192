-- A job's row is updated three times on its way (claim, outcome, sometimes progress).
-- With no index on a column those updates change, PostgreSQL can make them HOT updates
-- (no new index entries), which is most of the store's write cost per job. Listing by
-- status walks the created_at index instead.
DROP INDEX IF EXISTS jobs_status_idx;
ALTER TABLE jobs SET (fillfactor = 70);
