-- New jobs carry the newest creation times, and these indexes kept them newest first:
-- every admission inserted at an index's left edge, where PostgreSQL splits a full page
-- in half (pg_waldump over 42 000 jobs: 764 left splits of about 4 kB, 5% of the log),
-- where its cached path to the rightmost leaf does not apply, and where its split point
-- heuristics for ascending insertions cannot leave the full page full. Ascending, the
-- same indexes serve the newest-first listings by scanning backwards. Built inside the
-- migration's transaction, like 0006.
CREATE INDEX jobs_created_asc_idx ON jobs (created_at, id);
CREATE INDEX jobs_kind_asc_idx ON jobs (kind, created_at);
CREATE INDEX jobs_tenant_asc_idx ON jobs (tenant, created_at) WHERE tenant IS NOT NULL;
DROP INDEX jobs_created_idx;
DROP INDEX jobs_kind_idx;
DROP INDEX jobs_tenant_only_idx;
