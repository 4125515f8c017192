//! Group commits: the same admissions, claims and successes as the single-job paths,
//! for many jobs in one transaction. Under load the api and the worker hand their
//! pending writes over in batches, so the database syncs once per batch instead of
//! once per job. Anything unusual (a reused key, a job that is not plainly due) falls
//! back to the single-job path, which knows how to classify it.

use std::collections::{HashMap, HashSet};

use sqlx::Arguments;
use sqlx::any::AnyArguments;
use uuid::Uuid;

use super::jobs::{JOB_COLUMNS, JobRecord, KEY_AND_HASH};
use super::outbox::{OutboxEntry, OutboxRef};
use super::rows::{opt_int, opt_text, text, uuid, uuid_list};
use super::{Admission, Backend, Claim, NewJob, Store, StoreError};
use crate::clock::Millis;
use crate::job::JobStatus;

/// One admission of a batch.
#[derive(Debug, Clone)]
pub struct Admit {
    pub job: NewJob,
    pub outbox: Option<OutboxEntry>,
}

/// SQL with `$n` placeholders numbered as values are added.
struct Sql<'q> {
    text: String,
    args: AnyArguments<'q>,
    n: usize,
}

impl<'q> Sql<'q> {
    fn new(text: impl Into<String>) -> Self {
        Sql {
            text: text.into(),
            args: AnyArguments::default(),
            n: 0,
        }
    }

    fn bind<T>(&mut self, value: T) -> Result<String, StoreError>
    where
        T: 'q + sqlx::Encode<'q, sqlx::Any> + sqlx::Type<sqlx::Any>,
    {
        self.n += 1;
        self.args.add(value).map_err(StoreError::Bind)?;
        Ok(format!("${}", self.n))
    }

    /// Appends `(p1, p2, …)` for a row of values bound by `row`.
    fn row(
        &mut self,
        first: bool,
        row: impl FnOnce(&mut Self) -> Result<Vec<String>, StoreError>,
    ) -> Result<(), StoreError> {
        let placeholders = row(self)?;
        if !first {
            self.text.push_str(", ");
        }
        self.text.push('(');
        self.text.push_str(&placeholders.join(", "));
        self.text.push(')');
        Ok(())
    }
}

/// Binds the columns a new job row takes from its `NewJob`, in the order of
/// [`NEW_JOB_COLUMNS`], for SQLite's admission statement (PostgreSQL's takes them all
/// as one parameter, see [`admission_input`]). Text is bound by reference: the batch
/// outlives its statement, and a copy of every string of every row was most of what
/// building a batch allocated.
fn bind_new_job<'q>(s: &mut Sql<'q>, job: &'q NewJob) -> Result<Vec<String>, StoreError> {
    let (key, hash) = job.stored_key_and_hash(Backend::Sqlite);
    Ok(vec![
        s.bind(job.id.to_string())?,
        s.bind(job.kind.as_str())?,
        s.bind(job.version)?,
        s.bind(key)?,
        s.bind(hash)?,
        s.bind(job.tenant.as_deref())?,
        s.bind(job.requested_by.as_str())?,
        s.bind(job.target.as_str())?,
        s.bind(job.payload.as_str())?,
        s.bind(job.max_attempts)?,
        s.bind(job.created_at)?,
    ])
}

/// The columns [`bind_new_job`] binds.
const NEW_JOB_COLUMNS: &str = "id, kind, version, idempotency_key, request_hash, tenant, \
    requested_by, target, payload, max_attempts, created_at";

/// The rest of a new job row, given its [`NEW_JOB_COLUMNS`].
const NEW_JOB_INSERT: &str = "INSERT INTO jobs (id, kind, version, idempotency_key, \
    request_hash, tenant, requested_by, target, payload, max_attempts, created_at, status, \
    attempts, next_attempt_at, updated_at)";

/// Ids of the jobs a batch of admissions created, and the outbox row they share.
type Inserted = (HashSet<Uuid>, HashMap<Uuid, OutboxRef>);

