-- Every job writes three events on its way. The foreign key made each of those
-- inserts lock the job's row (and write that lock into it), and the events had two
-- indexes where one serves: events are only ever read by job, in order.
ALTER TABLE job_events DROP CONSTRAINT IF EXISTS job_events_job_id_fkey;
ALTER TABLE job_events DROP CONSTRAINT IF EXISTS job_events_pkey;
DROP INDEX IF EXISTS job_events_job_idx;
ALTER TABLE job_events ADD PRIMARY KEY (job_id, id);
