-- Tenants and their quota ledger: `used_*` is the sum of the reservations their
-- clusters hold, moved only by conditional updates so concurrent creates cannot
-- overshoot `quota_*`. CPU in millicores, memory in MiB.
CREATE TABLE tenants (
    name              TEXT PRIMARY KEY,
    quota_millicores  BIGINT NOT NULL,
    quota_mib         BIGINT NOT NULL,
    used_millicores   BIGINT NOT NULL DEFAULT 0,
    used_mib          BIGINT NOT NULL DEFAULT 0,
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL
);

-- Clusters as the worker last left them, each with the reservation it holds.
CREATE TABLE clusters (
    name                 TEXT PRIMARY KEY,
    tenant               TEXT NOT NULL,
    target               TEXT NOT NULL,
    namespace            TEXT NOT NULL,
    instance_type        TEXT NOT NULL,
    cpu_per_instance     TEXT NOT NULL,
    memory_per_instance  TEXT NOT NULL,
    instance_count       BIGINT NOT NULL,
    image                TEXT NOT NULL,
    reserved_millicores  BIGINT NOT NULL DEFAULT 0,
    reserved_mib         BIGINT NOT NULL DEFAULT 0,
    state                TEXT NOT NULL,
    reason               TEXT,
    job_id               TEXT NOT NULL,
    created_at           BIGINT NOT NULL,
    updated_at           BIGINT NOT NULL
);
CREATE INDEX clusters_tenant_idx ON clusters (tenant, name);

-- Each instance's status as the worker last observed it, and the job that last
-- changed it.
CREATE TABLE instances (
    name        TEXT PRIMARY KEY,
    cluster     TEXT NOT NULL,
    position    BIGINT NOT NULL,
    status      TEXT NOT NULL,
    reason      TEXT,
    node        TEXT,
    ip          TEXT,
    job_id      TEXT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE INDEX instances_cluster_idx ON instances (cluster, position);
