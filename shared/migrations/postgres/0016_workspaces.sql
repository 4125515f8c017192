-- Each owner's workspace ledger: how many workspaces and GPUs their workspace rows
-- hold, moved only by conditional updates so concurrent creates cannot overshoot the
-- configured per-user limits.
CREATE TABLE workspace_usage (
    owner       TEXT PRIMARY KEY,
    workspaces  BIGINT NOT NULL DEFAULT 0,
    gpus        BIGINT NOT NULL DEFAULT 0,
    updated_at  BIGINT NOT NULL
);

-- Workspaces (one Pod each) as the worker last observed them. `held` is 1 while the
-- row counts in its owner's ledger.
CREATE TABLE workspaces (
    owner            TEXT NOT NULL,
    name             TEXT NOT NULL,
    target           TEXT NOT NULL,
    namespace        TEXT NOT NULL,
    image            TEXT NOT NULL,
    cpu              TEXT NOT NULL,
    memory           TEXT NOT NULL,
    gpu_type         TEXT,
    gpu_count        BIGINT NOT NULL,
    gpu_mode         TEXT NOT NULL,
    held             BIGINT NOT NULL DEFAULT 0,
    state            TEXT NOT NULL,
    reason           TEXT,
    phase            TEXT,
    node             TEXT,
    pod_ip           TEXT,
    gpu_devices      TEXT,
    started_at       TEXT,
    protected_until  TEXT,
    detail           TEXT,
    job_id           TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    PRIMARY KEY (owner, name)
);