/// Admissions as one transaction of two statements (SQLite has no data-modifying CTEs).
async fn insert_admissions(store: &Store, items: &[&Admit]) -> Result<Inserted, StoreError> {
    let mut tx = store.pool().begin().await?;
    let mut sql = Sql::new(format!("{NEW_JOB_INSERT} VALUES "));
    for (n, item) in items.iter().enumerate() {
        sql.row(n == 0, |s| {
            let mut values = bind_new_job(s, &item.job)?;
            values.extend([
                "'queued'".to_owned(),
                "0".to_owned(),
                s.bind(item.job.created_at)?,
                s.bind(item.job.created_at)?,
            ]);
            Ok(values)
        })?;
    }
    sql.text.push_str(" ON CONFLICT DO NOTHING RETURNING id");
    let inserted: HashSet<Uuid> = sqlx::query_with(&sql.text, sql.args)
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|row| uuid(row, "id"))
        .collect::<Result<_, _>>()?;
    let created: Vec<&Admit> = items
        .iter()
        .copied()
        .filter(|item| inserted.contains(&item.job.id))
        .collect();

    let with_outbox: Vec<(&Admit, &OutboxEntry)> = created
        .iter()
        .filter_map(|item| item.outbox.as_ref().map(|entry| (*item, entry)))
        .collect();
    let mut outbox_ids = HashMap::new();
    if let Some((first, entry)) = with_outbox.first() {
        let ids: Vec<String> = with_outbox
            .iter()
            .map(|(item, _)| item.job.id.to_string())
            .collect();
        let available_at = with_outbox.iter().map(|(_, e)| e.available_at).max();
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO outbox (job_id, job_ids, routing_key, body, available_at, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(first.job.id.to_string())
        .bind(ids.join(","))
        .bind(&entry.routing_key)
        .bind(Vec::<u8>::new())
        .bind(available_at.unwrap_or(entry.available_at))
        .bind(first.job.created_at)
        .fetch_one(&mut *tx)
        .await?;
        let shared = OutboxRef {
            id,
            jobs: with_outbox.len() as u32,
        };
        for (item, _) in &with_outbox {
            outbox_ids.insert(item.job.id, shared);
        }
    }
    tx.commit().await?;
    Ok((inserted, outbox_ids))
}

/// The batch's rows as the CTE `input`, and the CTE `d` deleting the outbox rows in
/// `clear`. Both come as one parameter each (the rows as a JSON array, the ids
/// comma-separated), so the statement's text is the same for every batch: each
/// connection parses and prepares it once, and PostgreSQL soon plans it once for all
/// batches instead of for each (a text per batch size, with a parameter per column of
/// every row, was parsed and planned again and again).
fn admission_input<'q>(items: &[&'q Admit], clear: &[i64]) -> Result<Sql<'q>, StoreError> {
    let rows: Vec<AdmissionRow> = items.iter().map(|item| AdmissionRow::of(item)).collect();
    let rows = serde_json::to_string(&rows)
        .map_err(|err| StoreError::Corrupt(format!("a batch of admissions: {err}")))?;
    let cleared: Vec<String> = clear.iter().map(i64::to_string).collect();
    let mut sql = Sql::new(String::new());
    let rows = sql.bind(rows)?;
    let cleared = sql.bind(cleared.join(","))?;
    sql.text = format!(
        "WITH input AS (\
           SELECT * FROM json_to_recordset(CAST({rows} AS JSON)) AS r(id TEXT, kind TEXT, \
             version INTEGER, idempotency_key TEXT, request_hash TEXT, tenant TEXT, \
             requested_by TEXT, target TEXT, payload TEXT, max_attempts INTEGER, \
             created_at BIGINT, routing_key TEXT, available_at BIGINT)), \
         d AS (\
           DELETE FROM outbox \
           WHERE id = ANY(CAST(string_to_array({cleared}, ',') AS BIGINT[])))"
    );
    Ok(sql)
}

/// An admission as a row of the CTE `input` ([`NEW_JOB_COLUMNS`], then the outbox
/// entry's). The payload travels as a JSON string, which PostgreSQL reads back as
/// exactly the text it was.
#[derive(serde::Serialize)]
struct AdmissionRow<'a> {
    id: &'a Uuid,
    kind: &'a str,
    version: i64,
    idempotency_key: Option<&'a str>,
    request_hash: Option<&'a str>,
    tenant: Option<&'a str>,
    requested_by: &'a str,
    target: &'a str,
    payload: &'a str,
    max_attempts: i64,
    created_at: Millis,
    routing_key: Option<&'a str>,
    available_at: Option<Millis>,
}

