-- What Longshore manages, as the worker last left it: the api answers queries from
-- here and never from Kubernetes.

CREATE TABLE users (
    email       TEXT PRIMARY KEY,
    username    TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    target      TEXT NOT NULL,
    job_id      TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);

CREATE TABLE projects (
    name        TEXT PRIMARY KEY,
    owner       TEXT NOT NULL,
    namespace   TEXT NOT NULL,
    backend     TEXT NOT NULL,
    resources   TEXT NOT NULL,
    target      TEXT NOT NULL,
    job_id      TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE INDEX projects_owner_idx ON projects (owner);

CREATE TABLE apps (
    app_id      TEXT PRIMARY KEY,
    namespace   TEXT NOT NULL,
    image       TEXT NOT NULL,
    host        TEXT NOT NULL,
    state       TEXT NOT NULL,
    reason      TEXT,
    target      TEXT NOT NULL,
    job_id      TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
