-- Jobs without a tenant are never looked up by tenant; see the PostgreSQL migration of the
-- same name. SQLite uses a partial index for `tenant = ?` when the index says
-- `tenant IS NOT NULL`.
CREATE INDEX jobs_tenant_only_idx ON jobs (tenant, created_at DESC) WHERE tenant IS NOT NULL;
DROP INDEX jobs_tenant_idx;
