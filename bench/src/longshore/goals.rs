//! What Longshore's figures are compared with and held against: ratios to
//! the Celery anchor and to the raw RabbitMQ limit, and the goals set for
//! the first release.
//!
//! Figures of other suites are named by their suite, case and metric as
//! those suites report them; a ratio or goal whose other side was not
//! measured (e.g. `longshore` run alone) shows as "not measured".

use super::LongshoreSettings;
use super::deployment::StoreKind;
use super::end_to_end::{self, idle_case, latency_case, throughput_case};
use super::intake;
use super::processes::Binary;
use crate::report::figure::FigureKey;
use crate::report::{Bound, Comparison, Goal, Subject};

fn raw_publish_consume() -> FigureKey {
    FigureKey::new(crate::raw::SUITE_NAME, "classic: publish+consume", "rate")
}

fn raw_v2_publish_consume() -> FigureKey {
    FigureKey::new(
        crate::raw::SUITE_NAME,
        "classic v2: publish+consume",
        "rate",
    )
}

fn raw_quorum_publish_consume() -> FigureKey {
    FigureKey::new(crate::raw::SUITE_NAME, "quorum: publish+consume", "rate")
}

fn celery(case: &str, metric: &str) -> FigureKey {
    FigureKey::new(crate::celery::SUITE_NAME, case, metric)
}

fn celery_drain_no_backend(metric: &str) -> FigureKey {
    celery("(a) no backend: drain", metric)
}

fn celery_drain_pg_backend() -> FigureKey {
    celery("(c) PG backend: drain", "rate")
}

fn celery_enqueue_confirms() -> FigureKey {
    celery("(b) confirms: enqueue", "rate")
}

fn e2e(kind: StoreKind, metric: &str) -> FigureKey {
    FigureKey::new(end_to_end::SUITE_NAME, &throughput_case(kind), metric)
}

fn ratio(label: &str, numerator: FigureKey, denominator: FigureKey) -> Comparison {
    Comparison {
        label: label.to_owned(),
        numerator,
        denominator,
    }
}

fn pg_vs_raw() -> Comparison {
    ratio(
        "Longshore e2e PostgreSQL / raw classic publish+consume, rate",
        e2e(StoreKind::Postgres, "rate"),
        raw_publish_consume(),
    )
}

/// Against the raw limit of the queues Longshore declares (classic, version 2).
fn pg_vs_raw_v2() -> Comparison {
    ratio(
        "Longshore e2e PostgreSQL / raw classic v2 publish+consume, rate",
        e2e(StoreKind::Postgres, "rate"),
        raw_v2_publish_consume(),
    )
}

fn e2e_vs_celery_drain(kind: StoreKind) -> Comparison {
    ratio(
        &format!("Longshore e2e {} / Celery (a) drain, rate", kind.label()),
        e2e(kind, "rate"),
        celery_drain_no_backend("rate"),
    )
}

fn e2e_vs_celery_pg_drain(kind: StoreKind) -> Comparison {
    ratio(
        &format!(
            "Longshore e2e {} / Celery (c) drain with PG backend, rate",
            kind.label()
        ),
        e2e(kind, "rate"),
        celery_drain_pg_backend(),
    )
}

fn intake_vs_celery(concurrency: usize) -> Comparison {
    ratio(
        &format!(
            "Longshore intake {} / Celery (b) enqueue with confirms, rate",
            intake::case(concurrency)
        ),
        FigureKey::new(intake::SUITE_NAME, &intake::case(concurrency), "rate"),
        celery_enqueue_confirms(),
    )
}

pub fn end_to_end_comparisons() -> Vec<Comparison> {
    vec![
        pg_vs_raw(),
        pg_vs_raw_v2(),
        e2e_vs_celery_drain(StoreKind::Postgres),
        e2e_vs_celery_pg_drain(StoreKind::Postgres),
        e2e_vs_celery_drain(StoreKind::Sqlite),
        ratio(
            "Longshore e2e PostgreSQL, quorum queues / raw quorum publish+consume, rate",
            e2e(StoreKind::PostgresQuorum, "rate"),
            raw_quorum_publish_consume(),
        ),
        e2e_vs_celery_drain(StoreKind::PostgresQuorum),
        e2e_vs_celery_pg_drain(StoreKind::PostgresQuorum),
        ratio(
            "Longshore e2e PostgreSQL / Celery (a) drain, CPU total",
            e2e(StoreKind::Postgres, "CPU total"),
            celery_drain_no_backend("CPU total"),
        ),
    ]
}

