//! One delivery, start to end: read the envelope, claim the job's next attempt in the
//! store, run the handler under a lease and a timeout, record the outcome, schedule a
//! retry or dead-letter, and only then ack.

use std::time::Duration;

use longshore_shared::broker::Delivery;
use longshore_shared::clock::{Millis, millis, now_ms};
use longshore_shared::command::envelope::scoped_key;
use longshore_shared::command::{Envelope, lookup};
use longshore_shared::intake::{Submission, check_fields, request_hash};
use longshore_shared::job::{Failure, Outcome};
use longshore_shared::store::{Admission, AttemptEnd, Claim, JobRecord, NewJob};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;
use uuid::Uuid;

use super::{Runtime, retry_delay};
use crate::Context;

/// How long to wait before a delivery whose outcome could not be recorded (store
/// down) is given back to the queue.
const STORE_BACKOFF: Duration = Duration::from_secs(1);

enum Settle {
    Ack,
    Requeue,
}

impl Runtime {
    pub(crate) async fn process(&self, delivery: Delivery, give_back: CancellationToken) {
        let span = tracing::info_span!(
            "job",
            job_id = tracing::field::Empty,
            kind = %delivery.routing_key,
            attempt = tracing::field::Empty,
            tenant = tracing::field::Empty,
            target = tracing::field::Empty,
        );
        let settle = self.handle(&delivery, give_back).instrument(span).await;
        let result = match settle {
            Settle::Ack => delivery.ack().await,
            Settle::Requeue => {
                tokio::time::sleep(STORE_BACKOFF).await;
                delivery.requeue().await
            }
        };
        if let Err(err) = result {
            // The broker will redeliver; the store decides whether anything runs again.
            tracing::warn!(error = %err, "could not settle a delivery");
        }
    }

    async fn handle(&self, delivery: &Delivery, give_back: CancellationToken) -> Settle {
        let envelope = match Envelope::from_bytes(&delivery.body) {
            Ok(envelope) => envelope,
            Err(err) => return self.dead_letter(delivery, &err.to_string()).await,
        };
        let Some(spec) = lookup(&envelope.kind) else {
            let reason = format!("unknown kind `{}`", envelope.kind);
            return self.dead_letter(delivery, &reason).await;
        };
        let id = envelope.job_id();
        tracing::Span::current().record("job_id", tracing::field::display(id));

        let now = now_ms();
        let lease_until = now + millis(self.settings.lease);
        let worker = self.settings.worker_id.as_str();
        let mut claim = self.writer.claim(id).await;
        if matches!(claim, Ok(Claim::Missing)) {
            // First sight of a command published straight to the exchange: it gets
            // the checks the api would have made, and a job row.
            let submission = submission_of(&envelope);
            if let Err(err) = check_fields(&submission) {
                let reason = format!("invalid envelope: {err}");
                return self.dead_letter(delivery, &reason).await;
            }
            let max_attempts = spec.policy.max_attempts;
            claim = match self.admit(&envelope, &submission, max_attempts).await {
                Ok(None) => {
                    self.services
                        .store
                        .claim(id, now, lease_until, worker)
                        .await
                }
                Ok(Some(existing)) => {
                    if conflicts(&envelope, &existing.request_hash) {
                        return self
                            .refuse_republish(delivery, &envelope, existing.id)
                            .await;
                    }
                    tracing::info!("duplicate of an existing job's idempotency key; not run");
                    return Settle::Ack;
                }
                Err(err) => Err(err),
            };
        }
        let job = match claim {
            Ok(Claim::Claimed(job)) if conflicts(&envelope, &job.request_hash) => {
                // Claimed on the strength of the key alone: the attempt is given back
                // unspent, and the job's own message runs it.
                self.release(&job, "a republish under its key was refused")
                    .await;
                return self.refuse_republish(delivery, &envelope, job.id).await;
            }
            Ok(Claim::Claimed(job)) => *job,
            Ok(Claim::Settled(status)) => {
                if envelope.idempotency_key.is_some()
                    && let Ok(Some(job)) = self.services.store.job(id).await
                    && conflicts(&envelope, &job.request_hash)
                {
                    return self.refuse_republish(delivery, &envelope, id).await;
                }
                tracing::debug!(%status, "already settled; acking without running");
                return Settle::Ack;
            }
            Ok(Claim::NotDue { at }) => return self.delay_until(delivery, at).await,
            Ok(Claim::Busy { lease_until }) => {
                // Another worker runs it now; look again once its lease would expire.
                return self.delay_until(delivery, lease_until + 50).await;
            }
            Ok(Claim::Exhausted { reason }) => return self.dead_letter(delivery, &reason).await,
            Ok(Claim::Missing) => return Settle::Ack,
            Err(err) => {
                tracing::warn!(error = %err, "cannot claim the job");
                return Settle::Requeue;
            }
        };
        let span = tracing::Span::current();
        span.record("attempt", job.attempts);
        span.record("target", job.target.as_str());
        if let Some(tenant) = &job.tenant {
            span.record("tenant", tenant.as_str());
        }
        self.run_attempt(delivery, job, spec.policy.timeout, give_back)
            .await
    }

