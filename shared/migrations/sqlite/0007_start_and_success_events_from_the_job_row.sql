-- The current attempt's `started` event and a batch-recorded `succeeded` event are read
-- from the job row (`run_at`, `run_by`, finished_at) instead of being stored: two rows and
-- two index entries fewer per job. A transition that stores events of its own first
-- stores the `started` event the row implies, then clears `run_at`. Events stored before
-- this migration stay as they are; their rows imply nothing (both columns NULL).
ALTER TABLE jobs ADD COLUMN run_at BIGINT;
ALTER TABLE jobs ADD COLUMN run_by TEXT;
