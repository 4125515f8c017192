//! The bench itself works: a diag.noop runs through the registry.

mod support;

use longshore_shared::command::diag::Noop;
use longshore_shared::job::{Failure, Outcome};

#[tokio::test]
async fn a_noop_runs_through_the_registry_and_fails_on_demand() {
    let bench = support::Bench::start().await;
    let done = bench.run(&Noop::default()).await.unwrap();
    assert!(matches!(done, Outcome::Done(v) if v["attempt"] == 1));
    let failing = Noop {
        fail_times: Some(1),
        ..Noop::default()
    };
    assert!(matches!(
        bench.run(&failing).await,
        Err(Failure::Transient(_))
    ));
    assert!(
        bench
            .resource_version("v1", "namespaces", None, "default")
            .is_some()
    );
}