    /// Creates the job row for an envelope seen for the first time; the job that
    /// already holds its idempotency key, if another does.
    async fn admit(
        &self,
        envelope: &Envelope,
        submission: &Submission,
        max_attempts: u32,
    ) -> Result<Option<ExistingJob>, longshore_shared::store::StoreError> {
        let job = NewJob {
            id: envelope.job_id(),
            kind: envelope.kind.clone(),
            version: i64::from(envelope.version),
            idempotency_key: envelope
                .idempotency_key
                .as_deref()
                .map(|key| scoped_key(envelope.tenant.as_deref(), key)),
            request_hash: request_hash(submission),
            tenant: envelope.tenant.clone(),
            requested_by: submission.requested_by.clone(),
            target: envelope.target.clone(),
            payload: envelope.payload.to_string(),
            max_attempts: i64::from(max_attempts),
            created_at: envelope
                .created_at
                .map(|t| t.timestamp_millis())
                .unwrap_or_else(now_ms),
        };
        match self.services.store.admit(&job, None).await? {
            Admission::Created { .. } => Ok(None),
            Admission::Existing { id, .. } if id == job.id => Ok(None),
            Admission::Existing {
                id, request_hash, ..
            } => Ok(Some(ExistingJob { id, request_hash })),
        }
    }

    /// Dead-letters a command whose idempotency key belongs to a job asked for with a
    /// different request (over HTTP the same case is a `409`), and says so in that
    /// job's audit trail.
    async fn refuse_republish(
        &self,
        delivery: &Delivery,
        envelope: &Envelope,
        job: Uuid,
    ) -> Settle {
        let key = envelope.idempotency_key.as_deref().unwrap_or_default();
        let actor = envelope.requested_by.as_deref().unwrap_or("amqp");
        tracing::warn!(%job, key, actor, "refused a republish: {REUSED_KEY}");
        let detail = format!(
            "a command published with this job's idempotency key `{key}` and a different \
             request was dead-lettered: {REUSED_KEY}"
        );
        if let Err(err) = self
            .services
            .store
            .note_event(job, "republish_refused", actor, &detail, now_ms())
            .await
        {
            tracing::warn!(error = %err, "could not add the refusal to the audit trail");
        }
        self.dead_letter(delivery, REUSED_KEY).await
    }