pub fn intake_comparisons(s: &LongshoreSettings) -> Vec<Comparison> {
    s.intake_concurrency
        .iter()
        .map(|&c| intake_vs_celery(c))
        .collect()
}

fn goal(label: &str, subject: Subject, bound: Bound) -> Goal {
    Goal {
        label: label.to_owned(),
        subject,
        bound,
    }
}

pub fn end_to_end_goals(s: &LongshoreSettings) -> Vec<Goal> {
    let pg = StoreKind::Postgres;
    let latency = |metric: &str| {
        let key = FigureKey::new(
            end_to_end::SUITE_NAME,
            &latency_case(pg, s.latency_rate),
            metric,
        );
        Subject::Figure(key, "ms")
    };
    vec![
        goal(
            "e2e jobs/s, PostgreSQL, vs raw classic publish+consume",
            Subject::Ratio(pg_vs_raw()),
            Bound::AtLeast(0.4),
        ),
        goal(
            "e2e jobs/s, PostgreSQL, vs raw classic v2 publish+consume (Longshore's queues)",
            Subject::Ratio(pg_vs_raw_v2()),
            Bound::AtLeast(0.4),
        ),
        goal(
            "e2e jobs/s, PostgreSQL, vs Celery drain without backend",
            Subject::Ratio(e2e_vs_celery_drain(StoreKind::Postgres)),
            Bound::AtLeast(3.5),
        ),
        goal(
            "e2e jobs/s, PostgreSQL, vs Celery drain with PostgreSQL backend",
            Subject::Ratio(e2e_vs_celery_pg_drain(StoreKind::Postgres)),
            Bound::AtLeast(20.0),
        ),
        goal(
            "e2e CPU per job, PostgreSQL (api + worker + PostgreSQL + RabbitMQ)",
            Subject::Figure(e2e(pg, "CPU total"), "ms CPU/job"),
            Bound::AtMost(0.5),
        ),
        goal(
            &format!("submit → succeeded p50 at {}/s, PostgreSQL", s.latency_rate),
            latency("p50"),
            Bound::AtMost(5.0),
        ),
        goal(
            &format!("submit → succeeded p99 at {}/s, PostgreSQL", s.latency_rate),
            latency("p99"),
            Bound::AtMost(15.0),
        ),
        goal(
            "idle worker RSS",
            Subject::Figure(
                FigureKey::new(end_to_end::SUITE_NAME, &idle_case(pg), "RSS worker"),
                "MiB",
            ),
            Bound::AtMost(64.0),
        ),
        goal(
            "e2e jobs/s, SQLite, vs Celery drain without backend",
            Subject::Ratio(e2e_vs_celery_drain(StoreKind::Sqlite)),
            Bound::AtLeast(1.0),
        ),
    ]
}

/// Held at the highest concurrency measured: the goal is about how much the
/// intake can take, which one caller at a time does not show.
pub fn intake_goals(s: &LongshoreSettings) -> Vec<Goal> {
    let Some(&c) = s.intake_concurrency.iter().max() else {
        return Vec::new();
    };
    vec![goal(
        &format!(
            "intake accepted/s ({}) vs Celery enqueue with confirms",
            intake::case(c)
        ),
        Subject::Ratio(intake_vs_celery(c)),
        Bound::AtLeast(10.0),
    )]
}

pub fn versions(binary: Option<&Binary>) -> Vec<(String, String)> {
    binary
        .map(|b| {
            let version = b.version.trim_start_matches("longshore ").to_owned();
            vec![("Longshore".to_owned(), version)]
        })
        .unwrap_or_default()
}
