-- Same indexes as PostgreSQL's 0011: ascending, so new jobs land at the right edge of
-- each index; newest-first listings scan them backwards.
CREATE INDEX jobs_created_asc_idx ON jobs (created_at, id);
CREATE INDEX jobs_kind_asc_idx ON jobs (kind, created_at);
CREATE INDEX jobs_tenant_asc_idx ON jobs (tenant, created_at) WHERE tenant IS NOT NULL;
DROP INDEX jobs_created_idx;
DROP INDEX jobs_kind_idx;
DROP INDEX jobs_tenant_only_idx;