    async fn run_attempt(
        &self,
        delivery: &Delivery,
        job: JobRecord,
        timeout: Duration,
        give_back: CancellationToken,
    ) -> Settle {
        let ctx = Context {
            job_id: job.id,
            attempt: job.attempts,
            max_attempts: job.max_attempts,
            target: job.target.clone(),
            tenant: job.tenant.clone(),
            requested_by: job.requested_by.clone(),
            created_at: job.created_at,
            previous_progress: job.progress.clone(),
            services: self.services.clone(),
        };
        let heartbeat = self.spawn_heartbeat(&job);
        let run = self.registry.run(&job.kind, job.payload.clone(), ctx);
        // The handler runs in its own task so a panic fails the attempt, not the worker.
        let mut task = tokio::spawn(async move { tokio::time::timeout(timeout, run).await });
        let result = tokio::select! {
            joined = &mut task => match joined {
                Ok(Ok(result)) => Some(result),
                Ok(Err(_)) => Some(Err(Failure::Transient(format!("timed out after {timeout:?}")))),
                Err(err) => Some(Err(Failure::Transient(format!("handler crashed: {err}")))),
            },
            _ = give_back.cancelled() => {
                task.abort();
                None
            }
        };
        heartbeat.abort();
        match result {
            Some(result) => self.record(delivery, &job, result).await,
            None => self.release(&job, "worker shutting down").await,
        }
    }

    fn spawn_heartbeat(&self, job: &JobRecord) -> tokio::task::JoinHandle<()> {
        let store = self.services.store.clone();
        let lease = self.settings.lease;
        let (id, attempt) = (job.id, job.attempts);
        tokio::spawn(async move {
            let every = (lease / 3).max(Duration::from_millis(100));
            loop {
                tokio::time::sleep(every).await;
                let now = now_ms();
                match store.heartbeat(id, attempt, now + millis(lease), now).await {
                    Ok(true) => {}
                    Ok(false) => {
                        tracing::warn!(%id, attempt, "lease lost: another attempt took over");
                        return;
                    }
                    Err(err) => tracing::warn!(error = %err, "lease renewal failed"),
                }
            }
        })
    }

    async fn record(
        &self,
        delivery: &Delivery,
        job: &JobRecord,
        result: Result<Outcome, Failure>,
    ) -> Settle {
        let now = now_ms();
        let gave_up = match &result {
            Err(failure) if !failure.is_permanent() && job.attempts >= job.max_attempts => {
                Some(format!(
                    "gave up after {} attempts: {}",
                    job.attempts,
                    failure.message()
                ))
            }
            _ => None,
        };
        let (end, follow_up) = match &result {
            Ok(Outcome::Done(value)) => (AttemptEnd::Succeeded { result: value }, FollowUp::None),
            Ok(Outcome::Recheck { after, progress }) => (
                AttemptEnd::Recheck {
                    progress,
                    next_attempt_at: now + millis(*after),
                },
                FollowUp::Delay(*after),
            ),
            Err(Failure::Permanent(error)) => (AttemptEnd::Failed { error }, FollowUp::None),
            Err(_) if gave_up.is_some() => {
                let reason = gave_up.as_deref().unwrap_or_default();
                (
                    AttemptEnd::Dead { error: reason },
                    FollowUp::DeadLetter(reason.to_owned()),
                )
            }
            Err(failure) => {
                let delay = match failure {
                    Failure::RetryAfter { after, .. } => *after,
                    _ => {
                        let (base, max) = (self.settings.retry_base, self.settings.retry_max);
                        retry_delay(attempt_in_round(job), base, max)
                    }
                };
                (
                    AttemptEnd::Retrying {
                        error: failure.message(),
                        next_attempt_at: now + millis(delay),
                    },
                    FollowUp::Delay(delay),
                )
            }
        };
        let status = end.status();
        let recorded = match &end {
            AttemptEnd::Succeeded { result } => {
                self.writer
                    .succeed(job.id, job.attempts, (*result).clone())
                    .await
            }
            _ => {
                self.services
                    .store
                    .end_attempt(job.id, job.attempts, &end, now, &self.settings.worker_id)
                    .await
            }
        };
        match recorded {
            Ok(true) => {}
            Ok(false) => {
                tracing::warn!("the attempt was taken over meanwhile; its outcome is dropped");
                return Settle::Ack;
            }
            Err(err) => {
                tracing::warn!(error = %err, "cannot record the outcome");
                return Settle::Requeue;
            }
        }
        match &result {
            Ok(_) => tracing::info!(%status, "job attempt ended"),
            Err(failure) => tracing::warn!(%status, error = %failure, "job attempt failed"),
        }
        match follow_up {
            FollowUp::None => Settle::Ack,
            FollowUp::Delay(delay) => self.delay(delivery, delay).await,
            FollowUp::DeadLetter(reason) => self.dead_letter(delivery, &reason).await,
        }
    }