impl<'a> AdmissionRow<'a> {
    fn of(item: &'a Admit) -> Self {
        let (job, entry) = (&item.job, item.outbox.as_ref());
        AdmissionRow {
            id: &job.id,
            kind: &job.kind,
            version: job.version,
            idempotency_key: job.idempotency_key.as_deref(),
            request_hash: job.request_hash.as_deref(),
            tenant: job.tenant.as_deref(),
            requested_by: &job.requested_by,
            target: &job.target,
            payload: &job.payload,
            max_attempts: job.max_attempts,
            created_at: job.created_at,
            routing_key: entry.map(|e| e.routing_key.as_str()),
            available_at: entry.map(|e| e.available_at),
        }
    }
}

/// The `INSERT` of a new job row per row of the CTE `input`.
fn jobs_from_input() -> String {
    format!(
        "{NEW_JOB_INSERT} \
         SELECT {NEW_JOB_COLUMNS}, 'queued', 0, created_at, created_at FROM input"
    )
}

/// The `INSERT` of the one outbox row naming every job of `rows` (rows of the CTE
/// `input`, possibly joined) that asked for one; none when none did.
fn shared_outbox_row(rows: &str) -> String {
    format!(
        "INSERT INTO outbox (job_id, job_ids, routing_key, body, available_at, created_at) \
         SELECT MIN(input.id), STRING_AGG(input.id, ','), MIN(input.routing_key), ''::bytea, \
           MAX(input.available_at), MIN(input.created_at) \
         FROM {rows} WHERE input.routing_key IS NOT NULL \
         HAVING COUNT(*) > 0 \
         RETURNING id"
    )
}

/// Admissions as a single statement: the job rows and their shared outbox row written by a
/// data-modifying CTE, which PostgreSQL runs as one implicit transaction. One round trip
/// instead of four (BEGIN, two INSERTs, COMMIT); the database's share of a job is
/// mostly per-statement and per-round-trip work. The outbox rows in `clear` are deleted
/// by the same statement.
async fn insert_admissions_in_one_statement(
    store: &Store,
    items: &[&Admit],
    clear: &[i64],
) -> Result<Inserted, StoreError> {
    let mut sql = admission_input(items, clear)?;
    sql.text.push_str(&format!(
        ", j AS ({} \
           ON CONFLICT DO NOTHING RETURNING id), \
         o AS ({}) \
         SELECT j.id AS id, CASE WHEN input.routing_key IS NOT NULL THEN o.id END AS outbox_id \
         FROM j JOIN input ON input.id = j.id LEFT JOIN o ON TRUE",
        jobs_from_input(),
        shared_outbox_row("j JOIN input ON input.id = j.id")
    ));
    let mut inserted = HashSet::new();
    let mut in_outbox = Vec::new();
    for row in sqlx::query_with(&sql.text, sql.args)
        .fetch_all(store.pool())
        .await?
    {
        let id = uuid(&row, "id")?;
        inserted.insert(id);
        if let Some(outbox_id) = opt_int(&row, "outbox_id")? {
            in_outbox.push((id, outbox_id));
        }
    }
    let jobs = in_outbox.len() as u32;
    let outbox_ids = in_outbox
        .into_iter()
        .map(|(id, outbox_id)| {
            (
                id,
                OutboxRef {
                    id: outbox_id,
                    jobs,
                },
            )
        })
        .collect();
    Ok((inserted, outbox_ids))
}

/// [`insert_admissions_in_one_statement`] for jobs that cannot exist yet: keyless, with
/// ids their submitters have just made. A plain `INSERT` then does, without the speculative
/// insertion and the check of every unique index that `ON CONFLICT` costs each row, and
/// the statement answers one row (the outbox row's id) instead of one per job. Should
/// an id exist after all, the statement fails whole and the caller goes the
/// `ON CONFLICT` way.
async fn insert_fresh_admissions_in_one_statement(
    store: &Store,
    items: &[&Admit],
    clear: &[i64],
) -> Result<Inserted, StoreError> {
    let mut sql = admission_input(items, clear)?;
    sql.text.push_str(&format!(
        ", j AS ({}) {}",
        jobs_from_input(),
        shared_outbox_row("input")
    ));
    let outbox_id: Option<i64> = sqlx::query_scalar_with(&sql.text, sql.args)
        .fetch_optional(store.pool())
        .await?;
    let with_outbox: Vec<Uuid> = items
        .iter()
        .filter(|item| item.outbox.is_some())
        .map(|item| item.job.id)
        .collect();
    let outbox_ids = match outbox_id {
        Some(id) => {
            let shared = OutboxRef {
                id,
                jobs: with_outbox.len() as u32,
            };
            with_outbox.into_iter().map(|job| (job, shared)).collect()
        }
        None => HashMap::new(),
    };
    Ok((items.iter().map(|item| item.job.id).collect(), outbox_ids))
}

