-- Jobs without a tenant (diagnostics, cluster and maintenance commands) are never looked
-- up by tenant, yet each took an entry in the tenant index: one index insert of five per
-- admission. `tenant = $1` implies `tenant IS NOT NULL`, so tenant listings use the
-- partial index as before. Built inside the migration's transaction, which holds off
-- writes to `jobs` while it runs; retention keeps the table small enough for that.
CREATE INDEX jobs_tenant_only_idx ON jobs (tenant, created_at DESC) WHERE tenant IS NOT NULL;
DROP INDEX jobs_tenant_idx;
