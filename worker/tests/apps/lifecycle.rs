//! Restart, delete and the namespace boundary: a restart touches only the pod-template
//! annotation, once per job; delete is idempotent and a dry run writes nothing; every
//! write lands in the app namespace.

use super::*;

#[tokio::test]
async fn restart_changes_only_the_pod_template_annotation_once_per_job() {
    let bench = bench().await;
    done(&bench, &deploy(json!({"app_id": "42", "image": "app:v1"}))).await;
    let before = object(&bench, "Deployment", "app-42").unwrap();
    let restart = AppRestart {
        app_id: AppId::parse("42").unwrap(),
    };
    let ctx = bench.context(1);

    let (_, result) = settle(&bench, &restart, ctx.clone()).await;
    let Ok(Outcome::Done(result)) = result else {
        panic!("{result:?}")
    };
    assert_eq!(result["state"], "RUNNING");
    let after = object(&bench, "Deployment", "app-42").unwrap();
    let annotations = &after["spec"]["template"]["metadata"]["annotations"];
    assert_eq!(
        annotations["kubectl.kubernetes.io/restartedAt"],
        result["restarted_at"]
    );
    let mut expected = before["spec"].clone();
    expected["template"]["metadata"]["annotations"] = annotations.clone();
    assert_eq!(after["spec"], expected);
    assert_eq!(
        after["metadata"]["generation"],
        before["metadata"]["generation"].as_i64().unwrap() + 1
    );

    // The same job run again (a retry) writes the same value: nothing changes.
    let rv = after["metadata"]["resourceVersion"].clone();
    assert!(matches!(
        bench.run_in(&restart, ctx.clone()).await,
        Ok(Outcome::Done(_))
    ));
    assert_eq!(
        object(&bench, "Deployment", "app-42").unwrap()["metadata"]["resourceVersion"],
        rv
    );

    // Another job restarts again.
    let later = Context {
        created_at: ctx.created_at + 1_000,
        ..bench.context(1)
    };
    assert!(matches!(
        settle(&bench, &restart, later).await.1,
        Ok(Outcome::Done(_))
    ));
    assert_ne!(
        object(&bench, "Deployment", "app-42").unwrap()["metadata"]["resourceVersion"],
        rv
    );
    assert_eq!(record(&bench, "42").await.unwrap().state, "RUNNING");
}

#[tokio::test]
async fn restarting_an_app_that_was_never_deployed_fails_permanently() {
    let bench = bench().await;
    let restart = AppRestart {
        app_id: AppId::parse("nope").unwrap(),
    };
    let result = bench.run(&restart).await;
    assert!(
        matches!(result, Err(Failure::Permanent(ref m)) if m.contains("deploy it")),
        "{result:?}"
    );
}

#[tokio::test]
async fn delete_removes_all_three_and_succeeds_again_when_nothing_is_left() {
    let bench = bench().await;
    done(&bench, &deploy(json!({"app_id": "42", "image": "app:v1"}))).await;
    let delete = AppDelete {
        app_id: AppId::parse("42").unwrap(),
        dry_run: false,
    };

    let Ok(Outcome::Done(result)) = bench.run(&delete).await else {
        panic!("delete runs")
    };
    assert_eq!(result["deleted"].as_array().unwrap().len(), 3, "{result}");
    assert_eq!(versions(&bench, "app-42"), vec![None, None, None]);
    assert!(record(&bench, "42").await.is_none());

    let Ok(Outcome::Done(again)) = bench.run(&delete).await else {
        panic!("delete runs")
    };
    assert_eq!(again["deleted"], json!([]));
    assert_eq!(
        again["already_gone"].as_array().unwrap().len(),
        3,
        "{again}"
    );
}

#[tokio::test]
async fn a_dry_run_delete_lists_what_would_go_and_deletes_nothing() {
    let bench = bench().await;
    done(&bench, &deploy(json!({"app_id": "42", "image": "app:v1"}))).await;
    let before = versions(&bench, "app-42");
    bench.kube.clear_request_log();

    let delete = AppDelete {
        app_id: AppId::parse("42").unwrap(),
        dry_run: true,
    };
    let Ok(Outcome::Done(result)) = bench.run(&delete).await else {
        panic!("dry run runs")
    };
    let kinds: Vec<&Value> = result["would_delete"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| &o["kind"])
        .collect();
    assert_eq!(
        kinds,
        [&json!("Ingress"), &json!("Service"), &json!("Deployment")]
    );
    assert_eq!(versions(&bench, "app-42"), before);
    assert!(bench.kube.request_log().iter().all(|r| !r.is_write()));
    assert!(record(&bench, "42").await.is_some());
}

#[tokio::test]
async fn every_write_targets_the_app_namespace_and_the_payload_cannot_name_another() {
    let bench = bench().await;
    let id = || AppId::parse("42").unwrap();
    done(&bench, &deploy(json!({"app_id": "42", "image": "app:v1"}))).await;
    done(&bench, &AppRestart { app_id: id() }).await;
    done(
        &bench,
        &AppDelete {
            app_id: id(),
            dry_run: false,
        },
    )
    .await;

    let writes: Vec<_> = bench
        .kube
        .request_log()
        .into_iter()
        .filter(|r| r.is_write())
        .collect();
    assert!(writes.len() >= 7, "{writes:?}");
    for write in &writes {
        assert!(
            write.path.contains(&format!("/namespaces/{NS}/")),
            "{write:?}"
        );
        if write.method != "DELETE" {
            assert_eq!(
                write.field_manager.as_deref(),
                Some("longshore"),
                "{write:?}"
            );
        }
    }
    let err = parse_payload::<AppDeploy>(
        &json!({"app_id": "42", "image": "a:1", "namespace": "kube-system"}),
    )
    .unwrap_err();
    assert_eq!(err.field, "payload.namespace");
}
