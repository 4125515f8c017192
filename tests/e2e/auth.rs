//! Bearer tokens and roles: viewers read, operators submit, admins manage tokens;
//! unknown and revoked tokens are refused.

use reqwest::Method;
use serde_json::json;

use crate::helpers::{Backend, TestApp};

#[tokio::test]
async fn tokens_and_roles_decide_who_may_do_what() {
    let app = TestApp::running(Backend::Postgres).await;
    let viewer = app.token("dashboard", "viewer").await;
    let operator = app.token("ci", "operator").await;
    let noop = json!({"kind": "diag.noop", "payload": {}});

    // No token, or one the api never issued.
    let none = app.send(app.request(Method::GET, "/v1/jobs", "")).await;
    assert_eq!(none.status, 401, "{none:?}");
    assert_eq!(none.header("www-authenticate"), Some("Bearer"));
    assert_eq!(none.body["error"], "unauthorized");
    let unknown = app
        .send(app.request(Method::GET, "/v1/jobs", "lsk_not-a-real-token"))
        .await;
    assert_eq!(unknown.status, 401, "{unknown:?}");
    assert_eq!(unknown.header("www-authenticate"), Some("Bearer"));
    let basic = app
        .send(
            app.http()
                .get(app.url("/v1/jobs"))
                .header("Authorization", "Basic Zm9vOmJhcg=="),
        )
        .await;
    assert_eq!(basic.status, 401, "{basic:?}");

    // A viewer reads but does not submit.
    let refused = app
        .send(
            app.request(Method::POST, "/v1/commands", &viewer)
                .json(&noop),
        )
        .await;
    assert_eq!(refused.status, 403, "{refused:?}");
    assert_eq!(refused.body["error"], "forbidden");

    // An operator submits.
    let submitted = app
        .send(
            app.request(Method::POST, "/v1/commands", &operator)
                .json(&noop),
        )
        .await;
    assert_eq!(submitted.status, 202, "{submitted:?}");
    let id = submitted.body["job_id"]
        .as_str()
        .expect("job id")
        .to_owned();
    let job = app.wait_succeeded(&id).await;
    assert_eq!(job["requested_by"], "ci");

    let listed = app
        .send(app.request(Method::GET, "/v1/jobs", &viewer))
        .await;
    assert_eq!(listed.status, 200, "{listed:?}");
    assert_eq!(listed.body["jobs"][0]["id"], id.as_str());
    let shown = app
        .send(app.request(Method::GET, &format!("/v1/jobs/{id}"), &viewer))
        .await;
    assert_eq!(shown.status, 200, "{shown:?}");
    assert_eq!(shown.body["status"], "succeeded");
    let retry = app
        .send(
            app.request(Method::POST, &format!("/v1/jobs/{id}/retry"), &viewer)
                .json(&json!({})),
        )
        .await;
    assert_eq!(retry.status, 403, "{retry:?}");

    // Only admins manage tokens.
    let new_token = json!({"name": "portal", "role": "operator"});
    let by_operator = app
        .send(
            app.request(Method::POST, "/v1/tokens", &operator)
                .json(&new_token),
        )
        .await;
    assert_eq!(by_operator.status, 403, "{by_operator:?}");
    let listing = app
        .send(app.request(Method::GET, "/v1/tokens", &operator))
        .await;
    assert_eq!(listing.status, 403, "{listing:?}");
    let created = app
        .send(
            app.request(Method::POST, "/v1/tokens", &app.admin)
                .json(&new_token),
        )
        .await;
    assert_eq!(created.status, 201, "{created:?}");
    let portal = created.body["token"]
        .as_str()
        .expect("the new token")
        .to_owned();
    let portal_id = created.body["id"].as_str().expect("token id").to_owned();
    let by_portal = app
        .send(
            app.request(Method::POST, "/v1/commands", &portal)
                .json(&noop),
        )
        .await;
    assert_eq!(by_portal.status, 202, "the new token works: {by_portal:?}");
    let listing = app
        .send(app.request(Method::GET, "/v1/tokens", &app.admin))
        .await;
    assert_eq!(listing.status, 200, "{listing:?}");
    let names: Vec<&str> = listing.body["tokens"]
        .as_array()
        .expect("tokens")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert!(
        names.contains(&"portal") && names.contains(&"ci"),
        "{names:?}"
    );
    assert!(
        !listing.body.to_string().contains(&portal),
        "secrets are never listed"
    );

    // Revoked through the api: refused from then on.
    let revoked = app
        .send(app.request(
            Method::DELETE,
            &format!("/v1/tokens/{portal_id}"),
            &app.admin,
        ))
        .await;
    assert_eq!(revoked.status, 200, "{revoked:?}");
    let after = app
        .send(
            app.request(Method::POST, "/v1/commands", &portal)
                .json(&noop),
        )
        .await;
    assert_eq!(after.status, 401, "{after:?}");

    // Revoked with the command line.
    let cli_token = app.token("short-lived", "viewer").await;
    let out = app.run(&["token", "revoke", "short-lived"]).await;
    assert!(out.status.success(), "{out:?}");
    let after = app
        .send(app.request(Method::GET, "/v1/jobs", &cli_token))
        .await;
    assert_eq!(after.status, 401, "{after:?}");
}