/// Admissions on PostgreSQL: a batch of keyless jobs as fresh rows, anything else (or a
/// fresh batch that met an existing id) with `ON CONFLICT`.
async fn insert_admissions_on_postgres(
    store: &Store,
    items: &[&Admit],
    clear: &[i64],
) -> Result<Inserted, StoreError> {
    if items.iter().all(|item| item.job.idempotency_key.is_none()) {
        match insert_fresh_admissions_in_one_statement(store, items, clear).await {
            Err(err) if err.is_unique_violation() => {}
            answer => return answer,
        }
    }
    insert_admissions_in_one_statement(store, items, clear).await
}

impl Store {
    /// Admits many jobs in one transaction; one answer per item, in order.
    pub async fn admit_many(&self, items: &[Admit]) -> Result<Vec<Admission>, StoreError> {
        self.admit_many_clearing(items, &[]).await
    }

    /// [`Store::admit_many`], deleting the outbox rows `clear` (rows whose commands the
    /// broker confirmed). On PostgreSQL the admission statement deletes them, so their
    /// delete costs no round trip or commit of its own; on SQLite, where the publisher
    /// deletes its rows itself, they go just before.
    pub async fn admit_many_clearing(
        &self,
        items: &[Admit],
        clear: &[i64],
    ) -> Result<Vec<Admission>, StoreError> {
        // A key or id seen twice in one batch goes through the single path after the
        // batch, so it sees the first one's row and answers `Existing` like any reuse.
        let (mut keys, mut ids) = (HashSet::new(), HashSet::new());
        let (first, later): (Vec<usize>, Vec<usize>) = (0..items.len()).partition(|&i| {
            let job = &items[i].job;
            // Both sets must take the job: no short-circuit.
            let new_key = job
                .idempotency_key
                .as_ref()
                .is_none_or(|key| keys.insert(key.clone()));
            new_key & ids.insert(job.id)
        });
        let mut answers: Vec<Option<Admission>> = vec![None; items.len()];
        let in_statement = self.backend() == Backend::Postgres && !first.is_empty();
        if !in_statement {
            self.delete_outbox(clear).await?;
        }
        if !first.is_empty() {
            let rows: Vec<&Admit> = first.iter().map(|&i| &items[i]).collect();
            let (inserted, outbox_ids) = match self.backend() {
                Backend::Postgres => insert_admissions_on_postgres(self, &rows, clear).await?,
                Backend::Sqlite => insert_admissions(self, &rows).await?,
            };
            let created: Vec<usize> = first
                .iter()
                .copied()
                .filter(|&i| inserted.contains(&items[i].job.id))
                .collect();

            for &i in &created {
                answers[i] = Some(Admission::Created {
                    outbox: outbox_ids.get(&items[i].job.id).copied(),
                });
            }
            let existing: Vec<usize> = first
                .iter()
                .copied()
                .filter(|&i| !inserted.contains(&items[i].job.id))
                .collect();
            if !existing.is_empty() {
                let found = self
                    .existing_jobs(existing.iter().map(|&i| &items[i].job))
                    .await?;
                for &i in &existing {
                    let job = &items[i].job;
                    answers[i] = found
                        .iter()
                        .find(|(id, key, _, _)| {
                            *id == job.id || job.idempotency_key.as_ref() == Some(key)
                        })
                        .map(|(id, _, hash, status)| Admission::Existing {
                            id: *id,
                            request_hash: hash.clone(),
                            status: *status,
                        });
                }
            }
        }
        for i in later {
            answers[i] = Some(self.admit(&items[i].job, items[i].outbox.as_ref()).await?);
        }
        answers
            .into_iter()
            .enumerate()
            .map(|(i, a)| {
                a.ok_or_else(|| StoreError::Corrupt(format!("no answer for admission {i}")))
            })
            .collect()
    }

