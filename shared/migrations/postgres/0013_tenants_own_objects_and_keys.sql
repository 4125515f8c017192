-- Every object Longshore manages records the tenant whose command created it, and a
-- command acting for a tenant may touch only that tenant's objects. Rows written
-- before take the tenant of the job that last wrote them.
ALTER TABLE users ADD COLUMN tenant TEXT;
ALTER TABLE projects ADD COLUMN tenant TEXT;
ALTER TABLE apps ADD COLUMN tenant TEXT;
UPDATE users SET tenant = (SELECT tenant FROM jobs WHERE jobs.id = users.job_id);
UPDATE projects SET tenant = (SELECT tenant FROM jobs WHERE jobs.id = projects.job_id);
UPDATE apps SET tenant = (SELECT tenant FROM jobs WHERE jobs.id = apps.job_id);

-- Idempotency keys are scoped to their tenant: the stored key is `<tenant>` U+001F
-- `<key>` (a control character no tenant name or accepted key holds); a job for no
-- tenant keeps its key as it is. Job ids stay what they were.
UPDATE jobs SET idempotency_key = tenant || chr(31) || idempotency_key
WHERE tenant IS NOT NULL AND idempotency_key IS NOT NULL AND idempotency_key <> id;