    /// Gives an attempt back unspent (shutdown, a refused republish): the job runs
    /// again at once elsewhere, and the attempt does not count.
    async fn release(&self, job: &JobRecord, reason: &str) -> Settle {
        let now = now_ms();
        let end = AttemptEnd::Released {
            reason,
            next_attempt_at: now,
        };
        if let Err(err) = self
            .services
            .store
            .end_attempt(job.id, job.attempts, &end, now, &self.settings.worker_id)
            .await
        {
            tracing::warn!(error = %err, "cannot record the release; the lease will expire");
        }
        Settle::Requeue
    }

    async fn delay_until(&self, delivery: &Delivery, at: Millis) -> Settle {
        let wait = Duration::from_millis(u64::try_from(at - now_ms()).unwrap_or(0));
        self.delay(delivery, wait).await
    }

    async fn delay(&self, delivery: &Delivery, wait: Duration) -> Settle {
        match self
            .transport
            .publish_delayed(&delivery.to_outgoing(), wait)
            .await
        {
            Ok(()) => Settle::Ack,
            Err(err) => {
                tracing::warn!(error = %err, "cannot schedule the next look; requeueing");
                Settle::Requeue
            }
        }
    }

    async fn dead_letter(&self, delivery: &Delivery, reason: &str) -> Settle {
        tracing::warn!(reason, "dead-lettering a message");
        match self
            .transport
            .dead_letter(&delivery.to_outgoing(), reason)
            .await
        {
            Ok(()) => Settle::Ack,
            Err(err) => {
                tracing::warn!(error = %err, "cannot dead-letter; requeueing");
                Settle::Requeue
            }
        }
    }
}

/// Which attempt of its current round a job runs. A retry by hand gives the job a fresh
/// budget of attempts (the ceiling rises by the kind's limit); its backoff starts over
/// with it instead of going on from where the last round gave up.
fn attempt_in_round(job: &JobRecord) -> i64 {
    let budget =
        lookup(&job.kind).map_or(job.max_attempts, |spec| i64::from(spec.policy.max_attempts));
    budget - (job.max_attempts - job.attempts)
}

/// An envelope as the submission it stands for; `requested_by` is `amqp` when the
/// producer did not say who it is.
fn submission_of(envelope: &Envelope) -> Submission {
    Submission {
        kind: envelope.kind.clone(),
        version: envelope.version,
        idempotency_key: envelope.idempotency_key.clone(),
        tenant: envelope.tenant.clone(),
        requested_by: envelope
            .requested_by
            .clone()
            .unwrap_or_else(|| "amqp".to_owned()),
        target: envelope.target.clone(),
        payload: envelope.payload.clone(),
    }
}

/// The dead-letter reason of a refused republish.
const REUSED_KEY: &str = "idempotency key reused with a different payload";

/// The job an envelope's idempotency key already names.
struct ExistingJob {
    id: Uuid,
    request_hash: String,
}

/// Whether an envelope asks for something else than the job its key names did: the
/// same digest the intake compares (kind, version, tenant, target, payload). A job
/// stored without a key has no digest, and nothing to conflict with.
fn conflicts(envelope: &Envelope, stored_hash: &str) -> bool {
    if envelope.idempotency_key.is_none() || stored_hash.is_empty() {
        return false;
    }
    request_hash(&submission_of(envelope)).is_some_and(|hash| hash != stored_hash)
}

enum FollowUp {
    None,
    Delay(Duration),
    DeadLetter(String),
}