    async fn existing_jobs<'a>(
        &self,
        jobs: impl Iterator<Item = &'a NewJob>,
    ) -> Result<Vec<(Uuid, String, String, JobStatus)>, StoreError> {
        let mut sql = Sql::new(format!(
            "SELECT id, {KEY_AND_HASH}, status FROM jobs WHERE id IN ("
        ));
        let jobs: Vec<&NewJob> = jobs.collect();
        let mut keys = Vec::new();
        for (n, job) in jobs.iter().enumerate() {
            if n > 0 {
                sql.text.push_str(", ");
            }
            let p = sql.bind(job.id.to_string())?;
            sql.text.push_str(&p);
            keys.extend(job.idempotency_key.clone());
        }
        sql.text.push(')');
        if !keys.is_empty() {
            sql.text.push_str(" OR idempotency_key IN (");
            for (n, key) in keys.into_iter().enumerate() {
                if n > 0 {
                    sql.text.push_str(", ");
                }
                let p = sql.bind(key)?;
                sql.text.push_str(&p);
            }
            sql.text.push(')');
        }
        sqlx::query_with(&sql.text, sql.args)
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(|row| {
                let status = text(row, "status")?;
                Ok((
                    uuid(row, "id")?,
                    text(row, "idempotency_key")?,
                    text(row, "request_hash")?,
                    JobStatus::parse(&status)
                        .ok_or_else(|| StoreError::Corrupt(format!("status `{status}`")))?,
                ))
            })
            .collect()
    }

    /// Claims the next attempt of many jobs at once; one answer per id, in order. Jobs
    /// that are not plainly due are classified by the single-job path.
    pub async fn claim_many(
        &self,
        ids: &[Uuid],
        now: Millis,
        lease_until: Millis,
        worker: &str,
    ) -> Result<Vec<Claim>, StoreError> {
        let mut sql = Sql::new(String::new());
        let commit = match self.backend() {
            Backend::Postgres => ClaimCommit::Unflushed,
            Backend::Sqlite => ClaimCommit::Default,
        };
        sql.text = claim_statement(&mut sql, ids, now, lease_until, worker, commit)?;
        let claimed: HashMap<Uuid, JobRecord> = unprepared(&sql.text, sql.args)
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(|row| JobRecord::from_row(row).map(|j| (j.id, j)))
            .collect::<Result<_, _>>()?;
        self.answer_claims(ids, &claimed, now, lease_until, worker)
            .await
    }

    /// One answer per id: the batch statement's row where it claimed the job, the
    /// single path's answer where it did not (and for an id asked twice).
    async fn answer_claims(
        &self,
        ids: &[Uuid],
        claimed: &HashMap<Uuid, JobRecord>,
        now: Millis,
        lease_until: Millis,
        worker: &str,
    ) -> Result<Vec<Claim>, StoreError> {
        let mut answers = Vec::with_capacity(ids.len());
        let mut handed_out = HashSet::new();
        for id in ids {
            match claimed.get(id) {
                Some(job) if handed_out.insert(*id) => {
                    answers.push(Claim::Claimed(Box::new(job.clone())))
                }
                _ => answers.push(self.claim(*id, now, lease_until, worker).await?),
            }
        }
        Ok(answers)
    }

    /// Claims and successes together: on PostgreSQL one statement for both (the worker's
    /// two hot writes then cost one round trip and one commit), on SQLite the two batch
    /// statements. Answers as [`Store::claim_many`] and [`Store::succeed_many`].
    pub async fn claim_and_succeed_many(
        &self,
        claims: &[Uuid],
        successes: &[(Uuid, i64, serde_json::Value)],
        now: Millis,
        lease_until: Millis,
        worker: &str,
    ) -> Result<(Vec<Claim>, Vec<bool>), StoreError> {
        // One statement must not update a row twice: a claim of a job that also
        // finishes here goes to the single path afterwards, like any job not plainly
        // due.
        let finishing: HashSet<Uuid> = successes.iter().map(|(id, _, _)| *id).collect();
        let batch_claims: Vec<Uuid> = claims
            .iter()
            .copied()
            .filter(|id| !finishing.contains(id))
            .collect();
        if batch_claims.is_empty() || successes.is_empty() || self.backend() == Backend::Sqlite {
            // Successes first: a claim of a job finishing in the same batch (a
            // duplicate delivery) then finds it done.
            let done = self.succeed_many(successes, now, worker).await?;
            let claimed = if claims.is_empty() {
                Vec::new()
            } else {
                self.claim_many(claims, now, lease_until, worker).await?
            };
            return Ok((claimed, done));
        }
        let mut sql = Sql::new(String::new());
        let succeed = success_statement(&mut sql, successes, now, worker)?;
        // The successes' commit must reach the disk before their messages are acked.
        let claim = claim_statement(
            &mut sql,
            &batch_claims,
            now,
            lease_until,
            worker,
            ClaimCommit::Default,
        )?;
        // At least one row comes back (the successes' ids, aggregated), with the claimed
        // jobs' columns where there are any.
        sql.text = format!(
            "WITH s AS ({succeed}), c AS ({claim}) \
             SELECT c.*, d.done FROM (SELECT STRING_AGG(s.id, ',') AS done FROM s) AS d \
             LEFT JOIN c ON TRUE"
        );
        let rows = unprepared(&sql.text, sql.args)
            .fetch_all(self.pool())
            .await?;
        // `done` is the same on every row; the claim columns are NULL when nothing was
        // claimed.
        let done: HashSet<Uuid> = match rows.first() {
            Some(row) => uuid_list(row, "done")?
                .unwrap_or_default()
                .into_iter()
                .collect(),
            None => HashSet::new(),
        };
        let mut claimed = HashMap::new();
        for row in &rows {
            if opt_text(row, "id")?.is_some() {
                let job = JobRecord::from_row(row)?;
                claimed.insert(job.id, job);
            }
        }
        let done = successes
            .iter()
            .map(|(id, _, _)| done.contains(id))
            .collect();
        let claimed = self
            .answer_claims(claims, &claimed, now, lease_until, worker)
            .await?;
        Ok((claimed, done))
    }

    /// Records many successful attempts at once: (job id, attempt, result) each. One
    /// answer per item: false when that attempt was no longer current.
    pub async fn succeed_many(
        &self,
        items: &[(Uuid, i64, serde_json::Value)],
        now: Millis,
        actor: &str,
    ) -> Result<Vec<bool>, StoreError> {
        if items.is_empty() {
            return Ok(Vec::new());
        }
        let mut sql = Sql::new(String::new());
        sql.text = success_statement(&mut sql, items, now, actor)?;
        let done: HashSet<Uuid> = unprepared(&sql.text, sql.args)
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(|row| uuid(row, "id"))
            .collect::<Result<_, _>>()?;
        Ok(items.iter().map(|(id, _, _)| done.contains(id)).collect())
    }
}

