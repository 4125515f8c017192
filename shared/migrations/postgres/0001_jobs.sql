-- Jobs, their audit trail, the outbox, API tokens and schedule slots.
-- Times are milliseconds since the Unix epoch (BIGINT) so both backends share queries.

CREATE TABLE jobs (
    id               TEXT PRIMARY KEY,
    kind             TEXT NOT NULL,
    version          INTEGER NOT NULL,
    idempotency_key  TEXT NOT NULL UNIQUE,
    request_hash     TEXT NOT NULL,
    tenant           TEXT,
    requested_by     TEXT NOT NULL,
    target           TEXT NOT NULL,
    payload          TEXT NOT NULL,
    status           TEXT NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    max_attempts     INTEGER NOT NULL,
    next_attempt_at  BIGINT NOT NULL,
    lease_until      BIGINT,
    last_error       TEXT,
    result           TEXT,
    progress         TEXT,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    started_at       BIGINT,
    finished_at      BIGINT
);
CREATE INDEX jobs_created_idx ON jobs (created_at DESC, id DESC);
CREATE INDEX jobs_status_idx ON jobs (status, next_attempt_at);
CREATE INDEX jobs_kind_idx ON jobs (kind, created_at DESC);
CREATE INDEX jobs_tenant_idx ON jobs (tenant, created_at DESC);

CREATE TABLE job_events (
    id       BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_id   TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    at       BIGINT NOT NULL,
    event    TEXT NOT NULL,
    status   TEXT NOT NULL,
    attempt  INTEGER NOT NULL,
    actor    TEXT NOT NULL,
    detail   TEXT
);
CREATE INDEX job_events_job_idx ON job_events (job_id, id);

CREATE TABLE outbox (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_id        TEXT NOT NULL,
    routing_key   TEXT NOT NULL,
    body          BYTEA NOT NULL,
    available_at  BIGINT NOT NULL,
    attempts      INTEGER NOT NULL DEFAULT 0,
    created_at    BIGINT NOT NULL
);
CREATE INDEX outbox_due_idx ON outbox (available_at);

CREATE TABLE api_tokens (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    role          TEXT NOT NULL,
    tenant        TEXT,
    targets       TEXT,
    token_hash    TEXT NOT NULL UNIQUE,
    created_at    BIGINT NOT NULL,
    created_by    TEXT NOT NULL,
    last_used_at  BIGINT,
    revoked_at    BIGINT
);

CREATE TABLE schedule_slots (
    entry        TEXT NOT NULL,
    slot_at      BIGINT NOT NULL,
    outcome      TEXT NOT NULL,
    job_id       TEXT,
    recorded_at  BIGINT NOT NULL,
    recorded_by  TEXT NOT NULL,
    PRIMARY KEY (entry, slot_at)
);

-- The in-process transport of `longshore dev`: queues and dead letters kept in the
-- store, so nothing is lost on restart.
CREATE TABLE local_messages (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    queue           TEXT NOT NULL,
    routing_key     TEXT NOT NULL,
    body            BYTEA NOT NULL,
    headers         TEXT NOT NULL,
    available_at    BIGINT NOT NULL,
    lease_until     BIGINT,
    delivery_count  INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX local_messages_due_idx ON local_messages (queue, available_at);

CREATE TABLE dead_letters (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    routing_key  TEXT NOT NULL,
    body         BYTEA NOT NULL,
    headers      TEXT NOT NULL,
    reason       TEXT NOT NULL,
    at           BIGINT NOT NULL
);
