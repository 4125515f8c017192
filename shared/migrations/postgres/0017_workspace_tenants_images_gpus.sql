-- A workspace belongs to the tenant of the command that created it, as clusters do.
ALTER TABLE workspaces ADD COLUMN tenant TEXT;

-- Images saved from workspaces by `image.commit`, as the worker last observed the
-- commit: `committing` while its Job runs, then `pushed` with the digest, or `failed`.
CREATE TABLE images (
    owner        TEXT NOT NULL,
    image        TEXT NOT NULL,
    tenant       TEXT,
    target       TEXT NOT NULL,
    digest       TEXT,
    workspace    TEXT,
    namespace    TEXT NOT NULL,
    pod          TEXT NOT NULL,
    container    TEXT NOT NULL,
    node         TEXT,
    commit_job   TEXT NOT NULL,
    state        TEXT NOT NULL,
    reason       TEXT,
    warning      TEXT,
    job_id       TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    PRIMARY KEY (owner, image)
);

-- Each target's nodes with GPUs as the worker last read them: capacity, allocatable
-- and which workspaces hold which devices, as a JSON document per node.
CREATE TABLE gpu_nodes (
    target      TEXT NOT NULL,
    node        TEXT NOT NULL,
    detail      TEXT NOT NULL,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (target, node)
);