/// The worker's batch statements, run unprepared. Their text is one per batch size,
/// and since a worker's batches follow its bundles, the same sizes come back again and
/// again: prepared, PostgreSQL soon ran such a statement on a generic plan made while the
/// `jobs` table was still small, a sequential scan of `jobs` for every batch once it had
/// grown (the plan is only made again after an `ANALYZE`). Unprepared, every batch is
/// planned for its own ids, and parsing costs no round trip of its own either.
fn unprepared<'q>(
    text: &'q str,
    args: AnyArguments<'q>,
) -> sqlx::query::Query<'q, sqlx::Any, AnyArguments<'q>> {
    sqlx::query_with(text, args).persistent(false)
}

/// How a claim statement's own commit ends.
#[derive(Clone, Copy)]
enum ClaimCommit {
    /// As the connection commits everything else.
    Default,
    /// PostgreSQL only: the commit returns without waiting for its write-ahead log to
    /// reach the disk. A claim need not be durable: until the attempt's end is committed,
    /// and that commit waits for the log up to and past the claim's record, the command's
    /// message stays unacknowledged, so a claim lost to a PostgreSQL crash is an attempt
    /// never started: the command is delivered and claimed again. One of the three
    /// commits on a job's way (admission, claim, end) then no longer waits for the disk,
    /// which is what holds a job up when the disk stalls.
    Unflushed,
}

