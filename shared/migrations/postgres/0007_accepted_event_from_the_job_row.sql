-- A job's `accepted` event is now read from its row (created_at, requested_by) instead
-- of being stored: one row and one index entry fewer per admission. The stored ones are
-- no longer read (nor those an older replica writes during an upgrade); this frees them.
DELETE FROM job_events WHERE event = 'accepted';
