-- Same schema as PostgreSQL's 0003: listing by status walks the created_at index.
DROP INDEX IF EXISTS jobs_status_idx;
