//! Writes as every handler makes them: server-side apply with Longshore's field
//! manager (idempotent by construction), deletes that treat 404 as done, and a retry
//! loop with backoff for transient errors inside one attempt.

use std::fmt::Debug;
use std::future::Future;
use std::time::Duration;

use backoff::ExponentialBackoffBuilder;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::classify::{classify, is_not_found};
use crate::job::Failure;

/// The field manager every Longshore write names.
pub const MANAGER: &str = "longshore";

/// How long one attempt keeps retrying transient errors before handing the failure to
/// the runtime (which retries the whole job with its own, longer backoff).
const IN_ATTEMPT_RETRY: Duration = Duration::from_secs(10);

/// Runs `op` until it succeeds, fails permanently, or transient failures last longer
/// than a few seconds.
pub async fn retrying<T, F, Fut>(mut op: F) -> Result<T, Failure>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, kube::Error>>,
{
    let policy = ExponentialBackoffBuilder::new()
        .with_initial_interval(Duration::from_millis(100))
        .with_max_interval(Duration::from_secs(2))
        .with_max_elapsed_time(Some(IN_ATTEMPT_RETRY))
        .build();
    backoff::future::retry(policy, || {
        let fut = op();
        async move {
            fut.await.map_err(|err| match classify(&err) {
                Failure::Permanent(message) => {
                    backoff::Error::permanent(Failure::Permanent(message))
                }
                Failure::RetryAfter { after, message } => backoff::Error::Transient {
                    err: Failure::RetryAfter { after, message },
                    retry_after: Some(after),
                },
                transient => backoff::Error::transient(transient),
            })
        }
    })
    .await
}

/// Server-side applies `object` as `name`, forcing ownership of the fields it sets.
pub async fn apply<K>(api: &Api<K>, name: &str, object: &K) -> Result<K, Failure>
where
    K: Clone + DeserializeOwned + Serialize + Debug,
{
    let params = PatchParams::apply(MANAGER).force();
    let patch = Patch::Apply(object);
    retrying(|| api.patch(name, &params, &patch)).await
}

/// Deletes `name`; true when it existed. A missing object is already deleted.
pub async fn delete_if_exists<K>(api: &Api<K>, name: &str) -> Result<bool, Failure>
where
    K: Clone + DeserializeOwned + Debug,
{
    let result = retrying(|| async {
        match api.delete(name, &DeleteParams::background()).await {
            Ok(_) => Ok(true),
            Err(err) if is_not_found(&err) => Ok(false),
            Err(err) => Err(err),
        }
    })
    .await?;
    Ok(result)
}

/// The object, or `None` when it does not exist.
pub async fn get_opt<K>(api: &Api<K>, name: &str) -> Result<Option<K>, Failure>
where
    K: Clone + DeserializeOwned + Debug,
{
    retrying(|| api.get_opt(name)).await
}
