//! End-to-end tests: the real `longshore` binary in every role, against real PostgreSQL
//! (or a shared SQLite file) and real RabbitMQ. Each test has a database and a broker
//! prefix of its own, so the suite runs in parallel (`cargo test --test e2e`, or
//! `cargo nextest run --test e2e`).
//!
//! The servers are `LONGSHORE_TEST_POSTGRES` (default `postgres://postgres@127.0.0.1:5432`)
//! and `LONGSHORE_TEST_AMQP` (default `amqp://guest:guest@127.0.0.1:5672/%2f`). A failing
//! test prints the output of every process it started; `LONGSHORE_E2E_LOGS=1` prints it
//! for passing tests too.

mod helpers;

mod auth;
mod broker_outage;
mod clusters;
mod dev;
mod failures;
mod first_contact;
mod idempotency;
mod keep_alive;
mod listing;
mod producers;
mod scheduler;
mod shutdown;
mod store_outage;
mod submit;
mod tenancy;
mod validation;
mod worker_crash;