/// The batch claim: starts the next attempt of each id that is plainly due, returning
/// the claimed rows.
fn claim_statement(
    sql: &mut Sql<'_>,
    ids: &[Uuid],
    now: Millis,
    lease_until: Millis,
    worker: &str,
    commit: ClaimCommit,
) -> Result<String, StoreError> {
    let lease = sql.bind(lease_until)?;
    let at = sql.bind(now)?;
    let due = sql.bind(now + super::jobs::DUE_TOLERANCE_MS)?;
    let mut list = Vec::with_capacity(ids.len());
    for id in ids {
        list.push(sql.bind(id.to_string())?);
    }
    let by = sql.bind(worker.to_owned())?;
    // `set_config(…, true)` lasts until the end of the statement's implicit transaction,
    // whose commit is what it relaxes; an uncorrelated subquery runs once, before any row.
    let relax = match commit {
        ClaimCommit::Default => "",
        ClaimCommit::Unflushed => {
            "AND (SELECT set_config('synchronous_commit', 'off', true)) = 'off' "
        }
    };
    // A running job whose lease expired goes through the single path, which first
    // stores the lost attempt's `started` event that its row still implies.
    Ok(format!(
        "UPDATE jobs SET status = 'running', attempts = attempts + 1, lease_until = {lease}, \
         started_at = COALESCE(started_at, {at}), updated_at = {at}, \
         run_at = {at}, run_by = {by} \
         WHERE id IN ({}) AND attempts < max_attempts \
           AND status IN ('queued', 'retrying') AND next_attempt_at <= {due} {relax}\
         RETURNING {JOB_COLUMNS}",
        list.join(", ")
    ))
}

/// The batch success: records each (id, attempt, result) whose attempt is still the
/// running one, returning their ids.
fn success_statement(
    sql: &mut Sql<'_>,
    items: &[(Uuid, i64, serde_json::Value)],
    now: Millis,
    actor: &str,
) -> Result<String, StoreError> {
    let at = sql.bind(now)?;
    let mut rows = Vec::with_capacity(items.len());
    for (id, attempt, result) in items {
        rows.push(format!(
            "({}, {}, {})",
            sql.bind(id.to_string())?,
            sql.bind(*attempt)?,
            sql.bind(result.to_string())?
        ));
    }
    let actor = sql.bind(actor.to_owned())?;
    // VALUES columns are named column1, column2, … in both SQLite and PostgreSQL.
    // `run_by` set is what makes the row imply the `succeeded` event.
    Ok(format!(
        "UPDATE jobs SET status = 'succeeded', updated_at = {at}, lease_until = NULL, \
         last_error = NULL, result = v.column3, finished_at = {at}, run_by = {actor} \
         FROM (VALUES {}) AS v \
         WHERE jobs.id = v.column1 AND jobs.attempts = v.column2 AND jobs.status = 'running' \
         RETURNING jobs.id AS id",
        rows.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::now_ms;
    use crate::testing::{TestDb, noop_job};

    fn admit() -> Admit {
        Admit {
            job: noop_job(),
            outbox: None,
        }
    }

    /// The claim's relaxed commit is its own: the success written next on the same
    /// connection, whose commit must reach the disk before its message is acked, is
    /// committed as the connection's setting says.
    #[tokio::test]
    async fn a_claim_leaves_its_connection_committing_durably_on_postgres() {
        let db = TestDb::postgres().await;
        let store = Store::connect(&db.url, 1).await.unwrap();
        store.migrate().await.unwrap();
        let items = [admit()];
        store.admit_many(&items).await.unwrap();
        let id = items[0].job.id;
        // Whatever the server's default, the connection's own setting is what must hold.
        sqlx::query("SET synchronous_commit = on")
            .execute(store.pool())
            .await
            .unwrap();
        let now = now_ms();
        let claims = store
            .claim_many(&[id], now, now + 10_000, "w1")
            .await
            .unwrap();
        assert!(matches!(&claims[0], Claim::Claimed(j) if j.attempts == 1));

        let setting: String = sqlx::query_scalar("SHOW synchronous_commit")
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(setting, "on");
        let other = Store::connect(&db.url, 1).await.unwrap();
        let job = other.job(id).await.unwrap().unwrap();
        assert_eq!(job.status, crate::job::JobStatus::Running);
        other.close().await;
        store.close().await;
        db.drop_db().await;
    }
}
