//! Node's `openid-client` as a real relying party of the reference server, over HTTP: discovery, authorization
//! code with PKCE through a signed-in browser session, ID token validation, userinfo, refresh and client
//! credentials; the test then checks introspection and revocation of what it was given. Runs when node and the
//! package are installed (`.ci/run` installs it into `target/openid-client-node`); says SKIPPED otherwise.

use std::process::Stdio;

use identity_server::config::Config;
use identity_server::server::start;
use serde_json::{Value, json};
use support::JsonBody;

mod support;

const NODE_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../target/openid-client-node");
const REDIRECT: &str = "http://127.0.0.1:9/callback";

#[tokio::test]
async fn openid_client_signs_in_refreshes_and_uses_client_credentials() {
    let dir = std::path::Path::new(NODE_DIR);
    if !dir.join("node_modules/openid-client/package.json").exists() {
        println!("SKIPPED: Node's openid-client is not installed (npm install openid-client in {NODE_DIR})");
        return;
    }
    let config = Config::from_value(
        json!({
            "dsn": "memory",
            "serve": { "public": { "port": 0 }, "admin": { "port": 0 } },
            "hashers": { "argon2": { "memory_kib": 64, "iterations": 1, "parallelism": 1 } },
        }),
        std::iter::empty(),
    )
    .unwrap();
    let running = start(config).await.unwrap();
    let (public, admin) = (format!("http://{}", running.public), format!("http://{}", running.admin));
    let http = reqwest::Client::new();
    let client = json!({
        "client_id": "node-rp", "redirect_uris": [REDIRECT],
        "grant_types": ["authorization_code", "refresh_token", "client_credentials"],
        "scope": "openid email reports:read", "token_endpoint_auth_method": "client_secret_basic"
    });
    let created = http.post(format!("{admin}/admin/clients")).json(&client).json_body().await;
    let secret = created["client_secret"].as_str().unwrap().to_owned();
    let registered = support::register(&http, &public, "ada@example.com", "correct-horse-battery-staple").await;
    let session = format!("ory_kratos_session={}", registered["session_token"].as_str().unwrap());

    let script = dir.join("rp.mjs");
    std::fs::copy(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/openid_client/rp.mjs"), &script).unwrap();
    let output = tokio::process::Command::new("node")
        .arg(&script)
        .args([public.as_str(), "node-rp", secret.as_str(), REDIRECT, session.as_str()])
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .await
        .unwrap();
    assert!(output.status.success(), "the relying party failed:\n{}", String::from_utf8_lossy(&output.stderr));
    let got: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(got["sub"], registered["identity"]["id"]);
    assert_eq!(got["iss"], json!(public));
    assert_eq!(got["email"], "ada@example.com");

    // What the relying party holds, as the provider sees it: the refresh rotated the first refresh token away.
    let introspect = |token: &Value| {
        let token = token.as_str().unwrap().to_owned();
        let http = http.clone();
        let url = format!("{admin}/admin/oauth2/introspect");
        async move { http.post(url).form(&[("token", token)]).send().await.unwrap().json::<Value>().await.unwrap() }
    };
    assert_eq!(introspect(&got["refreshed_access_token"]).await["active"], true);
    assert_eq!(introspect(&got["first_refresh_token"]).await["active"], false, "a used refresh token stays used");
    let service = introspect(&got["service_access_token"]).await;
    assert_eq!((service["active"].clone(), service["sub"].clone()), (json!(true), json!("node-rp")));
    let revoked = http
        .post(format!("{public}/oauth2/revoke"))
        .basic_auth("node-rp", Some(&secret))
        .form(&[("token", got["service_access_token"].as_str().unwrap())])
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 200);
    assert_eq!(introspect(&got["service_access_token"]).await["active"], false);
    running.stop().await;
}
